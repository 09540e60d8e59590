//! When gatehouse opens a review on its own, and what an unreviewed
//! pipeline change holds: the policy folder's recurrence, a pipeline
//! change's item and whose grants it reviews, a contract renewal's window,
//! and the deployments a change review holds. Pure rules; the server reads
//! the facts and opens the campaigns.

use std::collections::BTreeMap;

use time::{Date, Duration, OffsetDateTime, Time};

use crate::grant::{Resource, Scope};
use crate::ids::{CampaignId, IdentityId};

use super::campaign::CampaignState;
use super::decision::Verdict;
use super::definition::{ItemKind, MIN_DURATION, Recurrence};
use super::item::{Advice, Recommendation, ReviewItem};

/// Actions whose holders a pipeline-change review covers: who may trigger,
/// approve and edit the pipeline.
pub const PIPELINE_ACTIONS: [&str; 3] = ["pipeline.trigger", "deployment.approve", "pipeline.config.edit"];

/// Whether a campaign of the policy folder opens now: at once when it never
/// opened, then at its recurrence after the last opening; never again
/// without a recurrence.
pub fn schedule_due(recurrence: Option<Recurrence>, last_opened: Option<OffsetDateTime>, now: OffsetDateTime) -> bool {
    match (last_opened, recurrence) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(last), Some(recurrence)) => now >= recurrence.next_after(last),
    }
}

/// Whether a role allowing these actions (all of them when `all_actions`)
/// lets its holder trigger, approve or edit a pipeline.
pub fn role_reaches_pipeline(all_actions: bool, actions: &[String]) -> bool {
    all_actions || actions.iter().any(|action| PIPELINE_ACTIONS.contains(&action.as_str()))
}

/// Whether a grant on `scope` reaches `project`'s pipelines: everything,
/// the project itself, or anything inside it (one of its environments or
/// pipelines, whose deployments its holder approves).
pub fn scope_reaches_project(scope: &Scope, project: &str) -> bool {
    match scope {
        Scope::Everything => true,
        Scope::Resource(resource) => resource.project() == Some(project),
    }
}

/// A pushed pipeline change as gatehouse knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedChange {
    pub before: String,
    pub after: String,
    /// The pusher's identity, when gatehouse knows them.
    pub pusher: Option<(IdentityId, String)>,
    /// The commits that touched pipeline configuration.
    pub commits: Vec<String>,
    /// Who gatehouse verified signed each commit (a commit absent or with
    /// nobody was not signed by anyone it knows).
    pub signers: BTreeMap<String, Vec<(IdentityId, String)>>,
    pub at: OffsetDateTime,
}

/// The review item for a pipeline change: `before..after`, its pusher (else
/// its first signer) as identity, every signer as an author (so nobody who
/// wrote it reviews it), and revoke recommended while any of its commits is
/// unsigned.
pub fn change_item(change: &PushedChange) -> ReviewItem {
    let mut authors: Vec<(IdentityId, String)> =
        change.commits.iter().filter_map(|commit| change.signers.get(commit)).flatten().cloned().collect();
    authors.sort();
    authors.dedup_by_key(|(id, _)| *id);
    let (identity, identity_name) = change
        .pusher
        .clone()
        .or_else(|| authors.first().cloned())
        .unwrap_or_else(|| (IdentityId::from(uuid::Uuid::nil()), "unknown".to_owned()));
    let unsigned: Vec<&str> = change
        .commits
        .iter()
        .filter(|commit| change.signers.get(*commit).is_none_or(Vec::is_empty))
        .map(String::as_str)
        .collect();
    let recommendation = if change.commits.is_empty() {
        Recommendation { advice: Advice::Revoke, reason: "not signed: no commit named".into() }
    } else if unsigned.is_empty() {
        let names: Vec<&str> = authors.iter().map(|(_, name)| name.as_str()).collect();
        Recommendation { advice: Advice::Keep, reason: format!("signed by {}", names.join(", ")) }
    } else {
        let shown: Vec<&str> = unsigned.iter().map(|commit| &commit[..commit.len().min(12)]).collect();
        Recommendation { advice: Advice::Revoke, reason: format!("not signed: {}", shown.join(", ")) }
    };
    ReviewItem {
        number: 0,
        kind: ItemKind::Change,
        target: format!("{}..{}", change.before, change.after),
        identity,
        identity_name,
        role: None,
        scope: None,
        granted_by: None,
        granted_at: change.at,
        expires_at: None,
        last_used_at: None,
        privileged: false,
        recommendation,
        authors: authors.into_iter().map(|(id, _)| id).filter(|id| *id != identity).collect(),
        reviewers: Vec::new(),
        second_reviewers: Vec::new(),
    }
}

/// A pipeline-change review that may hold its project's deployments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldFact {
    pub campaign: CampaignId,
    pub name: String,
    /// The project held (`acme/web`).
    pub project: String,
    pub opened_at: OffsetDateTime,
    /// The final outcome of its change item (item 0), if decided.
    pub change_outcome: Option<Verdict>,
}

impl HoldFact {
    fn kept(&self) -> bool {
        matches!(self.change_outcome, Some(Verdict::Keep { .. }))
    }
}

/// The review holding a deployment to `resource`, if one does: a change
/// review of its project whose change nobody kept, unless a later change
/// review of that project was kept after it was decided otherwise (an
/// undecided one holds whatever came after).
pub fn holding<'a>(resource: &Resource, facts: &'a [HoldFact]) -> Option<&'a HoldFact> {
    let project = resource.project()?;
    let of_project: Vec<&HoldFact> = facts.iter().filter(|fact| fact.project == project).collect();
    let last_kept = of_project.iter().filter(|fact| fact.kept()).map(|fact| fact.opened_at).max();
    of_project
        .into_iter()
        .filter(|fact| !fact.kept())
        .filter(|fact| fact.change_outcome.is_none() || last_kept.is_none_or(|kept| fact.opened_at > kept))
        .min_by_key(|fact| fact.opened_at)
}

/// Why a deployment is denied while `fact` holds it.
pub fn hold_reason(fact: &HoldFact) -> String {
    format!(
        "review-hold: pipeline change review `{}` (review:{}) has not approved the change to project:{}",
        fact.name, fact.campaign, fact.project
    )
}

/// A renewal review's window: it opens `lead` before the renewal date
/// (midnight UTC) and lasts until `grace` after it, at least
/// [`MIN_DURATION`]. From the renewal until its deadline a review still
/// waiting on its reviewers lapses the vendor (`vendor::renewal_lapse`);
/// with no grace it closes at the renewal and that never happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenewalWindow {
    pub opens_at: OffsetDateTime,
    pub renews_at: OffsetDateTime,
    /// The renewal plus the grace: the review's deadline.
    pub closes_at: OffsetDateTime,
}

impl RenewalWindow {
    pub fn of(renewal: Date, lead: Duration, grace: Duration) -> Self {
        let renews_at = renewal.with_time(Time::MIDNIGHT).assume_utc();
        Self { opens_at: renews_at - lead, renews_at, closes_at: renews_at + grace }
    }

    /// Whether its review opens now: the window has begun and no review of
    /// this vendor opened since it did (once per vendor per renewal date).
    pub fn due(&self, last_opened: Option<OffsetDateTime>, now: OffsetDateTime) -> bool {
        now >= self.opens_at && last_opened.is_none_or(|last| last < self.opens_at)
    }

    /// How long a review opened at `now` lasts: until the renewal plus the
    /// grace, at least [`MIN_DURATION`].
    pub fn duration(&self, now: OffsetDateTime) -> Duration {
        (self.closes_at - now).max(MIN_DURATION)
    }
}

/// Whether a review lets what waits on it go ahead (an integration's
/// onboarding): closed or skipped, or open with every item's final
/// outcome a keep. `outcomes` holds each item's final outcome so far.
pub fn review_passed(state: CampaignState, outcomes: &[Option<Verdict>]) -> bool {
    match state {
        CampaignState::Closed | CampaignState::Skipped => true,
        CampaignState::Open => outcomes.iter().all(|outcome| matches!(outcome, Some(Verdict::Keep { .. }))),
    }
}

/// Whose groups a directory group update changed: those added or removed,
/// and every member old or new when the group was renamed (a group's name
/// is what policies and reviewers name).
pub fn changed_members(old_name: &str, old: &[IdentityId], new_name: &str, new: &[IdentityId]) -> Vec<IdentityId> {
    let renamed = old_name != new_name;
    let mut changed: Vec<IdentityId> = old
        .iter()
        .filter(|member| renamed || !new.contains(member))
        .chain(new.iter().filter(|member| renamed || !old.contains(member)))
        .copied()
        .collect();
    changed.sort();
    changed.dedup();
    changed
}

#[cfg(test)]
mod tests {
    use time::macros::{date, datetime};

    use super::*;

    const NOW: OffsetDateTime = datetime!(2026-06-01 09:00 UTC);

    #[test]
    fn a_campaign_opens_once_then_at_its_recurrence() {
        let quarterly = Some(Recurrence::Months(3));
        assert!(schedule_due(quarterly, None, NOW));
        assert!(schedule_due(None, None, NOW));
        assert!(!schedule_due(None, Some(NOW - Duration::days(400)), NOW), "without recurrence: once");
        assert!(!schedule_due(quarterly, Some(NOW - Duration::days(80)), NOW));
        assert!(schedule_due(quarterly, Some(datetime!(2026-03-01 09:00 UTC)), NOW));
        assert!(!schedule_due(quarterly, Some(datetime!(2026-03-01 09:00:01 UTC)), NOW));
    }

    #[test]
    fn pipeline_reviews_cover_roles_and_scopes_that_reach_the_project() {
        assert!(role_reaches_pipeline(true, &[]));
        assert!(role_reaches_pipeline(false, &["deployment.approve".into()]));
        assert!(!role_reaches_pipeline(false, &["deployment.execute".into(), "project.view".into()]));
        let scope = |raw: &str| Scope::parse(raw).unwrap();
        assert!(scope_reaches_project(&Scope::Everything, "acme/web"));
        assert!(scope_reaches_project(&scope("project:acme/web"), "acme/web"));
        assert!(scope_reaches_project(&scope("environment:acme/web:production"), "acme/web"));
        assert!(!scope_reaches_project(&scope("project:acme/api"), "acme/web"));
        assert!(!scope_reaches_project(&scope("environment:acme/webx:production"), "acme/web"));
    }

    fn change(signers: &[(&str, IdentityId)], pusher: Option<IdentityId>) -> PushedChange {
        PushedChange {
            before: "b".into(),
            after: "a".into(),
            pusher: pusher.map(|id| (id, "pusher".into())),
            commits: vec!["c1".into(), "c2".into()],
            signers: signers.iter().map(|(commit, id)| ((*commit).to_owned(), vec![(*id, "signer".into())])).collect(),
            at: NOW,
        }
    }

    #[test]
    fn a_change_item_names_its_authors_and_recommends_revoke_when_unsigned() {
        let (ana, bo) = (IdentityId::new(), IdentityId::new());
        let signed = change_item(&change(&[("c1", ana), ("c2", bo)], Some(bo)));
        assert_eq!((signed.kind, signed.target.as_str(), signed.identity), (ItemKind::Change, "b..a", bo));
        assert_eq!(signed.authors, vec![ana]);
        assert!(signed.is_subject(ana) && signed.is_subject(bo));
        assert_eq!(signed.recommendation.advice, Advice::Keep);
        let unsigned = change_item(&change(&[("c1", ana)], None));
        assert_eq!(unsigned.identity, ana, "the first author stands in for an unknown pusher");
        assert!(unsigned.authors.is_empty());
        assert_eq!(unsigned.recommendation.advice, Advice::Revoke);
        assert_eq!(unsigned.recommendation.reason, "not signed: c2");
        let nobody = change_item(&change(&[], None));
        assert_eq!(nobody.identity, IdentityId::from(uuid::Uuid::nil()));
        assert_eq!(nobody.recommendation.advice, Advice::Revoke);
    }

    fn fact(project: &str, days_ago: i64, outcome: Option<Verdict>) -> HoldFact {
        HoldFact {
            campaign: CampaignId::new(),
            name: "Pipeline change".into(),
            project: project.into(),
            opened_at: NOW - Duration::days(days_ago),
            change_outcome: outcome,
        }
    }

    #[test]
    fn an_unkept_change_holds_its_projects_deployments_only() {
        let prod = Resource::parse("environment:acme/web:production").unwrap();
        let other = Resource::parse("environment:acme/api:production").unwrap();
        let keep = Some(Verdict::Keep { until: None });
        let open = [fact("acme/web", 1, None)];
        assert_eq!(holding(&prod, &open).map(|f| f.campaign), Some(open[0].campaign));
        assert!(hold_reason(&open[0]).contains(&open[0].campaign.to_string()));
        assert!(holding(&other, &open).is_none());
        assert!(holding(&prod, &[fact("acme/web", 1, keep.clone())]).is_none());
        // Revoked, then a later change kept: the later review releases it.
        let revoked = fact("acme/web", 5, Some(Verdict::Revoke));
        assert!(holding(&prod, std::slice::from_ref(&revoked)).is_some());
        assert!(holding(&prod, &[revoked.clone(), fact("acme/web", 1, keep.clone())]).is_none());
        // An undecided change holds even when a later one was kept.
        assert!(holding(&prod, &[fact("acme/web", 5, None), fact("acme/web", 1, keep)]).is_some());
    }

    #[test]
    fn a_group_update_changes_the_groups_of_those_added_removed_or_renamed() {
        let (a, b, c) = (IdentityId::new(), IdentityId::new(), IdentityId::new());
        let mut expected = vec![a, c];
        expected.sort();
        assert_eq!(changed_members("ops", &[a, b], "ops", &[b, c]), expected);
        assert!(changed_members("ops", &[a, b], "ops", &[b, a]).is_empty());
        assert_eq!(changed_members("ops", &[a], "sre", &[a]), vec![a]);
    }

    #[test]
    fn an_onboarding_waits_for_its_review_to_close_or_keep_everything() {
        let keep = Some(Verdict::Keep { until: None });
        assert!(review_passed(CampaignState::Skipped, &[]));
        assert!(review_passed(CampaignState::Closed, &[Some(Verdict::Revoke)]));
        assert!(review_passed(CampaignState::Open, &[keep.clone(), keep.clone()]));
        assert!(!review_passed(CampaignState::Open, &[keep.clone(), None]));
        assert!(!review_passed(CampaignState::Open, &[keep, Some(Verdict::Revoke)]));
    }

    #[test]
    fn a_renewal_review_opens_once_in_its_window_and_lasts_until_the_renewal() {
        let window = RenewalWindow::of(date!(2026 - 07 - 01), Duration::days(30), Duration::ZERO);
        assert_eq!(window.opens_at, datetime!(2026-06-01 00:00 UTC));
        assert_eq!(window.closes_at, window.renews_at, "no grace: closes at the renewal");
        assert!(window.due(None, NOW));
        assert!(!window.due(None, datetime!(2026-05-31 23:59 UTC)));
        assert!(!window.due(Some(NOW), NOW + Duration::days(1)), "once per renewal date");
        assert!(window.due(Some(NOW - Duration::days(365)), NOW), "last year's renewal review");
        assert_eq!(window.duration(NOW), datetime!(2026-07-01 00:00 UTC) - NOW);
        assert_eq!(window.duration(datetime!(2026-06-30 23:30 UTC)), MIN_DURATION);
    }

    #[test]
    fn a_renewal_review_with_grace_lasts_past_the_renewal() {
        let window = RenewalWindow::of(date!(2026 - 07 - 01), Duration::days(30), Duration::days(7));
        assert_eq!(window.opens_at, datetime!(2026-06-01 00:00 UTC));
        assert_eq!(window.renews_at, datetime!(2026-07-01 00:00 UTC));
        assert_eq!(window.closes_at, datetime!(2026-07-08 00:00 UTC));
        assert_eq!(NOW + window.duration(NOW), datetime!(2026-07-08 00:00 UTC), "deadline: renewal + grace");
        // Opened the evening before the renewal: still the grace after it.
        let late = datetime!(2026-06-30 23:30 UTC);
        assert_eq!(late + window.duration(late), window.closes_at);
        // Opened within the minimum hour of the deadline: the minimum holds.
        let last = datetime!(2026-07-07 23:30 UTC);
        assert_eq!(window.duration(last), MIN_DURATION);
        // The window opens by the lead only, whatever the grace.
        assert!(!window.due(None, datetime!(2026-05-31 23:59 UTC)));
        assert!(window.due(None, NOW));
    }
}
