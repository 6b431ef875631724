//! A progress bar for a model fetch, drawn from the node's `transfer_progress` events.
//!
//! The fetch itself is one API call that returns when the model is complete; meanwhile the
//! node reports each 2 % step on `/v1/events`. The bar is drawn on stderr only when stderr is
//! a terminal, so scripts and pipes see nothing but the result.

use std::io::IsTerminal;

use amsp_api::events::NodeEvent;
use indicatif::{ProgressBar, ProgressStyle};

use crate::client::NodeClient;

/// Largest event read before giving up on the stream (events are small).
const MAX_EVENT_BYTES: usize = 64 * 1024;

/// A bar following one fetch; [`TransferBar::finish`] removes it.
pub struct TransferBar {
    bar: ProgressBar,
    task: tokio::task::JoinHandle<()>,
}

impl TransferBar {
    /// Starts following the node's events for model `cid`, if stderr is a terminal.
    pub async fn follow(client: &NodeClient, cid: &str) -> Option<Self> {
        if !std::io::stderr().is_terminal() {
            return None;
        }
        let mut res = client.events().await.ok()?;
        let bar = ProgressBar::new(0).with_style(
            ProgressStyle::with_template(
                "{spinner} fetching {msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
            )
            .ok()?
            .progress_chars("=> "),
        );
        bar.set_message(cid.chars().take(12).collect::<String>());
        let shown = bar.clone();
        let cid = cid.to_string();
        let task = tokio::spawn(async move {
            let mut buf: Vec<u8> = Vec::new();
            while let Ok(Some(chunk)) = res.chunk().await {
                buf.extend_from_slice(&chunk);
                while let Some(end) = buf.windows(2).position(|w| w == b"\n\n") {
                    let event: Vec<u8> = buf.drain(..end + 2).collect();
                    if let Some((done, total)) = progress_of(&String::from_utf8_lossy(&event), &cid)
                    {
                        shown.set_length(total);
                        shown.set_position(done);
                    }
                }
                if buf.len() > MAX_EVENT_BYTES {
                    buf.clear();
                }
            }
        });
        Some(Self { bar, task })
    }

    /// Stops following and clears the bar.
    pub fn finish(self) {
        self.task.abort();
        self.bar.finish_and_clear();
    }
}

/// The (bytes, total) of a `transfer_progress` event for `cid` in one server-sent event.
fn progress_of(event: &str, cid: &str) -> Option<(u64, u64)> {
    let data: String =
        event.lines().filter_map(|l| l.strip_prefix("data:")).map(str::trim_start).collect();
    match serde_json::from_str(&data).ok()? {
        NodeEvent::TransferProgress { cid: of, bytes, total } if of == cid => Some((bytes, total)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_progress_for_its_model_only() {
        let ev =
            "data: {\"type\":\"transfer_progress\",\"cid\":\"abc\",\"bytes\":5,\"total\":10}\n\n";
        assert_eq!(progress_of(ev, "abc"), Some((5, 10)));
        assert_eq!(progress_of(ev, "other"), None);
        assert_eq!(
            progress_of(
                "data: {\"type\":\"model_fetched\",\"cid\":\"abc\",\"chunks_fetched\":1}\n\n",
                "abc"
            ),
            None
        );
        assert_eq!(progress_of("data: not json\n\n", "abc"), None);
    }
}
