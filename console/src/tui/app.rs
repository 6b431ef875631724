//! The console as a pure state machine: [`handle`] turns one [`Event`] (a key, a mouse click, a
//! resize, a node update, a clock tick) into state changes and, at most, one [`Command`] for the
//! node. Nothing here does I/O or reads a clock, so every behaviour is tested by feeding events.
//!
//! This file holds the state and how updates change it; `keys`, `mouse` and `intent` hold
//! what input means.

mod intent;
mod keys;
mod mouse;

use amsp_proto::alert::Severity;
use crossterm::event::{KeyEvent, MouseEvent};
use ratatui::layout::Rect;

use super::layout;
use super::model::{Level, Snapshot, Update};
use super::palette;
use super::rows::{self, RowOptions};
use super::source::{Action, SourceError};
use super::theme::Theme;
use super::view::View;

/// How long a new critical alert flashes in the header: long enough to be seen from across the
/// room, short enough not to hide the next one.
pub const FLASH_MS: u64 = 10_000;

/// How long a status message stays in the footer.
pub const STATUS_MS: u64 = 5_000;

/// Rows one wheel notch scrolls: the usual terminal convention.
pub const WHEEL_ROWS: usize = 3;

/// Longest filter or command accepted from the keyboard; a paste beyond this is cut.
pub const MAX_INPUT: usize = 256;

/// Something that happens to the console.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A key press.
    Key(KeyEvent),
    /// A mouse click or wheel.
    Mouse(MouseEvent),
    /// The terminal's new size (columns, rows).
    Resize(u16, u16),
    /// A change from the node.
    Update(Update),
    /// Text pasted into the terminal: typed into an open filter or command, else ignored.
    Paste(String),
    /// The local clock, Unix milliseconds; drives flashes and message expiry.
    Tick(u64),
    /// The node answered an action.
    ActionDone {
        /// The action.
        action: Action,
        /// Its outcome.
        result: Result<(), SourceError>,
    },
}

/// What the app asks of the world outside it.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Send an action to the node.
    Act(Action),
    /// Restore the terminal and exit.
    Quit,
}

/// What has the keyboard.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    /// Browsing.
    Normal,
    /// Typing the current view's filter.
    Filter,
    /// Typing a command.
    Palette {
        /// What was typed.
        input: String,
        /// The highlighted suggestion.
        choice: usize,
    },
    /// Asking before an action.
    Confirm(Action),
    /// The help overlay.
    Help {
        /// Lines scrolled.
        scroll: u16,
    },
}

/// One table's rows, selection, scroll position and filter.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TableState {
    /// Indices into the snapshot's list, in display order.
    pub rows: Vec<usize>,
    /// Position of the selection in `rows`.
    pub selected: usize,
    /// First row drawn.
    pub offset: usize,
    /// The filter text.
    pub filter: String,
    /// The sort key, `None` for the table's own order.
    pub sort: Option<crate::tui::sort::Sort>,
}

impl TableState {
    /// The snapshot index of the selected row.
    pub fn selected_item(&self) -> Option<usize> {
        self.rows.get(self.selected).copied()
    }
}

/// A message in the footer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The message.
    pub text: String,
    /// Whether it reports a failure.
    pub error: bool,
    /// When it disappears (local clock).
    pub until_ms: u64,
}

/// A critical alert flashing in the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flash {
    /// The alert's id.
    pub alert: String,
    /// What to show.
    pub text: String,
    /// When it stops flashing (local clock).
    pub until_ms: u64,
}

/// How the console was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Refuse every action (viewers).
    pub read_only: bool,
    /// Colours or `NO_COLOR`.
    pub theme: Theme,
}

/// The whole state of the console.
#[derive(Debug, Clone)]
pub struct App {
    /// What the node looks like.
    pub snapshot: Snapshot,
    /// The tab shown.
    pub view: View,
    /// What has the keyboard.
    pub mode: Mode,
    /// One table per view.
    pub tables: [TableState; View::COUNT],
    /// Whether the details of the selected row are open.
    pub detail: bool,
    /// Refuse actions.
    pub read_only: bool,
    /// Styles.
    pub theme: Theme,
    /// The terminal's size.
    pub size: Rect,
    /// The footer message.
    pub status: Option<Status>,
    /// The flashing alert.
    pub flash: Option<Flash>,
    /// The local clock from the last tick, Unix milliseconds.
    pub now_ms: u64,
    /// Log level and alert filter.
    pub row_options: RowOptions,
    /// Keep the log at its newest line.
    pub log_follow: bool,
    /// The layer shown in the slice preview.
    pub layer: usize,
    /// The offer picked in the Design detail: the request's id and the offer's place in
    /// [`DesignRequest::offers_by_price`](super::model::DesignRequest::offers_by_price).
    pub offer_pick: (String, usize),
    /// Set when the operator asked to quit.
    pub quit: bool,
    /// Whether the fleet overview is shown in place of the view (`o`).
    pub overview: bool,
    /// The fleet over the last minutes, for the overview's charts.
    pub history: super::history::History,
}

impl App {
    /// A console showing `snapshot` on a terminal of `size` columns × rows.
    pub fn new(snapshot: Snapshot, options: Options, size: (u16, u16)) -> Self {
        let mut app = Self {
            snapshot,
            view: View::Jobs,
            mode: Mode::Normal,
            tables: Default::default(),
            detail: false,
            read_only: options.read_only,
            theme: options.theme,
            size: Rect::new(0, 0, size.0, size.1),
            status: None,
            flash: None,
            now_ms: 0,
            row_options: RowOptions { log_level: Level::Info, past_alerts: false },
            log_follow: true,
            layer: 0,
            offer_pick: (String::new(), 0),
            quit: false,
            overview: false,
            history: Default::default(),
        };
        app.refresh_all();
        app
    }

    /// The current view's table.
    pub fn table(&self) -> &TableState {
        &self.tables[self.view.index()]
    }

    /// A view's table.
    pub fn table_of(&self, view: View) -> &TableState {
        &self.tables[view.index()]
    }

    /// Active alerts, for the tab label.
    pub fn active_alerts(&self) -> usize {
        self.snapshot.alerts.iter().filter(|a| a.is_active()).count()
    }

    /// Active, unacknowledged critical alerts, for the header.
    pub fn unacked_critical(&self) -> usize {
        self.snapshot
            .alerts
            .iter()
            .filter(|a| {
                a.severity == Severity::Critical && a.is_active() && a.acknowledged_ms.is_none()
            })
            .count()
    }

    /// The screen regions for the current size and mode.
    pub fn areas(&self) -> layout::Areas {
        layout::areas(self.size, self.detail)
    }

    /// Candidates the palette offers for what was typed.
    pub fn palette_candidates(&self) -> Vec<palette::Candidate> {
        match &self.mode {
            Mode::Palette { input, .. } => palette::matches(input, self.read_only),
            _ => Vec::new(),
        }
    }

    fn refresh(&mut self, view: View) {
        let t = &mut self.tables[view.index()];
        let previous = t.selected_item();
        t.rows = rows::compute(&self.snapshot, view, &t.filter, t.sort, self.row_options);
        // Keep the same item selected when it is still listed.
        if let Some(item) = previous
            && t.rows.get(t.selected) != Some(&item)
            && let Some(pos) = t.rows.iter().position(|&r| r == item)
        {
            t.selected = pos;
        }
        if view == View::Log && self.log_follow {
            t.selected = t.rows.len().saturating_sub(1);
        }
        t.selected = t.selected.min(t.rows.len().saturating_sub(1));
        self.scroll_into_view(view);
    }

    fn refresh_all(&mut self) {
        for view in View::ALL {
            self.refresh(view);
        }
    }

    fn scroll_into_view(&mut self, view: View) {
        let height = layout::body_rows(self.areas().table);
        let t = &mut self.tables[view.index()];
        t.offset = layout::scroll_offset(t.selected, t.offset, height, t.rows.len());
    }

    fn select(&mut self, view: View, position: usize) {
        let t = &mut self.tables[view.index()];
        t.selected = position.min(t.rows.len().saturating_sub(1));
        if view == View::Log {
            self.log_follow = t.selected + 1 >= t.rows.len();
        }
        self.scroll_into_view(view);
    }

    fn move_by(&mut self, delta: isize) {
        let view = self.view;
        let current = self.tables[view.index()].selected;
        self.select(view, current.saturating_add_signed(delta));
    }

    fn page(&self) -> isize {
        isize::try_from(layout::body_rows(self.areas().table).max(1)).unwrap_or(1)
    }

    fn say(&mut self, text: impl Into<String>, error: bool) {
        self.status = Some(Status { text: text.into(), error, until_ms: self.now_ms + STATUS_MS });
    }

    fn go(&mut self, view: View) {
        if self.view != view {
            self.view = view;
            self.detail = false;
            self.scroll_into_view(view);
        }
    }

    /// The highest layer index of the selected model's preview.
    pub fn max_layer(&self) -> usize {
        self.table_of(View::Models)
            .selected_item()
            .and_then(|i| self.snapshot.models.get(i))
            .and_then(|m| m.preview.as_ref())
            .map_or(0, |p| p.layers.len().saturating_sub(1))
    }

    fn update(&mut self, update: Update) {
        let views: &[View] = match &update {
            Update::Resync(_) => &View::ALL,
            Update::Clock { .. } | Update::Health(_) | Update::Traffic(_) => &[],
            Update::JobProgress { .. } => {
                if self.table_of(View::Jobs).filter.is_empty() {
                    &[]
                } else {
                    &[View::Jobs]
                }
            }
            Update::Job(_) => &[View::Jobs],
            Update::Printer(_) | Update::Temperatures { .. } => &[View::Printers],
            Update::Order(_) | Update::OrderEvent { .. } => &[View::Orders],
            Update::Peer(_) | Update::PeerGone(_) => &[View::Network],
            Update::Model(_) => &[View::Models],
            Update::Alert(_) => &[View::Alerts],
            Update::Log(_) => &[View::Log],
        };
        let views = views.to_vec();
        if let Update::Alert(alert) = &update {
            let was_active = self
                .snapshot
                .alerts
                .iter()
                .find(|a| a.id == alert.id)
                .is_some_and(|a| a.is_active());
            let flashing = alert.severity == Severity::Critical && alert.acknowledged_ms.is_none();
            if flashing && alert.is_active() && !was_active {
                self.flash = Some(Flash {
                    alert: alert.id.clone(),
                    text: format!("{}: {}", alert.subject, alert.message),
                    until_ms: self.now_ms + FLASH_MS,
                });
            } else if self.flash.as_ref().is_some_and(|f| f.alert == alert.id) && !flashing {
                self.flash = None;
            }
        }
        self.snapshot.apply(update);
        for view in views {
            self.refresh(view);
        }
    }
}

/// Feed one event to the app; returns what the node or the terminal must do, if anything.
pub fn handle(app: &mut App, event: Event) -> Option<Command> {
    match event {
        Event::Key(key) => app.key(key),
        Event::Mouse(mouse) => app.mouse(mouse),
        Event::Resize(width, height) => {
            app.size = Rect::new(0, 0, width, height);
            for view in View::ALL {
                app.scroll_into_view(view);
            }
            None
        }
        Event::Update(update) => {
            app.update(update);
            None
        }
        Event::Paste(text) => {
            app.paste(&text);
            None
        }
        Event::Tick(now_ms) => {
            app.now_ms = now_ms;
            app.history.record(&app.snapshot, now_ms);
            if app.status.as_ref().is_some_and(|s| s.until_ms <= now_ms) {
                app.status = None;
            }
            if app.flash.as_ref().is_some_and(|f| f.until_ms <= now_ms) {
                app.flash = None;
            }
            None
        }
        Event::ActionDone { action, result } => {
            match result {
                Ok(()) => app.say(format!("{} {}: done", action.verb(), action.subject()), false),
                Err(e) => app.say(e.to_string(), true),
            }
            None
        }
    }
}
