//! `/scim/v2/Users`: create (never over an existing person), find by
//! filter, replace (PUT), patch (both dialects), delete; each change only
//! to people SCIM manages (`super::guard`). The enterprise extension's
//! `manager` is kept as the manager's identity (`known_manager`).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use gatehouse_domain::audit::AuditAction;
use gatehouse_domain::authorization::Authorized;
use gatehouse_domain::clock::format_rfc3339;
use gatehouse_domain::identity::{Email, IdentityStatus};
use gatehouse_domain::ids::IdentityId;
use gatehouse_domain::scim::control::{check_create, check_manager};
use gatehouse_domain::scim::patch::apply_patch;
use gatehouse_domain::scim::{ENTERPRISE_USER_SCHEMA, ScimError, ScimUser, USER_SCHEMA, UserInput, user_input};
use serde_json::{Value, json};

use super::{ListQuery, Provisioner, Scim, ScimBody, guard, json_body, list_response};
use crate::state::AppState;

pub fn resource(user: &ScimUser) -> Value {
    let mut body = Value::Object(user.attributes.clone());
    if let Some(manager) = user.manager {
        let extension = body
            .as_object_mut()
            .map(|o| o.entry(ENTERPRISE_USER_SCHEMA).or_insert_with(|| json!({})))
            .filter(|extension| extension.is_object());
        if let Some(extension) = extension {
            extension["manager"] =
                json!({"value": manager.to_string(), "$ref": format!("{}/Users/{manager}", super::PREFIX)});
        }
    }
    body["schemas"] = if body.get(ENTERPRISE_USER_SCHEMA).is_some() {
        json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA])
    } else {
        json!([USER_SCHEMA])
    };
    body["id"] = json!(user.identity.id.to_string());
    body["userName"] = json!(user.user_name);
    body["externalId"] = json!(user.external_id);
    body["active"] = json!(user.identity.status == IdentityStatus::Active);
    body["meta"] = json!({
        "resourceType": "User",
        "created": format_rfc3339(user.created_at),
        "lastModified": format_rfc3339(user.updated_at),
        "location": format!("/scim/v2/Users/{}", user.identity.id),
    });
    if user.external_id.is_none() {
        body.as_object_mut().map(|o| o.remove("externalId"));
    }
    body
}

fn parse_id(raw: &str) -> Result<IdentityId, Scim> {
    raw.parse().map_err(|_| Scim::error(ScimError::not_found(format!("user `{raw}` not found"))))
}

/// The attributes a Users filter may name.
pub const FILTERS: &[&str] = &["userName", "externalId", "id"];

pub async fn list_page(state: &AppState, query: &ListQuery) -> Result<Scim, Scim> {
    let (filter, start, count) = query.page(FILTERS)?;
    let (total, users) = state.store.scim_list_users(filter.as_ref(), start, count).await?;
    Scim::ok(list_response(total, start, users.iter().map(resource).collect()))
}

pub async fn list(
    State(state): State<AppState>,
    _caller: Provisioner,
    Query(query): Query<ListQuery>,
) -> Result<Scim, Scim> {
    list_page(&state, &query).await
}

pub async fn create(
    State(state): State<AppState>,
    Provisioner(caller, authorized): Provisioner,
    ScimBody(body): ScimBody,
) -> Result<Scim, Scim> {
    let input = user_input(&json_body(&body)?)?;
    known_manager(&state, None, &input).await?;
    // A person SCIM does not manage keeps their email: no adoption.
    let emails = input.email.iter().map(Email::as_str).chain(std::iter::once(input.user_name.as_str()));
    for email in emails {
        check_create(state.store.find_human_by_email(email).await?.as_ref())?;
    }
    let record = caller
        .record(&authorized, &state, AuditAction::ScimUserCreate, format!("user:{}", input.user_name))
        .details(json!({
            "user_name": input.user_name, "external_id": input.external_id,
            "email": input.email.as_ref().map(Email::as_str), "active": input.active,
            "manager": input.manager.map(|m| m.to_string()),
        }));
    let user = state.store.scim_create_user(input, state.clock.now(), record).await?;
    // A light review of the grants that follow the person (skipped while none do).
    crate::reviews::triggers::directory_changed(&state, user.identity.id, &user.identity.name).await;
    Ok(Scim(StatusCode::CREATED, resource(&user)))
}

/// Refuses a manager SCIM does not know, or the person themselves
/// (`check_manager` says why). `user` is the person changed, `None` on
/// create. Nothing is stored when it refuses.
async fn known_manager(state: &AppState, user: Option<&ScimUser>, input: &UserInput) -> Result<(), Scim> {
    let Some(manager) = input.manager else { return Ok(()) };
    let id = user.map(|user| user.identity.id);
    let known = user.is_some_and(|user| user.manager == Some(manager))
        || (id != Some(manager) && state.store.scim_find_user(manager).await?.is_some());
    check_manager(id, manager, known)?;
    Ok(())
}

async fn load(state: &AppState, raw: &str) -> Result<ScimUser, Scim> {
    let id = parse_id(raw)?;
    state
        .store
        .scim_find_user(id)
        .await?
        .ok_or_else(|| Scim::error(ScimError::not_found(format!("user `{raw}` not found"))))
}

pub async fn show(State(state): State<AppState>, _caller: Provisioner, Path(id): Path<String>) -> Result<Scim, Scim> {
    Scim::ok(resource(&load(&state, &id).await?))
}

async fn save(
    state: &AppState,
    caller: &crate::auth::Caller,
    authorized: &Authorized,
    user: &ScimUser,
    updated: &Value,
    action: AuditAction,
) -> Result<Scim, Scim> {
    let input = user_input(updated)?;
    guard(state, caller, action, user).await?;
    known_manager(state, Some(user), &input).await?;
    let was_active = user.identity.status == IdentityStatus::Active;
    let record = caller.record(authorized, state, action, format!("identity:{}", user.identity.id)).details(json!({
        "user_name": input.user_name, "active": input.active,
        "deactivated": was_active && !input.active,
        "manager": input.manager.map(|m| m.to_string()),
    }));
    let saved = state.store.scim_update_user(user.identity.id, input, state.clock.now(), record).await?;
    Scim::ok(resource(&saved))
}

pub async fn replace(
    State(state): State<AppState>,
    Provisioner(caller, authorized): Provisioner,
    Path(id): Path<String>,
    ScimBody(body): ScimBody,
) -> Result<Scim, Scim> {
    let user = load(&state, &id).await?;
    save(&state, &caller, &authorized, &user, &json_body(&body)?, AuditAction::ScimUserReplace).await
}

pub async fn patch(
    State(state): State<AppState>,
    Provisioner(caller, authorized): Provisioner,
    Path(id): Path<String>,
    ScimBody(body): ScimBody,
) -> Result<Scim, Scim> {
    let user = load(&state, &id).await?;
    let mut updated = resource(&user);
    apply_patch(&mut updated, &json_body(&body)?)?;
    save(&state, &caller, &authorized, &user, &updated, AuditAction::ScimUserPatch).await
}

pub async fn delete(
    State(state): State<AppState>,
    Provisioner(caller, authorized): Provisioner,
    Path(id): Path<String>,
) -> Result<Scim, Scim> {
    let user = load(&state, &id).await?;
    guard(&state, &caller, AuditAction::ScimUserDelete, &user).await?;
    let record = caller
        .record(&authorized, &state, AuditAction::ScimUserDelete, format!("identity:{}", user.identity.id))
        .details(json!({"user_name": user.user_name}));
    state.store.scim_delete_user(user.identity.id, state.clock.now(), record).await?;
    Ok(Scim(StatusCode::NO_CONTENT, Value::Null))
}
