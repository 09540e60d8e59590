//! Work a request starts and does not wait for (a token's or a session's
//! last use), counted so that whoever needs it done can await it: tests
//! instead of polling the store, and anyone who wants a quiet store.
//!
//! The count lives in a `watch` channel in [`AppState`](crate::AppState);
//! nothing else is kept, so a task that finishes leaves no trace.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::watch;

/// Detached tasks of one server, counted while they run.
#[derive(Clone)]
pub struct BackgroundTasks {
    running: Arc<watch::Sender<usize>>,
}

impl Default for BackgroundTasks {
    fn default() -> Self {
        Self { running: Arc::new(watch::Sender::new(0)) }
    }
}

impl BackgroundTasks {
    /// Runs `task` on its own, counted until it finishes (or panics).
    pub fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        // Counted before the spawn, so `idle` called right after this
        // returns already waits for it.
        self.running.send_modify(|count| *count += 1);
        let done = Finished(Arc::clone(&self.running));
        tokio::spawn(async move {
            let _done = done;
            task.await;
        });
    }

    /// Waits until no task spawned through [`spawn`](Self::spawn) is running.
    pub async fn idle(&self) {
        let mut count = self.running.subscribe();
        // The sender lives as long as `self`, so this never fails.
        let _ = count.wait_for(|running| *running == 0).await;
    }

    /// How many tasks are running now.
    pub fn running(&self) -> usize {
        *self.running.borrow()
    }
}

/// Uncounts a task when it ends, however it ends.
struct Finished(Arc<watch::Sender<usize>>);

impl Drop for Finished {
    fn drop(&mut self) {
        self.0.send_modify(|count| *count -= 1);
    }
}

#[cfg(test)]
mod tests;
