//! The first admin: what initialization writes, built in one place for
//! `gatehouse init`, `gatehouse serve` on an empty data dir, and tests.

use serde_json::json;
use time::{Duration, OffsetDateTime};

use crate::audit::{AuditAction, AuditRecord, SystemWriter};
use crate::clock::format_rfc3339;
use crate::grant::{NewGrant, Role, Scope};
use crate::identity::NewIdentity;
use crate::ids::{GrantId, TokenId};
use crate::store::InitialSetup;
use crate::token::{NewToken, TokenSecret};

/// The setup that makes `admin` the first admin (role `admin` on `*`) with a
/// token valid for `token_ttl`, and the token's secret, to be shown once.
pub fn first_admin_setup(
    admin: NewIdentity,
    audit_public_key: String,
    audit_origin: String,
    engine: &str,
    now: OffsetDateTime,
    token_ttl: Duration,
) -> (InitialSetup, TokenSecret) {
    let secret = TokenSecret::generate();
    let grant = NewGrant {
        id: GrantId::new(),
        identity_id: admin.id,
        role: Role::admin(),
        scope: Scope::Everything,
        created_at: now,
        expires_at: None,
        created_by: None,
    };
    let token = NewToken {
        id: TokenId::new(),
        identity_id: admin.id,
        hash: secret.hash(),
        description: "bootstrap admin token".into(),
        created_at: now,
        expires_at: now + token_ttl,
        created_by: None,
        trust_binding_id: None,
    };
    let record = |action: AuditAction, resource: String| {
        AuditRecord::system(SystemWriter::Initialization, now, action, resource)
    };
    let audit = vec![
        record(AuditAction::GatehouseInit, "gatehouse".into())
            .details(json!({ "engine": engine, "audit_public_key": audit_public_key, "audit_origin": audit_origin })),
        record(AuditAction::IdentityCreate, format!("identity:{}", admin.id)).details(json!({
            "identity_id": admin.id.to_string(),
            "kind": admin.kind.as_str(),
            "name": admin.name.as_str(),
            "email": admin.email.as_ref().map(|e| e.as_str()),
        })),
        record(AuditAction::GrantCreate, format!("grant:{}", grant.id)).details(json!({
            "grant_id": grant.id.to_string(),
            "identity_id": admin.id.to_string(),
            "role": grant.role.as_str(),
            "scope": grant.scope.to_string(),
        })),
        record(AuditAction::TokenCreate, format!("token:{}", token.id)).details(json!({
            "token_id": token.id.to_string(),
            "identity_id": admin.id.to_string(),
            "description": token.description,
            "expires_at": format_rfc3339(token.expires_at),
        })),
    ];
    let setup = InitialSetup { admin, admin_grant: grant, admin_token: token, audit_public_key, audit_origin, audit };
    (setup, secret)
}
