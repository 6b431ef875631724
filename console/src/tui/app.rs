//! The console as a pure state machine: [`handle`] turns one [`Event`] (a key, a mouse click, a
//! resize, a node update, a clock tick) into state changes and, at most, one [`Command`] for the
//! node. Nothing here does I/O or reads a clock, so every behaviour is tested by feeding events.

use amsp_proto::alert::Severity;
use crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use ratatui::layout::Rect;

use super::keymap::{self, Intent, Scope};
use super::layout;
use super::model::{JobState, Level, Snapshot, Update};
use super::palette::{self, PaletteAction};
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Send an action to the node.
    Act(Action),
    /// Restore the terminal and exit.
    Quit,
}

/// What has the keyboard.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// Set when the operator asked to quit.
    pub quit: bool,
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
            quit: false,
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
        t.rows = rows::compute(&self.snapshot, view, &t.filter, self.row_options);
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

    /// The job an action from the keyboard or palette applies to: the Jobs table's selection.
    fn job_action(&mut self, intent: Intent) -> Option<Command> {
        let Some(job) =
            self.table_of(View::Jobs).selected_item().and_then(|i| self.snapshot.jobs.get(i))
        else {
            self.say("no job selected", true);
            return None;
        };
        let (action, allowed) = match intent {
            Intent::Pause => (Action::Pause(job.id), job.state == JobState::Printing),
            Intent::Resume => (Action::Resume(job.id), job.state == JobState::Paused),
            Intent::Cancel => (
                Action::Cancel(job.id),
                matches!(job.state, JobState::Queued | JobState::Printing | JobState::Paused),
            ),
            Intent::Reprint => (
                Action::Reprint(job.id),
                matches!(job.state, JobState::Failed | JobState::Cancelled | JobState::Done),
            ),
            _ => return None,
        };
        if !allowed {
            let text =
                format!("cannot {} job {}: it is {}", action.verb(), job.id, job.state.name());
            self.say(text, true);
            return None;
        }
        self.mode = Mode::Confirm(action);
        None
    }

    fn acknowledge(&mut self) -> Option<Command> {
        let Some(alert) =
            self.table_of(View::Alerts).selected_item().and_then(|i| self.snapshot.alerts.get(i))
        else {
            self.say("no alert selected", true);
            return None;
        };
        if alert.acknowledged_ms.is_some() {
            let text = format!("alert {} is already acknowledged", alert.id);
            self.say(text, false);
            return None;
        }
        let action = Action::Acknowledge(alert.id.clone());
        if self.flash.as_ref().is_some_and(|f| f.alert == alert.id) {
            self.flash = None;
        }
        self.say(format!("acknowledging {}", alert.id), false);
        Some(Command::Act(action))
    }

    fn intent(&mut self, intent: Intent) -> Option<Command> {
        match intent {
            Intent::Quit => {
                self.quit = true;
                return Some(Command::Quit);
            }
            Intent::Help => self.mode = Mode::Help { scroll: 0 },
            Intent::NextView => self.go(self.view.next()),
            Intent::PrevView => self.go(self.view.prev()),
            Intent::Go(view) => self.go(view),
            Intent::Up => self.move_by(-1),
            Intent::Down => self.move_by(1),
            Intent::PageUp => self.move_by(-self.page()),
            Intent::PageDown => self.move_by(self.page()),
            Intent::Top => self.select(self.view, 0),
            Intent::Bottom => self.select(self.view, usize::MAX),
            Intent::Details => {
                self.detail = !self.detail;
                self.scroll_into_view(self.view);
            }
            Intent::Back => {
                if self.detail {
                    self.detail = false;
                    self.scroll_into_view(self.view);
                } else if !self.table().filter.is_empty() {
                    self.tables[self.view.index()].filter.clear();
                    self.refresh(self.view);
                }
            }
            Intent::Filter => self.mode = Mode::Filter,
            Intent::Palette => self.mode = Mode::Palette { input: String::new(), choice: 0 },
            Intent::Pause | Intent::Resume | Intent::Cancel | Intent::Reprint => {
                if self.read_only {
                    self.say("read-only console: actions are disabled", true);
                    return None;
                }
                return self.job_action(intent);
            }
            Intent::Acknowledge => {
                if self.read_only {
                    self.say("read-only console: actions are disabled", true);
                    return None;
                }
                return self.acknowledge();
            }
            Intent::MoreVerbose | Intent::LessVerbose => {
                let i = Level::ALL.iter().position(|l| *l == self.row_options.log_level);
                let i = i.unwrap_or(2);
                let j = if intent == Intent::MoreVerbose {
                    (i + 1).min(Level::ALL.len() - 1)
                } else {
                    i.saturating_sub(1)
                };
                self.set_level(Level::ALL[j]);
            }
            Intent::Follow => {
                self.log_follow = !self.log_follow;
                if self.log_follow {
                    self.select(View::Log, usize::MAX);
                }
            }
            Intent::TogglePast => {
                self.row_options.past_alerts = !self.row_options.past_alerts;
                self.refresh(View::Alerts);
            }
            Intent::LayerUp => self.layer = self.layer.saturating_add(1).min(self.max_layer()),
            Intent::LayerDown => self.layer = self.layer.min(self.max_layer()).saturating_sub(1),
            Intent::Confirm | Intent::Deny | Intent::Accept | Intent::Complete => {}
        }
        None
    }

    fn set_level(&mut self, level: Level) {
        self.row_options.log_level = level;
        self.refresh(View::Log);
        self.say(format!("log: {} and more important", level.name()), false);
    }

    /// The highest layer index of the selected model's preview.
    pub fn max_layer(&self) -> usize {
        self.table_of(View::Models)
            .selected_item()
            .and_then(|i| self.snapshot.models.get(i))
            .and_then(|m| m.preview.as_ref())
            .map_or(0, |p| p.layers.len().saturating_sub(1))
    }

    fn key(&mut self, key: KeyEvent) -> Option<Command> {
        if key.kind == KeyEventKind::Release {
            return None;
        }
        match self.mode.clone() {
            Mode::Help { scroll } => {
                match keymap::lookup(Scope::HelpOverlay, &key, self.read_only) {
                    Some(Intent::Back) => self.mode = Mode::Normal,
                    Some(Intent::Down) => {
                        self.mode = Mode::Help { scroll: scroll.saturating_add(1) }
                    }
                    Some(Intent::Up) => self.mode = Mode::Help { scroll: scroll.saturating_sub(1) },
                    _ => {}
                }
                None
            }
            Mode::Confirm(action) => {
                match keymap::lookup(Scope::Dialog, &key, self.read_only) {
                    Some(Intent::Confirm) => {
                        self.mode = Mode::Normal;
                        self.say(format!("{} {} sent", action.verb(), action.subject()), false);
                        return Some(Command::Act(action));
                    }
                    Some(Intent::Deny) => self.mode = Mode::Normal,
                    _ => {}
                }
                None
            }
            Mode::Filter => {
                match keymap::lookup(Scope::Input, &key, self.read_only) {
                    Some(Intent::Accept) => self.mode = Mode::Normal,
                    Some(Intent::Back) => {
                        self.mode = Mode::Normal;
                        self.tables[self.view.index()].filter.clear();
                        self.refresh(self.view);
                    }
                    Some(_) => {}
                    None => {
                        let filter = &mut self.tables[self.view.index()].filter;
                        if edit(filter, &key) {
                            self.refresh(self.view);
                        }
                    }
                }
                None
            }
            Mode::Palette { mut input, mut choice } => {
                let candidates = palette::matches(&input, self.read_only);
                match keymap::lookup(Scope::Input, &key, self.read_only) {
                    Some(Intent::Accept) => {
                        self.mode = Mode::Normal;
                        // Run what was typed when it parses, else the highlighted suggestion.
                        let typed = palette::parse(&input, self.read_only);
                        let chosen = match (typed, candidates.get(choice)) {
                            (Ok(a), _) => Ok(a),
                            (Err(_), Some(c)) if !input.trim().is_empty() => {
                                palette::parse(&c.name, self.read_only)
                            }
                            (Err(e), _) => Err(e),
                        };
                        return match chosen {
                            Ok(action) => self.palette_action(action),
                            Err(e) => {
                                self.say(e.to_string(), true);
                                None
                            }
                        };
                    }
                    Some(Intent::Back) => {
                        self.mode = Mode::Normal;
                        return None;
                    }
                    Some(Intent::Complete) => {
                        if let Some(c) = candidates.get(choice) {
                            input = c.name.clone();
                            choice = 0;
                        }
                    }
                    Some(Intent::Up) => choice = choice.saturating_sub(1),
                    Some(Intent::Down) => {
                        choice = (choice + 1).min(candidates.len().saturating_sub(1));
                    }
                    Some(_) => {}
                    None => {
                        if key.code == KeyCode::Backspace && input.is_empty() {
                            self.mode = Mode::Normal;
                            return None;
                        }
                        if edit(&mut input, &key) {
                            choice = 0;
                        }
                    }
                }
                self.mode = Mode::Palette { input, choice };
                None
            }
            Mode::Normal => match keymap::lookup_normal(self.view, &key, self.read_only) {
                Some(intent) => self.intent(intent),
                None => {
                    if self.read_only && keymap::is_disabled_action(self.view, &key) {
                        self.say("read-only console: actions are disabled", true);
                    }
                    None
                }
            },
        }
    }

    fn palette_action(&mut self, action: PaletteAction) -> Option<Command> {
        match action {
            PaletteAction::Go(view) => {
                self.go(view);
                None
            }
            PaletteAction::Intent(intent) => self.intent(intent),
            PaletteAction::Level(level) => {
                self.go(View::Log);
                self.set_level(level);
                None
            }
            PaletteAction::Filter(text) => {
                self.tables[self.view.index()].filter = text;
                self.refresh(self.view);
                None
            }
        }
    }

    fn mouse(&mut self, mouse: MouseEvent) -> Option<Command> {
        match (&self.mode, mouse.kind) {
            (Mode::Help { scroll }, MouseEventKind::ScrollDown) => {
                self.mode = Mode::Help { scroll: scroll.saturating_add(WHEEL_ROWS as u16) };
            }
            (Mode::Help { scroll }, MouseEventKind::ScrollUp) => {
                self.mode = Mode::Help { scroll: scroll.saturating_sub(WHEEL_ROWS as u16) };
            }
            (Mode::Normal, MouseEventKind::ScrollDown) => self.move_by(WHEEL_ROWS as isize),
            (Mode::Normal, MouseEventKind::ScrollUp) => self.move_by(-(WHEEL_ROWS as isize)),
            (Mode::Normal, MouseEventKind::Down(MouseButton::Left)) => {
                let areas = self.areas();
                if mouse.row == areas.tabs.y {
                    let labels = layout::tab_labels(self.active_alerts());
                    if let Some(view) = layout::tab_at(areas.tabs, mouse.column, &labels) {
                        self.go(view);
                    }
                    return None;
                }
                let table = areas.table;
                let first = layout::first_row_y(table);
                let inside = mouse.column > table.x
                    && mouse.column < table.right().saturating_sub(1)
                    && mouse.row >= first
                    && usize::from(mouse.row - first) < layout::body_rows(table);
                if inside {
                    let t = self.table();
                    let position = t.offset + usize::from(mouse.row - first);
                    if position < t.rows.len() {
                        if position == t.selected {
                            return self.intent(Intent::Details);
                        }
                        self.select(self.view, position);
                    }
                }
            }
            _ => {}
        }
        None
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

/// Apply a typing key to `text`; whether it changed.
fn edit(text: &mut String, key: &KeyEvent) -> bool {
    match key.code {
        KeyCode::Backspace => text.pop().is_some(),
        KeyCode::Char('u') if key.modifiers.contains(KeyModifiers::CONTROL) => {
            let changed = !text.is_empty();
            text.clear();
            changed
        }
        KeyCode::Char(c)
            if !key.modifiers.intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
                && text.chars().count() < MAX_INPUT =>
        {
            text.push(c);
            true
        }
        _ => false,
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
        Event::Tick(now_ms) => {
            app.now_ms = now_ms;
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
