//! The JSON shapes of the API, one module per feature. Domain types are
//! not `Serialize`; they are converted here by hand, so the wire format
//! changes only on purpose. The CLI sends and reads these same types.

mod audit;
mod authorize;
mod break_glass;
mod evidence;
mod grants;
mod group_mappings;
mod health;
mod identities;
mod integrations;
mod mfa;
mod passkeys;
mod policy;
mod requests;
mod reviews;
mod scim_links;
mod sessions;
mod signing_keys;
mod tokens;
mod trust_bindings;
mod vendors;
mod verify;
mod whoami;
mod workload;

pub use audit::*;
pub use authorize::*;
pub use break_glass::*;
pub use evidence::*;
use gatehouse_domain::clock::format_rfc3339;
pub use grants::*;
pub use group_mappings::*;
pub use health::*;
pub use identities::*;
pub use integrations::*;
pub use mfa::*;
pub use passkeys::*;
pub use policy::*;
pub use requests::*;
pub use reviews::*;
pub use scim_links::*;
use serde::{Deserialize, Serialize};
pub use sessions::*;
pub use signing_keys::*;
use time::OffsetDateTime;
pub use tokens::*;
pub use trust_bindings::*;
use utoipa::{IntoParams, ToSchema};
pub use vendors::*;
pub use verify::*;
pub use whoami::*;
pub use workload::*;

pub(crate) fn instant(t: OffsetDateTime) -> String {
    format_rfc3339(t)
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ListDto<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}
