//! The node's background tasks and their one stop signal.
//!
//! Every long-lived or fire-and-forget task a service starts goes through [`Tasks::spawn`]: it
//! ends at the next await once [`Tasks::shutdown`] cancels the token, and shutdown waits for
//! all of them (bounded), so `amspd` stops in a known order — API, tasks, network, store —
//! instead of the runtime dropping work wherever it happens to be.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// A cancellation token and the tasks that obey it. Clone freely: clones share both.
#[derive(Clone, Debug, Default)]
pub struct Tasks {
    token: CancellationToken,
    tracker: TaskTracker,
}

impl Tasks {
    /// A fresh set with its own token.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `fut` until it finishes or the set is shut down, whichever comes first.
    pub fn spawn<F>(&self, fut: F) -> tokio::task::JoinHandle<()>
    where
        F: Future + Send + 'static,
    {
        let token = self.token.clone();
        self.tracker.spawn(async move {
            tokio::select! {
                _ = token.cancelled() => {}
                _ = fut => {}
            }
        })
    }

    /// The token, for loops and servers that stop on it themselves.
    pub fn token(&self) -> CancellationToken {
        self.token.clone()
    }

    /// Whether shutdown has begun.
    pub fn stopping(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Cancels every task and waits up to `within` for them to end; returns how many were
    /// still running when the wait gave up.
    pub async fn shutdown(&self, within: Duration) -> usize {
        self.token.cancel();
        self.tracker.close();
        match tokio::time::timeout(within, self.tracker.wait()).await {
            Ok(()) => 0,
            Err(_) => self.tracker.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn shutdown_stops_a_task_that_would_run_forever() {
        let tasks = Tasks::new();
        let handle = tasks.spawn(std::future::pending::<()>());
        assert_eq!(tasks.shutdown(Duration::from_secs(1)).await, 0);
        assert!(handle.is_finished());
        assert!(tasks.stopping());
    }

    #[tokio::test]
    async fn tasks_started_after_shutdown_end_at_once() {
        let tasks = Tasks::new();
        tasks.shutdown(Duration::from_millis(10)).await;
        let h = tasks.spawn(std::future::pending::<()>());
        tokio::time::timeout(Duration::from_secs(1), h).await.expect("ends").expect("no panic");
    }
}
