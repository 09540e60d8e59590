//! Administration of machines and vendors: trust bindings, signing keys,
//! vendors and their evidence, the access matrix. Every read and change
//! is the API's own function (`crate::api::{trust_bindings, signing_keys,
//! vendors, integrations, policy}`), so the authorization and the audit
//! entries are the API's. A change that needs a fresh second factor shows
//! the list again with the step-up panel holding it.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use gatehouse_domain::authorization::Action;
use gatehouse_domain::grant::{OwnedKind, Resource};
use gatehouse_domain::ids::{IdentityId, SigningKeyId, TrustBindingId, VendorId};
use gatehouse_domain::signing::SigningKey;
use gatehouse_domain::store::PageRequest;
use serde::Deserialize;
use serde_json::Value;

use super::extract::{PageForm, PageId, PageQuery};
use super::names::Names;
use super::page::{Chrome, Instant, Notice, PageError, Section, render, render_with, see_other};
use super::step_up::{self, StepUp};
use super::viewer::Viewer;
use crate::api::dto::{EvidenceDto, IntegrationDto, MatrixRowDto, VendorDto};
use crate::api::{integrations, policy, signing_keys, trust_bindings, vendors};
use crate::auth::Caller;
use crate::problem::ApiError;
use crate::routing::{Undocumented, undocumented};
use crate::state::AppState;

/// Trust bindings per page.
const PAGE_ROWS: u32 = 50;

/// Matrix rows shown at most; the filters narrow the rest.
const MATRIX_ROWS: usize = 500;

/// This area's routes, with their whole paths.
pub fn routes() -> Vec<Undocumented> {
    vec![
        undocumented(Method::GET, "/ui/admin/trust-bindings", bindings),
        undocumented(Method::POST, "/ui/admin/trust-bindings/{id}/delete", delete_binding),
        undocumented(Method::GET, "/ui/admin/signing-keys", keys),
        undocumented(Method::POST, "/ui/admin/signing-keys/{id}/remove", remove_key),
        undocumented(Method::GET, "/ui/admin/vendors", vendor_list),
        undocumented(Method::GET, "/ui/admin/vendors/{id}", vendor),
        undocumented(Method::GET, "/ui/admin/matrix", matrix),
    ]
}

/// How a refused change is answered: the list again with the step-up
/// panel holding the change (its notice and status) for want of a fresh
/// factor, or for a code that did not verify (`factor_given`); anything
/// else is an error page. The panel is offered only to a caller the
/// policies would allow once stepped up (`allowed`, asked silently: the
/// refusal itself was audited by the API's function); anyone else is
/// refused outright.
fn refusal(error: ApiError, factor_given: bool, allowed: bool) -> Result<(Option<Notice>, StatusCode), PageError> {
    if step_up::wants_factor(&error) {
        if !allowed {
            return Err(ApiError::Forbidden("you may not make this change".into()).into());
        }
        let notice = Notice::problem("This change needs your second factor: enter a code below.");
        return Ok((notice, StatusCode::OK));
    }
    if factor_given && allowed && !error.status().is_server_error() {
        return Ok((Notice::problem(error.detail()), error.status()));
    }
    Err(error.into())
}

// ---------------------------------------------------------------- bindings

/// One trust binding in the list.
pub struct BindingRow {
    pub id: String,
    pub issuer: String,
    pub audience: String,
    /// Claim name and the condition on it, as text.
    pub claims: Vec<(String, String)>,
    pub identity: String,
    pub max_ttl_seconds: u32,
    pub created: Instant,
    pub created_by: Option<String>,
}

#[derive(Template)]
#[template(path = "admin_trust_bindings.html")]
struct BindingsPage {
    chrome: Chrome,
    rows: Vec<BindingRow>,
    next: Option<String>,
    can_delete: bool,
    step_up: StepUp,
    /// The binding the step-up panel holds the deletion of.
    retry: Option<BindingRow>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    after: Option<String>,
    /// What was just done here, announced once.
    done: Option<String>,
}

/// `GET /ui/admin/trust-bindings`.
async fn bindings(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
    PageQuery(query): PageQuery<ListQuery>,
) -> Result<Response, PageError> {
    let notice = match query.done.as_deref() {
        Some("deleted") => {
            Notice::done("The trust binding was deleted; tokens CI jobs obtained through it are revoked.")
        }
        _ => None,
    };
    let page = bindings_page(&state, &caller, query.after, notice, None).await?;
    render(&page)
}

async fn bindings_page(
    state: &AppState,
    caller: &Caller,
    after: Option<String>,
    notice: Option<Notice>,
    retry: Option<(TrustBindingId, bool)>,
) -> Result<BindingsPage, ApiError> {
    let page = crate::api::page_request(Some(PAGE_ROWS), after)?;
    caller.authorize_read(state, Action::IdentityView, Resource::Gatehouse).await?;
    let found = state.store.list_trust_bindings(page).await?;
    let mut names = Names::new(state);
    let mut rows = Vec::with_capacity(found.items.len());
    for binding in &found.items {
        rows.push(binding_row(&mut names, binding).await?);
    }
    let held = match retry {
        Some((id, _)) => match state.store.find_trust_binding(id).await? {
            Some(binding) => Some(binding_row(&mut names, &binding).await?),
            None => None,
        },
        None => None,
    };
    Ok(BindingsPage {
        chrome: Chrome::page(state, caller, "Trust bindings", Section::Admin).notice(notice),
        rows,
        next: found.next_after,
        can_delete: caller.may(state, Action::IdentityManage, &Resource::Gatehouse),
        step_up: StepUp::of(state, caller, retry.is_some_and(|(_, needed)| needed)).await?,
        retry: held,
    })
}

async fn binding_row(
    names: &mut Names<'_>,
    binding: &gatehouse_domain::workload::TrustBinding,
) -> Result<BindingRow, ApiError> {
    let claims = match binding.claims_json() {
        Value::Object(claims) => {
            claims.into_iter().map(|(name, condition)| (name, condition_text(&condition))).collect()
        }
        other => vec![(String::new(), other.to_string())],
    };
    Ok(BindingRow {
        id: binding.id.to_string(),
        issuer: binding.issuer.clone(),
        audience: binding.audience.clone(),
        claims,
        identity: names.of(binding.identity_id).await?,
        max_ttl_seconds: binding.max_ttl_seconds,
        created: Instant::of(binding.created_at),
        created_by: match binding.created_by {
            Some(id) => Some(names.of(id).await?),
            None => None,
        },
    })
}

/// A claim's condition as text: the value or pattern, alternatives with `or`.
fn condition_text(condition: &Value) -> String {
    match condition {
        Value::String(text) => text.clone(),
        Value::Array(items) => items.iter().map(condition_text).collect::<Vec<_>>().join(" or "),
        other => other.to_string(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeForm {
    /// A TOTP code, when the step-up panel asked for one.
    code: Option<String>,
}

/// `POST /ui/admin/trust-bindings/{id}/delete`.
async fn delete_binding(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
    PageId(id): PageId<TrustBindingId>,
    PageForm(form): PageForm<ChangeForm>,
) -> Result<Response, PageError> {
    let allowed = caller.may(&state, Action::IdentityManage, &Resource::Gatehouse);
    let (caller, headers) = match step_up::verify(&state, caller.clone(), form.code.as_deref()).await {
        Ok(stepped_up) => stepped_up,
        Err(error) => return binding_refused(&state, &caller, id, error, true, allowed).await,
    };
    match trust_bindings::delete_binding(&state, &caller, id).await {
        Ok(_) => Ok(see_other("/ui/admin/trust-bindings?done=deleted", headers)),
        Err(error) => Ok(with_cookies(binding_refused(&state, &caller, id, error, false, allowed).await, headers)),
    }
}

async fn binding_refused(
    state: &AppState,
    caller: &Caller,
    id: TrustBindingId,
    error: ApiError,
    factor_given: bool,
    allowed: bool,
) -> Result<Response, PageError> {
    let (notice, status) = refusal(error, factor_given, allowed)?;
    if state.store.find_trust_binding(id).await?.is_none() {
        return Err(PageError::not_found(&format!("trust binding `{id}` not found")));
    }
    let page = bindings_page(state, caller, None, notice, Some((id, true))).await?;
    render_with(status, HeaderMap::new(), &page)
}

/// A refusal's page with `headers` (a rotated session cookie): a factor
/// verified in this request stays verified, even when the change was
/// refused.
fn with_cookies(refused: Result<Response, PageError>, headers: HeaderMap) -> Response {
    let mut response = refused.unwrap_or_else(IntoResponse::into_response);
    response.headers_mut().extend(headers);
    response
}

// ------------------------------------------------------------ signing keys

pub struct KeyRow {
    pub id: String,
    pub identity: String,
    pub identity_id: String,
    pub kind: String,
    pub algorithm: String,
    pub fingerprint: String,
    pub added: Instant,
    /// `active`, `revoked`, `expired` or `unreadable`, now.
    pub status: &'static str,
}

#[derive(Template)]
#[template(path = "admin_keys.html")]
struct KeysPage {
    chrome: Chrome,
    rows: Vec<KeyRow>,
    step_up: StepUp,
    /// The key the step-up panel holds the removal of.
    retry: Option<KeyRow>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DoneQuery {
    done: Option<String>,
}

/// `GET /ui/admin/signing-keys`: every identity's keys the caller may see.
async fn keys(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
    PageQuery(query): PageQuery<DoneQuery>,
) -> Result<Response, PageError> {
    let notice = match query.done.as_deref() {
        Some("removed") => Notice::done("The signing key was removed; its signatures no longer count."),
        _ => None,
    };
    let page = keys_page(&state, &caller, notice, None).await?;
    render(&page)
}

async fn keys_page(
    state: &AppState,
    caller: &Caller,
    notice: Option<Notice>,
    retry: Option<(IdentityId, SigningKeyId, bool)>,
) -> Result<KeysPage, ApiError> {
    caller.authorize_read(state, Action::IdentityView, Resource::Gatehouse).await?;
    let mut names = Names::new(state);
    let mut rows = Vec::new();
    let mut held = None;
    let mut page = PageRequest::first(PageRequest::MAX_LIMIT);
    loop {
        let batch = state.store.list_identities(page.clone()).await?;
        for identity in &batch.items {
            let theirs = Resource::owned(OwnedKind::SigningKey, "*", identity.id);
            if !caller.may(state, Action::IdentityView, &theirs) {
                continue;
            }
            names.remember(identity);
            for key in state.store.list_signing_keys(identity.id).await? {
                if retry.is_some_and(|(owner, id, _)| owner == key.identity_id && id == key.id) {
                    held = Some(key_row(state, &mut names, &key).await?);
                }
                rows.push(key_row(state, &mut names, &key).await?);
            }
        }
        match batch.next_after {
            Some(next) => page.after = Some(next),
            None => break,
        }
    }
    Ok(KeysPage {
        chrome: Chrome::page(state, caller, "Signing keys", Section::Admin).notice(notice),
        rows,
        step_up: StepUp::of(state, caller, retry.is_some_and(|(_, _, needed)| needed)).await?,
        retry: held,
    })
}

async fn key_row(state: &AppState, names: &mut Names<'_>, key: &SigningKey) -> Result<KeyRow, ApiError> {
    Ok(KeyRow {
        id: key.id.to_string(),
        identity: names.of(key.identity_id).await?,
        identity_id: key.identity_id.to_string(),
        kind: key.kind.clone(),
        algorithm: key.algorithm.clone(),
        fingerprint: key.fingerprint.clone(),
        added: Instant::of(key.created_at),
        status: key_status(state, key),
    })
}

/// Whether the key verifies signatures now, as the signing crate reads it.
fn key_status(state: &AppState, key: &SigningKey) -> &'static str {
    if key.kind != "openpgp" {
        return "active";
    }
    match gatehouse_signing::keys::parse_openpgp(key.public_key.trim(), state.clock.now()) {
        Ok(_) => "active",
        Err(gatehouse_signing::KeyError::Revoked) => "revoked",
        Err(gatehouse_signing::KeyError::Expired(_)) => "expired",
        Err(_) => "unreadable",
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoveKeyForm {
    /// The key's identity (the key must be theirs, or nothing is removed).
    identity_id: String,
    code: Option<String>,
}

/// `POST /ui/admin/signing-keys/{id}/remove`.
async fn remove_key(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
    PageId(id): PageId<SigningKeyId>,
    PageForm(form): PageForm<RemoveKeyForm>,
) -> Result<Response, PageError> {
    let owner: IdentityId = form
        .identity_id
        .parse()
        .map_err(|_| ApiError::BadRequest(format!("identity_id: `{}` is not an identity id", form.identity_id)))?;
    let theirs = Resource::owned(OwnedKind::SigningKey, id, owner);
    let allowed = caller.may(&state, Action::IdentityManage, &theirs);
    let (caller, headers) = match step_up::verify(&state, caller.clone(), form.code.as_deref()).await {
        Ok(stepped_up) => stepped_up,
        Err(error) => return key_refused(&state, &caller, (owner, id), error, true, allowed).await,
    };
    match signing_keys::remove_key(&state, &caller, owner, id).await {
        Ok(_) => Ok(see_other("/ui/admin/signing-keys?done=removed", headers)),
        Err(error) => Ok(with_cookies(key_refused(&state, &caller, (owner, id), error, false, allowed).await, headers)),
    }
}

async fn key_refused(
    state: &AppState,
    caller: &Caller,
    (owner, id): (IdentityId, SigningKeyId),
    error: ApiError,
    factor_given: bool,
    allowed: bool,
) -> Result<Response, PageError> {
    let (notice, status) = refusal(error, factor_given, allowed)?;
    if !state.store.list_signing_keys(owner).await?.iter().any(|key| key.id == id) {
        return Err(PageError::not_found(&format!("signing key `{id}` of identity `{owner}` not found")));
    }
    let page = keys_page(state, caller, notice, Some((owner, id, true))).await?;
    render_with(status, HeaderMap::new(), &page)
}

// ----------------------------------------------------------------- vendors

/// One required kind of evidence and where it stands.
pub struct Requirement {
    pub kind: String,
    pub state: String,
    pub valid_until: Option<String>,
}

pub struct VendorRow {
    pub id: String,
    pub name: String,
    pub tier: String,
    pub status: String,
    pub compliant: bool,
    pub reasons: Vec<String>,
    pub renewal: String,
    pub evidence: Vec<Requirement>,
    pub integrations: Vec<IntegrationDto>,
}

fn vendor_row(vendor: &VendorDto, integrations: &[IntegrationDto]) -> VendorRow {
    VendorRow {
        id: vendor.id.clone(),
        name: vendor.name.clone(),
        tier: vendor.tier.clone(),
        status: vendor.status.clone(),
        compliant: vendor.compliant,
        reasons: vendor.reasons.clone(),
        renewal: vendor.contract.renewal.clone(),
        evidence: vendor
            .evidence
            .iter()
            .map(|item| Requirement {
                kind: evidence_kind(&item.kind).to_owned(),
                state: evidence_state(&item.state).to_owned(),
                valid_until: item.valid_until.clone(),
            })
            .collect(),
        integrations: integrations.iter().filter(|i| i.vendor_id == vendor.id).cloned().collect(),
    }
}

/// An evidence kind's name as people say it.
fn evidence_kind(kind: &str) -> &str {
    match kind {
        "soc2" => "SOC 2",
        "bridge_letter" => "Bridge letter",
        "pentest" => "Pen test",
        "dpa" => "DPA",
        "questionnaire" => "Questionnaire",
        "certificate" => "Certificate",
        other => other,
    }
}

/// An evidence state as people say it.
fn evidence_state(state: &str) -> &str {
    match state {
        "valid" => "current",
        "due_soon" => "expiring",
        "missing" => "missing",
        "expired" => "expired",
        "invalid" => "invalid",
        other => other,
    }
}

#[derive(Template)]
#[template(path = "admin_vendors.html")]
struct VendorsPage {
    chrome: Chrome,
    rows: Vec<VendorRow>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmptyQuery {}

/// `GET /ui/admin/vendors`.
async fn vendor_list(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
    PageQuery(EmptyQuery {}): PageQuery<EmptyQuery>,
) -> Result<Response, PageError> {
    let found = vendors::vendors_now(&state, &caller).await?;
    let integrations = integrations::integrations_now(&state, &caller, None).await?;
    let page = VendorsPage {
        chrome: Chrome::page(&state, &caller, "Vendors", Section::Admin),
        rows: found.iter().map(|vendor| vendor_row(vendor, &integrations)).collect(),
    };
    render(&page)
}

/// One evidence item on the vendor's page.
pub struct EvidenceRow {
    pub kind: String,
    pub filename: String,
    pub digest: String,
    pub added: Instant,
    pub state: String,
    pub valid_until: Option<String>,
    pub invalid_because: Option<String>,
}

fn evidence_row(item: &EvidenceDto) -> EvidenceRow {
    EvidenceRow {
        kind: evidence_kind(&item.kind).to_owned(),
        filename: item.filename.clone(),
        digest: item.digest.clone(),
        added: Instant::parse(&item.added_at),
        state: evidence_state(&item.state).to_owned(),
        valid_until: item.valid_until.clone(),
        invalid_because: item.invalid_because.clone(),
    }
}

#[derive(Template)]
#[template(path = "admin_vendor.html")]
struct VendorPage {
    chrome: Chrome,
    vendor: VendorRow,
    contract_start: String,
    contract_end: String,
    data_access: String,
    on_lapse: String,
    next_change: Option<Instant>,
    business_owner: Option<String>,
    security_owner: Option<String>,
    evidence: Vec<EvidenceRow>,
    /// Integration id → its identity's name.
    identities: BTreeMap<String, String>,
}

impl VendorPage {
    fn identity_of(&self, integration: &IntegrationDto) -> String {
        self.identities.get(&integration.id).cloned().unwrap_or_else(|| integration.identity_id.clone())
    }
}

/// `GET /ui/admin/vendors/{id}`.
async fn vendor(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
    PageId(id): PageId<VendorId>,
    PageQuery(EmptyQuery {}): PageQuery<EmptyQuery>,
) -> Result<Response, PageError> {
    let found = vendors::vendor_now(&state, &caller, id).await?;
    let evidence = vendors::evidence_now(&state, &caller, id).await?;
    let integrations = integrations::integrations_now(&state, &caller, Some(id)).await?;
    let mut names = Names::new(&state);
    let mut identities = BTreeMap::new();
    for integration in &integrations {
        identities.insert(integration.id.clone(), names.of_text(&integration.identity_id).await?);
    }
    let business_owner = match &found.business_owner {
        Some(id) => Some(names.of_text(id).await?),
        None => None,
    };
    let security_owner = match &found.security_owner {
        Some(id) => Some(names.of_text(id).await?),
        None => None,
    };
    let page = VendorPage {
        chrome: Chrome::page(&state, &caller, format!("Vendor {}", found.name), Section::Admin),
        contract_start: found.contract.start.clone(),
        contract_end: found.contract.end.clone(),
        data_access: found.data_access.clone(),
        on_lapse: found.on_lapse.clone(),
        next_change: found.next_change.as_deref().map(Instant::parse),
        business_owner,
        security_owner,
        evidence: evidence.iter().rev().map(evidence_row).collect(),
        vendor: vendor_row(&found, &integrations),
        identities,
    };
    render(&page)
}

// ------------------------------------------------------------------ matrix

/// An option of a filter's `<select>`.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

pub struct MatrixRow {
    pub identity: String,
    pub action: String,
    pub resource: String,
    /// What allows it: each grant's role, each static policy.
    pub allowed_by: Vec<String>,
}

#[derive(Template)]
#[template(path = "admin_matrix.html")]
struct MatrixPage {
    chrome: Chrome,
    policy_hash: String,
    identities: Vec<Choice>,
    actions: Vec<Choice>,
    resources: Vec<Choice>,
    rows: Vec<MatrixRow>,
    /// Rows matching the filters (more than shown when over the limit).
    matching: usize,
    filtered: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatrixQuery {
    /// An identity id (blank: anyone).
    identity: Option<String>,
    /// An action, e.g. `deployment.execute` (blank: any).
    action: Option<String>,
    /// `Type:id`, one of the matrix's resources (blank: any).
    resource: Option<String>,
}

fn resource_text(kind: &str, id: &str) -> String {
    format!("{kind}:{id}")
}

/// `GET /ui/admin/matrix`: who may do what on which resource now, and why.
async fn matrix(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
    PageQuery(query): PageQuery<MatrixQuery>,
) -> Result<Response, PageError> {
    let blank = |value: Option<String>| value.map(|text| text.trim().to_owned()).filter(|text| !text.is_empty());
    let identity = match blank(query.identity) {
        Some(text) => Some(
            text.parse::<IdentityId>()
                .map_err(|_| ApiError::BadRequest(format!("the identity filter `{text}` is not an identity id")))?,
        ),
        None => None,
    };
    let action = match blank(query.action) {
        Some(text) => Some(
            text.parse::<Action>()
                .map_err(|_| ApiError::BadRequest(format!("the action filter `{text}` is not an action")))?,
        ),
        None => None,
    };
    let resource = blank(query.resource);
    let found = policy::matrix_for(&state, &caller).await?;
    let known: Vec<String> = found.resources.iter().map(|r| resource_text(&r.kind, &r.id)).collect();
    if let Some(resource) = &resource
        && !known.contains(resource)
    {
        return Err(ApiError::BadRequest(format!("the resource filter `{resource}` is not in the matrix")).into());
    }

    let mut people: BTreeMap<String, (String, String)> = BTreeMap::new();
    for row in &found.rows {
        people.entry(row.identity_id.clone()).or_insert_with(|| (row.identity_name.clone(), row.identity_id.clone()));
    }
    let mut identities: Vec<Choice> = people
        .into_values()
        .map(|(name, id)| Choice {
            selected: identity.is_some_and(|wanted| wanted.to_string() == id),
            label: name,
            value: id,
        })
        .collect();
    identities.sort_by(|a, b| a.label.cmp(&b.label).then_with(|| a.value.cmp(&b.value)));
    let actions = Action::ALL
        .iter()
        .map(|a| Choice { value: a.as_str().to_owned(), label: a.as_str().to_owned(), selected: action == Some(*a) })
        .collect();
    let resources = known
        .iter()
        .map(|text| Choice { value: text.clone(), label: text.clone(), selected: resource.as_deref() == Some(text) })
        .collect();

    let wanted = |row: &&MatrixRowDto| {
        identity.is_none_or(|id| row.identity_id == id.to_string())
            && action.is_none_or(|a| row.action == a.as_str())
            && resource.as_deref().is_none_or(|r| resource_text(&row.resource.kind, &row.resource.id) == r)
    };
    let matching: Vec<&MatrixRowDto> = found.rows.iter().filter(wanted).collect();
    let rows = matching
        .iter()
        .take(MATRIX_ROWS)
        .map(|row| MatrixRow {
            identity: row.identity_name.clone(),
            action: row.action.clone(),
            resource: resource_text(&row.resource.kind, &row.resource.id),
            allowed_by: row
                .roles
                .iter()
                .zip(&row.grants)
                .map(|(role, grant)| format!("role {role} (grant {grant})"))
                .chain(row.policies.iter().map(|policy| format!("policy {policy}")))
                .collect(),
        })
        .collect();
    let page = MatrixPage {
        chrome: Chrome::page(&state, &caller, "Access matrix", Section::Admin),
        policy_hash: found.policy_hash.clone(),
        identities,
        actions,
        resources,
        rows,
        matching: matching.len(),
        filtered: identity.is_some() || action.is_some() || resource.is_some(),
    };
    render(&page)
}
