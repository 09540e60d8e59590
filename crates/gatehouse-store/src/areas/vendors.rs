//! [`VendorStore`] for [`SqlStore`]: vendors, evidence and its content,
//! integrations and their exceptions. Every write goes through the
//! credential-moving path of the writer: compliance decides what an
//! integration's identity may do.

use async_trait::async_trait;
use futures_util::FutureExt;
use gatehouse_domain::audit::AuditRecord;
use gatehouse_domain::clock::to_unix_millis;
use gatehouse_domain::ids::{EvidenceId, ExceptionId, IdentityId, IntegrationId, VendorId};
use gatehouse_domain::store::{Conflict, StoreError, VendorStore};
use gatehouse_domain::vendor::{
    ContentDigest, Contract, Evidence, EvidenceKind, EvidenceNote, ExceptionRecord, Integration, IntegrationChange,
    IntegrationState, LoggingCommitment, NotedEvidence, Vendor, VendorStatus, declared_from_json, declared_to_json,
    format_date, metadata_from_json, metadata_to_json, parse_date,
};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};
use time::OffsetDateTime;

use crate::error::{corrupt, on_unique, store_error};
use crate::rows::{instant, optional_instant, optional_parsed, optional_text, parsed, text};
use crate::sql_store::SqlStore;

const VENDOR_COLUMNS: &str = "id, name, tier, business_owner, security_owner, contract_start, contract_renewal, \
     contract_end, data_access, logging_what, logging_retention_days, logging_tamper_evident, status";
const EVIDENCE_COLUMNS: &str = "id, vendor_id, kind, metadata, digest, size, filename, added_at";
const INTEGRATION_COLUMNS: &str =
    "id, vendor_id, identity_id, declared, state, onboarding_request, noted_in_force, registered_by, registered_at";
const EXCEPTION_COLUMNS: &str = "id, integration_id, rule, reason, requested_by, requested_at, expires_at, \
     approved_by, approved_at, expiry_announced";

fn date(row: &AnyRow, column: &str) -> Result<time::Date, StoreError> {
    let raw = text(row, column)?;
    parse_date(&raw).ok_or_else(|| corrupt(column, &raw))
}

fn flag(row: &AnyRow, column: &str) -> Result<Option<bool>, StoreError> {
    row.try_get::<Option<i64>, _>(column).map(|v| v.map(|n| n != 0)).map_err(store_error)
}

fn json(row: &AnyRow, column: &str) -> Result<serde_json::Value, StoreError> {
    let raw = text(row, column)?;
    serde_json::from_str(&raw).map_err(|_| corrupt(column, &raw))
}

fn vendor(row: &AnyRow) -> Result<Vendor, StoreError> {
    let logging = match optional_text(row, "logging_what")? {
        Some(what) => Some(LoggingCommitment {
            what,
            retention_days: row
                .try_get::<Option<i64>, _>("logging_retention_days")
                .map_err(store_error)?
                .and_then(|days| u32::try_from(days).ok())
                .ok_or_else(|| corrupt("logging_retention_days", "missing"))?,
            tamper_evident: flag(row, "logging_tamper_evident")?.unwrap_or(false),
        }),
        None => None,
    };
    Ok(Vendor {
        id: parsed(row, "id")?,
        name: text(row, "name")?,
        tier: parsed(row, "tier")?,
        business_owner: optional_parsed(row, "business_owner")?,
        security_owner: optional_parsed(row, "security_owner")?,
        contract: Contract {
            start: date(row, "contract_start")?,
            renewal: date(row, "contract_renewal")?,
            end: date(row, "contract_end")?,
        },
        data_access: parsed(row, "data_access")?,
        logging,
        status: parsed(row, "status")?,
    })
}

fn evidence(row: &AnyRow) -> Result<Evidence, StoreError> {
    let kind: EvidenceKind = parsed(row, "kind")?;
    let metadata = metadata_from_json(kind, &json(row, "metadata")?).map_err(|error| corrupt("metadata", error))?;
    let size: i64 = row.try_get("size").map_err(store_error)?;
    Ok(Evidence {
        id: parsed(row, "id")?,
        vendor_id: parsed(row, "vendor_id")?,
        metadata,
        digest: parsed(row, "digest")?,
        size: u64::try_from(size).map_err(|_| corrupt("size", size))?,
        filename: text(row, "filename")?,
        added_at: instant(row, "added_at")?,
    })
}

fn integration(row: &AnyRow) -> Result<Integration, StoreError> {
    Ok(Integration {
        id: parsed(row, "id")?,
        vendor_id: parsed(row, "vendor_id")?,
        identity_id: parsed(row, "identity_id")?,
        declared: declared_from_json(&json(row, "declared")?).map_err(|error| corrupt("declared", error))?,
        state: parsed(row, "state")?,
        onboarding_request: optional_parsed(row, "onboarding_request")?,
        noted_in_force: flag(row, "noted_in_force")?,
        registered_by: parsed(row, "registered_by")?,
        registered_at: instant(row, "registered_at")?,
    })
}

fn exception(row: &AnyRow) -> Result<ExceptionRecord, StoreError> {
    Ok(ExceptionRecord {
        id: parsed(row, "id")?,
        integration_id: parsed(row, "integration_id")?,
        rule: text(row, "rule")?,
        reason: text(row, "reason")?,
        requested_by: parsed(row, "requested_by")?,
        requested_at: instant(row, "requested_at")?,
        expires_at: instant(row, "expires_at")?,
        approved_by: optional_parsed(row, "approved_by")?,
        approved_at: optional_instant(row, "approved_at")?,
        expiry_announced: flag(row, "expiry_announced")?.unwrap_or(false),
    })
}

fn name_key(name: &str) -> String {
    name.trim().to_lowercase()
}

async fn vendor_in(conn: &mut AnyConnection, id: VendorId) -> Result<Vendor, StoreError> {
    let row = sqlx::query(AssertSqlSafe(format!("SELECT {VENDOR_COLUMNS} FROM vendors WHERE id = $1")))
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await
        .map_err(store_error)?
        .ok_or_else(|| StoreError::not_found("vendor", id))?;
    vendor(&row)
}

async fn integration_in(conn: &mut AnyConnection, id: IntegrationId) -> Result<Integration, StoreError> {
    let row = sqlx::query(AssertSqlSafe(format!("SELECT {INTEGRATION_COLUMNS} FROM integrations WHERE id = $1")))
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await
        .map_err(store_error)?
        .ok_or_else(|| StoreError::not_found("integration", id))?;
    integration(&row)
}

/// Suspends (`active == false`) or reactivates the identity, if it is in
/// the other of the two states; a deprovisioned identity is left alone.
async fn set_identity_active(
    conn: &mut AnyConnection,
    id: IdentityId,
    active: bool,
    at: OffsetDateTime,
) -> Result<(), StoreError> {
    let (to, from) = if active { ("active", "suspended") } else { ("suspended", "active") };
    sqlx::query("UPDATE identities SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4")
        .bind(to)
        .bind(to_unix_millis(at))
        .bind(id.to_string())
        .bind(from)
        .execute(&mut *conn)
        .await
        .map_err(store_error)?;
    Ok(())
}

/// The instant of a change: its first audit record's, or now.
fn instant_of(audits: &[AuditRecord]) -> OffsetDateTime {
    audits.first().map_or_else(OffsetDateTime::now_utc, |record| record.time)
}

async fn write_vendor(conn: &mut AnyConnection, vendor: &Vendor, insert: bool) -> Result<(), StoreError> {
    let sql = if insert {
        "INSERT INTO vendors (name, name_key, tier, business_owner, security_owner, contract_start, \
         contract_renewal, contract_end, data_access, logging_what, logging_retention_days, \
         logging_tamper_evident, status, id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
    } else {
        "UPDATE vendors SET name = $1, name_key = $2, tier = $3, business_owner = $4, security_owner = $5, \
         contract_start = $6, contract_renewal = $7, contract_end = $8, data_access = $9, logging_what = $10, \
         logging_retention_days = $11, logging_tamper_evident = $12, status = $13 WHERE id = $14"
    };
    let logging = vendor.logging.as_ref();
    sqlx::query(sql)
        .bind(vendor.name.clone())
        .bind(name_key(&vendor.name))
        .bind(vendor.tier.as_str())
        .bind(vendor.business_owner.map(|id| id.to_string()))
        .bind(vendor.security_owner.map(|id| id.to_string()))
        .bind(format_date(vendor.contract.start))
        .bind(format_date(vendor.contract.renewal))
        .bind(format_date(vendor.contract.end))
        .bind(vendor.data_access.as_str())
        .bind(logging.map(|logging| logging.what.clone()))
        .bind(logging.map(|logging| i64::from(logging.retention_days)))
        .bind(logging.map(|logging| i64::from(logging.tamper_evident)))
        .bind(vendor.status.as_str())
        .bind(vendor.id.to_string())
        .execute(&mut *conn)
        .await
        .map_err(on_unique(|_| Conflict::VendorNameTaken { name: vendor.name.clone() }))?;
    Ok(())
}

#[async_trait]
impl VendorStore for SqlStore {
    async fn create_vendor(&self, vendor: Vendor, audit: AuditRecord) -> Result<Vendor, StoreError> {
        let (vendor, _) = self
            .writer
            .submit(move |conn| {
                async move {
                    write_vendor(conn, &vendor, true).await?;
                    Ok((vendor, vec![audit]))
                }
                .boxed()
            })
            .await?;
        Ok(vendor)
    }

    async fn find_vendor(&self, id: VendorId) -> Result<Option<Vendor>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!("SELECT {VENDOR_COLUMNS} FROM vendors WHERE id = $1")))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        row.as_ref().map(vendor).transpose()
    }

    async fn list_vendors(&self) -> Result<Vec<Vendor>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!("SELECT {VENDOR_COLUMNS} FROM vendors ORDER BY name_key, id")))
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        rows.iter().map(vendor).collect()
    }

    async fn update_vendor(
        &self,
        vendor: Vendor,
        expected_status: VendorStatus,
        audits: Vec<AuditRecord>,
    ) -> Result<Vendor, StoreError> {
        let (vendor, _) = self
            .writer
            .submit(move |conn| {
                async move {
                    let current = vendor_in(conn, vendor.id).await?;
                    if current.status != expected_status {
                        return Err(Conflict::VendorStatusChanged {
                            id: vendor.id,
                            expected: expected_status,
                            current: current.status,
                        }
                        .into());
                    }
                    write_vendor(conn, &vendor, false).await?;
                    Ok((vendor, audits))
                }
                .boxed()
            })
            .await?;
        Ok(vendor)
    }

    async fn add_evidence(
        &self,
        evidence: Evidence,
        content: Vec<u8>,
        audit: AuditRecord,
    ) -> Result<Evidence, StoreError> {
        let (evidence, _) = self
            .writer
            .submit(move |conn| {
                async move {
                    vendor_in(conn, evidence.vendor_id).await?;
                    let size = i64::try_from(evidence.size).map_err(|_| corrupt("size", evidence.size))?;
                    sqlx::query(
                        "INSERT INTO evidence_content (digest, size, content) VALUES ($1, $2, $3) \
                         ON CONFLICT (digest) DO NOTHING",
                    )
                    .bind(evidence.digest.to_string())
                    .bind(size)
                    .bind(content)
                    .execute(&mut *conn)
                    .await
                    .map_err(store_error)?;
                    sqlx::query(
                        "INSERT INTO vendor_evidence (id, vendor_id, kind, metadata, digest, size, filename, added_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    )
                    .bind(evidence.id.to_string())
                    .bind(evidence.vendor_id.to_string())
                    .bind(evidence.kind().as_str())
                    .bind(metadata_to_json(&evidence.metadata).to_string())
                    .bind(evidence.digest.to_string())
                    .bind(size)
                    .bind(evidence.filename.clone())
                    .bind(to_unix_millis(evidence.added_at))
                    .execute(&mut *conn)
                    .await
                    .map_err(store_error)?;
                    Ok((evidence, vec![audit]))
                }
                .boxed()
            })
            .await?;
        Ok(evidence)
    }

    async fn find_evidence(&self, id: EvidenceId) -> Result<Option<Evidence>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!("SELECT {EVIDENCE_COLUMNS} FROM vendor_evidence WHERE id = $1")))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        row.as_ref().map(evidence).transpose()
    }

    async fn list_evidence(&self, vendor: VendorId) -> Result<Vec<Evidence>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {EVIDENCE_COLUMNS} FROM vendor_evidence WHERE vendor_id = $1 ORDER BY id"
        )))
        .bind(vendor.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.iter().map(evidence).collect()
    }

    async fn all_evidence(&self) -> Result<Vec<Evidence>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {EVIDENCE_COLUMNS} FROM vendor_evidence ORDER BY vendor_id, id"
        )))
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.iter().map(evidence).collect()
    }

    async fn evidence_content(&self, digest: &ContentDigest) -> Result<Option<Vec<u8>>, StoreError> {
        sqlx::query_scalar("SELECT content FROM evidence_content WHERE digest = $1")
            .bind(digest.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)
    }

    async fn evidence_notes(&self) -> Result<Vec<NotedEvidence>, StoreError> {
        let rows = sqlx::query("SELECT id, note FROM vendor_evidence WHERE note IS NOT NULL ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        rows.iter()
            .map(|row| Ok(NotedEvidence { evidence_id: parsed(row, "id")?, note: parsed(row, "note")? }))
            .collect()
    }

    async fn note_evidence(
        &self,
        id: EvidenceId,
        expected: Option<EvidenceNote>,
        note: EvidenceNote,
        audits: Vec<AuditRecord>,
    ) -> Result<bool, StoreError> {
        let (noted, _) = self
            .writer
            .submit(move |conn| {
                async move {
                    let current: Option<Option<String>> =
                        sqlx::query_scalar("SELECT note FROM vendor_evidence WHERE id = $1")
                            .bind(id.to_string())
                            .fetch_optional(&mut *conn)
                            .await
                            .map_err(store_error)?;
                    let current = current.ok_or_else(|| StoreError::not_found("evidence", id))?;
                    if current.as_deref() != expected.map(EvidenceNote::as_str) {
                        return Ok((false, Vec::new()));
                    }
                    sqlx::query("UPDATE vendor_evidence SET note = $1 WHERE id = $2")
                        .bind(note.as_str())
                        .bind(id.to_string())
                        .execute(&mut *conn)
                        .await
                        .map_err(store_error)?;
                    Ok((true, audits))
                }
                .boxed()
            })
            .await?;
        Ok(noted)
    }

    async fn create_integration(
        &self,
        integration: Integration,
        audits: Vec<AuditRecord>,
    ) -> Result<Integration, StoreError> {
        let (integration, _) = self
            .writer
            .submit(move |conn| {
                async move {
                    vendor_in(conn, integration.vendor_id).await?;
                    let identity = crate::areas::identities::identity_in(conn, integration.identity_id).await?;
                    let serving: Option<String> =
                        sqlx::query_scalar("SELECT id FROM integrations WHERE identity_id = $1 AND state <> 'retired'")
                            .bind(identity.id.to_string())
                            .fetch_optional(&mut *conn)
                            .await
                            .map_err(store_error)?;
                    if let Some(other) = serving {
                        let other = other.parse().map_err(|_| corrupt("integration id", &other))?;
                        return Err(Conflict::IdentityIntegrated { identity: identity.id, integration: other }.into());
                    }
                    sqlx::query(
                        "INSERT INTO integrations (id, vendor_id, identity_id, declared, state, onboarding_request, \
                         noted_in_force, registered_by, registered_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    )
                    .bind(integration.id.to_string())
                    .bind(integration.vendor_id.to_string())
                    .bind(integration.identity_id.to_string())
                    .bind(declared_to_json(&integration.declared).to_string())
                    .bind(integration.state.as_str())
                    .bind(integration.onboarding_request.map(|id| id.to_string()))
                    .bind(integration.noted_in_force.map(i64::from))
                    .bind(integration.registered_by.to_string())
                    .bind(to_unix_millis(integration.registered_at))
                    .execute(&mut *conn)
                    .await
                    .map_err(on_unique(|_| Conflict::IdentityIntegrated {
                        identity: integration.identity_id,
                        integration: integration.id,
                    }))?;
                    if integration.state == IntegrationState::PendingApproval {
                        set_identity_active(conn, integration.identity_id, false, integration.registered_at).await?;
                    }
                    Ok((integration, audits))
                }
                .boxed()
            })
            .await?;
        Ok(integration)
    }

    async fn find_integration(&self, id: IntegrationId) -> Result<Option<Integration>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!("SELECT {INTEGRATION_COLUMNS} FROM integrations WHERE id = $1")))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        row.as_ref().map(integration).transpose()
    }

    async fn integration_of_identity(&self, identity: IdentityId) -> Result<Option<Integration>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {INTEGRATION_COLUMNS} FROM integrations WHERE identity_id = $1 AND state <> 'retired'"
        )))
        .bind(identity.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        row.as_ref().map(integration).transpose()
    }

    async fn list_integrations(&self, vendor: Option<VendorId>) -> Result<Vec<Integration>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {INTEGRATION_COLUMNS} FROM integrations WHERE ($1 IS NULL OR vendor_id = $1) ORDER BY id"
        )))
        .bind(vendor.map(|id| id.to_string()))
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.iter().map(integration).collect()
    }

    async fn update_integration(
        &self,
        id: IntegrationId,
        expected_state: IntegrationState,
        expected_noted: Option<bool>,
        change: IntegrationChange,
        audits: Vec<AuditRecord>,
    ) -> Result<Integration, StoreError> {
        let (integration, _) = self
            .writer
            .submit(move |conn| {
                async move {
                    let current = integration_in(conn, id).await?;
                    if current.state != expected_state || current.noted_in_force != expected_noted {
                        return Err(Conflict::IntegrationChanged { id }.into());
                    }
                    sqlx::query(
                        "UPDATE integrations SET state = $1, noted_in_force = $2, onboarding_request = $3 \
                         WHERE id = $4",
                    )
                    .bind(change.state.as_str())
                    .bind(change.noted_in_force.map(i64::from))
                    .bind(change.onboarding_request.map(|id| id.to_string()))
                    .bind(id.to_string())
                    .execute(&mut *conn)
                    .await
                    .map_err(on_unique(|_| Conflict::IdentityIntegrated {
                        identity: current.identity_id,
                        integration: id,
                    }))?;
                    if let Some(active) = change.identity_active {
                        set_identity_active(conn, current.identity_id, active, instant_of(&audits)).await?;
                    }
                    let updated = Integration {
                        state: change.state,
                        noted_in_force: change.noted_in_force,
                        onboarding_request: change.onboarding_request,
                        ..current
                    };
                    Ok((updated, audits))
                }
                .boxed()
            })
            .await?;
        Ok(integration)
    }

    async fn create_exception(
        &self,
        exception: ExceptionRecord,
        audits: Vec<AuditRecord>,
    ) -> Result<ExceptionRecord, StoreError> {
        let (exception, _) = self
            .writer
            .submit(move |conn| {
                async move {
                    integration_in(conn, exception.integration_id).await?;
                    sqlx::query(AssertSqlSafe(format!(
                        "INSERT INTO integration_exceptions ({EXCEPTION_COLUMNS}) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
                    )))
                    .bind(exception.id.to_string())
                    .bind(exception.integration_id.to_string())
                    .bind(exception.rule.clone())
                    .bind(exception.reason.clone())
                    .bind(exception.requested_by.to_string())
                    .bind(to_unix_millis(exception.requested_at))
                    .bind(to_unix_millis(exception.expires_at))
                    .bind(exception.approved_by.map(|id| id.to_string()))
                    .bind(exception.approved_at.map(to_unix_millis))
                    .bind(i64::from(exception.expiry_announced))
                    .execute(&mut *conn)
                    .await
                    .map_err(store_error)?;
                    Ok((exception, audits))
                }
                .boxed()
            })
            .await?;
        Ok(exception)
    }

    async fn grant_exception(
        &self,
        granted: ExceptionRecord,
        audits: Vec<AuditRecord>,
    ) -> Result<ExceptionRecord, StoreError> {
        let (granted, _) = self
            .writer
            .submit(move |conn| {
                async move {
                    let (Some(approver), Some(at)) = (granted.approved_by, granted.approved_at) else {
                        return Err(StoreError::Other("an exception is granted by someone, at an instant".into()));
                    };
                    let updated = sqlx::query(
                        "UPDATE integration_exceptions SET approved_by = $1, approved_at = $2 \
                         WHERE id = $3 AND approved_by IS NULL",
                    )
                    .bind(approver.to_string())
                    .bind(to_unix_millis(at))
                    .bind(granted.id.to_string())
                    .execute(&mut *conn)
                    .await
                    .map_err(store_error)?;
                    if updated.rows_affected() == 0 {
                        let exists: Option<String> =
                            sqlx::query_scalar("SELECT id FROM integration_exceptions WHERE id = $1")
                                .bind(granted.id.to_string())
                                .fetch_optional(&mut *conn)
                                .await
                                .map_err(store_error)?;
                        return Err(match exists {
                            Some(_) => Conflict::ExceptionGranted { id: granted.id }.into(),
                            None => StoreError::not_found("exception", granted.id),
                        });
                    }
                    Ok((granted, audits))
                }
                .boxed()
            })
            .await?;
        Ok(granted)
    }

    async fn find_exception(&self, id: ExceptionId) -> Result<Option<ExceptionRecord>, StoreError> {
        let row =
            sqlx::query(AssertSqlSafe(format!("SELECT {EXCEPTION_COLUMNS} FROM integration_exceptions WHERE id = $1")))
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await
                .map_err(store_error)?;
        row.as_ref().map(exception).transpose()
    }

    async fn list_exceptions(&self, integration: IntegrationId) -> Result<Vec<ExceptionRecord>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {EXCEPTION_COLUMNS} FROM integration_exceptions WHERE integration_id = $1 ORDER BY id"
        )))
        .bind(integration.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.iter().map(exception).collect()
    }

    async fn unannounced_expired_exceptions(&self, now: OffsetDateTime) -> Result<Vec<ExceptionRecord>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {EXCEPTION_COLUMNS} FROM integration_exceptions \
             WHERE approved_by IS NOT NULL AND expiry_announced = 0 AND expires_at <= $1 ORDER BY expires_at, id"
        )))
        .bind(to_unix_millis(now))
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.iter().map(exception).collect()
    }

    async fn announce_exception_expiry(&self, id: ExceptionId, audits: Vec<AuditRecord>) -> Result<bool, StoreError> {
        let (announced, _) = self
            .writer
            .submit(move |conn| {
                async move {
                    let updated = sqlx::query(
                        "UPDATE integration_exceptions SET expiry_announced = 1 WHERE id = $1 AND expiry_announced = 0",
                    )
                    .bind(id.to_string())
                    .execute(&mut *conn)
                    .await
                    .map_err(store_error)?;
                    if updated.rows_affected() == 0 {
                        return Ok((false, Vec::new()));
                    }
                    Ok((true, audits))
                }
                .boxed()
            })
            .await?;
        Ok(announced)
    }
}
