//! The printers, jobs and alerts beside a node, as the console shows them.
//!
//! A node's order logs, peers and models come from the node itself; its print floor — printers,
//! the job queue, alerts — comes from whatever drives the printers in the same process. A
//! [`Workshop`] is that part, so the in-process source can show the floor of whichever engine
//! runs it (the node's own farm, for `amsp` and `amsp demo`).

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use amsp_proto::alert::Alert;

use crate::tui::model::{Job, LOG_LINES, Level, LogLine, Model, Printer};
use crate::tui::source::Action;

/// A boxed future returned by [`Workshop::act`], so workshops can be held as trait objects.
pub type ActFuture<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

/// What a workshop shows now.
#[derive(Debug, Clone, Default)]
pub struct WorkshopView {
    /// Jobs, queued first.
    pub jobs: Vec<Job>,
    /// Printers.
    pub printers: Vec<Printer>,
    /// Active and past alerts.
    pub alerts: Vec<Alert>,
    /// Models it sliced, with their previews.
    pub models: Vec<Model>,
    /// Its log, oldest first.
    pub log: Vec<LogLine>,
}

/// A print floor an in-process node shows and the operator acts on.
pub trait Workshop: Send + Sync + 'static {
    /// Everything it shows now. Cheap enough to call a few times a second.
    fn view(&self) -> WorkshopView;

    /// Carries out an operator's action; the error says why it was refused.
    fn act(&self, action: Action) -> ActFuture<'_>;
}

/// A bounded log shared between the tasks that write it and the source that shows it.
#[derive(Debug, Clone, Default)]
pub struct LogRing {
    lines: Arc<Mutex<VecDeque<LogLine>>>,
}

impl LogRing {
    /// Appends a line, dropping the oldest beyond [`LOG_LINES`].
    pub fn push(&self, level: Level, target: &str, message: String) {
        let mut lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        if lines.len() >= LOG_LINES {
            lines.pop_front();
        }
        lines.push_back(LogLine {
            ts_ms: amsp_node::clock::now_ms(),
            level,
            target: target.to_owned(),
            message,
        });
    }

    /// The lines, oldest first.
    pub fn lines(&self) -> Vec<LogLine> {
        self.lines.lock().unwrap_or_else(|p| p.into_inner()).iter().cloned().collect()
    }
}

/// Two logs merged by time, capped at [`LOG_LINES`].
pub fn merge_logs(mut a: Vec<LogLine>, b: Vec<LogLine>) -> Vec<LogLine> {
    a.extend(b);
    a.sort_by_key(|l| l.ts_ms);
    let skip = a.len().saturating_sub(LOG_LINES);
    a.drain(..skip);
    a
}
