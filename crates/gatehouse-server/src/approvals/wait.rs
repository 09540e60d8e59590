//! `GET /api/v1/requests/{id}/wait`: answers as soon as a request is no
//! longer pending, or when the caller's timeout passes. Woken by
//! [`RequestUpdates`](super::RequestUpdates) for changes made on this node;
//! changes made by another node are found by looking at the store every
//! [`STORE_LOOK`].

use std::sync::Arc;
use std::time::Duration;

use gatehouse_domain::access::{ApprovalRequest, RequestState};
use gatehouse_domain::ids::ApprovalRequestId;

use super::updates::Published;
use crate::problem::ApiError;
use crate::state::AppState;

/// The longest a caller may wait in one call.
pub const MAX_WAIT: Duration = Duration::from_secs(300);

/// How often a waiter looks at the store for changes made elsewhere.
const STORE_LOOK: Duration = Duration::from_secs(2);

/// What a wait ends with: the request as published on this node (shared
/// by every waiter), or as read from the store.
pub enum Waited {
    Published(Arc<Published>),
    Read(Box<ApprovalRequest>),
}

impl Waited {
    pub fn request(&self) -> &ApprovalRequest {
        match self {
            Waited::Published(published) => &published.request,
            Waited::Read(request) => request,
        }
    }
}

/// The request once it is no longer pending, or as it is when `timeout`
/// has passed.
pub async fn wait_until_decided(
    state: &AppState,
    id: ApprovalRequestId,
    timeout: Duration,
) -> Result<Waited, ApiError> {
    // Subscribed before reading, so a change between the two is not missed.
    let mut updates = state.request_updates.subscribe(id);
    let read = || async {
        state
            .store
            .find_approval_request(id)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("request `{id}` not found")))
    };
    let request = read().await?;
    if request.state != RequestState::Pending || timeout.is_zero() {
        return Ok(Waited::Read(Box::new(request)));
    }
    let deadline = tokio::time::Instant::now() + timeout.min(MAX_WAIT);
    loop {
        tokio::select! {
            changed = updates.changed() => {
                if let Some(published) = changed.filter(|published| published.request.state != RequestState::Pending) {
                    return Ok(Waited::Published(published));
                }
            }
            () = tokio::time::sleep(STORE_LOOK) => {
                let request = read().await?;
                if request.state != RequestState::Pending {
                    return Ok(Waited::Read(Box::new(request)));
                }
            }
            () = tokio::time::sleep_until(deadline) => return read().await.map(|request| Waited::Read(Box::new(request))),
        }
    }
}
