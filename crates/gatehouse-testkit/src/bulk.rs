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
