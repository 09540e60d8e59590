//! Access reviews: the items assigned to the person, and the campaigns.

use crate::routing::Undocumented;

/// This area's routes, with their whole paths.
pub fn routes() -> Vec<Undocumented> {
    vec![]
}
