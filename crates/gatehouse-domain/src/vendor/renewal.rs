//! The contract renewal as a cause of a lapse: a vendor whose renewal
//! review is still open at or after the contract's renewal date is not in
//! force, exactly as if its evidence had expired (the same lapse action of
//! its tier applies). A renewal review lasts until the renewal plus
//! `renewal_grace_days` (`RenewalWindow`), so by default it runs into
//! this rule when nobody finished it. The review ends that cause when
//! every item has a final outcome or when it closes (by hand, or by its
//! deadline, which applies its defaults); a contract renewed (its renewal
//! date moved past now) ends it too.

use time::OffsetDateTime;

use super::compliance::Compliance;
use super::evidence::start_of;
use super::record::Vendor;
use crate::ids::CampaignId;

/// A renewal review (trigger `renewal`) of a vendor, as this rule reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenewalReview {
    pub campaign: CampaignId,
    pub opened_at: OffsetDateTime,
    pub deadline: OffsetDateTime,
    /// Whether the campaign is still open (not closed or skipped).
    pub open: bool,
    /// Whether every item has a final outcome.
    pub complete: bool,
}

impl RenewalReview {
    /// Whether it still waits on its reviewers at `at`: open, not complete
    /// and before its deadline (at the deadline it closes by itself).
    fn pending_at(&self, at: OffsetDateTime) -> bool {
        self.open && !self.complete && at < self.deadline
    }
}

/// The renewal's effect on a vendor's integrations at an instant.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RenewalLapse {
    /// Why the vendor is lapsed, naming the review; `None` when it is not.
    pub reason: Option<String>,
    /// The earliest instant after the one asked at which the answer can
    /// change without new data: the renewal itself, or the deadline of the
    /// review that lapses it.
    pub next_change: Option<OffsetDateTime>,
}

/// Whether `vendor` is lapsed at `at` by a renewal review among `reviews`
/// (its own, trigger `renewal`) still open at its contract's renewal
/// (midnight UTC of `contract.renewal`). Only a review opened before that
/// instant counts: one for an earlier renewal date stays closed long
/// before, and a renewal moved into the future has not come yet.
pub fn renewal_lapse(vendor: &Vendor, reviews: &[RenewalReview], at: OffsetDateTime) -> RenewalLapse {
    let renews_at = start_of(vendor.contract.renewal);
    if at < renews_at {
        // The review may open (or already be open) before then; the answer
        // is asked again at the renewal.
        return RenewalLapse { reason: None, next_change: Some(renews_at) };
    }
    let lapsing = reviews
        .iter()
        .filter(|review| review.opened_at < renews_at && review.pending_at(at))
        .min_by_key(|review| (review.opened_at, review.campaign));
    match lapsing {
        None => RenewalLapse::default(),
        Some(review) => RenewalLapse {
            reason: Some(format!(
                "The renewal review of {} (review:{}) is still open at the contract renewal on {}",
                vendor.name, review.campaign, vendor.contract.renewal
            )),
            next_change: Some(review.deadline),
        },
    }
}

impl Compliance {
    /// This answer with the renewal's: its reason (if any) makes it not in
    /// force, and its next change counts too.
    pub fn with_renewal(mut self, lapse: RenewalLapse) -> Self {
        if let Some(reason) = lapse.reason {
            self.reasons.push(reason);
            self.in_force = false;
        }
        self.next_change = self.next_change.into_iter().chain(lapse.next_change).min();
        self
    }
}

#[cfg(test)]
mod tests {
    use time::Duration;
    use time::macros::{date, datetime};

    use super::*;
    use crate::ids::VendorId;
    use crate::vendor::{Contract, DataAccess, VendorStatus, VendorTier};

    const RENEWS: OffsetDateTime = datetime!(2026-07-01 00:00 UTC);

    fn vendor() -> Vendor {
        Vendor {
            id: VendorId::new(),
            name: "Acme Scan".into(),
            tier: VendorTier::High,
            business_owner: None,
            security_owner: None,
            contract: Contract {
                start: date!(2026 - 01 - 01),
                renewal: date!(2026 - 07 - 01),
                end: date!(2027 - 12 - 31),
            },
            data_access: DataAccess::Source,
            logging: None,
            status: VendorStatus::Approved,
        }
    }

    fn review(opened_at: OffsetDateTime, deadline: OffsetDateTime) -> RenewalReview {
        RenewalReview { campaign: CampaignId::new(), opened_at, deadline, open: true, complete: false }
    }

    fn in_force(lapse: RenewalLapse) -> Compliance {
        Compliance { in_force: true, reasons: Vec::new(), next_change: None }.with_renewal(lapse)
    }

    #[test]
    fn an_open_review_at_the_renewal_lapses_the_vendor_naming_it() {
        let acme = vendor();
        let open = review(RENEWS - Duration::days(30), RENEWS + Duration::days(3));
        let lapse = renewal_lapse(&acme, std::slice::from_ref(&open), RENEWS);
        let reason = lapse.reason.clone().expect("lapsed at the renewal");
        assert!(reason.contains(&format!("review:{}", open.campaign)), "{reason}");
        assert!(reason.contains("2026-07-01") && reason.starts_with("The renewal review of Acme Scan"), "{reason}");
        assert_eq!(lapse.next_change, Some(open.deadline), "asked again when the deadline closes it");
        let compliance = in_force(lapse);
        assert!(!compliance.in_force);
        assert_eq!(compliance.reasons, vec![reason]);
        // Still lapsed a day later, before the deadline.
        assert!(renewal_lapse(&acme, &[open], RENEWS + Duration::days(1)).reason.is_some());
    }

    #[test]
    fn before_the_renewal_nothing_lapses_and_the_renewal_is_the_next_change() {
        let acme = vendor();
        let open = review(RENEWS - Duration::days(30), RENEWS + Duration::days(3));
        let lapse = renewal_lapse(&acme, &[open], RENEWS - Duration::seconds(1));
        assert_eq!(lapse, RenewalLapse { reason: None, next_change: Some(RENEWS) });
        let compliance = in_force(lapse);
        assert!(compliance.in_force && compliance.reasons.is_empty());
        assert_eq!(compliance.next_change, Some(RENEWS));
    }

    #[test]
    fn a_complete_closed_or_past_deadline_review_ends_the_cause() {
        let acme = vendor();
        let base = review(RENEWS - Duration::days(30), RENEWS + Duration::days(3));
        let complete = RenewalReview { complete: true, ..base.clone() };
        let closed = RenewalReview { open: false, ..base.clone() };
        for ended in [complete, closed] {
            assert_eq!(renewal_lapse(&acme, &[ended], RENEWS), RenewalLapse::default());
        }
        assert!(
            renewal_lapse(&acme, std::slice::from_ref(&base), base.deadline).reason.is_none(),
            "closes by deadline"
        );
        // Without grace (`renewal_grace_days = 0`) the deadline is the
        // renewal, so the review closes by itself then and never lapses.
        let until_renewal = review(RENEWS - Duration::days(30), RENEWS);
        assert!(renewal_lapse(&acme, &[until_renewal], RENEWS).reason.is_none());
        assert!(renewal_lapse(&acme, &[], RENEWS).reason.is_none());
    }

    #[test]
    fn a_renewed_contract_or_a_later_review_ends_the_cause() {
        let mut acme = vendor();
        let open = review(RENEWS - Duration::days(30), RENEWS + Duration::days(3));
        acme.contract.renewal = date!(2027 - 07 - 01);
        acme.contract.end = date!(2028 - 12 - 31);
        let lapse = renewal_lapse(&acme, std::slice::from_ref(&open), RENEWS + Duration::days(1));
        assert_eq!(lapse.reason, None, "the renewal moved forward");
        assert_eq!(lapse.next_change, Some(datetime!(2027-07-01 00:00 UTC)));
        // A review opened after the renewal instant is not this renewal's.
        let later = review(RENEWS + Duration::hours(1), RENEWS + Duration::days(3));
        assert!(renewal_lapse(&vendor(), &[later], RENEWS + Duration::hours(2)).reason.is_none());
    }

    #[test]
    fn the_earliest_pending_review_is_named() {
        let acme = vendor();
        let first = review(RENEWS - Duration::days(30), RENEWS + Duration::days(3));
        let second = review(RENEWS - Duration::days(2), RENEWS + Duration::days(1));
        let lapse = renewal_lapse(&acme, &[second, first.clone()], RENEWS);
        assert!(lapse.reason.unwrap().contains(&first.campaign.to_string()));
        assert_eq!(lapse.next_change, Some(first.deadline));
    }
}
