//! Filling a database fast for scale tests and benchmarks: identities and
//! grants inserted directly, many rows per statement (no audit entries: this
//! is fixture data, not a change anyone made).

use gatehouse_domain::ids::{GrantId, IdentityId};
use sqlx::{AnyConnection, AssertSqlSafe, Connection};

const ROWS: usize = 500;

/// Inserts `identities` service identities, each holding `grants_each`
/// grants of `role` over distinct project scopes (`project:bulk/p<i>-<j>`).
/// Returns the identities' ids.
pub async fn insert_grants(url: &str, identities: usize, grants_each: usize, role: &str) -> Vec<IdentityId> {
    sqlx::any::install_default_drivers();
    let mut conn = AnyConnection::connect(url).await.expect("connect for bulk insert");
    let ids: Vec<IdentityId> = (0..identities).map(|_| IdentityId::new()).collect();
    for (chunk_index, chunk) in ids.chunks(ROWS).enumerate() {
        let values: Vec<String> =
            (0..chunk.len()).map(|i| format!("(${}, 'service', ${}, 'active', 0, 0)", 2 * i + 1, 2 * i + 2)).collect();
        let sql = format!(
            "INSERT INTO identities (id, kind, name, status, created_at, updated_at) VALUES {}",
            values.join(", ")
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for (i, id) in chunk.iter().enumerate() {
            query = query.bind(id.to_string()).bind(format!("bulk-{}", chunk_index * ROWS + i));
        }
        query.execute(&mut conn).await.expect("insert identities");
    }
    let grants: Vec<(String, String, String)> = ids
        .iter()
        .enumerate()
        .flat_map(|(i, id)| {
            (0..grants_each)
                .map(move |j| (GrantId::new().to_string(), id.to_string(), format!("project:bulk/p{i}-{j}")))
        })
        .collect();
    for chunk in grants.chunks(ROWS) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| format!("(${}, ${}, ${}, ${}, 0)", 4 * i + 1, 4 * i + 2, 4 * i + 3, 4 * i + 4))
            .collect();
        let sql = format!("INSERT INTO grants (id, identity_id, role, scope, created_at) VALUES {}", values.join(", "));
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for (id, identity, scope) in chunk {
            query = query.bind(id.clone()).bind(identity.clone()).bind(role.to_owned()).bind(scope.clone());
        }
        query.execute(&mut conn).await.expect("insert grants");
    }
    ids
}

/// Inserts `count` access requests by `requester` on scopes
/// `project:bulk/r<i>`, created one second apart from `created_at_ms`,
/// every `pending_every`-th one `pending` and the rest `expired` (fixture
/// data: no votes, no audit entries).
pub async fn insert_approval_requests(
    url: &str,
    requester: gatehouse_domain::ids::IdentityId,
    count: usize,
    pending_every: usize,
    created_at_ms: i64,
) {
    sqlx::any::install_default_drivers();
    let mut conn = AnyConnection::connect(url).await.expect("connect for bulk insert");
    let ids: Vec<(usize, gatehouse_domain::ids::ApprovalRequestId)> =
        (0..count).map(|i| (i, gatehouse_domain::ids::ApprovalRequestId::new())).collect();
    const COLUMNS: usize = 7;
    for chunk in ids.chunks(ROWS) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| {
                let p = |k: usize| format!("${}", COLUMNS * i + k);
                format!(
                    "({}, 'access', {}, 'bulk', 'hash', {}, {}, 'developer', 3600, 'digest', 0, '[]', 1, {}, {}, {})",
                    p(1),
                    p(2),
                    p(3),
                    p(4),
                    p(5),
                    p(6),
                    p(7)
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO approval_requests (id, kind, state, rule_id, policy_hash, requester, resource, role, \
             duration_seconds, digest, break_glass, assignment, revision, created_at, expires_at, updated_at) VALUES {}",
            values.join(", ")
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for (i, id) in chunk {
            let created = created_at_ms + 1000 * i64::try_from(*i).unwrap_or(0);
            let state = if pending_every > 0 && i % pending_every == 0 { "pending" } else { "expired" };
            query = query
                .bind(id.to_string())
                .bind(state)
                .bind(requester.to_string())
                .bind(format!("project:bulk/r{i}"))
                .bind(created)
                .bind(created + 86_400_000)
                .bind(created);
        }
        query.execute(&mut conn).await.expect("insert approval requests");
    }
}
