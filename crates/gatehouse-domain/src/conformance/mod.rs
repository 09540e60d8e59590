//! The storage conformance suite: one module per area trait of
//! [`Store`](crate::store::Store), one async function per capability, each
//! taking a fresh, empty store. Every engine runs all of them against itself
//! through [`conformance_suite!`](crate::conformance_suite), the one list of
//! every test (`crates/gatehouse-store/tests/conformance.rs`), so both
//! engines keep one behaviour and no area is left out: the list is matched
//! against [`Area`] exhaustively, so a new area trait does not compile until
//! it has a module here.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test suite: a failed step is a failed test")]

use std::sync::Arc;

use serde_json::json;
use time::{Duration, OffsetDateTime, macros::datetime};

use crate::audit::{Actor, AuditRecord, Outcome, RequestOrigin};
use crate::grant::{NewGrant, Role, Scope};
use crate::identity::{Identity, IdentityKind, IdentityStatus, NewIdentity};
use crate::ids::{GrantId, IdentityId, SigningKeyId, TokenId};
use crate::mfa::{FAILURES_BEFORE_LOCK, FIRST_LOCK_SECONDS, MfaAttempt};
use crate::setup::first_admin_setup;
use crate::signing::SigningKey;
use crate::store::{Area, Conflict, PageRequest, Store, StoreError, TokenFilter};
use crate::token::{NewToken, TokenSecret};
use crate::webhook::{REPLAY_WINDOW, WebhookDelivery};
use crate::workload::NewTrustBinding;

/// Every conformance test, by area: `conformance_suite!(callback)` expands
/// to `callback! { Area => module: [test, ...], ... }`. An engine's test
/// binary passes a macro that declares one test per engine for each; the
/// suite itself checks the list against [`Area`].
#[macro_export]
macro_rules! conformance_suite {
    ($callback:ident) => {
        $callback! {
            Installation => installation: [initialize_happens_once],
            Identities => identities: [
                identities_round_trip,
                identities_are_unique_where_they_must_be,
                deprovisioning_frees_the_email_and_revokes_everything,
                status_changes_check_their_precondition,
                identities_page_in_creation_order,
                humans_are_found_by_email_while_not_deprovisioned,
            ],
            Tokens => tokens: [
                tokens_are_found_by_hash_only,
                tokens_list_by_owner_and_revoke_once,
                token_use_is_recorded_at_a_granularity,
                a_credential_read_after_a_change_shows_it,
            ],
            Grants => grants: [
                grants_round_trip,
                grants_list_and_revoke_once,
                resources_are_registered_once,
            ],
            Workload => workload: [
                trust_bindings_round_trip_and_delete_with_their_tokens,
                trust_bindings_need_an_active_service_identity,
                workload_tokens_are_exchanged_once,
            ],
            Webhooks => webhooks: [
                webhook_deliveries_are_recorded_once,
                webhook_replays_under_a_new_delivery_id_are_refused,
            ],
            SigningKeys => signing_keys: [signing_keys_belong_to_one_identity],
            ScimUsers => scim_users: [
                scim_manages_only_whom_it_created_or_an_admin_linked,
                scim_users_round_trip,
                scim_users_list_by_filter_and_page,
                scim_deactivation_revokes_and_reactivation_restores,
                scim_delete_deprovisions_and_frees_the_user_name,
                scim_managers_are_kept_listed_and_outlive_their_deprovisioning,
            ],
            ScimGroups => scim_groups: [
                scim_groups_round_trip,
                scim_group_names_are_unique,
                scim_group_members_must_be_scim_users,
            ],
            GroupMappings => group_mappings: [
                group_mappings_give_and_take_back_grants,
                group_mappings_are_unique,
            ],
            Mfa => mfa: [
                mfa_attempts_are_claimed_atomically,
                mfa_enrollment_is_confirmed_once,
                mfa_codes_are_used_once,
                mfa_recovery_codes_are_used_once,
                mfa_reset_removes_the_factor,
            ],
            Passkeys => passkeys: [
                passkeys_belong_to_one_person_each,
                a_passkey_counts_as_a_second_factor,
                passkey_ceremonies_are_taken_once,
                expired_passkey_ceremonies_are_refused_and_dropped,
            ],
            Sessions => sessions: [
                an_identity_links_to_one_account,
                sessions_are_found_by_id_ended_or_not,
                sessions_are_found_by_secret_while_live,
                sessions_rotate_and_touch,
                sessions_list_newest_first,
            ],
            CommitAuthors => commit_authors: [
                commit_authors_are_recorded_with_their_verification,
                commit_authors_name_existing_identities,
            ],
            Approvals => approvals: [
                approval_requests_round_trip_and_page,
                votes_are_recorded_with_their_audit_entry,
                a_second_live_vote_is_a_conflict,
                votes_on_decided_or_changed_requests_are_refused,
                state_changes_are_guarded_and_activation_creates_the_grant,
                a_run_has_one_open_request,
                due_requests_are_found_for_the_scheduler,
                approved_unused_approvals_are_due_at_their_expiry,
                cancelling_an_identitys_requests_withdraws_its_votes,
                a_failed_approval_command_leaves_no_audit_entry,
                activation_and_revocation_show_in_credentials_at_once,
                the_approver_directory_holds_active_people_their_live_grants_and_groups,
                deactivating_a_person_cancels_their_requests_in_the_same_transaction,
            ],
            Outbox => outbox: [
                enqueueing_moves_the_cursor_with_the_deliveries,
                a_claim_is_one_nodes_until_its_lease_ends,
                a_failed_delivery_waits_for_its_retry_time,
                a_delivery_is_given_up_after_the_last_attempt,
                a_held_delivery_waits_for_its_request,
                a_delivery_about_no_request_is_sent_like_any,
            ],
            BreakGlass => break_glass: [
                break_glass_requests_are_stored_with_their_after_review,
                after_reviews_take_each_person_once_and_guard_their_revision,
                overdue_after_reviews_are_found_until_complete_and_raised_by_revision,
            ],
            Vendors => vendors: [
                vendors_round_trip_and_names_are_unique_without_case,
                vendor_updates_check_the_status_read,
                evidence_content_is_kept_once_per_digest,
                evidence_notes_move_only_from_what_was_read,
                integrations_hold_one_identity_suspended_while_pending,
                exceptions_are_granted_once_and_their_expiry_announced_once,
            ],
            Reviews => reviews: [
                campaigns_round_trip_with_their_snapshot,
                a_decision_takes_its_place_once,
                closing_records_defaults_once_and_ends_decisions,
                reminders_are_marked_once,
                campaigns_are_found_by_trigger_subject_and_hold,
            ],
            AuditLog => audit_log: [
                audit_entries_are_numbered_without_gaps,
                concurrent_appends_stay_gap_free,
                audit_search_filters_and_checkpoints,
            ],
        }
    };
}

/// Declares the area modules and checks the list against [`Area`].
macro_rules! areas_covered {
    ($($area:ident => $module:ident: [$($test:ident),* $(,)?]),* $(,)?) => {
        $(pub mod $module;)*

        /// Each area and the names of its tests, as the engines run them.
        pub const COVERAGE: &[(Area, &str, &[&str])] =
            &[$((Area::$area, stringify!($module), &[$(stringify!($test)),*])),*];

        // An area of the store without a module here does not compile: the
        // match is exhaustive.
        const _: fn(Area) -> &'static str = |area| match area {
            $(Area::$area => stringify!($module),)*
        };
    };
}

crate::conformance_suite!(areas_covered);

const T0: OffsetDateTime = datetime!(2026-01-01 00:00:00 UTC);

fn record(action: &str) -> AuditRecord {
    AuditRecord::new(T0, Actor::System, action, "gatehouse")
}

async fn human(store: &dyn Store, name: &str, email: &str) -> Identity {
    let new = NewIdentity::new(IdentityKind::Human, name, Some(email), T0).expect("valid human");
    store.create_identity(new, record("identity.create")).await.expect("created")
}

async fn service(store: &dyn Store, name: &str) -> Identity {
    let new = NewIdentity::new(IdentityKind::Service, name, None, T0).expect("valid service");
    store.create_identity(new, record("identity.create")).await.expect("created")
}

fn new_token(owner: &Identity, secret: &TokenSecret, expires_at: OffsetDateTime) -> NewToken {
    NewToken {
        id: TokenId::new(),
        identity_id: owner.id,
        hash: secret.hash(),
        description: "ci".into(),
        created_at: T0,
        expires_at,
        created_by: None,
        trust_binding_id: None,
    }
}

fn new_grant(holder: &Identity, role: Role, scope: &str) -> NewGrant {
    NewGrant {
        id: GrantId::new(),
        identity_id: holder.id,
        role,
        scope: Scope::parse(scope).expect("valid scope"),
        created_at: T0,
        expires_at: None,
        created_by: None,
    }
}

fn new_binding(owner: &Identity, claims: serde_json::Value) -> NewTrustBinding {
    NewTrustBinding::new(
        "https://token.actions.githubusercontent.com",
        "gatehouse",
        claims.as_object().unwrap(),
        owner.id,
        Some(600),
        T0,
        None,
    )
    .unwrap()
}

fn signing_key(owner: &Identity, fingerprint: &str, lookup: &[&str]) -> SigningKey {
    SigningKey {
        id: SigningKeyId::new(),
        identity_id: owner.id,
        kind: "ssh".into(),
        fingerprint: fingerprint.into(),
        algorithm: "ssh-ed25519".into(),
        public_key: format!("ssh-ed25519 AAAA {fingerprint}"),
        lookup_ids: lookup.iter().map(|s| (*s).to_owned()).collect(),
        created_at: T0,
        created_by: None,
    }
}

fn scim_user_input(user_name: &str, email: Option<&str>) -> crate::scim::UserInput {
    let mut resource = json!({"userName": user_name});
    if let Some(email) = email {
        resource["emails"] = json!([{"value": email}]);
    }
    crate::scim::user_input(&resource).expect("a valid User")
}
