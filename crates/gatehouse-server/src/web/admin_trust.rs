//! Administration of machines and vendors: trust bindings, signing keys, vendors and their evidence, the access matrix.

use crate::routing::Undocumented;

/// This area's routes, with their whole paths.
pub fn routes() -> Vec<Undocumented> {
    vec![]
}
