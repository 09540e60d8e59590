//! `/scim/v2/Groups`: the directory's groups and their members. A group
//! mapped to a role (`/api/v1/group-mappings`) gives its members that role,
//! and taking someone out of the group takes it away, in one transaction.
//! Only people SCIM may change (`super::guard`) join or leave a group.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use gatehouse_domain::audit::AuditAction;
use gatehouse_domain::authorization::Authorized;
use gatehouse_domain::clock::format_rfc3339;
use gatehouse_domain::ids::{GroupId, IdentityId};
use gatehouse_domain::scim::control::changed_members;
use gatehouse_domain::scim::patch::apply_patch;
use gatehouse_domain::scim::{GROUP_SCHEMA, ScimError, ScimGroup, group_input};
use serde_json::{Value, json};

use super::{ListQuery, Provisioner, Scim, ScimBody, guard, json_body, list_response};
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

/// The attributes a Groups filter may name.
pub const FILTERS: &[&str] = &["displayName", "externalId", "id"];

pub async fn list_page(state: &AppState, query: &ListQuery) -> Result<Scim, Scim> {
    let (filter, start, count) = query.page(FILTERS)?;
    let (total, groups) = state.store.scim_list_groups(filter.as_ref(), start, count).await?;
    let members = !query.excludes("members");
    Scim::ok(list_response(total, start, groups.iter().map(|g| resource(g, members)).collect()))
}

pub async fn list(
    State(state): State<AppState>,
    _caller: Provisioner,
    Query(query): Query<ListQuery>,
) -> Result<Scim, Scim> {
    list_page(&state, &query).await
}

/// Refuses a membership change touching anyone SCIM may not change.
async fn guard_members(
    state: &AppState,
    caller: &crate::auth::Caller,
    before: &[IdentityId],
    after: &[IdentityId],
) -> Result<(), Scim> {
    for member in changed_members(before, after) {
        match state.store.scim_find_user(member).await? {
            Some(user) => guard(state, caller, AuditAction::ScimGroupMember, &user).await?,
            // A member SCIM deleted (deprovisioned) may still leave.
            None if !after.contains(&member) => {}
            None => return Err(Scim::error(ScimError::not_found(format!("user `{member}` not found")))),
        }
    }
    Ok(())
}

pub async fn create(
    State(state): State<AppState>,
    Provisioner(caller, authorized): Provisioner,
    ScimBody(body): ScimBody,
) -> Result<Scim, Scim> {
    let input = group_input(&json_body(&body)?)?;
    guard_members(&state, &caller, &[], &input.members).await?;
    let record = caller
        .record(&authorized, &state, AuditAction::ScimGroupCreate, format!("group:{}", input.display_name))
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
    Scim::ok(resource(&load(&state, &id).await?, !query.excludes("members")))
}

async fn save(
    state: &AppState,
    caller: &crate::auth::Caller,
    authorized: &Authorized,
    group: &ScimGroup,
    updated: &Value,
) -> Result<Scim, Scim> {
    let input = group_input(updated)?;
    guard_members(state, caller, &group.members, &input.members).await?;
    let record = caller.record(authorized, state, AuditAction::ScimGroupUpdate, format!("group:{}", group.id)).details(json!({
        "display_name": input.display_name, "members": input.members.iter().map(ToString::to_string).collect::<Vec<_>>(),
    }));
    let saved = state.store.scim_replace_group(group.id, input, state.clock.now(), record).await?;
    // Whose groups changed get a light review of their grants.
    let changed = gatehouse_domain::review::changed_members(
        &group.display_name,
        &group.members,
        &saved.display_name,
        &saved.members,
    );
    for member in changed {
        if let Ok(Some(identity)) = state.store.find_identity(member).await {
            crate::reviews::triggers::directory_changed(state, member, &identity.name).await;
        }
    }
    Scim::ok(resource(&saved, true))
}

pub async fn replace(
    State(state): State<AppState>,
    Provisioner(caller, authorized): Provisioner,
    Path(id): Path<String>,
    ScimBody(body): ScimBody,
) -> Result<Scim, Scim> {
    let group = load(&state, &id).await?;
    save(&state, &caller, &authorized, &group, &json_body(&body)?).await
}

pub async fn patch(
    State(state): State<AppState>,
    Provisioner(caller, authorized): Provisioner,
    Path(id): Path<String>,
    ScimBody(body): ScimBody,
) -> Result<Scim, Scim> {
    let group = load(&state, &id).await?;
    let mut updated = resource(&group, true);
    apply_patch(&mut updated, &json_body(&body)?)?;
    save(&state, &caller, &authorized, &group, &updated).await
}

pub async fn delete(
    State(state): State<AppState>,
    Provisioner(caller, authorized): Provisioner,
    Path(id): Path<String>,
) -> Result<Scim, Scim> {
    let group = load(&state, &id).await?;
    guard_members(&state, &caller, &group.members, &[]).await?;
    let record = caller
        .record(&authorized, &state, AuditAction::ScimGroupDelete, format!("group:{}", group.id))
        .details(json!({"display_name": group.display_name}));
    state.store.scim_delete_group(group.id, state.clock.now(), record).await?;
    Ok(Scim(StatusCode::NO_CONTENT, Value::Null))
}
