//! Decisions: may this identity do this action on this resource, now?
//!
//! The request's policy set is built per decision from the static policies
//! and one template link per grant the principal holds in force; entities
//! are the principal and the resource with its ancestors. Deny is the
//! default.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::{Arc, LazyLock};

use cedar_policy::{
    ActionConstraint, Authorizer, Context, Decision as CedarDecision, Entities, Entity, EntityId, EntityTypeName,
    EntityUid, PolicyId, PolicySet, Request, RestrictedExpression, SlotId,
};
use gatehouse_domain::authorization::Action;
use gatehouse_domain::change::KnownAuthors;
use gatehouse_domain::grant::{Grant, OwnedKind, Resource, Scope};
use gatehouse_domain::identity::Identity;
use gatehouse_domain::ids::{GrantId, IdentityId};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::integration::{DeclaredAttributes, IntegrationStanding, NOT_IN_FORCE_GUARD};
use crate::memo::Memo;
use crate::policy_set::Policies;

/// What a decision is asked.
#[derive(Debug, Clone)]
pub struct DecisionInput<'a> {
    pub principal: &'a Identity,
    /// The principal's grants; those not in force at `now` are ignored.
    pub grants: &'a [Grant],
    pub action: Action,
    pub resource: &'a Resource,
    pub now: OffsetDateTime,
    /// `token`, `session`, `workload` or `signature` (a signed commit).
    pub auth_method: &'a str,
    /// Whether the principal proved a second factor within the freshness
    /// window with the credential of this request (false when asked about
    /// someone else).
    pub mfa_fresh: bool,
    /// Whether people need a fresh second factor for privileged actions
    /// (`[mfa] step_up`); the default `mfa-required` guard reads it. Left
    /// out of the context when the folder's schema does not declare it.
    pub step_up: bool,
    pub source_ip: Option<&'a str>,
    pub principal_is_caller: bool,
    /// Context the caller supplies (e.g. `author`); checked against the
    /// schema. gatehouse's own fields cannot be overridden.
    pub caller_context: Option<&'a Map<String, Value>>,
}

/// Facts a decision reads that only gatehouse supplies, never the caller:
/// what it recorded about the change the request names, and the standing
/// of the integration the principal serves. Empty by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerFacts {
    /// The recorded authors of the commits the request names (`commit`,
    /// `commits`): `context.authors` (identity ids) and
    /// `context.author_known`. `None` when the request names no commit;
    /// left out when the folder's schema does not declare them.
    pub authors: Option<KnownAuthors>,
    /// The standing of the integration the principal (a service identity)
    /// acts for: the principal's `vendor`, `vendor_compliant`,
    /// `vendor_reasons` and `vendor_on_lapse`. `None` for an identity that
    /// serves no integration; each attribute left out when the folder's
    /// schema does not declare it.
    pub integration: Option<IntegrationStanding>,
}

impl ServerFacts {
    /// Whether the facts add to the request's context. The integration's
    /// standing is part of the principal's entity instead, so a decision
    /// with it is still answered from the memos (keyed by it).
    fn adds_to_context(&self) -> bool {
        self.authors.is_some()
    }
}

/// The context fields only gatehouse sets: a caller that sends one is
/// refused.
pub const SERVER_CONTEXT_FIELDS: [&str; 8] =
    ["now", "auth_method", "mfa_fresh", "step_up", "source_ip", "principal_is_caller", "authors", "author_known"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// A grant (a link of a role's template) permitted it.
    Grant { grant: GrantId, role: String, scope: String },
    /// A static policy permitted it, or (on a deny) forbade it.
    Policy { id: String, permit: bool },
    /// Nothing permitted it.
    NoPermit,
    /// Why the integration the principal serves is not in force, one per
    /// sentence, given beside the `integration-not-in-force` guard's
    /// [`Reason::Policy`] when it denied.
    Integration { vendor: String, reason: String },
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::Grant { grant, role, scope } => {
                write!(f, "permitted by grant {grant} (role `{role}` on `{scope}`)")
            }
            Reason::Policy { id, permit: true } => write!(f, "permitted by policy `{id}`"),
            Reason::Policy { id, permit: false } => write!(f, "forbidden by policy `{id}`"),
            Reason::NoPermit => f.write_str("no policy or grant permits this (deny by default)"),
            Reason::Integration { reason, .. } => f.write_str(reason),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    allowed: bool,
    pub action: Action,
    pub resource: Resource,
    pub reasons: Vec<Reason>,
}

impl Decision {
    pub fn is_allowed(&self) -> bool {
        self.allowed
    }

    /// The proof that the action was allowed, or the decision back when not.
    pub fn permit(self) -> Result<Permit, Decision> {
        if self.allowed { Ok(Permit { action: self.action, resource: self.resource }) } else { Err(self) }
    }
}

/// Evidence that an action on a resource was allowed. Only a decision makes
/// one, so a handler that holds a `Permit` has passed a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permit {
    action: Action,
    resource: Resource,
}

impl Permit {
    pub fn action(&self) -> Action {
        self.action
    }

    pub fn resource(&self) -> &Resource {
        &self.resource
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecisionError {
    /// The action does not apply to this kind of resource, or the caller's
    /// context does not fit the schema: the request is wrong.
    #[error("{0}")]
    InvalidRequest(String),
    /// The policies could not be evaluated (a bug or a broken policy).
    #[error("the policies could not be evaluated: {0}")]
    Evaluation(String),
}

/// A built policy set and which grant each of its links stands for.
#[derive(Debug)]
pub(crate) struct Slice {
    set: PolicySet,
    links: HashMap<PolicyId, GrantId>,
}

/// A decision's answer, apart from what it was asked.
#[derive(Debug)]
pub(crate) struct Verdict {
    allowed: bool,
    reasons: Vec<Reason>,
}

/// Everything a decision without caller-supplied context is made of, once
/// its grants are filtered: the slice (action and linked grants), the
/// entities and the context.
#[derive(Debug, PartialEq, Eq, Hash)]
struct VerdictKey {
    grants: Vec<GrantId>,
    action: Action,
    entities: EntitiesKey,
    context: OwnContextKey,
}

/// What the entities of a decision are made of: the principal's attributes
/// (with the standing of the integration it serves) and the resource.
///
/// INVARIANT: the integration's standing is part of the key, so a verdict
/// or entities built before the standing changed are never used after.
#[derive(Debug, PartialEq, Eq, Hash)]
struct EntitiesKey {
    principal: IdentityId,
    kind: &'static str,
    name: String,
    email: Option<String>,
    active: bool,
    integration: Option<IntegrationStanding>,
    resource: Resource,
}

impl EntitiesKey {
    fn of(principal: &Identity, facts: &ServerFacts, resource: &Resource) -> Self {
        Self {
            principal: principal.id,
            kind: principal.kind.as_str(),
            name: principal.name.clone(),
            email: principal.email.clone(),
            active: principal.status.is_active(),
            integration: facts.integration.clone(),
            resource: resource.clone(),
        }
    }
}

/// Every field of a context that only gatehouse fills in: `now` counts
/// whole seconds, so one second's requests from one caller share a context.
#[derive(Debug, PartialEq, Eq, Hash)]
struct OwnContextKey {
    now: i64,
    auth_method: String,
    mfa_fresh: bool,
    /// `None` when the schema's context for the action has no `step_up`.
    step_up: Option<bool>,
    source_ip: String,
    principal_is_caller: bool,
}

impl OwnContextKey {
    fn of(input: &DecisionInput<'_>, policies: &Policies) -> Self {
        Self {
            now: input.now.unix_timestamp(),
            auth_method: input.auth_method.to_owned(),
            mfa_fresh: input.mfa_fresh,
            step_up: policies.step_up_in_context(input.action).then_some(input.step_up),
            source_ip: input.source_ip.unwrap_or_default().to_owned(),
            principal_is_caller: input.principal_is_caller,
        }
    }
}

/// What decisions share, kept per policy set (see [`Memo`]).
///
/// INVARIANT: a grant's identity, role and scope never change once it is
/// made (it can only be revoked or expire, which `decide` filters out
/// first), so the action and the sorted ids of the linked grants name a
/// slice.
#[derive(Debug, Default)]
pub(crate) struct DecisionMemos {
    slices: Memo<(Action, Vec<GrantId>), Slice>,
    entities: Memo<EntitiesKey, Entities>,
    own_contexts: Memo<OwnContextKey, Context>,
    /// Whether the schema accepts a request of this action on this kind of
    /// resource with only gatehouse's own context (whose shape is fixed).
    /// Validation looks at types only, so one check per pair stands for
    /// every such request.
    request_checks: Memo<(Action, &'static str), bool>,
    verdicts: Memo<VerdictKey, Verdict>,
}

impl DecisionMemos {
    /// How many values each memo holds, by name.
    #[cfg(test)]
    pub(crate) fn sizes(&self) -> [(&'static str, usize); 5] {
        [
            ("slices", self.slices.len()),
            ("entities", self.entities.len()),
            ("own_contexts", self.own_contexts.len()),
            ("request_checks", self.request_checks.len()),
            ("verdicts", self.verdicts.len()),
        ]
    }
}

const ENTITY_TYPES: [&str; 6] = ["Gatehouse", "Project", "Pipeline", "Environment", "Identity", "Owned"];

/// The entity type names and `Action`, parsed once: parsing one on every
/// request cost more than a tenth of a decision.
fn type_name(name: &str) -> EntityTypeName {
    static PARSED: LazyLock<Vec<(&'static str, EntityTypeName)>> =
        LazyLock::new(|| ENTITY_TYPES.iter().chain(&["Action"]).map(|&name| (name, parse_type_name(name))).collect());
    PARSED.iter().find(|(known, _)| *known == name).map_or_else(|| parse_type_name(name), |(_, parsed)| parsed.clone())
}

fn parse_type_name(name: &str) -> EntityTypeName {
    // The six names above and `Action` are valid identifiers.
    EntityTypeName::from_str(name).unwrap_or_else(|_| unreachable!("`{name}` is a valid entity type name"))
}

fn uid(kind: &str, id: &str) -> EntityUid {
    EntityUid::from_type_name_and_id(type_name(kind), EntityId::new(id))
}

pub(crate) fn identity_uid(id: &str) -> EntityUid {
    uid("Identity", id)
}

pub(crate) fn gatehouse_uid() -> EntityUid {
    uid("Gatehouse", "gatehouse")
}

/// The entity uid of a resource, and of each of its ancestors.
pub(crate) fn resource_chain(resource: &Resource) -> Vec<EntityUid> {
    match resource {
        Resource::Gatehouse => vec![gatehouse_uid()],
        Resource::Project(project) => vec![uid("Project", project), gatehouse_uid()],
        Resource::Pipeline(project, name) => {
            vec![uid("Pipeline", &format!("{project}:{name}")), uid("Project", project), gatehouse_uid()]
        }
        Resource::Environment(project, name) => {
            vec![uid("Environment", &format!("{project}:{name}")), uid("Project", project), gatehouse_uid()]
        }
        Resource::Owned { kind, id, .. } => vec![uid("Owned", &format!("{}:{id}", kind.as_str())), gatehouse_uid()],
    }
}

/// The entity a grant's scope links its role to.
pub(crate) fn scope_uid(scope: &Scope) -> EntityUid {
    match scope {
        Scope::Everything => gatehouse_uid(),
        Scope::Resource(resource) => resource_chain(resource).remove(0),
    }
}

/// The principal's entity; with `integration`, the attributes of its
/// standing that the schema declares.
pub(crate) fn identity_entity(
    identity: &Identity,
    integration: Option<&IntegrationStanding>,
    declared: DeclaredAttributes,
) -> Entity {
    let mut attrs = HashMap::from([
        ("id".to_owned(), RestrictedExpression::new_string(identity.id.to_string())),
        ("kind".to_owned(), RestrictedExpression::new_string(identity.kind.as_str().to_owned())),
        ("name".to_owned(), RestrictedExpression::new_string(identity.name.clone())),
        ("active".to_owned(), RestrictedExpression::new_bool(identity.status.is_active())),
    ]);
    if let Some(email) = &identity.email {
        attrs.insert("email".to_owned(), RestrictedExpression::new_string(email.clone()));
    }
    if let Some(integration) = integration {
        attrs.extend(integration.attributes(declared));
    }
    let principal = uid("Identity", &identity.id.to_string());
    Entity::new(principal.clone(), attrs, HashSet::new())
        .unwrap_or_else(|_| Entity::new_no_attrs(principal, HashSet::new()))
}

/// Whether a policy whose action scope is `constraint` can apply to
/// `action`, which is in the action groups `groups`: `action == A` holds
/// for A alone, `action in [A, …]` for A and for any action in group A.
fn admits(constraint: &ActionConstraint, action: &EntityUid, groups: &[EntityUid]) -> bool {
    match constraint {
        ActionConstraint::Any => true,
        ActionConstraint::Eq(only) => only == action,
        ActionConstraint::In(list) => list.iter().any(|uid| uid == action || groups.contains(uid)),
    }
}

fn resource_entities(resource: &Resource) -> Vec<Entity> {
    let chain = resource_chain(resource);
    chain
        .iter()
        .enumerate()
        .map(|(i, uid)| {
            let parents = chain.get(i + 1).cloned().into_iter().collect();
            match resource {
                Resource::Owned { kind, owner, .. } if i == 0 => owned_entity(uid.clone(), *kind, *owner, parents),
                _ => Entity::new_no_attrs(uid.clone(), parents),
            }
        })
        .collect()
}

/// An owned record: its `kind` and its `owner`, an `Identity` (which need
/// not be among the entities for `resource.owner == principal`).
fn owned_entity(uid: EntityUid, kind: OwnedKind, owner: IdentityId, parents: HashSet<EntityUid>) -> Entity {
    let attrs = HashMap::from([
        ("kind".to_owned(), RestrictedExpression::new_string(kind.as_str().to_owned())),
        ("owner".to_owned(), RestrictedExpression::new_entity_uid(self::uid("Identity", &owner.to_string()))),
    ]);
    Entity::new(uid.clone(), attrs, parents.clone()).unwrap_or_else(|_| Entity::new_no_attrs(uid, parents))
}

impl Policies {
    pub fn decide(&self, input: &DecisionInput<'_>) -> Result<Decision, DecisionError> {
        self.decide_with(input, &ServerFacts::default())
    }

    /// As [`Policies::decide`], with the facts gatehouse knows about the
    /// change the request names.
    pub fn decide_with(&self, input: &DecisionInput<'_>, facts: &ServerFacts) -> Result<Decision, DecisionError> {
        if matches!(input.resource, Resource::Owned { .. }) && !self.declares_owned {
            // A folder whose schema predates `Owned`: an identity's own
            // record is part of gatehouse, and no owner rule applies.
            let decided =
                self.decide_with(&DecisionInput { resource: &Resource::Gatehouse, ..input.clone() }, facts)?;
            return Ok(Decision { resource: input.resource.clone(), ..decided });
        }
        // INVARIANT: only the principal's own grants in force whose scope
        // covers the resource are linked; the rest of the organization's
        // grants, and the principal's grants elsewhere, never reach the
        // evaluator. (A link's `resource in ?resource` holds exactly when the
        // grant's scope covers the resource, so leaving the others out
        // changes no decision.) A grant of a role the policies no longer
        // define grants nothing. `build_slice` also leaves out what cannot
        // apply to the action.
        let mut relevant: Vec<&Grant> = input
            .grants
            .iter()
            .filter(|g| {
                g.identity_id == input.principal.id
                    && g.is_in_force_at(input.now)
                    && g.scope.covers(input.resource)
                    && self.roles.contains_key(g.role.as_str())
            })
            .collect();
        relevant.sort_by_key(|g| g.id);
        relevant.dedup_by_key(|g| g.id);
        let verdict = if input.caller_context.is_none_or(Map::is_empty) && !facts.adds_to_context() {
            // The key holds everything the evaluation reads, so a question
            // asked again (a CI job's every step, within the second) gets
            // the answer the policies gave it the first time.
            let key = VerdictKey {
                grants: relevant.iter().map(|g| g.id).collect(),
                action: input.action,
                entities: EntitiesKey::of(input.principal, facts, input.resource),
                context: OwnContextKey::of(input, self),
            };
            self.memos.verdicts.get_or_build(key, || self.evaluate(input, facts, &relevant))?
        } else {
            Arc::new(self.evaluate(input, facts, &relevant)?)
        };
        Ok(Decision {
            allowed: verdict.allowed,
            action: input.action,
            resource: input.resource.clone(),
            reasons: verdict.reasons.clone(),
        })
    }

    /// What Cedar answers for `input`, with `relevant` (the principal's
    /// grants that can apply, sorted by id) linked.
    fn evaluate(
        &self,
        input: &DecisionInput<'_>,
        facts: &ServerFacts,
        relevant: &[&Grant],
    ) -> Result<Verdict, DecisionError> {
        let principal = uid("Identity", &input.principal.id.to_string());
        let action = EntityUid::from_type_name_and_id(type_name("Action"), EntityId::new(input.action.as_str()));
        let chain = resource_chain(input.resource);
        let resource = chain[0].clone();

        let slice = self.memos.slices.get_or_build((input.action, relevant.iter().map(|g| g.id).collect()), || {
            self.build_slice(&principal, &action, relevant)
        })?;

        let context = self.context(input, facts, &action)?;
        let own_context_only = input.caller_context.is_none_or(Map::is_empty) && !facts.adds_to_context();
        let schema = if own_context_only {
            let check = (input.action, resource_kind(input.resource));
            let accepted = self.memos.request_checks.get_or_build(check, || {
                let own = self.context(input, facts, &action)?;
                Ok::<_, DecisionError>(
                    Request::new(principal.clone(), action.clone(), resource.clone(), own, Some(&self.schema)).is_ok(),
                )
            })?;
            // A refused one is checked again as itself, so that its message
            // names this request and not the first of its kind.
            if *accepted { None } else { Some(&self.schema) }
        } else {
            Some(&self.schema)
        };
        let request = Request::new(principal, action, resource, context, schema)
            .map_err(|e| DecisionError::InvalidRequest(request_problem(input, &e.to_string())))?;
        let key = EntitiesKey::of(input.principal, facts, input.resource);
        let entities = self.memos.entities.get_or_build(key, || {
            let mut own = resource_entities(input.resource);
            own.push(identity_entity(input.principal, facts.integration.as_ref(), self.integration_attributes));
            // The actions' hierarchy is closed already: only the request's
            // own entities need their ancestors worked out, which is most
            // of the cost of a question about a resource not seen before.
            self.actions.clone().add_entities(own, None).map_err(|e| DecisionError::Evaluation(e.to_string()))
        })?;

        let response = Authorizer::new().is_authorized(&request, &slice.set, &entities);
        if let Some(error) = response.diagnostics().errors().next() {
            return Err(DecisionError::Evaluation(error.to_string()));
        }
        let allowed = response.decision() == CedarDecision::Allow;
        let mut reasons: Vec<Reason> = response
            .diagnostics()
            .reason()
            .map(|id| match slice.links.get(id).and_then(|gid| relevant.iter().find(|g| g.id == *gid)) {
                Some(grant) => Reason::Grant {
                    grant: grant.id,
                    role: grant.role.as_str().to_owned(),
                    scope: grant.scope.to_string(),
                },
                None => Reason::Policy { id: id.to_string(), permit: allowed },
            })
            .collect();
        reasons.sort_by_key(ToString::to_string);
        if reasons.is_empty() {
            reasons.push(Reason::NoPermit);
        }
        if let Some(integration) = &facts.integration {
            explain_integration(&mut reasons, integration);
        }
        Ok(Verdict { allowed, reasons })
    }

    /// The static policies plus one link of its role's template per grant,
    /// less those whose action scope leaves out `action`: Cedar evaluates
    /// every policy it is given, and such a one is never satisfied, so
    /// leaving it out changes no decision.
    fn build_slice(
        &self,
        principal: &EntityUid,
        action: &EntityUid,
        grants: &[&Grant],
    ) -> Result<Slice, DecisionError> {
        let evaluation = |e: &dyn std::fmt::Display| DecisionError::Evaluation(e.to_string());
        let groups: Vec<EntityUid> =
            self.actions.ancestors(action).map(|groups| groups.cloned().collect()).unwrap_or_default();
        let mut set = PolicySet::new();
        for policy in self.statics.iter().filter(|policy| admits(&policy.action_constraint(), action, &groups)) {
            set.add(policy.clone()).map_err(|e| evaluation(&e))?;
        }
        let mut links = HashMap::with_capacity(grants.len());
        for grant in grants {
            let Some(template) = self.roles.get(grant.role.as_str()) else { continue };
            if !admits(&template.action_constraint(), action, &groups) {
                continue;
            }
            if set.template(template.id()).is_none() {
                set.add_template(template.clone()).map_err(|e| evaluation(&e))?;
            }
            let link = PolicyId::new(format!("grant:{}", grant.id));
            let slots = HashMap::from([
                (SlotId::principal(), principal.clone()),
                (SlotId::resource(), scope_uid(&grant.scope)),
            ]);
            set.link(template.id().clone(), link.clone(), slots).map_err(|e| evaluation(&e))?;
            links.insert(link, grant.id);
        }
        Ok(Slice { set, links })
    }

    fn context(
        &self,
        input: &DecisionInput<'_>,
        facts: &ServerFacts,
        action: &EntityUid,
    ) -> Result<Context, DecisionError> {
        let caller_fields = input.caller_context.filter(|fields| !fields.is_empty());
        if caller_fields.is_none() && !facts.adds_to_context() {
            // Only gatehouse's own fields: no JSON to parse or check, and the
            // same few values for every request of a caller in one second.
            let key = OwnContextKey::of(input, self);
            let step_up = key.step_up;
            let own = self.memos.own_contexts.get_or_build(key, || own_context(input, step_up))?;
            return Ok(Context::clone(&own));
        }
        let mut fields = caller_fields.cloned().unwrap_or_default();
        canonicalize_author(&mut fields, input.principal);
        for reserved in SERVER_CONTEXT_FIELDS {
            if fields.contains_key(reserved) {
                return Err(DecisionError::InvalidRequest(format!(
                    "context field `{reserved}` is set by gatehouse, not by callers"
                )));
            }
        }
        fields.insert("now".into(), Value::from(input.now.unix_timestamp()));
        fields.insert("auth_method".into(), Value::from(input.auth_method));
        fields.insert("mfa_fresh".into(), Value::from(input.mfa_fresh));
        if self.step_up_in_context(input.action) {
            fields.insert("step_up".into(), Value::from(input.step_up));
        }
        fields.insert("source_ip".into(), Value::from(input.source_ip.unwrap_or_default()));
        fields.insert("principal_is_caller".into(), Value::from(input.principal_is_caller));
        if let Some(known) = facts.authors.as_ref().filter(|_| self.authors_in_context(input.action)) {
            let ids: Vec<Value> = known.authors.iter().map(|id| Value::from(id.to_string())).collect();
            fields.insert("authors".into(), Value::Array(ids));
            fields.insert("author_known".into(), Value::from(known.all_known));
        }
        Context::from_json_value(Value::Object(fields), Some((&self.schema, action)))
            .map_err(|e| DecisionError::InvalidRequest(format!("invalid context: {e}")))
    }
}

/// After a denial by the `integration-not-in-force` guard, the sentences
/// that say why the integration is not in force: a person reading "forbidden
/// by policy" alone would not know which evidence to renew.
fn explain_integration(reasons: &mut Vec<Reason>, integration: &IntegrationStanding) {
    let guard = Reason::Policy { id: NOT_IN_FORCE_GUARD.to_owned(), permit: false };
    let Some(at) = reasons.iter().position(|reason| *reason == guard) else { return };
    let sentences = integration
        .denial_sentences()
        .into_iter()
        .map(|reason| Reason::Integration { vendor: integration.vendor.clone(), reason });
    reasons.splice(at + 1..at + 1, sentences);
}

/// Separation of duties compares `author` with the principal's id and
/// email exactly (Cedar has no case folding). A caller must not dodge it by
/// spelling the approver's own address differently (`RITA@example.com`, a
/// trailing space): an author that is the principal's id or email but for
/// case and surrounding space becomes exactly what the entity holds. Only
/// ever towards a match, so the guard can only gain.
fn canonicalize_author(fields: &mut Map<String, Value>, principal: &Identity) {
    let Some(Value::String(author)) = fields.get("author") else { return };
    let spelled = author.trim().to_lowercase();
    let id = principal.id.to_string();
    let canonical = if spelled == id.to_lowercase() {
        id
    } else if let Some(email) = principal.email.as_ref().filter(|email| email.to_lowercase() == spelled) {
        email.clone()
    } else {
        return;
    };
    fields.insert("author".into(), Value::String(canonical));
}

/// The context of a request whose caller adds no fields of its own;
/// `step_up` only when the schema declares it.
fn own_context(input: &DecisionInput<'_>, step_up: Option<bool>) -> Result<Context, DecisionError> {
    let mut pairs = vec![
        ("now".to_owned(), RestrictedExpression::new_long(input.now.unix_timestamp())),
        ("auth_method".to_owned(), RestrictedExpression::new_string(input.auth_method.to_owned())),
        ("mfa_fresh".to_owned(), RestrictedExpression::new_bool(input.mfa_fresh)),
        ("source_ip".to_owned(), RestrictedExpression::new_string(input.source_ip.unwrap_or_default().to_owned())),
        ("principal_is_caller".to_owned(), RestrictedExpression::new_bool(input.principal_is_caller)),
    ];
    if let Some(step_up) = step_up {
        pairs.push(("step_up".to_owned(), RestrictedExpression::new_bool(step_up)));
    }
    Context::from_pairs(pairs).map_err(|e| DecisionError::Evaluation(e.to_string()))
}

/// The actions whose context in `schema` declares `step_up`: a folder
/// written before it existed keeps working, without it.
pub(crate) fn actions_with_step_up(schema: &cedar_policy::Schema) -> HashSet<Action> {
    let sample = serde_json::json!({
        "now": 0, "auth_method": "token", "mfa_fresh": false, "step_up": false,
        "source_ip": "", "principal_is_caller": true,
    });
    Action::ALL
        .into_iter()
        .filter(|action| {
            let uid = EntityUid::from_type_name_and_id(type_name("Action"), EntityId::new(action.as_str()));
            Context::from_json_value(sample.clone(), Some((schema, &uid))).is_ok()
        })
        .collect()
}

/// The actions whose context in `schema` declares gatehouse's facts about
/// the change (`authors`, `author_known`): a folder written before they
/// existed keeps working, without them.
pub(crate) fn actions_with_authors(schema: &cedar_policy::Schema) -> HashSet<Action> {
    let sample = serde_json::json!({
        "now": 0, "auth_method": "token", "mfa_fresh": false,
        "source_ip": "", "principal_is_caller": true, "authors": [], "author_known": false,
    });
    Action::ALL
        .into_iter()
        .filter(|action| {
            let uid = EntityUid::from_type_name_and_id(type_name("Action"), EntityId::new(action.as_str()));
            let mut with_step_up = sample.clone();
            with_step_up["step_up"] = Value::from(false);
            Context::from_json_value(sample.clone(), Some((schema, &uid))).is_ok()
                || Context::from_json_value(with_step_up, Some((schema, &uid))).is_ok()
        })
        .collect()
}

fn resource_kind(resource: &Resource) -> &'static str {
    match resource {
        Resource::Gatehouse => "Gatehouse",
        Resource::Project(_) => "Project",
        Resource::Pipeline(..) => "Pipeline",
        Resource::Environment(..) => "Environment",
        Resource::Owned { .. } => "Owned",
    }
}

fn request_problem(input: &DecisionInput<'_>, detail: &str) -> String {
    let kind = match input.resource {
        Resource::Gatehouse => "gatehouse itself",
        Resource::Project(_) => "a project",
        Resource::Pipeline(..) => "a pipeline",
        Resource::Environment(..) => "an environment",
        Resource::Owned { .. } => "an identity's own record",
    };
    format!("`{}` does not apply to {kind} ({detail})", input.action)
}

/// The entity type names gatehouse uses, for validation of inputs.
pub fn is_entity_type(name: &str) -> bool {
    ENTITY_TYPES.contains(&name)
}
