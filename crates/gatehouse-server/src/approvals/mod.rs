//! The approved channel as the server runs it: asking, voting, the end of
//! a request (cancelled, revoked, consumed, expired) and waiting for one.
//! The rules are the domain's (`gatehouse_domain::access`); this module
//! gathers the facts they need (the rule in force, who is in which pool,
//! who authored the commits), hands the outcome to the store with its
//! audit entries, and wakes whoever waits.

mod break_glass;
mod health;
mod inbox;
mod lifecycle;
mod open;
mod updates;
mod view;
mod vote;
mod wait;

pub use break_glass::{Emergency, activate as break_glass, review as review_break_glass};
pub use health::{RuleHealth, RuleProblem, problems_in, refresh, rule_problems, spawn_rule_watch};
pub use inbox::{awaiting_vote, visible, visible_and_awaiting};
pub use lifecycle::{cancel, consume_for, end, revoke};
pub use open::{Asked, open};
pub(crate) use open::{Attach, Prepared, store_request};
pub use updates::{Published, RequestUpdates, Subscription};
pub use view::{show, show_all};
pub use vote::cast;
pub use wait::{MAX_WAIT, Waited, wait_until_decided};
