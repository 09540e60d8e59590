//! Administration of people and their credentials: the administration
//! landing page, identities (suspend, reactivate), grants and tokens
//! (list, revoke). Every list is read as the API reads it (the same
//! `identity.view` decision); every change runs the API's own function
//! (`api::identities::change_status`, `api::grants::revoke_grant`,
//! `api::tokens::revoke_token`), so the `Authorized` and the audit entry
//! are the API's. A change that needs a fresh second factor answers with a
//! confirmation page holding the step-up panel; a refusal, with that page
//! naming the reason. Token secrets are never read, let alone shown.
//!
//! The store lists identities, grants and tokens by id only; the filters
//! here (kind, status, text, role, scope, revoked or expired) narrow what a
//! page shows, reading on from the cursor until a page is full or
//! [`SCAN_READS`] reads were made, and the next page continues from where
//! the reading stopped.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use gatehouse_domain::audit::AuditAction;
use gatehouse_domain::authorization::Action;
use gatehouse_domain::grant::{Grant, OwnedKind, Resource};
use gatehouse_domain::identity::{Identity, IdentityStatus};
use gatehouse_domain::ids::{GrantId, IdentityId, TokenId};
use gatehouse_domain::store::{Page, PageRequest, TokenFilter};
use gatehouse_domain::token::{ApiToken, TokenStatus};
use serde::Deserialize;
use time::OffsetDateTime;

use super::extract::{PageForm, PageId, PageQuery};
use super::names::{Names, display_name};
use super::page::{Chrome, Instant, Notice, PageError, Section, encode_query, render, render_with, see_other};
use super::step_up::{self, StepUp};
use super::viewer::Viewer;
use crate::auth::Caller;
use crate::problem::ApiError;
use crate::routing::{Undocumented, undocumented};
use crate::state::AppState;

/// Rows per page of a list.
const PAGE_ROWS: usize = 50;
/// Rows per read of the store while filling a page.
const READ_ROWS: u32 = 100;
/// The most reads of the store one page makes.
const SCAN_READS: usize = 10;
/// The longest text filter.
const MAX_FILTER_CHARS: usize = 200;
/// The most tokens an identity's page lists (the tokens page has the rest).
const IDENTITY_TOKENS: u32 = 100;

/// This area's routes, with their whole paths.
pub fn routes() -> Vec<Undocumented> {
    vec![
        undocumented(Method::GET, "/ui/admin", index),
        undocumented(Method::GET, "/ui/admin/identities", identities),
        undocumented(Method::GET, "/ui/admin/identities/{id}", identity),
        undocumented(Method::POST, "/ui/admin/identities/{id}/suspend", suspend),
        undocumented(Method::POST, "/ui/admin/identities/{id}/reactivate", reactivate),
        undocumented(Method::GET, "/ui/admin/grants", grants),
        undocumented(Method::POST, "/ui/admin/grants/{id}/revoke", revoke_grant),
        undocumented(Method::GET, "/ui/admin/tokens", tokens),
        undocumented(Method::POST, "/ui/admin/tokens/{id}/revoke", revoke_token),
    ]
}

// ---------------------------------------------------------------- landing

/// An administration page this person may use.
pub struct AdminLink {
    pub href: &'static str,
    pub name: &'static str,
    pub about: &'static str,
}

#[derive(Template)]
#[template(path = "admin_people_index.html")]
struct IndexPage {
    chrome: Chrome,
    links: Vec<AdminLink>,
}

/// `GET /ui/admin`: the administration pages this person may use.
pub async fn index(State(state): State<AppState>, Viewer(caller): Viewer) -> Result<Response, PageError> {
    let gatehouse = Resource::Gatehouse;
    let may = |action| caller.may(&state, action, &gatehouse);
    let view = may(Action::IdentityView);
    let candidates = [
        (view, "/ui/admin/identities", "Identities", "People and services: suspend, reactivate, their second factors"),
        (view, "/ui/admin/grants", "Grants", "Who holds which role over which scope; revoke"),
        (view, "/ui/admin/tokens", "Tokens", "API tokens (never their secrets); revoke"),
        (view, "/ui/admin/trust-bindings", "Trust bindings", "Which CI jobs may obtain a token, as whom"),
        (view, "/ui/admin/signing-keys", "Signing keys", "The keys people sign commits with"),
        (
            may(Action::VendorManage) || may(Action::AuditRead),
            "/ui/admin/vendors",
            "Vendors",
            "Outside tools and their security evidence",
        ),
        (may(Action::AuditRead), "/ui/admin/matrix", "Access matrix", "Who may do what, on which resource"),
    ];
    let links: Vec<AdminLink> = candidates
        .into_iter()
        .filter(|(shown, ..)| *shown)
        .map(|(_, href, name, about)| AdminLink { href, name, about })
        .collect();
    if links.is_empty() {
        return Err(ApiError::Forbidden("you may use none of the administration pages".into()).into());
    }
    render(&IndexPage { chrome: Chrome::page(&state, &caller, "Administration", Section::Admin), links })
}

// ---------------------------------------------------------------- reading

/// Blank (as an empty form field sends it) counts as not given.
fn given(value: Option<String>) -> Option<String> {
    value.map(|value| value.trim().to_owned()).filter(|value| !value.is_empty())
}

fn text_filter(name: &str, value: Option<String>) -> Result<Option<String>, ApiError> {
    let value = given(value);
    if value.as_ref().is_some_and(|value| value.chars().count() > MAX_FILTER_CHARS) {
        return Err(ApiError::BadRequest(format!("the {name} filter is at most {MAX_FILTER_CHARS} characters")));
    }
    Ok(value)
}

fn identity_filter(value: Option<String>) -> Result<Option<IdentityId>, ApiError> {
    given(value)
        .map(|raw| {
            raw.parse::<IdentityId>().map_err(|_| ApiError::BadRequest(format!("`{raw}` is not an identity id")))
        })
        .transpose()
}

/// `on` (a ticked checkbox) or nothing.
fn toggle(value: Option<String>) -> Result<bool, ApiError> {
    match given(value).as_deref() {
        None => Ok(false),
        Some("on" | "true" | "1") => Ok(true),
        Some(other) => Err(ApiError::BadRequest(format!("`{other}` is not a toggle's value"))),
    }
}

/// Fills a page of a list from reads of the store: reads on from the
/// cursor until `PAGE_ROWS` items passed the filter, the store has no more,
/// or `SCAN_READS` reads were made; the next page continues from where the
/// reading stopped.
struct Filler<T> {
    kept: Vec<T>,
    cursor: Option<String>,
    reads: usize,
    exhausted: bool,
}

impl<T> Filler<T> {
    fn new(after: Option<String>) -> Result<Self, ApiError> {
        let cursor = crate::api::page_request(Some(READ_ROWS), after)?.after;
        Ok(Self { kept: Vec::new(), cursor, reads: 0, exhausted: false })
    }

    /// The next read to make, if any.
    fn next_read(&self) -> Option<PageRequest> {
        let more = !self.exhausted && self.kept.len() < PAGE_ROWS && self.reads < SCAN_READS;
        more.then(|| PageRequest { after: self.cursor.clone(), limit: READ_ROWS })
    }

    fn take(&mut self, page: Page<T>, keep: impl Fn(&T) -> bool, cursor_of: impl Fn(&T) -> String) {
        self.reads += 1;
        self.exhausted = page.next_after.is_none();
        let mut items = page.items.into_iter();
        for item in items.by_ref() {
            self.cursor = Some(cursor_of(&item));
            if keep(&item) {
                self.kept.push(item);
                if self.kept.len() == PAGE_ROWS {
                    break;
                }
            }
        }
        // Stopped before the end of the read: there is more after the cursor.
        if items.next().is_some() {
            self.exhausted = false;
        }
    }

    /// The items kept, and the next page's cursor if there may be more.
    fn finish(self) -> (Vec<T>, Option<String>) {
        let next = if self.exhausted { None } else { self.cursor };
        (self.kept, next)
    }
}

/// A list page's link to its next page: its filters and the cursor.
fn next_link(path: &str, filters: &[(&str, Option<&str>)], after: Option<String>) -> Option<String> {
    let after = after?;
    let mut query: Vec<String> = filters
        .iter()
        .filter_map(|(name, value)| value.map(|value| format!("{name}={}", encode_query(value))))
        .collect();
    query.push(format!("after={}", encode_query(&after)));
    Some(format!("{path}?{}", query.join("&")))
}

// ---------------------------------------------------------------- identities

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentitiesQuery {
    kind: Option<String>,
    status: Option<String>,
    /// Part of the name or email, any case.
    text: Option<String>,
    after: Option<String>,
}

/// The filters as the form shows them back (blank: any).
#[derive(Default)]
pub struct IdentityFilters {
    pub kind: String,
    pub status: String,
    pub text: String,
}

pub struct IdentityRow {
    pub id: String,
    pub name: String,
    pub email: String,
    pub kind: &'static str,
    pub status: &'static str,
    pub created: Instant,
}

#[derive(Template)]
#[template(path = "admin_identities.html")]
struct IdentitiesPage {
    chrome: Chrome,
    filters: IdentityFilters,
    rows: Vec<IdentityRow>,
    next: Option<String>,
}

/// `GET /ui/admin/identities`.
pub async fn identities(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
    PageQuery(query): PageQuery<IdentitiesQuery>,
) -> Result<Response, PageError> {
    caller.authorize_read(&state, Action::IdentityView, Resource::Gatehouse).await?;
    let kind = match given(query.kind).as_deref() {
        None => None,
        Some(kind @ ("human" | "service")) => Some(kind.to_owned()),
        Some(other) => return Err(ApiError::BadRequest(format!("`{other}` is not a kind (human or service)")).into()),
    };
    let status = match given(query.status).as_deref() {
        None => None,
        Some(status @ ("active" | "suspended" | "deprovisioned")) => Some(status.to_owned()),
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "`{other}` is not a status (active, suspended or deprovisioned)"
            ))
            .into());
        }
    };
    let text = text_filter("text", query.text)?;
    let needle = text.as_deref().map(str::to_lowercase);
    let keep = |identity: &Identity| {
        kind.as_deref().is_none_or(|kind| identity.kind.as_str() == kind)
            && status.as_deref().is_none_or(|status| identity.status.as_str() == status)
            && needle.as_deref().is_none_or(|needle| {
                identity.name.to_lowercase().contains(needle)
                    || identity.email.as_deref().is_some_and(|email| email.to_lowercase().contains(needle))
            })
    };
    let mut filler = Filler::new(query.after)?;
    while let Some(read) = filler.next_read() {
        let page = state.store.list_identities(read).await?;
        filler.take(page, keep, |identity| identity.id.to_string());
    }
    let (found, after) = filler.finish();
    let next = next_link(
        "/ui/admin/identities",
        &[("kind", kind.as_deref()), ("status", status.as_deref()), ("text", text.as_deref())],
        after,
    );
    let rows = found
        .iter()
        .map(|identity| IdentityRow {
            id: identity.id.to_string(),
            name: identity.name.clone(),
            email: identity.email.clone().unwrap_or_default(),
            kind: identity.kind.as_str(),
            status: identity.status.as_str(),
            created: Instant::of(identity.created_at),
        })
        .collect();
    render(&IdentitiesPage {
        chrome: Chrome::page(&state, &caller, "Identities", Section::Admin),
        filters: IdentityFilters {
            kind: kind.unwrap_or_default(),
            status: status.unwrap_or_default(),
            text: text.unwrap_or_default(),
        },
        rows,
        next,
    })
}

/// A grant as a row, with what the viewer may do to it.
pub struct GrantRow {
    pub id: String,
    pub holder_id: String,
    pub holder: String,
    pub role: String,
    pub scope: String,
    pub state: &'static str,
    pub created: Instant,
    pub expires: Option<Instant>,
    pub revocable: bool,
}

/// A token as a row (metadata only), with what the viewer may do to it.
pub struct TokenRow {
    pub id: String,
    pub owner_id: String,
    pub owner: String,
    pub description: String,
    pub status: &'static str,
    pub created: Instant,
    pub expires: Instant,
    pub last_used: Option<Instant>,
    pub issued_by: String,
    pub revocable: bool,
}

fn grant_state(grant: &Grant, now: OffsetDateTime) -> &'static str {
    if grant.revoked_at.is_some() {
        "revoked"
    } else if grant.is_in_force_at(now) {
        "in force"
    } else {
        "expired"
    }
}

async fn grant_rows(
    state: &AppState,
    caller: &Caller,
    names: &mut Names<'_>,
    grants: &[Grant],
) -> Result<Vec<GrantRow>, ApiError> {
    let now = state.clock.now();
    let may_manage = caller.may(state, Action::GrantManage, &Resource::Gatehouse);
    let mut rows = Vec::with_capacity(grants.len());
    for grant in grants {
        let state_text = grant_state(grant, now);
        rows.push(GrantRow {
            id: grant.id.to_string(),
            holder_id: grant.identity_id.to_string(),
            holder: names.of(grant.identity_id).await?,
            role: grant.role.as_str().to_owned(),
            scope: grant.scope.to_string(),
            state: state_text,
            created: Instant::of(grant.created_at),
            expires: grant.expires_at.map(Instant::of),
            revocable: may_manage && state_text == "in force",
        });
    }
    Ok(rows)
}

async fn token_rows(
    state: &AppState,
    caller: &Caller,
    names: &mut Names<'_>,
    tokens: &[ApiToken],
) -> Result<Vec<TokenRow>, ApiError> {
    let now = state.clock.now();
    let mut rows = Vec::with_capacity(tokens.len());
    for token in tokens {
        let status = token.status_at(now);
        let resource = Resource::owned(OwnedKind::Token, token.id, token.identity_id);
        let issued_by = match (token.created_by, token.trust_binding_id) {
            (Some(issuer), _) => names.of(issuer).await?,
            (None, Some(binding)) => format!("a CI job (trust binding {binding})"),
            (None, None) => "gatehouse (bootstrap)".to_owned(),
        };
        rows.push(TokenRow {
            id: token.id.to_string(),
            owner_id: token.identity_id.to_string(),
            owner: names.of(token.identity_id).await?,
            description: token.description.clone(),
            status: status.as_str(),
            created: Instant::of(token.created_at),
            expires: Instant::of(token.expires_at),
            last_used: token.last_used_at.map(Instant::of),
            issued_by,
            revocable: status == TokenStatus::Active && caller.may(state, Action::IdentityManage, &resource),
        });
    }
    Ok(rows)
}

/// A second factor of the identity, as its page lists it.
pub struct FactorRow {
    pub what: String,
    pub since: Option<Instant>,
    pub last_used: Option<Instant>,
}

#[derive(Template)]
#[template(path = "admin_identity.html")]
struct IdentityPage {
    chrome: Chrome,
    id: String,
    name: String,
    email: Option<String>,
    kind: &'static str,
    status: &'static str,
    created: Instant,
    updated: Instant,
    factors: Vec<FactorRow>,
    totp_locked: bool,
    grants: Vec<GrantRow>,
    tokens: Vec<TokenRow>,
    more_tokens: bool,
    can_suspend: bool,
    can_reactivate: bool,
    is_self: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityQuery {
    /// What was just done here, announced once.
    done: Option<String>,
}

/// `GET /ui/admin/identities/{id}`: the identity, its grants, its tokens
/// (metadata only) and its second factors.
pub async fn identity(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
    PageId(id): PageId<IdentityId>,
    PageQuery(query): PageQuery<IdentityQuery>,
) -> Result<Response, PageError> {
    caller.authorize_read(&state, Action::IdentityView, Resource::own_record(id)).await?;
    let found = state.store.find_identity(id).await?.ok_or_else(|| identity_not_found(id))?;
    let notice = match query.done.as_deref() {
        Some("suspend") => Notice::done(format!("You suspended {}. Their tokens stop working.", display_name(&found))),
        Some("reactivate") => Notice::done(format!("You reactivated {}.", display_name(&found))),
        Some("revoke-grant") => Notice::done("You revoked the grant. It no longer counts."),
        Some("revoke-token") => Notice::done("You revoked the token. It no longer works."),
        _ => None,
    };
    let mut names = Names::new(&state);
    names.remember(&found);
    let grants = state.store.list_grants_of(id).await?;
    let grants = grant_rows(&state, &caller, &mut names, &grants).await?;
    let filter = TokenFilter { identity_id: Some(id) };
    let tokens = state.store.list_tokens(filter, PageRequest { after: None, limit: IDENTITY_TOKENS }).await?;
    let more_tokens = tokens.next_after.is_some();
    let tokens = token_rows(&state, &caller, &mut names, &tokens.items).await?;
    let now = state.clock.now();
    let mut factors = Vec::new();
    let mut totp_locked = false;
    if let Some(totp) = state.store.mfa_find(id).await?
        && let Some(confirmed) = totp.confirmed_at
    {
        totp_locked = totp.is_locked_at(now);
        factors.push(FactorRow {
            what: "Authenticator app (TOTP)".into(),
            since: Some(Instant::of(confirmed)),
            last_used: None,
        });
    }
    for passkey in state.store.passkey_list(id).await? {
        factors.push(FactorRow {
            what: format!("Passkey “{}”", passkey.label),
            since: Some(Instant::of(passkey.created_at)),
            last_used: passkey.last_used_at.map(Instant::of),
        });
    }
    let may_manage = caller.may(&state, Action::IdentityManage, &Resource::Gatehouse);
    let is_self = caller.identity().id == id;
    let page = IdentityPage {
        chrome: Chrome::page(&state, &caller, display_name(&found), Section::Admin).notice(notice),
        id: id.to_string(),
        name: found.name.clone(),
        email: found.email.clone(),
        kind: found.kind.as_str(),
        status: found.status.as_str(),
        created: Instant::of(found.created_at),
        updated: Instant::of(found.updated_at),
        factors,
        totp_locked,
        grants,
        tokens,
        more_tokens,
        can_suspend: may_manage && !is_self && found.status == IdentityStatus::Active,
        can_reactivate: may_manage && found.status == IdentityStatus::Suspended,
        is_self,
    };
    render(&page)
}

fn identity_not_found(id: IdentityId) -> ApiError {
    ApiError::NotFound(format!("identity `{id}` not found"))
}

// ---------------------------------------------------------------- grants

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantsQuery {
    role: Option<String>,
    /// A scope, or the start of one (`project:acme/`).
    scope: Option<String>,
    identity: Option<String>,
    /// Also revoked and expired grants.
    all: Option<String>,
    after: Option<String>,
}

#[derive(Default)]
pub struct GrantFilters {
    pub role: String,
    pub scope: String,
    pub identity: String,
    pub all: bool,
}

#[derive(Template)]
#[template(path = "admin_people_grants.html")]
struct GrantsPage {
    chrome: Chrome,
    filters: GrantFilters,
    rows: Vec<GrantRow>,
    next: Option<String>,
}

/// `GET /ui/admin/grants`.
pub async fn grants(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
    PageQuery(query): PageQuery<GrantsQuery>,
) -> Result<Response, PageError> {
    let identity = identity_filter(query.identity)?;
    // As the API reads them: one identity's grants, or everyone's.
    let whose = identity.map_or(Resource::Gatehouse, |owner| Resource::owned(OwnedKind::Grant, "*", owner));
    caller.authorize_read(&state, Action::IdentityView, whose).await?;
    let role = text_filter("role", query.role)?;
    let scope = text_filter("scope", query.scope)?;
    let all = toggle(query.all)?;
    let now = state.clock.now();
    let keep = |grant: &Grant| {
        role.as_deref().is_none_or(|role| grant.role.as_str() == role)
            && scope.as_deref().is_none_or(|scope| grant.scope.to_string().starts_with(scope))
            && (all || grant.is_in_force_at(now))
    };
    let mut filler = Filler::new(query.after)?;
    while let Some(read) = filler.next_read() {
        let page = state.store.list_grants(identity, read).await?;
        filler.take(page, keep, |grant| grant.id.to_string());
    }
    let (found, after) = filler.finish();
    let identity_text = identity.map(|id| id.to_string());
    let next = next_link(
        "/ui/admin/grants",
        &[
            ("role", role.as_deref()),
            ("scope", scope.as_deref()),
            ("identity", identity_text.as_deref()),
            ("all", all.then_some("on")),
        ],
        after,
    );
    let mut names = Names::new(&state);
    let rows = grant_rows(&state, &caller, &mut names, &found).await?;
    render(&GrantsPage {
        chrome: Chrome::page(&state, &caller, "Grants", Section::Admin),
        filters: GrantFilters {
            role: role.unwrap_or_default(),
            scope: scope.unwrap_or_default(),
            identity: identity_text.unwrap_or_default(),
            all,
        },
        rows,
        next,
    })
}

// ---------------------------------------------------------------- tokens

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokensQuery {
    identity: Option<String>,
    /// Also revoked and expired tokens.
    all: Option<String>,
    after: Option<String>,
}

#[derive(Default)]
pub struct TokenFilters {
    pub identity: String,
    pub all: bool,
}

#[derive(Template)]
#[template(path = "admin_people_tokens.html")]
struct TokensPage {
    chrome: Chrome,
    filters: TokenFilters,
    rows: Vec<TokenRow>,
    next: Option<String>,
}

/// `GET /ui/admin/tokens`: the tokens' metadata, never a secret.
pub async fn tokens(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
    PageQuery(query): PageQuery<TokensQuery>,
) -> Result<Response, PageError> {
    let identity = identity_filter(query.identity)?;
    let whose = identity.map_or(Resource::Gatehouse, |owner| Resource::owned(OwnedKind::Token, "*", owner));
    caller.authorize_read(&state, Action::IdentityView, whose).await?;
    let all = toggle(query.all)?;
    let now = state.clock.now();
    let keep = |token: &ApiToken| all || token.status_at(now) == TokenStatus::Active;
    let mut filler = Filler::new(query.after)?;
    while let Some(read) = filler.next_read() {
        let page = state.store.list_tokens(TokenFilter { identity_id: identity }, read).await?;
        filler.take(page, keep, |token| token.id.to_string());
    }
    let (found, after) = filler.finish();
    let identity_text = identity.map(|id| id.to_string());
    let next =
        next_link("/ui/admin/tokens", &[("identity", identity_text.as_deref()), ("all", all.then_some("on"))], after);
    let mut names = Names::new(&state);
    let rows = token_rows(&state, &caller, &mut names, &found).await?;
    render(&TokensPage {
        chrome: Chrome::page(&state, &caller, "Tokens", Section::Admin),
        filters: TokenFilters { identity: identity_text.unwrap_or_default(), all },
        rows,
        next,
    })
}

// ---------------------------------------------------------------- changes

/// A change's form: nothing but the second factor's code, when the step-up
/// panel asked for one.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeForm {
    code: Option<String>,
}

/// A change an administration page asks for.
#[derive(Clone, Copy)]
enum Change {
    Suspend(IdentityId),
    Reactivate(IdentityId),
    RevokeGrant(GrantId),
    RevokeToken(TokenId),
}

impl Change {
    /// The form's own path.
    fn path(self) -> String {
        match self {
            Self::Suspend(id) => format!("/ui/admin/identities/{id}/suspend"),
            Self::Reactivate(id) => format!("/ui/admin/identities/{id}/reactivate"),
            Self::RevokeGrant(id) => format!("/ui/admin/grants/{id}/revoke"),
            Self::RevokeToken(id) => format!("/ui/admin/tokens/{id}/revoke"),
        }
    }

    fn verb(self) -> &'static str {
        match self {
            Self::Suspend(_) => "suspend",
            Self::Reactivate(_) => "reactivate",
            Self::RevokeGrant(_) | Self::RevokeToken(_) => "revoke",
        }
    }

    /// Runs the change through the API's own function: where to go after.
    async fn run(self, state: &AppState, caller: &Caller) -> Result<String, ApiError> {
        use crate::api::identities::change_status;
        let (identity, done) = match self {
            Self::Suspend(id) => {
                change_status(state, caller, id, IdentityStatus::Suspended, AuditAction::IdentitySuspend).await?;
                (id, "suspend")
            }
            Self::Reactivate(id) => {
                change_status(state, caller, id, IdentityStatus::Active, AuditAction::IdentityReactivate).await?;
                (id, "reactivate")
            }
            Self::RevokeGrant(id) => {
                (crate::api::grants::revoke_grant(state, caller, id).await?.identity_id, "revoke-grant")
            }
            Self::RevokeToken(id) => {
                (crate::api::tokens::revoke_token(state, caller, id).await?.identity_id, "revoke-token")
            }
        };
        Ok(format!("/ui/admin/identities/{identity}?done={done}"))
    }

    /// What the change is on, as the policies name it (none: not found).
    async fn resource(self, state: &AppState) -> Result<Option<(Action, Resource)>, ApiError> {
        Ok(match self {
            Self::Suspend(_) | Self::Reactivate(_) => Some((Action::IdentityManage, Resource::Gatehouse)),
            Self::RevokeGrant(_) => Some((Action::GrantManage, Resource::Gatehouse)),
            Self::RevokeToken(id) => {
                state.store.find_token(id).await?.map(|token| {
                    (Action::IdentityManage, Resource::owned(OwnedKind::Token, token.id, token.identity_id))
                })
            }
        })
    }

    /// The change in words, and the page to go back to.
    async fn describe(self, state: &AppState, caller: &Caller) -> Result<(String, String), ApiError> {
        let mut names = Names::new(state);
        let shows = |owner: IdentityId| caller.may(state, Action::IdentityView, &Resource::own_record(owner));
        Ok(match self {
            Self::Suspend(id) | Self::Reactivate(id) => {
                let whom = if shows(id) { names.of(id).await? } else { id.to_string() };
                let what = if matches!(self, Self::Suspend(_)) {
                    format!("Suspend {whom}: their tokens and sessions stop working until reactivated.")
                } else {
                    format!("Reactivate {whom}: their tokens and sessions work again.")
                };
                (what, format!("/ui/admin/identities/{id}"))
            }
            Self::RevokeGrant(id) => match state.store.find_grant(id).await? {
                Some(grant) if shows(grant.identity_id) => (
                    format!(
                        "Revoke {}'s grant of {} on {}: it stops counting at once.",
                        names.of(grant.identity_id).await?,
                        grant.role.as_str(),
                        grant.scope
                    ),
                    format!("/ui/admin/identities/{}", grant.identity_id),
                ),
                _ => (format!("Revoke grant {id}."), "/ui/admin/grants".to_owned()),
            },
            Self::RevokeToken(id) => match state.store.find_token(id).await? {
                Some(token) if shows(token.identity_id) => (
                    format!(
                        "Revoke {}'s token “{}”: it stops working at once.",
                        names.of(token.identity_id).await?,
                        token.description
                    ),
                    format!("/ui/admin/identities/{}", token.identity_id),
                ),
                _ => (format!("Revoke token {id}."), "/ui/admin/tokens".to_owned()),
            },
        })
    }
}

#[derive(Template)]
#[template(path = "admin_people_confirm.html")]
struct ConfirmPage {
    chrome: Chrome,
    what: String,
    back: String,
    action: String,
    verb: &'static str,
    step_up: StepUp,
}

/// `POST /ui/admin/identities/{id}/suspend`.
pub async fn suspend(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
    PageId(id): PageId<IdentityId>,
    PageForm(form): PageForm<ChangeForm>,
) -> Result<Response, PageError> {
    change(&state, caller, Change::Suspend(id), form).await
}

/// `POST /ui/admin/identities/{id}/reactivate`.
pub async fn reactivate(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
    PageId(id): PageId<IdentityId>,
    PageForm(form): PageForm<ChangeForm>,
) -> Result<Response, PageError> {
    change(&state, caller, Change::Reactivate(id), form).await
}

/// `POST /ui/admin/grants/{id}/revoke`.
pub async fn revoke_grant(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
    PageId(id): PageId<GrantId>,
    PageForm(form): PageForm<ChangeForm>,
) -> Result<Response, PageError> {
    change(&state, caller, Change::RevokeGrant(id), form).await
}

/// `POST /ui/admin/tokens/{id}/revoke`.
pub async fn revoke_token(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
    PageId(id): PageId<TokenId>,
    PageForm(form): PageForm<ChangeForm>,
) -> Result<Response, PageError> {
    change(&state, caller, Change::RevokeToken(id), form).await
}

/// Verifies the code the form carried, if any, then runs the change: a 303
/// to the identity's page, or the confirmation page with the refusal (and
/// the step-up panel when a fresh second factor is what is missing).
async fn change(state: &AppState, caller: Caller, change: Change, form: ChangeForm) -> Result<Response, PageError> {
    let (caller, headers) = match step_up::verify(state, caller.clone(), form.code.as_deref()).await {
        Ok(stepped_up) => stepped_up,
        Err(error) => return refused(state, &caller, change, error, true).await,
    };
    match change.run(state, &caller).await {
        Ok(location) => Ok(see_other(&location, headers)),
        Err(error) => {
            // A factor verified in this request stays verified: its new
            // session cookie goes back even with the refusal.
            let mut response = refused(state, &caller, change, error, false).await?;
            response.headers_mut().extend(headers);
            Ok(response)
        }
    }
}

async fn refused(
    state: &AppState,
    caller: &Caller,
    change: Change,
    error: ApiError,
    factor_given: bool,
) -> Result<Response, PageError> {
    let wants_factor = step_up::wants_factor(&error);
    if wants_factor {
        // Step-up is asked before the policy decides: someone the policy
        // refuses anyway is told so, not asked for a factor.
        match change.resource(state).await? {
            None => return Err(PageError::not_found("no such thing to change")),
            Some((action, resource)) if !caller.may(state, action, &resource) => {
                let who = &caller.identity().name;
                return Err(ApiError::Forbidden(format!("`{who}` may not `{action}` on `{resource}`")).into());
            }
            Some(_) => {}
        }
    }
    let status = if wants_factor { StatusCode::OK } else { error.status() };
    if status.is_server_error() || status == StatusCode::NOT_FOUND {
        return Err(error.into());
    }
    let notice = if wants_factor {
        Notice::problem("This change needs your second factor: enter a code below.")
    } else {
        Notice::problem(error.detail())
    };
    let (what, back) = change.describe(state, caller).await?;
    let page = ConfirmPage {
        chrome: Chrome::page(state, caller, "Confirm", Section::Admin).notice(notice),
        what,
        back,
        action: change.path(),
        verb: change.verb(),
        step_up: StepUp::of(state, caller, factor_given || wants_factor).await?,
    };
    render_with(status, HeaderMap::new(), &page)
}
