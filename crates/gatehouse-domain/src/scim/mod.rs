//! SCIM 2.0 (RFC 7643/7644) as identity providers speak it: the User
//! resource mapped onto a human identity, filters, and PATCH in both
//! dialects real IdPs send (Okta: `replace` with a value object and no
//! path; Entra: `Replace` with a `path`, `active` as the string "False").
//! Pure logic: the server does the I/O.

pub mod control;
pub mod filter;
pub mod patch;
pub mod search;

use serde_json::{Map, Value, json};

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// RFC 7643 §4.3: the enterprise User extension (`manager`, `department`, …).
pub const ENTERPRISE_USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// A SCIM error: HTTP status, `scimType`, detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimError {
    pub status: u16,
    pub scim_type: Option<&'static str>,
    pub detail: String,
}

impl ScimError {
    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self { status: 400, scim_type: Some("invalidValue"), detail: detail.into() }
    }

    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self { status: 400, scim_type: Some("invalidSyntax"), detail: detail.into() }
    }

    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        Self { status: 400, scim_type: Some("invalidFilter"), detail: detail.into() }
    }

    pub fn invalid_path(detail: impl Into<String>) -> Self {
        Self { status: 400, scim_type: Some("invalidPath"), detail: detail.into() }
    }

    pub fn uniqueness(detail: impl Into<String>) -> Self {
        Self { status: 409, scim_type: Some("uniqueness"), detail: detail.into() }
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self { status: 404, scim_type: None, detail: detail.into() }
    }

    /// RFC 7644 §3.12: the operation is not permitted to this client.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self { status: 403, scim_type: None, detail: detail.into() }
    }

    pub fn body(&self) -> Value {
        let mut body = json!({"schemas": [ERROR_SCHEMA], "status": self.status.to_string(), "detail": self.detail});
        if let Some(kind) = self.scim_type {
            body["scimType"] = json!(kind);
        }
        body
    }
}

/// What gatehouse keeps of a SCIM User, read from the resource the IdP sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInput {
    pub user_name: String,
    pub external_id: Option<String>,
    /// The identity's name: `displayName`, else `name.formatted`, else
    /// given and family name, else `userName`.
    pub display_name: String,
    /// The primary (or first) email, else `userName` when it is one; a
    /// person without one is provisioned without an email (and cannot sign
    /// in by email until they have one).
    pub email: Option<crate::identity::Email>,
    pub active: bool,
    /// The enterprise extension's `manager.value`: the manager's SCIM `id`,
    /// which is their identity id. Whether SCIM knows them is the server's
    /// question ([`control::check_manager`]).
    pub manager: Option<crate::ids::IdentityId>,
    /// The resource's attributes as sent (name, emails, …), echoed back;
    /// the enterprise extension without its `manager`, kept apart.
    pub attributes: Map<String, Value>,
}

/// `true`, `false`, or the strings Entra sends ("True", "False", any case).
pub fn boolean(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(flag) => Some(*flag),
        Value::String(text) if text.eq_ignore_ascii_case("true") => Some(true),
        Value::String(text) if text.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// Attributes gatehouse computes or owns; never stored from a request.
const SERVER_ATTRIBUTES: [&str; 4] = ["id", "meta", "schemas", "groups"];

pub fn user_input(resource: &Value) -> Result<UserInput, ScimError> {
    let object = resource.as_object().ok_or_else(|| ScimError::invalid_syntax("a User must be a JSON object"))?;
    let user_name = object
        .get("userName")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|name| !name.is_empty() && name.len() <= 256)
        .ok_or_else(|| ScimError::invalid_value("userName is required (1–256 characters)"))?
        .to_owned();
    let external_id = match object.get("externalId") {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) if id.len() <= 256 => Some(id.clone()),
        Some(_) => return Err(ScimError::invalid_value("externalId must be a string")),
    };
    let active = match object.get("active") {
        None | Some(Value::Null) => true,
        Some(value) => boolean(value).ok_or_else(|| ScimError::invalid_value("active must be a boolean"))?,
    };
    let text =
        |pointer: &str| resource.pointer(pointer).and_then(Value::as_str).map(str::trim).filter(|t| !t.is_empty());
    let display_name = text("/displayName")
        .or_else(|| text("/name/formatted"))
        .map(str::to_owned)
        .or_else(|| match (text("/name/givenName"), text("/name/familyName")) {
            (Some(given), Some(family)) => Some(format!("{given} {family}")),
            (Some(one), None) | (None, Some(one)) => Some(one.to_owned()),
            (None, None) => None,
        })
        .unwrap_or_else(|| user_name.clone());
    let email = match primary_email(object) {
        Some(email) => Some(
            crate::identity::Email::parse(&email)
                .map_err(|_| ScimError::invalid_value(format!("`{email}` is not an email address")))?,
        ),
        None => crate::identity::Email::parse(&user_name).ok(),
    };
    let mut attributes: Map<String, Value> = object
        .iter()
        .filter(|(key, _)| !SERVER_ATTRIBUTES.contains(&key.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let manager = take_manager(&mut attributes)?;
    Ok(UserInput { user_name, external_id, display_name, email, active, manager, attributes })
}

/// Takes the enterprise extension's `manager` out of `attributes` (the
/// extension is kept under its canonical name, and dropped when nothing
/// else is in it). The manager comes as `{"value": "<id>"}` (RFC 7643
/// §4.3) or, from Entra's PATCH, as the bare id; an empty or null value
/// means none.
fn take_manager(attributes: &mut Map<String, Value>) -> Result<Option<crate::ids::IdentityId>, ScimError> {
    let Some(key) = attributes.keys().find(|key| key.eq_ignore_ascii_case(ENTERPRISE_USER_SCHEMA)).cloned() else {
        return Ok(None);
    };
    let mut extension = match attributes.remove(&key) {
        Some(Value::Object(extension)) => extension,
        Some(Value::Null) | None => return Ok(None),
        Some(_) => return Err(ScimError::invalid_value(format!("`{ENTERPRISE_USER_SCHEMA}` must be an object"))),
    };
    let manager_key = extension.keys().find(|key| key.eq_ignore_ascii_case("manager")).cloned();
    let manager = manager_key.and_then(|key| extension.remove(&key));
    let raw = match &manager {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) => Some(id.as_str()),
        Some(Value::Object(fields)) => match fields.iter().find(|(k, _)| k.eq_ignore_ascii_case("value")) {
            None | Some((_, Value::Null)) => None,
            Some((_, Value::String(id))) => Some(id.as_str()),
            Some(_) => return Err(ScimError::invalid_value("manager.value must be a string")),
        },
        Some(_) => return Err(ScimError::invalid_value("manager must be an object with a `value`")),
    };
    let manager = match raw.map(str::trim).filter(|id| !id.is_empty()) {
        None => None,
        Some(id) => Some(
            id.parse().map_err(|_| ScimError::invalid_value(format!("manager `{id}` is not the id of a SCIM user")))?,
        ),
    };
    if !extension.is_empty() {
        attributes.insert(ENTERPRISE_USER_SCHEMA.to_owned(), Value::Object(extension));
    }
    Ok(manager)
}

fn primary_email(object: &Map<String, Value>) -> Option<String> {
    let emails = object.get("emails")?.as_array()?;
    let value = |email: &Value| email.get("value").and_then(Value::as_str).map(str::to_owned);
    emails
        .iter()
        .find(|email| email.get("primary").and_then(boolean) == Some(true))
        .and_then(value)
        .or_else(|| emails.iter().find_map(value))
}

/// How an identity came to be SCIM's to change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScimOrigin {
    /// The provisioner created it.
    Created,
    /// An admin linked an existing identity to SCIM (`linked_by`).
    Linked,
    /// Adopted by email before SCIM kept to its own (migration 0015): SCIM
    /// sees it but changes nothing until an admin links it.
    Adopted,
}

impl ScimOrigin {
    pub fn as_str(self) -> &'static str {
        match self {
            ScimOrigin::Created => "created",
            ScimOrigin::Linked => "linked",
            ScimOrigin::Adopted => "adopted",
        }
    }
}

impl std::str::FromStr for ScimOrigin {
    type Err = ScimError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        match raw {
            "created" => Ok(ScimOrigin::Created),
            "linked" => Ok(ScimOrigin::Linked),
            "adopted" => Ok(ScimOrigin::Adopted),
            other => Err(ScimError::invalid_value(format!("unknown SCIM origin `{other}`"))),
        }
    }
}

/// A person the IdP provisioned: their identity and the User resource.
#[derive(Debug, Clone, PartialEq)]
pub struct ScimUser {
    pub identity: crate::identity::Identity,
    pub user_name: String,
    pub external_id: Option<String>,
    pub attributes: Map<String, Value>,
    /// Their manager's identity (the enterprise extension's `manager`), as
    /// the IdP last named them: kept when that person is deprovisioned, so
    /// whoever reads it checks they are still active.
    pub manager: Option<crate::ids::IdentityId>,
    /// Who made this identity SCIM's: the provisioner, or an admin.
    pub origin: ScimOrigin,
    /// The admin who linked it (`Linked`).
    pub linked_by: Option<crate::ids::IdentityId>,
    pub created_at: time::OffsetDateTime,
    pub updated_at: time::OffsetDateTime,
}

/// A group as the IdP keeps it, with its members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimGroup {
    pub id: crate::ids::GroupId,
    pub display_name: String,
    pub external_id: Option<String>,
    pub members: Vec<crate::ids::IdentityId>,
    pub created_at: time::OffsetDateTime,
    pub updated_at: time::OffsetDateTime,
}

/// What gatehouse keeps of a SCIM Group resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInput {
    pub display_name: String,
    pub external_id: Option<String>,
    pub members: Vec<crate::ids::IdentityId>,
}

pub fn group_input(resource: &Value) -> Result<GroupInput, ScimError> {
    let object = resource.as_object().ok_or_else(|| ScimError::invalid_syntax("a Group must be a JSON object"))?;
    let display_name = object
        .get("displayName")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|name| !name.is_empty() && name.len() <= 256)
        .ok_or_else(|| ScimError::invalid_value("displayName is required (1–256 characters)"))?
        .to_owned();
    let external_id = object.get("externalId").and_then(Value::as_str).map(str::to_owned);
    let mut members = Vec::new();
    match object.get("members") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for item in items {
                let raw = item
                    .get("value")
                    .and_then(Value::as_str)
                    .ok_or_else(|| ScimError::invalid_value("members[].value is required"))?;
                let id =
                    raw.parse().map_err(|_| ScimError::invalid_value(format!("member `{raw}` is not a user id")))?;
                if !members.contains(&id) {
                    members.push(id);
                }
            }
        }
        Some(_) => return Err(ScimError::invalid_value("members must be a list")),
    }
    Ok(GroupInput { display_name, external_id, members })
}

/// Members of `group` (compared case-insensitively) hold `role` over `scope`,
/// for as long as they are members: access follows the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMapping {
    pub id: crate::ids::GroupMappingId,
    pub group: String,
    pub role: crate::grant::Role,
    pub scope: crate::grant::Scope,
    pub created_at: time::OffsetDateTime,
    pub created_by: Option<crate::ids::IdentityId>,
}

#[cfg(test)]
mod tests;
