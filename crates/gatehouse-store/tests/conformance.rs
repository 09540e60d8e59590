//! Runs the domain's storage conformance suite on both engines.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use gatehouse_domain::conformance;
use gatehouse_testkit::{engine_test, with_store};

macro_rules! conformance_tests {
    ($($capability:ident),* $(,)?) => {
        $(engine_test!($capability, |engine| with_store(engine, conformance::$capability));)*
    };
}

conformance_tests!(
    initialize_happens_once,
    identities_round_trip,
    identities_are_unique_where_they_must_be,
    deprovisioning_frees_the_email_and_revokes_everything,
    status_changes_check_their_precondition,
    identities_page_in_creation_order,
    tokens_are_found_by_hash_only,
    tokens_list_by_owner_and_revoke_once,
    token_use_is_recorded_at_a_granularity,
    audit_entries_are_numbered_without_gaps,
    concurrent_appends_stay_gap_free,
    grants_round_trip,
    grants_list_and_revoke_once,
    trust_bindings_round_trip_and_delete_with_their_tokens,
    trust_bindings_need_an_active_service_identity,
    webhook_deliveries_are_recorded_once,
    webhook_replays_under_a_new_delivery_id_are_refused,
    mfa_attempts_are_claimed_atomically,
    workload_tokens_are_exchanged_once,
    signing_keys_belong_to_one_identity,
    scim_manages_only_whom_it_created_or_an_admin_linked,
    an_identity_links_to_one_account,
    sessions_are_found_by_id_ended_or_not,
);
