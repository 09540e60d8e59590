//! Administration of people and their credentials: identities, grants, tokens.

use crate::routing::Undocumented;

/// This area's routes, with their whole paths.
pub fn routes() -> Vec<Undocumented> {
    vec![]
}
