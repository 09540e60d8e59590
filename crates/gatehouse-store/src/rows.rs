//! Decoding rows into domain types, and the column lists that go with them.

use gatehouse_domain::audit::{Actor, AuditEntry, AuditRecord, Outcome, RequestOrigin};
use gatehouse_domain::clock::from_unix_millis;
use gatehouse_domain::grant::{Grant, Scope};
use gatehouse_domain::identity::Identity;
use gatehouse_domain::ids::{GrantId, IdentityId, TokenId};
use gatehouse_domain::store::StoreError;
use gatehouse_domain::token::{ApiToken, TokenHash};
use sqlx::Row;
use sqlx::any::AnyRow;
use time::OffsetDateTime;

use crate::error::{corrupt, store_error};

pub(crate) const IDENTITY_COLUMNS: &str = "id, kind, name, email, status, created_at, updated_at";
pub(crate) const TOKEN_COLUMNS: &str = "id, identity_id, description, created_at, expires_at, last_used_at, revoked_at, created_by, trust_binding_id, mfa_verified_at";
pub(crate) const GRANT_COLUMNS: &str = "id, identity_id, role, scope, created_at, expires_at, revoked_at, created_by";
pub(crate) const AUDIT_COLUMNS: &str =
    "idx, time, actor, actor_kind, action, resource, outcome, reason, request_id, source_ip, mfa, details, prev_root";

pub(crate) fn text(row: &AnyRow, column: &str) -> Result<String, StoreError> {
    row.try_get(column).map_err(store_error)
}

pub(crate) fn optional_text(row: &AnyRow, column: &str) -> Result<Option<String>, StoreError> {
    row.try_get(column).map_err(store_error)
}

pub(crate) fn instant(row: &AnyRow, column: &str) -> Result<OffsetDateTime, StoreError> {
    row.try_get::<i64, _>(column).map(from_unix_millis).map_err(store_error)
}

pub(crate) fn optional_instant(row: &AnyRow, column: &str) -> Result<Option<OffsetDateTime>, StoreError> {
    row.try_get::<Option<i64>, _>(column).map(|v| v.map(from_unix_millis)).map_err(store_error)
}

pub(crate) fn parsed<T: std::str::FromStr>(row: &AnyRow, column: &str) -> Result<T, StoreError> {
    let raw = text(row, column)?;
    raw.parse().map_err(|_| corrupt(column, &raw))
}

pub(crate) fn optional_parsed<T: std::str::FromStr>(row: &AnyRow, column: &str) -> Result<Option<T>, StoreError> {
    optional_text(row, column)?.map(|raw| raw.parse().map_err(|_| corrupt(column, &raw))).transpose()
}

pub(crate) fn identity(row: &AnyRow) -> Result<Identity, StoreError> {
    identity_with_prefix(row, "")
}

/// The identity columns selected as `i.<column> AS <prefix><column>`, for
/// joins where another table's columns share their names.
pub(crate) fn identity_with_prefix(row: &AnyRow, prefix: &str) -> Result<Identity, StoreError> {
    let column = |name: &str| format!("{prefix}{name}");
    Ok(Identity {
        id: parsed::<IdentityId>(row, &column("id"))?,
        kind: parsed(row, &column("kind"))?,
        name: text(row, &column("name"))?,
        email: optional_text(row, &column("email"))?,
        status: parsed(row, &column("status"))?,
        created_at: instant(row, &column("created_at"))?,
        updated_at: instant(row, &column("updated_at"))?,
    })
}

pub(crate) fn token(row: &AnyRow) -> Result<ApiToken, StoreError> {
    Ok(ApiToken {
        id: parsed::<TokenId>(row, "id")?,
        identity_id: parsed(row, "identity_id")?,
        description: text(row, "description")?,
        created_at: instant(row, "created_at")?,
        expires_at: instant(row, "expires_at")?,
        last_used_at: optional_instant(row, "last_used_at")?,
        revoked_at: optional_instant(row, "revoked_at")?,
        created_by: optional_parsed(row, "created_by")?,
        trust_binding_id: optional_parsed(row, "trust_binding_id")?,
        mfa_verified_at: optional_instant(row, "mfa_verified_at")?,
    })
}

pub(crate) fn token_hash(row: &AnyRow) -> Result<TokenHash, StoreError> {
    let bytes: Vec<u8> = row.try_get("token_hash").map_err(store_error)?;
    TokenHash::from_bytes(&bytes).ok_or_else(|| corrupt("token hash", format!("{} bytes", bytes.len())))
}

pub(crate) fn grant(row: &AnyRow) -> Result<Grant, StoreError> {
    grant_with_prefix(row, "")
}

/// The grant columns selected as `g.<column> AS <prefix><column>`.
pub(crate) fn grant_with_prefix(row: &AnyRow, prefix: &str) -> Result<Grant, StoreError> {
    let column = |name: &str| format!("{prefix}{name}");
    let scope = text(row, &column("scope"))?;
    Ok(Grant {
        id: parsed::<GrantId>(row, &column("id"))?,
        identity_id: parsed(row, &column("identity_id"))?,
        role: parsed(row, &column("role"))?,
        scope: Scope::parse(&scope).map_err(|_| corrupt("scope", &scope))?,
        created_at: instant(row, &column("created_at"))?,
        expires_at: optional_instant(row, &column("expires_at"))?,
        revoked_at: optional_instant(row, &column("revoked_at"))?,
        created_by: optional_parsed(row, &column("created_by"))?,
    })
}

/// The bytes an entry's Merkle leaf hashes: the stored `leaf` of a row
/// written before leaves were derived, otherwise the canonical form of the
/// row's columns (selected as [`AUDIT_COLUMNS`] and `leaf`).
pub(crate) fn audit_leaf(row: &AnyRow) -> Result<(u64, Vec<u8>), StoreError> {
    let stored: Option<Vec<u8>> = row.try_get("leaf").map_err(store_error)?;
    match stored {
        Some(leaf) => {
            let index: i64 = row.try_get("idx").map_err(store_error)?;
            Ok((u64::try_from(index).map_err(|_| corrupt("index", index))?, leaf))
        }
        None => {
            let entry = audit_entry(row)?;
            Ok((entry.index, entry.leaf_bytes()))
        }
    }
}

pub(crate) fn audit_entry(row: &AnyRow) -> Result<AuditEntry, StoreError> {
    let index: i64 = row.try_get("idx").map_err(store_error)?;
    let outcome = text(row, "outcome")?;
    let details = text(row, "details")?;
    let mfa: i64 = row.try_get("mfa").map_err(store_error)?;
    // The one place a record is rebuilt without an authorization: it was
    // authorized when it was written.
    #[allow(clippy::disallowed_methods, reason = "a stored record was authorized when it was written")]
    let record = AuditRecord::unchecked_from_storage(
        instant(row, "time")?,
        Actor::from_parts(&text(row, "actor")?, &text(row, "actor_kind")?),
        text(row, "action")?,
        text(row, "resource")?,
        Outcome::parse(&outcome).ok_or_else(|| corrupt("outcome", &outcome))?,
        text(row, "reason")?,
        RequestOrigin {
            request_id: optional_text(row, "request_id")?,
            source_ip: optional_text(row, "source_ip")?,
            // Stored in the details, where the record put it.
            client_request_id: None,
        },
        mfa != 0,
        serde_json::from_str(&details).map_err(|_| corrupt("details", &details))?,
    );
    let index = u64::try_from(index).map_err(|_| corrupt("index", index))?;
    let prev_root: Option<Vec<u8>> = row.try_get("prev_root").map_err(store_error)?;
    let prev_root = prev_root
        .map(|root| <[u8; 32]>::try_from(root).map_err(|_| corrupt("prev_root", "not 32 bytes")))
        .transpose()?;
    Ok(record.into_entry(index, prev_root))
}
