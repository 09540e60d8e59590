//! Reads of PostgreSQL's `credential_epoch`, shared by the requests that
//! wait at the same time: under load one query answers a round of
//! requests instead of one query each.
//!
//! A request must learn the epoch from a query that *began after it
//! arrived*, or a revocation committed just before it could be missed. So
//! a request never joins a query already running: it joins the next round,
//! whose query starts once the running one ends. (Group commit, for reads.)

use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;
use gatehouse_domain::store::StoreError;
use tokio::sync::oneshot;

type Answer = oneshot::Sender<Result<u64, StoreError>>;

/// Runs one query for the epoch.
pub(crate) type ReadEpoch = Box<dyn Fn() -> BoxFuture<'static, Result<u64, StoreError>> + Send + Sync>;

/// The requests waiting for the next query, and whether a round runs.
#[derive(Default)]
struct Rounds {
    running: bool,
    waiting: Vec<Answer>,
}

pub(crate) struct EpochReads {
    read: ReadEpoch,
    rounds: Mutex<Rounds>,
}

impl EpochReads {
    pub(crate) fn new(read: ReadEpoch) -> Arc<Self> {
        Arc::new(Self { read, rounds: Mutex::new(Rounds::default()) })
    }

    /// The epoch, as read by a query that began after this call.
    pub(crate) async fn current(self: &Arc<Self>) -> Result<u64, StoreError> {
        let (answer, answered) = oneshot::channel();
        let lead = {
            let mut rounds = self.rounds.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            rounds.waiting.push(answer);
            !std::mem::replace(&mut rounds.running, true)
        };
        if lead {
            tokio::spawn(Arc::clone(self).run_rounds());
        }
        answered.await.map_err(|_| StoreError::Unavailable("the credential epoch read was dropped".into()))?
    }

    /// One query per round until nobody waits.
    async fn run_rounds(self: Arc<Self>) {
        let mut running = Running { reads: &self, finished: false };
        loop {
            let round = {
                let mut rounds = self.rounds.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                if rounds.waiting.is_empty() {
                    rounds.running = false;
                    running.finished = true;
                    return;
                }
                std::mem::take(&mut rounds.waiting)
            };
            let epoch = (self.read)().await;
            for answer in round {
                let _ = answer.send(epoch.clone());
            }
        }
    }

    #[cfg(test)]
    fn rounds(&self) -> std::sync::MutexGuard<'_, Rounds> {
        self.rounds.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Held by the task that runs the rounds. Should that task end any other
/// way than by finding nobody waiting (a panic, the runtime shutting down),
/// the next caller starts a new one instead of waiting for it forever.
struct Running<'a> {
    reads: &'a EpochReads,
    finished: bool,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.reads.rounds.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).running = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use futures_util::FutureExt;
    use tokio::sync::Notify;

    use super::*;

    /// A database whose epoch the test moves, and whose queries the test
    /// lets finish one at a time.
    struct Database {
        epoch: AtomicU64,
        queries: AtomicU64,
        release: Notify,
    }

    fn reads(database: &Arc<Database>) -> Arc<EpochReads> {
        let database = Arc::clone(database);
        EpochReads::new(Box::new(move || {
            let database = Arc::clone(&database);
            async move {
                // The value is taken when the query begins, as a snapshot is.
                let seen = database.epoch.load(Ordering::SeqCst);
                database.queries.fetch_add(1, Ordering::SeqCst);
                database.release.notified().await;
                Ok(seen)
            }
            .boxed()
        }))
    }

    async fn wait_for_queries(database: &Database, count: u64) {
        while database.queries.load(Ordering::SeqCst) < count {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_request_never_takes_the_answer_of_a_query_begun_before_it() {
        let database =
            Arc::new(Database { epoch: AtomicU64::new(1), queries: AtomicU64::new(0), release: Notify::new() });
        let reads = reads(&database);

        let first = tokio::spawn({
            let reads = Arc::clone(&reads);
            async move { reads.current().await }
        });
        wait_for_queries(&database, 1).await; // the first query has begun, at epoch 1
        database.epoch.store(2, Ordering::SeqCst); // a revocation commits
        let late: Vec<_> = (0..8)
            .map(|_| {
                let reads = Arc::clone(&reads);
                tokio::spawn(async move { reads.current().await })
            })
            .collect();
        while reads.rounds().waiting.len() < 8 {
            tokio::task::yield_now().await;
        }
        database.release.notify_one();
        assert_eq!(first.await.unwrap().unwrap(), 1);

        wait_for_queries(&database, 2).await;
        database.release.notify_one();
        for request in late {
            assert_eq!(request.await.unwrap().unwrap(), 2, "arrived after the commit, so sees it");
        }
        assert_eq!(database.queries.load(Ordering::SeqCst), 2, "the eight late requests shared one query");
    }

    /// Reads whose answer depends only on how many came before.
    fn reads_by_call(answer: fn(u64) -> Result<u64, StoreError>) -> Arc<EpochReads> {
        let calls = Arc::new(AtomicU64::new(0));
        EpochReads::new(Box::new(move || {
            let call = calls.fetch_add(1, Ordering::SeqCst);
            async move { answer(call) }.boxed()
        }))
    }

    #[tokio::test]
    async fn a_round_that_panics_does_not_stop_the_next() {
        let reads = reads_by_call(|call| {
            assert!(call > 0, "the first query panics");
            Ok(3)
        });
        assert!(matches!(reads.current().await, Err(StoreError::Unavailable(_))), "its callers hear of it");
        assert!(!reads.rounds().running);
        assert_eq!(reads.current().await.unwrap(), 3, "the next caller starts a new round");
    }

    #[tokio::test]
    async fn a_failed_read_fails_its_round_only() {
        let reads =
            reads_by_call(
                |call| if call == 0 { Err(StoreError::Unavailable("connection reset".into())) } else { Ok(9) },
            );
        assert!(matches!(reads.current().await, Err(StoreError::Unavailable(_))));
        assert_eq!(reads.current().await.unwrap(), 9);
    }
}
