//! `/scim/v2/Groups`: the directory's groups and their members. A group
//! mapped to a role (`/api/v1/group-mappings`) gives its members that role,
//! and taking someone out of the group takes it away, in one transaction.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use gatehouse_domain::clock::format_rfc3339;
use gatehouse_domain::ids::GroupId;
use gatehouse_domain::scim::filter::parse_filter;
use gatehouse_domain::scim::patch::apply_patch;
use gatehouse_domain::scim::{GROUP_SCHEMA, LIST_SCHEMA, ScimError, ScimGroup, group_input};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Provisioner, Scim, json_body};
use crate::state::AppState;

pub fn resource(group: &ScimGroup, with_members: bool) -> Value {
    let mut body = json!({
        "schemas": [GROUP_SCHEMA],
        "id": group.id.to_string(),
        "displayName": group.display_name,
        "meta": {
            "resourceType": "Group",
            "created": format_rfc3339(group.created_at),
            "lastModified": format_rfc3339(group.updated_at),
            "location": format!("/scim/v2/Groups/{}", group.id),
        },
    });
    if let Some(external) = &group.external_id {
        body["externalId"] = json!(external);
    }
    if with_members {
        body["members"] = group
            .members
            .iter()
            .map(|id| json!({"value": id.to_string(), "$ref": format!("/scim/v2/Users/{id}"), "type": "User"}))
            .collect();
    }
    body
}

#[derive(Deserialize)]
pub struct ListQuery {
    filter: Option<String>,
    #[serde(rename = "startIndex")]
    start_index: Option<String>,
    count: Option<String>,
    #[serde(rename = "excludedAttributes")]
    excluded_attributes: Option<String>,
}

fn number(raw: Option<&str>, name: &str, default: u64) -> Result<u64, Scim> {
    raw.map_or(Ok(default), |text| {
        text.trim().parse().map_err(|_| Scim::error(ScimError::invalid_value(format!("{name} must be a number"))))
    })
}

fn without_members(excluded: Option<&str>) -> bool {
    excluded.is_some_and(|list| list.split(',').any(|a| a.trim().eq_ignore_ascii_case("members")))
}

pub async fn list(
    State(state): State<AppState>,
    _caller: Provisioner,
    Query(query): Query<ListQuery>,
) -> Result<Scim, Scim> {
    let filter = query.filter.as_deref().map(|f| parse_filter(f, &["displayName", "externalId", "id"])).transpose()?;
    let start = number(query.start_index.as_deref(), "startIndex", 1)?.max(1);
    let count = number(query.count.as_deref(), "count", 100)?.min(200);
    let (total, groups) = state.store.scim_list_groups(filter.as_ref(), start, count).await?;
    let members = !without_members(query.excluded_attributes.as_deref());
    Scim::ok(json!({
        "schemas": [LIST_SCHEMA], "totalResults": total, "startIndex": start, "itemsPerPage": groups.len(),
        "Resources": groups.iter().map(|g| resource(g, members)).collect::<Vec<_>>(),
    }))
}

pub async fn create(
    State(state): State<AppState>,
    Provisioner(caller): Provisioner,
    body: Bytes,
) -> Result<Scim, Scim> {
    let input = group_input(&json_body(&body)?)?;
    let record = caller
        .record(&state, "scim.group.create", format!("group:{}", input.display_name))
        .details(json!({"display_name": input.display_name, "members": input.members.len()}));
    let group = state.store.scim_create_group(input, state.clock.now(), record).await?;
    Ok(Scim(StatusCode::CREATED, resource(&group, true)))
}

async fn load(state: &AppState, raw: &str) -> Result<ScimGroup, Scim> {
    let not_found = || Scim::error(ScimError::not_found(format!("group `{raw}` not found")));
    let id: GroupId = raw.parse().map_err(|_| not_found())?;
    state.store.scim_find_group(id).await?.ok_or_else(not_found)
}

pub async fn show(
    State(state): State<AppState>,
    _caller: Provisioner,
    Path(id): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<Scim, Scim> {
    Scim::ok(resource(&load(&state, &id).await?, !without_members(query.excluded_attributes.as_deref())))
}

async fn save(
    state: &AppState,
    caller: &crate::auth::Caller,
    group: &ScimGroup,
    updated: &Value,
) -> Result<Scim, Scim> {
    let input = group_input(updated)?;
    let record = caller.record(state, "scim.group.update", format!("group:{}", group.id)).details(json!({
        "display_name": input.display_name, "members": input.members.iter().map(ToString::to_string).collect::<Vec<_>>(),
    }));
    let saved = state.store.scim_replace_group(group.id, input, state.clock.now(), record).await?;
    Scim::ok(resource(&saved, true))
}

pub async fn replace(
    State(state): State<AppState>,
    Provisioner(caller): Provisioner,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Scim, Scim> {
    let group = load(&state, &id).await?;
    save(&state, &caller, &group, &json_body(&body)?).await
}

pub async fn patch(
    State(state): State<AppState>,
    Provisioner(caller): Provisioner,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Scim, Scim> {
    let group = load(&state, &id).await?;
    let mut updated = resource(&group, true);
    apply_patch(&mut updated, &json_body(&body)?)?;
    save(&state, &caller, &group, &updated).await
}

pub async fn delete(
    State(state): State<AppState>,
    Provisioner(caller): Provisioner,
    Path(id): Path<String>,
) -> Result<Scim, Scim> {
    let group = load(&state, &id).await?;
    let record = caller
        .record(&state, "scim.group.delete", format!("group:{}", group.id))
        .details(json!({"display_name": group.display_name}));
    state.store.scim_delete_group(group.id, state.clock.now(), record).await?;
    Ok(Scim(StatusCode::NO_CONTENT, Value::Null))
}
