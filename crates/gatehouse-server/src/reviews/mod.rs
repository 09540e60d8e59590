//! Access reviews, carried out: a campaign opens with a snapshot of the
//! access it covers and its reviewers resolved against the directory
//! (`open`, `snapshot`), reviewers decide with a fresh second factor and
//! their revocations apply at once (`decide`, `apply`), and at the deadline
//! the scheduler closes it, applying every undecided item's default
//! (`close`). The rules are `gatehouse_domain::review`'s.

pub mod apply;
pub mod author;
pub mod close;
pub mod decide;
pub mod export;
pub mod open;
pub mod roles;
pub mod snapshot;
pub mod triggers;

pub use author::Author;
pub use close::{ReviewReport, close, run};
pub use decide::{Decided, decide};
pub use open::{Opening, open, open_where};
