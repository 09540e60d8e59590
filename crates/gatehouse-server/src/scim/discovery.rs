//! What the SCIM service supports (RFC 7643 §5–7), for IdPs that ask.

use gatehouse_domain::scim::{ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, LIST_SCHEMA, USER_SCHEMA};
use serde_json::{Value, json};

use axum::extract::Path;
use gatehouse_domain::scim::ScimError;

use super::{Provisioner, Scim};

pub async fn service_provider_config(_caller: Provisioner) -> Result<Scim, Scim> {
    Scim::ok(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": "https://github.com/gatehouse/gatehouse#people-scim",
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": 200},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": false},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "Bearer token",
            "description": "A gatehouse API token of an identity holding scim-provisioner",
            "primary": true
        }],
        "meta": {"resourceType": "ServiceProviderConfig", "location": "/scim/v2/ServiceProviderConfig"}
    }))
}

fn user_type() -> Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"], "id": "User", "name": "User",
        "endpoint": "/Users", "schema": USER_SCHEMA,
        "schemaExtensions": [{"schema": ENTERPRISE_USER_SCHEMA, "required": false}], "meta": {"resourceType": "ResourceType", "location": "/scim/v2/ResourceTypes/User"}})
}

fn group_type() -> Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"], "id": "Group", "name": "Group",
        "endpoint": "/Groups", "schema": GROUP_SCHEMA,
        "meta": {"resourceType": "ResourceType", "location": "/scim/v2/ResourceTypes/Group"}})
}

/// `GET /ResourceTypes/{id}` (RFC 7644 §4).
pub async fn resource_type(_caller: Provisioner, Path(id): Path<String>) -> Result<Scim, Scim> {
    match id.as_str() {
        "User" => Scim::ok(user_type()),
        "Group" => Scim::ok(group_type()),
        _ => Err(Scim::error(ScimError::not_found(format!("no resource type `{id}`")))),
    }
}

pub async fn resource_types(_caller: Provisioner) -> Result<Scim, Scim> {
    Scim::ok(json!({
        "schemas": [LIST_SCHEMA], "totalResults": 2, "startIndex": 1, "itemsPerPage": 2,
        "Resources": [user_type(), group_type()],
    }))
}

fn attribute(name: &str, kind: &str, required: bool, multi: bool) -> Value {
    json!({"name": name, "type": kind, "multiValued": multi, "required": required, "caseExact": false,
        "mutability": "readWrite", "returned": "default", "uniqueness": if name == "userName" { "server" } else { "none" }})
}

fn user_schema() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": USER_SCHEMA, "name": "User", "description": "A person, linked to a gatehouse human identity",
        "attributes": [
            attribute("userName", "string", true, false),
            attribute("externalId", "string", false, false),
            attribute("displayName", "string", false, false),
            attribute("name", "complex", false, false),
            attribute("emails", "complex", false, true),
            attribute("active", "boolean", false, false),
        ],
        "meta": {"resourceType": "Schema", "location": format!("/scim/v2/Schemas/{USER_SCHEMA}")}
    })
}

/// RFC 7643 §4.3; of it gatehouse reads only `manager` (the rest is kept
/// as sent).
fn enterprise_user_schema() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": ENTERPRISE_USER_SCHEMA, "name": "EnterpriseUser",
        "description": "The enterprise User extension; `manager` names who reviews the person's access",
        "attributes": [{
            "name": "manager", "type": "complex", "multiValued": false, "required": false,
            "mutability": "readWrite", "returned": "default",
            "subAttributes": [
                {"name": "value", "type": "string", "multiValued": false, "required": false, "caseExact": true,
                 "mutability": "readWrite", "returned": "default", "uniqueness": "none"},
                {"name": "$ref", "type": "reference", "referenceTypes": ["User"], "multiValued": false,
                 "required": false, "mutability": "readOnly", "returned": "default"},
            ],
        }],
        "meta": {"resourceType": "Schema", "location": format!("/scim/v2/Schemas/{ENTERPRISE_USER_SCHEMA}")}
    })
}

fn group_schema() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": GROUP_SCHEMA, "name": "Group", "description": "A group of people; mapped groups give their members roles",
        "attributes": [
            attribute("displayName", "string", true, false),
            attribute("externalId", "string", false, false),
            attribute("members", "complex", false, true),
        ],
        "meta": {"resourceType": "Schema", "location": format!("/scim/v2/Schemas/{GROUP_SCHEMA}")}
    })
}

pub async fn schemas(_caller: Provisioner) -> Result<Scim, Scim> {
    Scim::ok(json!({"schemas": [LIST_SCHEMA], "totalResults": 3, "startIndex": 1, "itemsPerPage": 3,
        "Resources": [user_schema(), group_schema(), enterprise_user_schema()]}))
}

/// `GET /Schemas/{id}`, the id being the schema's URN (RFC 7644 §4).
pub async fn schema(_caller: Provisioner, Path(id): Path<String>) -> Result<Scim, Scim> {
    match id.as_str() {
        USER_SCHEMA => Scim::ok(user_schema()),
        GROUP_SCHEMA => Scim::ok(group_schema()),
        ENTERPRISE_USER_SCHEMA => Scim::ok(enterprise_user_schema()),
        _ => Err(Scim::error(ScimError::not_found(format!("no schema `{id}`")))),
    }
}
