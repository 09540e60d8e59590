//! The audit log: entries with filters, each with its inclusion proof; the latest signed checkpoint; an export.

use crate::routing::Undocumented;

/// This area's routes, with their whole paths.
pub fn routes() -> Vec<Undocumented> {
    vec![]
}
