use std::collections::BTreeSet;

use time::macros::{date, datetime};
use time::{Date, OffsetDateTime};

use super::evidence::add_months;
use super::*;
use crate::ids::{EvidenceId, IdentityId, VendorId};

fn vendor_id() -> VendorId {
    "00000000-0000-4000-8000-000000000001".parse().unwrap()
}

fn item_id(n: u128) -> EvidenceId {
    format!("00000000-0000-4000-8000-{n:012}").parse().unwrap()
}

fn contract() -> Contract {
    Contract { start: date!(2025 - 01 - 01), renewal: date!(2026 - 12 - 01), end: date!(2027 - 12 - 31) }
}

fn new_vendor(name: &str, tier: VendorTier) -> NewVendor {
    NewVendor {
        name: name.to_owned(),
        tier,
        business_owner: Some(IdentityId::new()),
        security_owner: None,
        contract: contract(),
        data_access: DataAccess::Source,
        logging: Some(LoggingCommitment { what: "API calls".to_owned(), retention_days: 365, tamper_evident: true }),
    }
}

fn approved(tier: VendorTier) -> Vendor {
    let mut vendor = new_vendor("Acme Scan", tier).check(vendor_id()).unwrap();
    vendor.status = VendorStatus::Approved;
    vendor
}

fn item(n: u128, metadata: EvidenceMetadata) -> Evidence {
    Evidence {
        id: item_id(n),
        vendor_id: vendor_id(),
        metadata,
        digest: ContentDigest::of(format!("file {n}").as_bytes()),
        size: 1000,
        filename: format!("evidence-{n}.pdf"),
        added_at: datetime!(2025-01-01 00:00 UTC),
    }
}

fn soc2(n: u128, period_end: Date) -> Evidence {
    item(
        n,
        EvidenceMetadata::Soc2(Soc2 {
            report_type: Soc2Type::TypeII,
            opinion: Soc2Opinion::Unqualified,
            trust_services: BTreeSet::from([TrustService::Security, TrustService::Availability]),
            period_start: date!(2024 - 11 - 01),
            period_end,
        }),
    )
}

fn bridge(n: u128, covers: u128, until: Date) -> Evidence {
    item(n, EvidenceMetadata::BridgeLetter(BridgeLetter { covers: item_id(covers), until }))
}

fn pentest(n: u128, performed_on: Date, product_in_scope: bool, open_critical: u32) -> Evidence {
    item(n, EvidenceMetadata::PenTest(PenTest { performed_on, product_in_scope, open_critical }))
}

fn dpa(n: u128) -> Evidence {
    item(n, EvidenceMetadata::Dpa(Dpa { signed_on: date!(2025 - 01 - 01) }))
}

fn noon(day: Date) -> OffsetDateTime {
    day.with_hms(12, 0, 0).unwrap().assume_utc()
}

fn state_name(state: &EvidenceState) -> String {
    match state {
        EvidenceState::Valid { until } => format!("valid until {until}"),
        EvidenceState::DueSoon { until } => format!("due soon {until}"),
        EvidenceState::Expired { since } => format!("expired {since}"),
        EvidenceState::Invalid { why } => format!("invalid: {why}"),
    }
}

#[test]
fn every_name_parses_back_and_others_are_refused() {
    fn check<T: std::str::FromStr<Err = UnknownValue> + std::fmt::Display + PartialEq + std::fmt::Debug + Copy>(
        all: &[T],
    ) {
        for value in all {
            assert_eq!(value.to_string().parse::<T>().unwrap(), *value);
        }
        let err = "bogus".parse::<T>().unwrap_err();
        assert!(err.to_string().starts_with("`bogus` is not a "), "{err}");
    }
    check(VendorTier::ALL);
    check(DataAccess::ALL);
    check(VendorStatus::ALL);
    check(EvidenceKind::ALL);
    check(Soc2Type::ALL);
    check(Soc2Opinion::ALL);
    check(TrustService::ALL);
    check(QuestionnaireKind::ALL);
    check(LapseAction::ALL);
    let names: Vec<&str> = EvidenceKind::ALL.iter().map(|kind| kind.as_str()).collect();
    assert_eq!(names, ["soc2", "bridge_letter", "pentest", "dpa", "questionnaire", "certificate"]);
    assert_eq!(VendorStatus::ApprovedWithConditions.as_str(), "approved_with_conditions");
    assert_eq!(
        "iso".parse::<EvidenceKind>().unwrap_err().to_string(),
        "`iso` is not a known evidence kind (expected one of: soc2, bridge_letter, pentest, dpa, questionnaire, certificate)"
    );
}

#[test]
fn new_vendor_checks_name_dates_and_logging() {
    type Edit = fn(&mut NewVendor);
    let cases: &[(&str, Edit, Option<VendorError>)] = &[
        ("as given", |_| {}, None),
        ("name of 128 chars", |v| v.name = "a".repeat(128), None),
        ("owners may be the same", |v| v.security_owner = v.business_owner, None),
        (
            "all dates the same day",
            |v| v.contract = Contract { start: v.contract.end, renewal: v.contract.end, end: v.contract.end },
            None,
        ),
        ("empty name", |v| v.name = "  ".to_owned(), Some(VendorError::Name)),
        ("name of 129 chars", |v| v.name = "a".repeat(129), Some(VendorError::Name)),
        ("control char in name", |v| v.name = "Acme\nScan".to_owned(), Some(VendorError::Name)),
        (
            "renewal after end",
            |v| v.contract.renewal = date!(2028 - 01 - 01),
            Some(VendorError::ContractOrder {
                start: date!(2025 - 01 - 01),
                renewal: date!(2028 - 01 - 01),
                end: date!(2027 - 12 - 31),
            }),
        ),
        (
            "start after renewal",
            |v| v.contract.start = date!(2026 - 12 - 02),
            Some(VendorError::ContractOrder {
                start: date!(2026 - 12 - 02),
                renewal: date!(2026 - 12 - 01),
                end: date!(2027 - 12 - 31),
            }),
        ),
        ("logging says nothing", |v| v.logging.as_mut().unwrap().what = String::new(), Some(VendorError::LoggingWhat)),
        (
            "logging keeps nothing",
            |v| v.logging.as_mut().unwrap().retention_days = 0,
            Some(VendorError::LoggingRetention),
        ),
        ("no logging commitment", |v| v.logging = None, None),
    ];
    for (name, edit, want) in cases {
        let mut new = new_vendor(" Acme Scan ", VendorTier::High);
        edit(&mut new);
        let got = new.check(vendor_id());
        match want {
            None => {
                let vendor = got.unwrap_or_else(|err| panic!("{name}: {err}"));
                assert_eq!(vendor.status, VendorStatus::Prospect, "{name}");
            }
            Some(want) => assert_eq!(got.as_ref().err(), Some(want), "{name}"),
        }
    }
    assert_eq!(new_vendor(" Acme Scan ", VendorTier::Low).check(vendor_id()).unwrap().name, "Acme Scan");
}

#[test]
fn status_moves() {
    use VendorStatus::*;
    // Rows: from; columns: to, in `VendorStatus::ALL` order
    // (prospect, approved, approved_with_conditions, suspended, offboarded).
    // `=` unchanged, `y` allowed, `n` forbidden, `f` refused as offboarded is final.
    let table = [
        (Prospect, "=yyny"),
        (Approved, "n=yyy"),
        (ApprovedWithConditions, "ny=yy"),
        (Suspended, "nyy=y"),
        (Offboarded, "fffff"),
    ];
    for (from, row) in table {
        for (&to, want) in VendorStatus::ALL.iter().zip(row.chars()) {
            let got = transition(from, to);
            let expected = match want {
                '=' => Err(StatusError::Unchanged(to)),
                'y' => Ok(to),
                'n' => Err(StatusError::Forbidden { from, to }),
                'f' => Err(StatusError::Offboarded(to)),
                _ => unreachable!(),
            };
            assert_eq!(got, expected, "{from} -> {to}");
        }
    }
    assert_eq!(
        transition(Prospect, Suspended).unwrap_err().to_string(),
        "a vendor cannot go from `prospect` to `suspended`"
    );
}

#[test]
fn digests_are_64_hex_digits() {
    let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    assert_eq!(ContentDigest::of(b"").to_string(), empty);
    assert_eq!(empty.parse::<ContentDigest>().unwrap(), ContentDigest::of(b""));
    assert_eq!(empty.to_uppercase().parse::<ContentDigest>().unwrap(), ContentDigest::of(b""));
    for bad in
        ["", "abc", &empty[..63], &format!("{empty}0"), &format!("{}g", &empty[..63]), &format!("{}é", &empty[..62])]
    {
        assert_eq!(bad.parse::<ContentDigest>(), Err(EvidenceError::Digest(bad.to_owned())), "{bad:?}");
    }
}

#[test]
fn new_evidence_is_checked() {
    let rules = EvidenceRules::default();
    let good = || NewEvidence {
        vendor_id: vendor_id(),
        metadata: soc2(1, date!(2025 - 10 - 31)).metadata,
        digest: ContentDigest::of(b"report"),
        size: 1000,
        filename: "soc2-2025.pdf".to_owned(),
    };
    type Edit = fn(&mut NewEvidence);
    let cases: &[(&str, Edit, Option<&str>)] = &[
        ("as given", |_| {}, None),
        ("at the size limit", |e| e.size = 20 * 1024 * 1024, None),
        (
            "over the size limit",
            |e| e.size = 20 * 1024 * 1024 + 1,
            Some("the file has 20971521 bytes, over the limit of 20971520"),
        ),
        ("empty", |e| e.size = 0, Some("the file is empty")),
        (
            "path in name",
            |e| e.filename = "../etc/passwd".to_owned(),
            Some("`../etc/passwd` is not a file name (1 to 255 characters, no `/`, `\\` or control characters)"),
        ),
        (
            "no name",
            |e| e.filename = " ".to_owned(),
            Some("` ` is not a file name (1 to 255 characters, no `/`, `\\` or control characters)"),
        ),
        (
            "period ends before it starts",
            |e| {
                if let EvidenceMetadata::Soc2(soc2) = &mut e.metadata {
                    soc2.period_end = date!(2024 - 10 - 31);
                }
            },
            Some("the period ends (2024-10-31) before it starts (2024-11-01)"),
        ),
        (
            "period ends after today",
            |e| {
                if let EvidenceMetadata::Soc2(soc2) = &mut e.metadata {
                    soc2.period_end = date!(2026 - 01 - 02);
                }
            },
            Some("the SOC 2 period's end (2026-01-02) is after today (2026-01-01)"),
        ),
        (
            "pen test tomorrow",
            |e| e.metadata = pentest(1, date!(2026 - 01 - 02), true, 0).metadata,
            Some("the pen test's date (2026-01-02) is after today (2026-01-01)"),
        ),
        ("pen test today", |e| e.metadata = pentest(1, date!(2026 - 01 - 01), true, 0).metadata, None),
        ("bridge letter until later", |e| e.metadata = bridge(1, 2, date!(2026 - 03 - 31)).metadata, None),
        (
            "no trust services",
            |e| {
                if let EvidenceMetadata::Soc2(soc2) = &mut e.metadata {
                    soc2.trust_services.clear();
                }
            },
            Some("a SOC 2 report names at least one trust services criterion"),
        ),
        (
            "certificate without a name",
            |e| {
                e.metadata = EvidenceMetadata::Certificate(Certificate {
                    name: String::new(),
                    expires_on: date!(2027 - 01 - 01),
                })
            },
            Some("a certificate's name has 1 to 256 characters and no control characters"),
        ),
    ];
    let now = datetime!(2026-01-01 00:00 UTC);
    for (name, edit, want) in cases {
        let mut new = good();
        edit(&mut new);
        let got = new.check(item_id(1), &rules, now);
        match want {
            None => assert_eq!(got.unwrap_or_else(|err| panic!("{name}: {err}")).added_at, now),
            Some(want) => assert_eq!(got.unwrap_err().to_string(), *want, "{name}"),
        }
    }
    let err: EvidenceError = "iso".parse::<EvidenceKind>().unwrap_err().into();
    assert!(matches!(err, EvidenceError::Unknown(_)));
}

#[test]
fn months_are_added_on_the_calendar() {
    let cases = [
        (date!(2025 - 10 - 31), 12, date!(2026 - 10 - 31)),
        (date!(2025 - 10 - 31), 3, date!(2026 - 01 - 31)),
        (date!(2024 - 01 - 31), 1, date!(2024 - 02 - 29)),
        (date!(2025 - 01 - 31), 1, date!(2025 - 02 - 28)),
        (date!(2024 - 02 - 29), 12, date!(2025 - 02 - 28)),
        (date!(2025 - 12 - 15), 1, date!(2026 - 01 - 15)),
        (date!(2025 - 06 - 01), 0, date!(2025 - 06 - 01)),
        (Date::MAX, 1, Date::MAX),
    ];
    for (from, months, want) in cases {
        assert_eq!(add_months(from, months), want, "{from} + {months}");
    }
}

/// A SOC 2 report walked through time, then renewed by a newer one.
#[test]
fn soc2_walks_valid_due_soon_expired_renewed() {
    let rules = EvidenceRules::default();
    let vendor = approved(VendorTier::High);
    let old = soc2(1, date!(2025 - 10 - 31));
    let renewed = soc2(2, date!(2026 - 09 - 30));
    let cases: &[(OffsetDateTime, &[&Evidence], &str)] = &[
        (noon(date!(2026 - 01 - 01)), &[&old], "valid until 2026-10-31"),
        (datetime!(2026-09-30 23:59:59 UTC), &[&old], "valid until 2026-10-31"),
        (datetime!(2026-10-01 00:00 UTC), &[&old], "due soon 2026-10-31"),
        (datetime!(2026-10-30 23:59:59 UTC), &[&old], "due soon 2026-10-31"),
        (datetime!(2026-10-31 00:00 UTC), &[&old], "expired 2026-10-31"),
        (datetime!(2026-10-31 01:00 +02:00), &[&old], "due soon 2026-10-31"),
        (noon(date!(2026 - 11 - 15)), &[&old, &renewed], "valid until 2027-09-30"),
        (noon(date!(2027 - 09 - 01)), &[&renewed, &old], "due soon 2027-09-30"),
    ];
    for (at, items, want) in cases {
        let items: Vec<Evidence> = items.iter().map(|item| (*item).clone()).collect();
        let states = requirement_states(&vendor, &items, &rules, *at);
        assert_eq!(states[0].0, EvidenceKind::Soc2);
        let RequirementState::Present { state, .. } = &states[0].1 else { panic!("{at}: soc2 missing") };
        assert_eq!(state_name(state), *want, "at {at}");
    }
}

#[test]
fn each_kind_has_its_rule() {
    let rules = EvidenceRules::default();
    let vendor = approved(VendorTier::Critical);
    let at = noon(date!(2026 - 03 - 01));
    let base = soc2(1, date!(2025 - 10 - 31));
    let with = |edit: fn(&mut Soc2)| {
        let mut item = base.clone();
        if let EvidenceMetadata::Soc2(soc2) = &mut item.metadata {
            edit(soc2);
        }
        item
    };
    let questionnaire = |answered_on| {
        item(9, EvidenceMetadata::Questionnaire(Questionnaire { kind: QuestionnaireKind::CaiqV4, answered_on }))
    };
    let certificate = |expires_on| {
        item(9, EvidenceMetadata::Certificate(Certificate { name: "ISO/IEC 27001:2022".to_owned(), expires_on }))
    };
    let cases: Vec<(&str, Vec<Evidence>, &str)> = vec![
        ("soc2", vec![base.clone()], "valid until 2026-10-31"),
        ("soc2 type I", vec![with(|s| s.report_type = Soc2Type::TypeI)], "invalid: a type I report (type II required)"),
        (
            "soc2 qualified",
            vec![with(|s| s.opinion = Soc2Opinion::Qualified)],
            "invalid: a qualified opinion (unqualified required)",
        ),
        (
            "soc2 without security",
            vec![with(|s| s.trust_services = BTreeSet::from([TrustService::Privacy]))],
            "invalid: security not in scope",
        ),
        ("soc2 bridged 2 months", vec![base.clone(), bridge(2, 1, date!(2026 - 12 - 31))], "valid until 2026-12-31"),
        (
            "soc2 bridged at most 3 months",
            vec![base.clone(), bridge(2, 1, date!(2027 - 06 - 30))],
            "valid until 2027-01-31",
        ),
        (
            "soc2 with a letter ending before it",
            vec![base.clone(), bridge(2, 1, date!(2026 - 05 - 01))],
            "valid until 2026-10-31",
        ),
        (
            "type I soc2 is not bridged",
            vec![with(|s| s.report_type = Soc2Type::TypeI), bridge(2, 1, date!(2026 - 12 - 31))],
            "invalid: a type I report (type II required)",
        ),
        ("bridge letter", vec![bridge(2, 1, date!(2026 - 12 - 31)), base.clone()], "valid until 2026-12-31"),
        (
            "bridge letter alone",
            vec![bridge(2, 1, date!(2026 - 12 - 31))],
            "invalid: it covers SOC 2 report 00000000-0000-4000-8000-000000000001, which is not on file",
        ),
        (
            "bridge letter over a type I",
            vec![bridge(2, 1, date!(2026 - 12 - 31)), with(|s| s.report_type = Soc2Type::TypeI)],
            "invalid: the SOC 2 report it covers is not acceptable: a type I report (type II required)",
        ),
        (
            "bridge letter over a DPA",
            vec![bridge(2, 1, date!(2026 - 12 - 31)), dpa(1)],
            "invalid: it covers 00000000-0000-4000-8000-000000000001, a data processing agreement, not a SOC 2 report",
        ),
        ("pen test", vec![pentest(3, date!(2025 - 06 - 15), true, 0)], "valid until 2026-06-15"),
        ("pen test due soon", vec![pentest(3, date!(2025 - 03 - 15), true, 0)], "due soon 2026-03-15"),
        ("pen test too old", vec![pentest(3, date!(2025 - 02 - 28), true, 0)], "expired 2026-02-28"),
        (
            "pen test out of scope",
            vec![pentest(3, date!(2025 - 06 - 15), false, 0)],
            "invalid: the integrated product was not in scope",
        ),
        (
            "pen test open critical",
            vec![pentest(3, date!(2025 - 06 - 15), true, 2)],
            "invalid: 2 open critical findings (at most 0 allowed)",
        ),
        ("dpa while the contract is", vec![dpa(4)], "valid until 2028-01-01"),
        ("questionnaire", vec![questionnaire(date!(2025 - 12 - 01))], "valid until 2026-12-01"),
        ("questionnaire too old", vec![questionnaire(date!(2025 - 01 - 01))], "expired 2026-01-01"),
        ("certificate", vec![certificate(date!(2026 - 03 - 20))], "due soon 2026-03-20"),
        ("certificate expired", vec![certificate(date!(2026 - 03 - 01))], "expired 2026-03-01"),
    ];
    for (name, items, want) in cases {
        let got = evidence_state(&items[0], &items, &vendor, &rules, at);
        assert_eq!(state_name(&got), want, "{name}");
    }
}

#[test]
fn the_tier_names_what_is_required_and_the_best_item_counts() {
    let rules = EvidenceRules::default();
    let at = noon(date!(2026 - 03 - 01));
    let tiers = [
        (VendorTier::Critical, vec![EvidenceKind::Soc2, EvidenceKind::PenTest, EvidenceKind::Dpa]),
        (VendorTier::High, vec![EvidenceKind::Soc2, EvidenceKind::Dpa]),
        (VendorTier::Medium, vec![EvidenceKind::Questionnaire, EvidenceKind::Dpa]),
        (VendorTier::Low, vec![EvidenceKind::Questionnaire]),
    ];
    for (tier, kinds) in tiers {
        let states = requirement_states(&approved(tier), &[], &rules, at);
        assert_eq!(states.iter().map(|(kind, _)| *kind).collect::<Vec<_>>(), kinds, "{tier}");
        assert!(states.iter().all(|(_, state)| *state == RequirementState::Missing && state.as_str() == "missing"));
    }
    // Invalid < expired < valid, and the later expiry wins among passing items.
    let items = vec![
        pentest(1, date!(2025 - 06 - 15), true, 3),
        pentest(2, date!(2025 - 01 - 15), true, 0),
        pentest(3, date!(2025 - 06 - 15), true, 0),
        pentest(4, date!(2025 - 05 - 15), true, 0),
    ];
    let vendor = approved(VendorTier::Critical);
    let states = requirement_states(&vendor, &items, &rules, at);
    assert_eq!(
        states[1],
        (
            EvidenceKind::PenTest,
            RequirementState::Present { id: item_id(3), state: EvidenceState::Valid { until: date!(2026 - 06 - 15) } }
        )
    );
    let states = requirement_states(&vendor, &items[..2], &rules, at);
    assert_eq!(states[1].1.as_str(), "expired");
    let states = requirement_states(&vendor, &items[..1], &rules, at);
    assert_eq!(states[1].1.as_str(), "invalid");
    // Another vendor's items do not count.
    let mut foreign = pentest(5, date!(2025 - 06 - 15), true, 0);
    foreign.vendor_id = VendorId::new();
    assert_eq!(requirement_states(&vendor, &[foreign], &rules, at)[1].1, RequirementState::Missing);
}

#[test]
fn compliance_names_every_reason_and_the_next_change() {
    let rules = EvidenceRules::default();
    let high = approved(VendorTier::High);
    let full = vec![soc2(1, date!(2025 - 10 - 31)), dpa(2)];
    let t = |text: &str| -> Option<OffsetDateTime> {
        Some(OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).unwrap())
    };
    struct Case {
        name: &'static str,
        vendor: Vendor,
        items: Vec<Evidence>,
        standard: bool,
        exceptions: bool,
        at: OffsetDateTime,
        reasons: &'static [&'static str],
        next: Option<OffsetDateTime>,
    }
    let with_status = |status| {
        let mut vendor = high.clone();
        vendor.status = status;
        vendor
    };
    let cases = vec![
        Case {
            name: "in force",
            vendor: high.clone(),
            items: full.clone(),
            standard: true,
            exceptions: false,
            at: noon(date!(2026 - 03 - 01)),
            reasons: &[],
            next: t("2026-10-01T00:00:00Z"),
        },
        Case {
            name: "approved with conditions",
            vendor: with_status(VendorStatus::ApprovedWithConditions),
            items: full.clone(),
            standard: true,
            exceptions: false,
            at: noon(date!(2026 - 03 - 01)),
            reasons: &[],
            next: t("2026-10-01T00:00:00Z"),
        },
        Case {
            name: "due soon is still in force",
            vendor: high.clone(),
            items: full.clone(),
            standard: true,
            exceptions: false,
            at: noon(date!(2026 - 10 - 15)),
            reasons: &[],
            next: t("2026-10-31T00:00:00Z"),
        },
        Case {
            name: "expired",
            vendor: high.clone(),
            items: full.clone(),
            standard: true,
            exceptions: false,
            at: noon(date!(2026 - 11 - 01)),
            reasons: &["SOC 2 report for Acme Scan expired 2026-10-31"],
            next: t("2027-12-02T00:00:00Z"),
        },
        Case {
            name: "renewed",
            vendor: high.clone(),
            items: vec![soc2(1, date!(2025 - 10 - 31)), dpa(2), soc2(3, date!(2026 - 09 - 30))],
            standard: true,
            exceptions: false,
            at: noon(date!(2026 - 11 - 01)),
            reasons: &[],
            next: t("2027-08-31T00:00:00Z"),
        },
        Case {
            name: "missing",
            vendor: high.clone(),
            items: vec![dpa(2)],
            standard: true,
            exceptions: false,
            at: noon(date!(2026 - 03 - 01)),
            reasons: &["SOC 2 report for Acme Scan is missing"],
            next: t("2027-12-02T00:00:00Z"),
        },
        Case {
            name: "prospect",
            vendor: with_status(VendorStatus::Prospect),
            items: full.clone(),
            standard: true,
            exceptions: false,
            at: noon(date!(2026 - 03 - 01)),
            reasons: &["Acme Scan is a prospect, not yet approved"],
            next: t("2026-10-01T00:00:00Z"),
        },
        Case {
            name: "suspended",
            vendor: with_status(VendorStatus::Suspended),
            items: full.clone(),
            standard: true,
            exceptions: false,
            at: noon(date!(2026 - 03 - 01)),
            reasons: &["Acme Scan is suspended"],
            next: t("2026-10-01T00:00:00Z"),
        },
        Case {
            name: "offboarded",
            vendor: with_status(VendorStatus::Offboarded),
            items: full.clone(),
            standard: true,
            exceptions: false,
            at: noon(date!(2026 - 03 - 01)),
            reasons: &["Acme Scan is offboarded"],
            next: t("2026-10-01T00:00:00Z"),
        },
        Case {
            name: "standard fails",
            vendor: high.clone(),
            items: full.clone(),
            standard: false,
            exceptions: false,
            at: noon(date!(2026 - 03 - 01)),
            reasons: &["The integration with Acme Scan does not meet the API access standard"],
            next: t("2026-10-01T00:00:00Z"),
        },
        Case {
            name: "standard fails, exceptions cover it",
            vendor: high.clone(),
            items: full.clone(),
            standard: false,
            exceptions: true,
            at: noon(date!(2026 - 03 - 01)),
            reasons: &[],
            next: t("2026-10-01T00:00:00Z"),
        },
        Case {
            name: "contract not started",
            vendor: high.clone(),
            items: full.clone(),
            standard: true,
            exceptions: false,
            at: noon(date!(2024 - 12 - 01)),
            reasons: &["The contract with Acme Scan starts 2025-01-01"],
            next: t("2025-01-01T00:00:00Z"),
        },
        Case {
            name: "contract's last day",
            vendor: approved(VendorTier::Low),
            items: vec![item(
                5,
                EvidenceMetadata::Questionnaire(Questionnaire {
                    kind: QuestionnaireKind::SigLite,
                    answered_on: date!(2027 - 06 - 01),
                }),
            )],
            standard: true,
            exceptions: false,
            at: datetime!(2027-12-31 23:59 UTC),
            reasons: &[],
            next: t("2028-01-01T00:00:00Z"),
        },
        Case {
            name: "contract ended, DPA with it",
            vendor: high.clone(),
            items: vec![soc2(3, date!(2027 - 09 - 30)), dpa(2)],
            standard: true,
            exceptions: false,
            at: datetime!(2028-01-01 00:00 UTC),
            reasons: &[
                "The contract with Acme Scan ended 2027-12-31",
                "Data processing agreement for Acme Scan expired 2028-01-01",
            ],
            next: t("2028-08-31T00:00:00Z"),
        },
        Case {
            name: "everything wrong",
            vendor: {
                let mut vendor = approved(VendorTier::Critical);
                vendor.status = VendorStatus::Suspended;
                vendor
            },
            items: vec![soc2(1, date!(2025 - 10 - 31)), pentest(3, date!(2025 - 06 - 15), true, 1)],
            standard: false,
            exceptions: false,
            at: noon(date!(2026 - 11 - 01)),
            reasons: &[
                "Acme Scan is suspended",
                "SOC 2 report for Acme Scan expired 2026-10-31",
                "Penetration test for Acme Scan is not acceptable: 1 open critical finding (at most 0 allowed)",
                "Data processing agreement for Acme Scan is missing",
                "The integration with Acme Scan does not meet the API access standard",
            ],
            next: t("2028-01-01T00:00:00Z"),
        },
    ];
    for case in cases {
        let got = compliance_of(&case.vendor, &case.items, &rules, case.standard, case.exceptions, case.at);
        assert_eq!(got.reasons, case.reasons, "{}", case.name);
        assert_eq!(got.in_force, case.reasons.is_empty(), "{}", case.name);
        assert_eq!(got.next_change, case.next, "{}", case.name);
    }
}

/// Asking again at `next_change` gives the next step of the walk.
#[test]
fn next_change_walks_the_lapse() {
    let rules = EvidenceRules::default();
    let vendor = approved(VendorTier::High);
    let items = vec![soc2(1, date!(2025 - 10 - 31)), dpa(2)];
    let mut at = noon(date!(2026 - 03 - 01));
    let mut walk = Vec::new();
    while let Some(next) = compliance_of(&vendor, &items, &rules, true, false, at).next_change {
        at = next;
        let states = requirement_states(&vendor, &items, &rules, at);
        let compliance = compliance_of(&vendor, &items, &rules, true, false, at);
        walk.push(format!("{} {} {}", at.date(), states[0].1.as_str(), compliance.in_force));
    }
    assert_eq!(
        walk,
        [
            "2026-10-01 due_soon true",
            "2026-10-31 expired false",
            "2027-12-02 expired false",
            "2028-01-01 expired false"
        ]
    );
}

#[test]
fn lapse_actions_per_tier() {
    let defaults = LapseActions::default();
    let got: Vec<&str> = VendorTier::ALL.iter().map(|tier| defaults.for_tier(*tier).as_str()).collect();
    assert_eq!(got, ["suspend", "deny_gate", "deny_gate", "flag"]);
    let custom = LapseActions { low: LapseAction::Suspend, ..defaults };
    assert_eq!(custom.for_tier(VendorTier::Low), LapseAction::Suspend);
}
