//! A campaign's snapshot: the access its selector admits, each item with
//! its last use, its recommendation and its reviewers resolved against the
//! directory as of the opening. `read` does the reading; `build` is pure.
//! A `manager` reviewer is the item's identity's manager as SCIM names them,
//! while that manager is active.

use std::collections::{BTreeSet, HashMap, HashSet};

use gatehouse_domain::access::{ApproverDirectory, Pool, Subject};
use gatehouse_domain::grant::{Grant, Scope};
use gatehouse_domain::identity::{Identity, IdentityStatus};
use gatehouse_domain::ids::{IdentityId, IntegrationId, VendorId};
use gatehouse_domain::review::{CampaignDefinition, Candidate, ItemKind, ReviewItem, Reviewer, recommend};
use gatehouse_domain::signing::SigningKey;
use gatehouse_domain::store::{PageRequest, TokenFilter};
use gatehouse_domain::token::ApiToken;
use time::OffsetDateTime;

use super::roles::RoleFacts;
use crate::problem::ApiError;
use crate::state::AppState;

/// Everything a snapshot is built from, read at one instant.
#[derive(Debug, Default)]
pub struct Inputs {
    pub identities: HashMap<IdentityId, Identity>,
    pub integrations: HashMap<IdentityId, (IntegrationId, VendorId)>,
    pub last_use: HashMap<IdentityId, OffsetDateTime>,
    pub directory: ApproverDirectory,
    /// Each person's manager, as SCIM names them, when that manager is an
    /// active identity: a suspended or deprovisioned manager reviews nothing.
    pub managers: HashMap<IdentityId, IdentityId>,
    pub grants: Vec<Grant>,
    pub tokens: Vec<ApiToken>,
    pub keys: Vec<SigningKey>,
}

/// Reads what `definition`'s selector can admit.
pub async fn read(state: &AppState, definition: &CampaignDefinition, now: OffsetDateTime) -> Result<Inputs, ApiError> {
    let store = &state.store;
    let kinds = &definition.selector.kinds;
    let mut inputs = Inputs { directory: store.approver_directory(now).await?, ..Inputs::default() };
    let mut page = PageRequest::first(PageRequest::MAX_LIMIT);
    loop {
        let found = store.list_identities(page.clone()).await?;
        for identity in found.items {
            if identity.status != IdentityStatus::Deprovisioned {
                inputs.identities.insert(identity.id, identity);
            }
        }
        match found.next_after {
            Some(after) => page.after = Some(after),
            None => break,
        }
    }
    let is_active = |id: &IdentityId| inputs.identities.get(id).is_some_and(|i| i.status == IdentityStatus::Active);
    let managers: HashMap<IdentityId, IdentityId> =
        store.scim_list_managers().await?.into_iter().filter(|(_, manager)| is_active(manager)).collect();
    inputs.managers = managers;
    for integration in store.list_integrations(None).await? {
        inputs.integrations.insert(integration.identity_id, (integration.id, integration.vendor_id));
    }
    inputs.last_use = store.last_use_by_identity().await?.into_iter().collect();
    if kinds.contains(&ItemKind::Grant) || kinds.contains(&ItemKind::Token) || kinds.contains(&ItemKind::SigningKey) {
        // Grants are read for every kind: a token or key is privileged when
        // its identity holds a privileged role.
        let mut page = PageRequest::first(PageRequest::MAX_LIMIT);
        loop {
            let found = store.list_grants(None, page.clone()).await?;
            inputs.grants.extend(found.items.into_iter().filter(|grant| grant.is_in_force_at(now)));
            match found.next_after {
                Some(after) => page.after = Some(after),
                None => break,
            }
        }
    }
    if kinds.contains(&ItemKind::Token) {
        let mut page = PageRequest::first(PageRequest::MAX_LIMIT);
        loop {
            let found = store.list_tokens(TokenFilter::default(), page.clone()).await?;
            inputs
                .tokens
                .extend(found.items.into_iter().filter(|token| token.revoked_at.is_none() && token.expires_at > now));
            match found.next_after {
                Some(after) => page.after = Some(after),
                None => break,
            }
        }
    }
    if kinds.contains(&ItemKind::SigningKey) {
        let holders: Vec<IdentityId> = inputs.identities.keys().copied().collect();
        for holder in holders {
            inputs.keys.extend(store.list_signing_keys(holder).await?);
        }
    }
    Ok(inputs)
}

/// The items and how many of them nobody could be found to review.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub items: Vec<ReviewItem>,
    pub unassigned: u32,
}

/// Resolves reviewers: pools and owners once per stage and scope (a
/// campaign over many grants of few scopes resolves few times), the manager
/// per item's identity, by a lookup.
struct Resolver<'a> {
    directory: &'a ApproverDirectory,
    roles: &'a RoleFacts,
    managers: &'a HashMap<IdentityId, IdentityId>,
    memo: HashMap<(u8, String), BTreeSet<IdentityId>>,
}

impl Resolver<'_> {
    fn pool(&self, pool: &Pool, scope: &Scope) -> BTreeSet<IdentityId> {
        self.directory.members_for(pool, Subject::Scope(scope))
    }

    /// Who `reviewers` name for an item of `identity` over `scope`: those
    /// who review the scope (memoized) and `identity`'s active manager
    /// when `reviewers` name managers.
    fn reviewers(
        &mut self,
        stage: u8,
        reviewers: &[Reviewer],
        scope: &Scope,
        identity: IdentityId,
    ) -> (&BTreeSet<IdentityId>, Option<IdentityId>) {
        let manager = reviewers.contains(&Reviewer::Manager).then(|| self.managers.get(&identity).copied()).flatten();
        (self.of_scope(stage, reviewers, scope), manager)
    }

    fn of_scope(&mut self, stage: u8, reviewers: &[Reviewer], scope: &Scope) -> &BTreeSet<IdentityId> {
        let key = (stage, scope.to_string());
        if !self.memo.contains_key(&key) {
            let mut found = BTreeSet::new();
            for reviewer in reviewers {
                match reviewer {
                    Reviewer::Pool(pool) => found.extend(self.pool(pool, scope)),
                    Reviewer::Owner => {
                        for role in self.roles.owner_roles() {
                            found.extend(self.pool(&Pool::Role(role), scope));
                        }
                    }
                    // Per identity, not per scope: `reviewers` adds them.
                    Reviewer::Manager => {}
                }
            }
            self.memo.insert(key.clone(), found);
        }
        &self.memo[&key]
    }
}

/// The snapshot of `inputs` under `definition`, as of `now`; `extra` items
/// (a pipeline change) come first.
pub fn build(
    definition: &CampaignDefinition,
    inputs: &Inputs,
    roles: &RoleFacts,
    now: OffsetDateTime,
    extra: Vec<ReviewItem>,
) -> Snapshot {
    let privileged_holders: HashSet<IdentityId> =
        inputs.grants.iter().filter(|grant| roles.is_privileged(grant.role.as_str())).map(|g| g.identity_id).collect();
    let mut items = extra;
    let admitted = |kind: ItemKind, identity: &Identity, role: Option<&str>, scope: Option<&str>| {
        let (integration, vendor) =
            inputs.integrations.get(&identity.id).map_or((None, None), |(i, v)| (Some(*i), Some(*v)));
        definition.selector.admits(&Candidate {
            kind,
            identity: identity.id,
            identity_kind: identity.kind,
            role,
            scope,
            integration,
            vendor,
        })
    };
    let unused_after = definition.unused_after;
    let last_use = |identity: IdentityId| inputs.last_use.get(&identity).copied();
    for grant in &inputs.grants {
        let Some(identity) = inputs.identities.get(&grant.identity_id) else { continue };
        let scope = grant.scope.to_string();
        if !admitted(ItemKind::Grant, identity, Some(grant.role.as_str()), Some(&scope)) {
            continue;
        }
        items.push(ReviewItem {
            number: 0,
            kind: ItemKind::Grant,
            target: grant.id.to_string(),
            identity: identity.id,
            identity_name: identity.name.clone(),
            role: Some(grant.role.as_str().to_owned()),
            scope: Some(scope),
            granted_by: grant.created_by,
            granted_at: grant.created_at,
            expires_at: grant.expires_at,
            last_used_at: last_use(identity.id),
            privileged: roles.is_privileged(grant.role.as_str()),
            recommendation: recommend(grant.created_at, last_use(identity.id), now, unused_after),
            authors: Vec::new(),
            reviewers: Vec::new(),
            second_reviewers: Vec::new(),
        });
    }
    for token in &inputs.tokens {
        let Some(identity) = inputs.identities.get(&token.identity_id) else { continue };
        if !admitted(ItemKind::Token, identity, None, None) {
            continue;
        }
        items.push(ReviewItem {
            number: 0,
            kind: ItemKind::Token,
            target: token.id.to_string(),
            identity: identity.id,
            identity_name: identity.name.clone(),
            role: None,
            scope: None,
            granted_by: token.created_by,
            granted_at: token.created_at,
            expires_at: Some(token.expires_at),
            last_used_at: token.last_used_at,
            privileged: privileged_holders.contains(&identity.id),
            recommendation: recommend(token.created_at, token.last_used_at, now, unused_after),
            authors: Vec::new(),
            reviewers: Vec::new(),
            second_reviewers: Vec::new(),
        });
    }
    for key in &inputs.keys {
        let Some(identity) = inputs.identities.get(&key.identity_id) else { continue };
        if !admitted(ItemKind::SigningKey, identity, None, None) {
            continue;
        }
        items.push(ReviewItem {
            number: 0,
            kind: ItemKind::SigningKey,
            target: key.id.to_string(),
            identity: identity.id,
            identity_name: identity.name.clone(),
            role: None,
            scope: None,
            granted_by: key.created_by,
            granted_at: key.created_at,
            expires_at: None,
            last_used_at: last_use(identity.id),
            privileged: privileged_holders.contains(&identity.id),
            recommendation: recommend(key.created_at, last_use(identity.id), now, unused_after),
            authors: Vec::new(),
            reviewers: Vec::new(),
            second_reviewers: Vec::new(),
        });
    }
    assign(definition, &inputs.directory, &inputs.managers, roles, items)
}

/// Numbers the items and names their reviewers: the definition's, else its
/// fallback, never an item's own identity or authors; a second stage's for
/// privileged items when the definition has one. `managers` are each
/// person's active manager.
pub fn assign(
    definition: &CampaignDefinition,
    directory: &ApproverDirectory,
    managers: &HashMap<IdentityId, IdentityId>,
    roles: &RoleFacts,
    mut items: Vec<ReviewItem>,
) -> Snapshot {
    let mut resolver = Resolver { directory, roles, managers, memo: HashMap::new() };
    let fallback = [Reviewer::Pool(definition.fallback.clone())];
    let mut unassigned = 0;
    for (number, item) in items.iter_mut().enumerate() {
        item.number = u32::try_from(number).unwrap_or(u32::MAX);
        let scope = item.scope.as_deref().and_then(|scope| Scope::parse(scope).ok()).unwrap_or(Scope::Everything);
        let subjects: Vec<IdentityId> = std::iter::once(item.identity).chain(item.authors.iter().copied()).collect();
        let identity = item.identity;
        let eligible = |(set, manager): (&BTreeSet<IdentityId>, Option<IdentityId>)| -> Vec<IdentityId> {
            let mut found: Vec<IdentityId> = set.iter().copied().filter(|id| !subjects.contains(id)).collect();
            if let Some(manager) = manager.filter(|id| !subjects.contains(id) && !set.contains(id)) {
                found.push(manager);
                found.sort();
            }
            found
        };
        let mut first = eligible(resolver.reviewers(1, &definition.reviewers, &scope, identity));
        if first.is_empty() {
            first = eligible(resolver.reviewers(3, &fallback, &scope, identity));
        }
        if first.is_empty() {
            unassigned += 1;
        }
        if item.privileged && !definition.second_stage.is_empty() {
            let mut second = eligible(resolver.reviewers(2, &definition.second_stage, &scope, identity));
            if second.is_empty() {
                second = eligible(resolver.reviewers(3, &fallback, &scope, identity));
            }
            item.second_reviewers = second;
        }
        item.reviewers = first;
    }
    Snapshot { items, unassigned }
}
