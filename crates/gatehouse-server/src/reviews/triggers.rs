//! Reviews gatehouse opens on its own (`SystemWriter::ReviewTrigger`): the
//! policy folder's campaigns at their recurrence and contract renewals
//! (the scheduler's pass, [`run`]), pipeline configuration changes (the
//! push webhooks, [`pipeline_changed`]), registered integrations
//! ([`onboarding`]) and the directory's people ([`directory_changed`]);
//! and the deployments an unreviewed pipeline change holds
//! ([`deployment_hold`]). The rules are `gatehouse_domain::review`'s.

use std::collections::{BTreeMap, BTreeSet};

use gatehouse_domain::access::Pool;
use gatehouse_domain::access::RequestState;
use gatehouse_domain::audit::{AuditAction, AuditRecord, Outcome, SystemWriter};
use gatehouse_domain::authorization::Action;
use gatehouse_domain::change::CommitSha;
use gatehouse_domain::grant::{Grant, Resource};
use gatehouse_domain::identity::IdentityStatus;
use gatehouse_domain::ids::{CampaignId, IdentityId, IntegrationId};
use gatehouse_domain::review::{
    Campaign, CampaignDefinition, CampaignState, HoldFact, ItemKind, NoResponse, PushedChange, RenewalWindow, Reviewer,
    Trigger, TriggerKind, change_item, hold_reason, holding, progress, review_passed, role_reaches_pipeline,
    schedule_due, scope_reaches_project,
};
use gatehouse_domain::store::{CampaignFilter, PageRequest};
use gatehouse_domain::vendor::{Integration, VendorStatus};
use gatehouse_policy::reviews::OnUnreviewedChange;
use serde_json::json;
use time::{Duration, OffsetDateTime};

use super::author::Author;
use super::open::{Opening, open, open_where};
use crate::problem::ApiError;
use crate::state::AppState;

const BY: Author<'static> = Author::System(SystemWriter::ReviewTrigger);

/// How long a pipeline-change review runs.
pub const PIPELINE_CHANGE_DURATION: Duration = Duration::days(7);
/// How long an integration's first review runs.
pub const ONBOARDING_DURATION: Duration = Duration::days(14);
/// How long a directory change's review runs.
pub const DIRECTORY_DURATION: Duration = Duration::days(7);

/// What the scheduler's trigger pass opened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TriggerReport {
    /// Campaigns of the policy folder opened at their recurrence.
    pub scheduled: Vec<CampaignId>,
    /// Contract-renewal reviews opened.
    pub renewals: Vec<CampaignId>,
}

/// The scheduler's pass: each `reviews.toml` campaign opens when it never
/// did and again at its recurrence; each vendor's renewal review opens
/// once when its renewal draws near and lasts `renewal_grace_days` past
/// it (while it waits past the renewal, the vendor is lapsed). A campaign that cannot open is
/// logged and tried again at the next pass; the others go on.
pub async fn run(state: &AppState, now: OffsetDateTime) -> Result<TriggerReport, ApiError> {
    let mut report = TriggerReport::default();
    let policies = state.policies.current();
    let settings = policies.reviews();
    let campaigns = state.store.list_campaigns(None).await?;
    let last_opened = |kind: TriggerKind, subject: &str| {
        campaigns
            .iter()
            .filter(|campaign| campaign.trigger.kind == kind && campaign.trigger.subject.eq_ignore_ascii_case(subject))
            .map(|campaign| campaign.opened_at)
            .max()
    };
    for loaded in &settings.campaigns {
        let definition = &loaded.definition;
        if !schedule_due(definition.recurrence, last_opened(TriggerKind::Schedule, &definition.name), now) {
            continue;
        }
        let trigger = Trigger { kind: TriggerKind::Schedule, subject: definition.name.clone(), holds: None };
        match open(state, Opening { definition: definition.clone(), trigger, extra: Vec::new() }, BY).await {
            Ok(opened) => report.scheduled.push(opened.id),
            Err(error) => {
                tracing::warn!(campaign = %definition.name, error = %error.detail(), "a scheduled review did not open");
            }
        }
    }
    for vendor in state.store.list_vendors().await? {
        let window = RenewalWindow::of(vendor.contract.renewal, settings.renewal_lead(), settings.renewal_grace());
        let subject = format!("vendor:{}", vendor.id);
        if vendor.status == VendorStatus::Offboarded
            || now >= window.renews_at
            || !window.due(last_opened(TriggerKind::Renewal, &subject), now)
        {
            continue;
        }
        let mut reviewers = vec![Reviewer::Owner];
        for owner in [vendor.security_owner, vendor.business_owner].into_iter().flatten() {
            reviewers.push(Reviewer::Pool(Pool::Identity(owner)));
        }
        let mut definition = CampaignDefinition::new(
            format!("Contract renewal: {} ({})", vendor.name, vendor.contract.renewal),
            reviewers,
            Pool::Role("admin".into()),
            window.duration(now),
        );
        definition.selector.kinds = BTreeSet::from([ItemKind::Grant, ItemKind::Token]);
        definition.selector.vendor = Some(vendor.id);
        definition.on_no_response = Some(NoResponse::Revoke);
        let trigger = Trigger { kind: TriggerKind::Renewal, subject, holds: None };
        match open(state, Opening { definition, trigger, extra: Vec::new() }, BY).await {
            Ok(opened) => report.renewals.push(opened.id),
            Err(error) => {
                tracing::warn!(vendor = %vendor.id, error = %error.detail(), "a renewal review did not open");
            }
        }
    }
    Ok(report)
}

/// A push that changed a project's pipeline configuration.
#[derive(Debug, Clone)]
pub struct PipelinePush {
    /// `acme/web`.
    pub project: String,
    pub before: String,
    pub after: String,
    pub pusher: Pusher,
    /// The commits that touched pipeline configuration.
    pub commits: Vec<String>,
}

/// Who pushed a pipeline change, as its source tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pusher {
    /// A forge's webhook names the pusher by e-mail address (looked up
    /// among gatehouse's identities).
    Email(String),
    /// The person who called `/verify/push` (the pre-receive hook's token).
    Identity(IdentityId, String),
    /// Nobody gatehouse can name (a webhook without an address, a service
    /// calling `/verify/push`).
    Unknown,
}

/// Opens the review of a pipeline change. Never fails its caller (a
/// webhook): an error is logged and raised as `review.alert`.
pub async fn pipeline_changed(state: &AppState, push: PipelinePush) -> Option<Campaign> {
    match open_pipeline_review(state, &push).await {
        Ok(campaign) => Some(campaign),
        Err(error) => {
            let problem =
                format!("the review of a pipeline change to project:{} did not open: {}", push.project, error.detail());
            alert(state, format!("project:{}", push.project), &problem).await;
            None
        }
    }
}

async fn alert(state: &AppState, resource: String, problem: &str) {
    tracing::warn!(resource = %resource, problem = %problem, "a review trigger failed");
    let record =
        AuditRecord::system(SystemWriter::ReviewTrigger, state.clock.now(), AuditAction::ReviewAlert, resource)
            .outcome(Outcome::Failure, problem.to_owned())
            .details(json!({"problem": problem}));
    if let Err(error) = state.store.append_audit(record).await {
        tracing::error!(error = %error, "the review trigger's alert was not recorded");
    }
}

async fn open_pipeline_review(state: &AppState, push: &PipelinePush) -> Result<Campaign, ApiError> {
    let now = state.clock.now();
    let policies = state.policies.current();
    let settings = policies.reviews();
    let reaching: BTreeSet<String> = policies
        .roles()
        .into_iter()
        .filter(|role| role_reaches_pipeline(role.all_actions, &role.actions))
        .map(|role| role.name)
        .collect();
    // Who gatehouse verified signed each commit.
    let shas: Vec<CommitSha> = push.commits.iter().filter_map(|commit| commit.parse().ok()).collect();
    let mut signers: BTreeMap<String, Vec<(IdentityId, String)>> = BTreeMap::new();
    let mut names: BTreeMap<IdentityId, String> = BTreeMap::new();
    for fact in state.store.commit_authors(&shas).await? {
        let name = match names.get(&fact.identity_id) {
            Some(name) => name.clone(),
            None => {
                let found = state.store.find_identity(fact.identity_id).await?.map(|i| i.name).unwrap_or_default();
                names.insert(fact.identity_id, found.clone());
                found
            }
        };
        let signed = signers.entry(fact.commit.as_str().to_owned()).or_default();
        if !signed.iter().any(|(id, _)| *id == fact.identity_id) {
            signed.push((fact.identity_id, name));
        }
    }
    let pusher = match &push.pusher {
        Pusher::Email(email) if !email.is_empty() => identity_by_email(state, email).await?,
        Pusher::Identity(id, name) => Some((*id, name.clone())),
        Pusher::Email(_) | Pusher::Unknown => None,
    };
    let change = PushedChange {
        before: push.before.clone(),
        after: push.after.clone(),
        pusher,
        commits: push.commits.clone(),
        signers,
        at: now,
    };
    let mut item = change_item(&change);
    let project_scope = format!("project:{}", push.project);
    item.scope = Some(project_scope.clone());
    let short = |sha: &str| sha.chars().take(12).collect::<String>();
    let mut definition = CampaignDefinition::new(
        format!("Pipeline change: {} {}..{}", push.project, short(&push.before), short(&push.after)),
        settings.pipeline_change_reviewers.clone(),
        settings.pipeline_change_fallback.clone(),
        PIPELINE_CHANGE_DURATION,
    );
    definition.on_no_response = Some(NoResponse::Keep);
    let holds = (settings.on_unreviewed_change == OnUnreviewedChange::HoldDeploys).then(|| project_scope.clone());
    let trigger = Trigger { kind: TriggerKind::PipelineChange, subject: project_scope, holds };
    let project = push.project.clone();
    let keep =
        move |grant: &Grant| reaching.contains(grant.role.as_str()) && scope_reaches_project(&grant.scope, &project);
    open_where(state, Opening { definition, trigger, extra: vec![item] }, BY, &keep).await
}

/// The active identity with this e-mail address (ignoring case), if one.
async fn identity_by_email(state: &AppState, email: &str) -> Result<Option<(IdentityId, String)>, ApiError> {
    let mut page = PageRequest::first(PageRequest::MAX_LIMIT);
    loop {
        let found = state.store.list_identities(page.clone()).await?;
        for identity in found.items {
            let matches = identity.email.as_deref().is_some_and(|own| own.eq_ignore_ascii_case(email));
            if matches && identity.status != IdentityStatus::Deprovisioned {
                return Ok(Some((identity.id, identity.name)));
            }
        }
        match found.next_after {
            Some(after) => page.after = Some(after),
            None => return Ok(None),
        }
    }
}

/// Why a `deployment.execute` on `resource` is held, if a pipeline-change
/// review under `hold_deploys` has not approved its project's change.
pub async fn deployment_hold(
    state: &AppState,
    action: Action,
    resource: &Resource,
) -> Result<Option<String>, ApiError> {
    if action != Action::DeploymentExecute {
        return Ok(None);
    }
    let Some(project) = resource.project() else { return Ok(None) };
    // Only this project's holding campaigns, by index: a pipeline-change
    // review holds `project:{project}` exactly as it was opened with.
    let held = Resource::Project(project.to_owned()).to_string();
    let filter =
        CampaignFilter { kind: Some(TriggerKind::PipelineChange), holds: Some(held), ..CampaignFilter::default() };
    let mut facts = Vec::new();
    for campaign in state.store.find_campaigns(filter).await? {
        if campaign.state == CampaignState::Skipped {
            continue;
        }
        let held = campaign.trigger.holds.as_deref().and_then(|held| Resource::parse(held).ok());
        if held.as_ref().and_then(Resource::project) != Some(project) {
            continue;
        }
        let Some(item) = state.store.list_review_items(campaign.id, None, 1).await?.into_iter().next() else {
            continue;
        };
        if item.kind != ItemKind::Change {
            continue;
        }
        let decisions = state.store.list_review_decisions(campaign.id, Some(item.number)).await?;
        facts.push(HoldFact {
            campaign: campaign.id,
            name: campaign.definition.name.clone(),
            project: project.to_owned(),
            opened_at: campaign.opened_at,
            change_outcome: progress(&item, &decisions).outcome,
        });
    }
    Ok(holding(resource, &facts).map(hold_reason))
}

/// Opens a registered integration's first review: its identity's grants
/// and tokens, reviewed by their owners. Never fails its caller.
pub async fn onboarding(state: &AppState, integration: &Integration) -> Option<Campaign> {
    let mut definition = CampaignDefinition::new(
        format!("Onboarding: integration {}", integration.id),
        vec![Reviewer::Owner],
        Pool::Role("admin".into()),
        ONBOARDING_DURATION,
    );
    definition.selector.kinds = BTreeSet::from([ItemKind::Grant, ItemKind::Token]);
    definition.selector.identity = Some(integration.identity_id);
    definition.on_no_response = Some(NoResponse::Revoke);
    let subject = format!("integration:{}", integration.id);
    let trigger = Trigger { kind: TriggerKind::Onboarding, subject: subject.clone(), holds: None };
    match open(state, Opening { definition, trigger, extra: Vec::new() }, BY).await {
        Ok(campaign) => Some(campaign),
        Err(error) => {
            alert(state, subject, &format!("the onboarding review did not open: {}", error.detail())).await;
            None
        }
    }
}

/// Why `integration`'s activation waits for its onboarding review, if it
/// does: the review is open and some item is not (yet) kept.
pub async fn onboarding_waits(state: &AppState, integration: IntegrationId) -> Result<Option<String>, ApiError> {
    let subject = format!("integration:{integration}");
    for campaign in state.store.list_campaigns(Some(CampaignState::Open)).await? {
        if campaign.trigger.kind != TriggerKind::Onboarding || campaign.trigger.subject != subject {
            continue;
        }
        let decided = super::close::by_item(state.store.list_review_decisions(campaign.id, None).await?);
        let outcomes: Vec<_> = super::close::all_items(state, campaign.id)
            .await?
            .iter()
            .map(|item| progress(item, decided.get(&item.number).map(Vec::as_slice).unwrap_or_default()).outcome)
            .collect();
        if !review_passed(campaign.state, &outcomes) {
            return Ok(Some(format!("its onboarding review (review:{}) is not approved yet", campaign.id)));
        }
    }
    Ok(None)
}

/// After a decision on, or the close of, an integration's onboarding
/// review: an integration whose onboarding request was approved and that
/// waited only for this review is activated now. Never fails its caller.
pub async fn onboarding_reviewed(state: &AppState, campaign: &Campaign) {
    if campaign.trigger.kind != TriggerKind::Onboarding {
        return;
    }
    let Some(id) = campaign.trigger.subject.strip_prefix("integration:").and_then(|id| id.parse().ok()) else {
        return;
    };
    let settled = async {
        let Some(integration) = state.store.find_integration(id).await? else { return Ok(()) };
        let Some(request) = integration.onboarding_request else { return Ok(()) };
        match state.store.find_approval_request(request).await? {
            // Consumed: approved while this review was open (`settle`
            // used the approval up then, so its expiry cannot undo it).
            Some(request) if matches!(request.state, RequestState::Approved | RequestState::Consumed) => {
                crate::vendors::onboarding::settle(state, &request).await
            }
            _ => Ok(()),
        }
    };
    if let Err(error) = settled.await {
        let error: ApiError = error;
        alert(
            state,
            campaign.trigger.subject.clone(),
            &format!("the reviewed integration was not settled: {}", error.detail()),
        )
        .await;
    }
}

/// Opens a light review of a person's grants after the directory created
/// them or changed their groups: none while they hold no grant, at most one
/// open per person (a change while one is open adds nothing). Never fails
/// its caller.
pub async fn directory_changed(state: &AppState, person: IdentityId, name: &str) -> Option<Campaign> {
    let subject = format!("identity:{person}");
    let open_already = match state.store.list_campaigns(Some(CampaignState::Open)).await {
        Ok(campaigns) => {
            campaigns.iter().any(|c| c.trigger.kind == TriggerKind::Directory && c.trigger.subject == subject)
        }
        Err(error) => {
            alert(state, subject, &format!("the directory review did not open: {error}")).await;
            return None;
        }
    };
    if open_already {
        return None;
    }
    // Nothing to review: a person who holds no grant is not a campaign (not
    // even a skipped one: every provisioned person would be one).
    let now = state.clock.now();
    match state.store.list_grants_of(person).await {
        Ok(grants) if !grants.iter().any(|grant| grant.is_in_force_at(now)) => return None,
        Ok(_) => {}
        Err(error) => {
            alert(state, subject, &format!("the directory review did not open: {error}")).await;
            return None;
        }
    }
    let mut definition = CampaignDefinition::new(
        format!("Directory change: {name}"),
        vec![Reviewer::Manager],
        Pool::Role("admin".into()),
        DIRECTORY_DURATION,
    );
    definition.selector.identity = Some(person);
    definition.on_no_response = Some(NoResponse::Keep);
    let trigger = Trigger { kind: TriggerKind::Directory, subject: subject.clone(), holds: None };
    match open(state, Opening { definition, trigger, extra: Vec::new() }, BY).await {
        Ok(campaign) => Some(campaign),
        Err(error) => {
            alert(state, subject, &format!("the directory review did not open: {}", error.detail())).await;
            None
        }
    }
}
