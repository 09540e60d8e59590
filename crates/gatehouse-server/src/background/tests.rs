//! `idle` waits for every counted task, including one that panics.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::oneshot;

use super::BackgroundTasks;

#[tokio::test]
async fn idle_returns_at_once_when_nothing_runs() {
    BackgroundTasks::default().idle().await;
}

#[tokio::test]
async fn idle_waits_for_a_task_to_finish() {
    let tasks = BackgroundTasks::default();
    let (release, released) = oneshot::channel::<()>();
    let finished = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&finished);
    tasks.spawn(async move {
        let _ = released.await;
        flag.store(true, Ordering::SeqCst);
    });
    assert_eq!(tasks.running(), 1);
    let waiting = tokio::spawn({
        let tasks = tasks.clone();
        async move { tasks.idle().await }
    });
    tokio::task::yield_now().await;
    assert!(!waiting.is_finished(), "idle returned while a task ran");
    release.send(()).expect("the task is waiting");
    waiting.await.expect("idle");
    assert!(finished.load(Ordering::SeqCst));
    assert_eq!(tasks.running(), 0);
}

#[tokio::test]
async fn a_task_that_panics_is_uncounted() {
    let tasks = BackgroundTasks::default();
    tasks.spawn(async { panic!("on purpose") });
    tasks.idle().await;
    assert_eq!(tasks.running(), 0);
}
