//! `POST /.search` (RFC 7644 §3.4.3): a list query sent as a body, under
//! `/Users`, `/Groups`, or at the root across both (users first).

use axum::extract::State;
use gatehouse_domain::scim::search::search_request;

use super::{ListQuery, Provisioner, Scim, ScimBody, groups, json_body, list_response, users};
use crate::state::AppState;

fn query(body: &[u8]) -> Result<ListQuery, Scim> {
    Ok(ListQuery::from(search_request(&json_body(body)?)?))
}

pub async fn users(
    State(state): State<AppState>,
    _caller: Provisioner,
    ScimBody(body): ScimBody,
) -> Result<Scim, Scim> {
    users::list_page(&state, &query(&body)?).await
}

pub async fn groups(
    State(state): State<AppState>,
    _caller: Provisioner,
    ScimBody(body): ScimBody,
) -> Result<Scim, Scim> {
    groups::list_page(&state, &query(&body)?).await
}

pub async fn root(State(state): State<AppState>, _caller: Provisioner, ScimBody(body): ScimBody) -> Result<Scim, Scim> {
    let query = query(&body)?;
    let (filter, start, count) = query.page(&["userName", "displayName", "externalId", "id"])?;
    let applies = |attributes: &[&str]| filter.as_ref().is_none_or(|f| attributes.contains(&f.attribute));
    let (user_total, found_users) = if applies(users::FILTERS) {
        state.store.scim_list_users(filter.as_ref(), start, count).await?
    } else {
        (0, Vec::new())
    };
    // The groups' page continues where the users' ended.
    let (group_start, group_count) = if start > user_total {
        (start - user_total, count)
    } else {
        (1, count.saturating_sub(found_users.len() as u64))
    };
    let (group_total, found_groups) = if applies(groups::FILTERS) {
        state.store.scim_list_groups(filter.as_ref(), group_start, group_count).await?
    } else {
        (0, Vec::new())
    };
    let members = !query.excludes("members");
    let resources = found_users
        .iter()
        .map(users::resource)
        .chain(found_groups.iter().map(|group| groups::resource(group, members)))
        .collect();
    Scim::ok(list_response(user_total + group_total, start, resources))
}
