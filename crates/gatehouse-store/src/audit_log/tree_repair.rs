//! Building missing Merkle tree nodes at start: entries written before the
//! tree existed (migration 0002) get their nodes and a signed checkpoint,
//! so an upgrade keeps every entry provable.

use gatehouse_audit::checkpoint::Checkpoint;
use gatehouse_audit::merkle::leaf_hash;
use gatehouse_domain::store::StoreError;
use sqlx::{AnyPool, AssertSqlSafe};

use crate::audit_log::tree_key::KEYS_PER_LEAF;
use crate::audit_log::writer::{AuditSettings, begin_append, frontier_at, insert_checkpoint, insert_nodes};
use crate::connect::Engine;
use crate::error::store_error;
use crate::rows::{self, AUDIT_COLUMNS};

const PAGE: i64 = 1000;

pub(crate) async fn repair_tree(pool: &AnyPool, engine: Engine, settings: &AuditSettings) -> Result<u64, StoreError> {
    let mut tx = begin_append(pool, engine).await?;
    let entries: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(idx) + 1, 0) FROM audit_entries")
        .fetch_one(&mut *tx)
        .await
        .map_err(store_error)?;
    // Nodes are written in the order appends complete them (see tree_key):
    // the greatest key's leaf is the last leaf with its nodes.
    let leaves: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(node) / $1 + 1, 0) FROM audit_tree")
        .bind(KEYS_PER_LEAF)
        .fetch_one(&mut *tx)
        .await
        .map_err(store_error)?;
    if leaves >= entries {
        return Ok(0);
    }
    let Some(signer) = settings.signer.clone() else {
        // Without the key no checkpoint can be signed; a node with the key
        // will repair at its start.
        return Ok(0);
    };
    let mut frontier = frontier_at(&mut tx, leaves as u64).await?;
    let mut next = leaves;
    while next < entries {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {AUDIT_COLUMNS}, leaf FROM audit_entries WHERE idx >= $1 ORDER BY idx LIMIT $2"
        )))
        .bind(next)
        .bind(PAGE)
        .fetch_all(&mut *tx)
        .await
        .map_err(store_error)?;
        let mut nodes = Vec::new();
        for row in &rows {
            let (index, leaf) = rows::audit_leaf(row)?;
            if index != next as u64 {
                return Err(StoreError::Other(format!("audit entry {next} is missing")));
            }
            nodes.extend(frontier.push(leaf_hash(&leaf)));
            next += 1;
        }
        insert_nodes(&mut tx, &nodes).await?;
    }
    let origin: Option<String> = sqlx::query_scalar("SELECT audit_origin FROM installation")
        .fetch_optional(&mut *tx)
        .await
        .map_err(store_error)?
        .flatten();
    let checkpoint = Checkpoint {
        origin: origin.unwrap_or_else(|| crate::DEFAULT_ORIGIN.to_owned()),
        size: frontier.size(),
        root: frontier.root(),
    };
    let now = gatehouse_domain::clock::to_unix_millis(time::OffsetDateTime::now_utc());
    insert_checkpoint(&mut tx, &checkpoint, &checkpoint.sign(&signer), now).await?;
    tx.commit().await.map_err(store_error)?;
    Ok((entries - leaves) as u64)
}
