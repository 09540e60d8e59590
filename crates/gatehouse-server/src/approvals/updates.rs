//! Who is waiting for which request on this node, and waking them when it
//! changes: `GET /api/v1/requests/{id}/wait` and `gate --wait` long-poll
//! here instead of asking the store again and again.
//!
//! One `watch` channel per request somebody waits for, made by the first
//! waiter and removed with the last; whoever changes a request publishes
//! its new state, so a thousand waiters on one request are woken with it,
//! none reads the store, and the answer is rendered once for all of them
//! (`Published::body`). Changes made by another node are not seen here:
//! waiters also look at the store now and then (`wait.rs`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use gatehouse_domain::access::ApprovalRequest;
use gatehouse_domain::ids::ApprovalRequestId;
use tokio::sync::watch;

type Channels = HashMap<ApprovalRequestId, watch::Sender<Option<Arc<Published>>>>;

/// A request's new state as published to its waiters, and the answer the
/// first of them renders for all (`GET …/wait`'s body).
pub struct Published {
    pub request: ApprovalRequest,
    pub body: OnceLock<axum::body::Bytes>,
}

#[derive(Default)]
pub struct RequestUpdates {
    channels: Arc<Mutex<Channels>>,
}

impl RequestUpdates {
    /// Wakes everyone waiting for `request` with its new state.
    pub fn publish(&self, request: &ApprovalRequest) {
        let channels = lock(&self.channels);
        if let Some(sender) = channels.get(&request.id) {
            sender.send_replace(Some(Arc::new(Published { request: request.clone(), body: OnceLock::new() })));
        }
    }

    /// Starts waiting for changes to `id`.
    pub fn subscribe(&self, id: ApprovalRequestId) -> Subscription {
        let receiver = lock(&self.channels).entry(id).or_insert_with(|| watch::channel(None).0).subscribe();
        Subscription { id, receiver, channels: Arc::clone(&self.channels) }
    }

    /// How many requests have someone waiting on this node.
    pub fn watched(&self) -> usize {
        lock(&self.channels).len()
    }

    /// How many wait for `id` on this node.
    pub fn waiting(&self, id: ApprovalRequestId) -> usize {
        lock(&self.channels).get(&id).map_or(0, watch::Sender::receiver_count)
    }
}

/// One waiter's view of one request; leaving drops the channel with the
/// last waiter.
pub struct Subscription {
    id: ApprovalRequestId,
    receiver: watch::Receiver<Option<Arc<Published>>>,
    channels: Arc<Mutex<Channels>>,
}

impl Subscription {
    /// The next state published after this subscription began (or after
    /// the last one this returned).
    pub async fn changed(&mut self) -> Option<Arc<Published>> {
        self.receiver.changed().await.ok()?;
        self.receiver.borrow_and_update().clone()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut channels = lock(&self.channels);
        // This receiver still counts until the end of `drop`.
        if channels.get(&self.id).is_some_and(|sender| sender.receiver_count() <= 1) {
            channels.remove(&self.id);
        }
    }
}

fn lock(channels: &Mutex<Channels>) -> std::sync::MutexGuard<'_, Channels> {
    channels.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests;
