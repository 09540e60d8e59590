//! gatehouse's policy: the Cedar schema of the CI/CD domain, the roles as
//! Cedar templates, the guards as Cedar policies, and decisions.
//!
//! Roles are templates; a grant is a link of its role's template to one
//! identity and one scope. A decision evaluates only what concerns the
//! principal: the static policies plus one link per grant the principal
//! holds in force at that instant. So its cost does not grow with the number
//! of grants in the organization, and an expired grant stops counting at its
//! expiry instant with no sweeper.

pub mod approvals;
mod decision;
mod integration;
mod matrix;
mod memo;
mod policy_set;
pub mod reviews;
pub mod vendor_access;

pub use decision::{
    Decision, DecisionError, DecisionInput, Permit, Reason, SERVER_CONTEXT_FIELDS, ServerFacts, is_entity_type,
};
pub use integration::{IntegrationStanding, NOT_IN_FORCE_GUARD};
pub use matrix::{MatrixRow, known_resources, matrix};
pub use policy_set::{DEFAULT_FILES, DEFAULT_TESTS, Policies, PolicyError, PolicyProblem, PolicySetSource, RoleInfo};
