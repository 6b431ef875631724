//! What surrounds every view: the header, the tab bar, the footer and the overlays (help,
//! command palette, confirmation).

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::format;
use crate::tui::app::{App, Mode};
use crate::tui::keymap::{self, Scope};
use crate::tui::layout;
use crate::tui::model::Health;

/// Half a flash cycle: the critical alert's text alternates its style at this period.
pub const FLASH_PHASE_MS: u64 = 500;

/// The header: node identity, health, and critical alerts (flashing when new).
pub fn header(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let theme = &app.theme;
    let node = &app.snapshot.node;
    let mut left = vec![Span::styled(" amsp ", theme.accent())];
    let name = if node.display_name.is_empty() { "—" } else { node.display_name.as_str() };
    left.push(Span::styled(name.to_owned(), theme.text()));
    if let Some(id) = &node.peer_id {
        left.push(Span::styled(format!(" …{}", format::tail(&id.to_base58(), 6)), theme.dim()));
    }
    if !node.roles.is_empty() {
        let roles: Vec<&str> = node.roles.iter().map(|r| r.name()).collect();
        left.push(Span::styled(format!(" [{}]", roles.join(",")), theme.dim()));
    }
    if node.uptime_s > 0 {
        left.push(Span::styled(format!(" up {}", format::duration(node.uptime_s)), theme.dim()));
    }
    if app.read_only {
        left.push(Span::styled(" read-only ", theme.warn()));
    }
    // Behind a NAT router peers reach the node through relays and hole punching; the Network
    // view shows each peer's path. A public node needs no word.
    if node.reachability.as_deref() == Some("private") {
        left.push(Span::styled(" behind NAT", theme.warn()));
    }
    let (symbol, text, style) = match &node.health {
        Health::Connecting => ("○", "connecting…".to_owned(), theme.dim()),
        Health::Ok => ("●", "ok".to_owned(), theme.ok()),
        Health::Degraded(why) => ("●", format!("degraded: {why}"), theme.warn()),
        Health::Down(why) => ("✖", format!("down: {why}"), theme.error()),
    };
    let mut right = vec![Span::styled(format!("{symbol} {text} "), style)];
    let critical = app.unacked_critical();
    if let Some(flash) = &app.flash {
        let on = (app.now_ms / FLASH_PHASE_MS).is_multiple_of(2);
        right.insert(0, Span::styled(format!(" ▲ {} ", flash.text), theme.flash(on)));
        right.insert(1, Span::raw(" "));
    } else if critical > 0 {
        right.insert(0, Span::styled(format!("▲ {critical} critical "), theme.error()));
    }
    let right_width: usize = right.iter().map(Span::width).sum();
    // The identity keeps at least the left two fifths; a long health or alert text is cut.
    let right_width =
        u16::try_from(right_width).unwrap_or(u16::MAX).min(area.width.saturating_mul(3) / 5);
    let [l, r] =
        Layout::horizontal([Constraint::Min(0), Constraint::Length(right_width)]).areas(area);
    frame.render_widget(Paragraph::new(Line::from(left)), l);
    frame.render_widget(Paragraph::new(Line::from(right)), r);
}

/// The tab bar.
pub fn tabs(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let theme = &app.theme;
    let labels = layout::tab_labels(app.active_alerts(), area.width);
    let mut spans = Vec::with_capacity(labels.len() * 2);
    for (i, label) in labels.into_iter().enumerate() {
        let style = if i == app.view.index() {
            theme.selected().patch(theme.accent())
        } else {
            theme.dim()
        };
        spans.push(Span::styled(label, style));
        spans.push(Span::raw(" ".repeat(usize::from(layout::TAB_GAP))));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The footer: the status message, the filter being typed, or the keys that work here.
pub fn footer(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let theme = &app.theme;
    if let Some(status) = &app.status {
        let style = if status.error { theme.error() } else { theme.ok() };
        frame.render_widget(Paragraph::new(Line::styled(format!(" {}", status.text), style)), area);
        return;
    }
    let scopes: Vec<Scope> = match &app.mode {
        Mode::Normal => vec![Scope::View(app.view), Scope::Global],
        Mode::Filter | Mode::Palette { .. } => vec![Scope::Input],
        Mode::Confirm(_) => vec![Scope::Dialog],
        Mode::Help { .. } => vec![Scope::HelpOverlay],
    };
    let mut spans = Vec::new();
    if app.mode == Mode::Filter {
        spans.push(Span::styled(" /", theme.key()));
        spans.push(Span::raw(format!("{}▏ ", app.table().filter)));
    }
    for (key, text) in keymap::footer(&scopes, app.read_only) {
        spans.push(Span::styled(format!(" {key}"), theme.key()));
        spans.push(Span::styled(format!(" {text}"), theme.dim()));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// A rectangle of `width` × `height` centred in `area`, clipped to it.
pub fn centred(area: Rect, width: u16, height: u16) -> Rect {
    let [v] = Layout::vertical([Constraint::Length(height.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [h] =
        Layout::horizontal([Constraint::Length(width.min(area.width))]).flex(Flex::Center).areas(v);
    h
}

fn popup<'a>(title: &'a str, app: &App) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(app.theme.accent())
        .title(Line::styled(format!(" {title} "), app.theme.accent()))
}

/// The `?` overlay, generated from the keymap.
pub fn help(frame: &mut Frame<'_>, area: Rect, app: &App, scroll: u16) {
    let theme = &app.theme;
    let mut lines = Vec::new();
    for (title, entries) in keymap::help_sections(app.read_only) {
        lines.push(Line::styled(title, theme.accent()));
        for e in entries {
            let style = if e.disabled { theme.dim() } else { theme.text() };
            let suffix = if e.disabled { " (read-only)" } else { "" };
            lines.push(Line::from(vec![
                Span::styled(format!("  {:<18}", e.keys), theme.key()),
                Span::styled(format!("{}{suffix}", e.help), style),
            ]));
        }
        lines.push(Line::raw(""));
    }
    let rect = centred(area, 76, area.height.saturating_sub(2));
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines).block(popup("Keys — Esc closes", app)).scroll((scroll, 0)),
        rect,
    );
}

/// The confirmation dialog for an action.
pub fn confirm(frame: &mut Frame<'_>, area: Rect, app: &App, action: &crate::tui::source::Action) {
    let theme = &app.theme;
    let text = vec![
        Line::raw(""),
        Line::from(vec![
            Span::raw(format!(" {} ", capitalise(action.verb()))),
            Span::styled(action.subject(), theme.accent()),
            Span::raw("?"),
        ]),
        Line::raw(""),
        Line::from(vec![
            Span::styled(" y", theme.key()),
            Span::raw(" yes   "),
            Span::styled("n", theme.key()),
            Span::raw(" no"),
        ]),
    ];
    // As wide as the question needs (within 50–80 columns), and tall enough for it to wrap
    // without hiding the keys below it.
    let question = action.verb().len() + action.subject().chars().count() + 3;
    let width = u16::try_from(question + 2).unwrap_or(u16::MAX).clamp(50, 80);
    let inner = usize::from(width - 2);
    let height = u16::try_from(question.div_ceil(inner) + 5).unwrap_or(u16::MAX);
    let rect = centred(area, width, height);
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(text).wrap(Wrap { trim: false }).block(popup("Confirm", app)),
        rect,
    );
}

/// The command palette: the input and the matching commands.
pub fn palette(frame: &mut Frame<'_>, area: Rect, app: &App, input: &str, choice: usize) {
    let theme = &app.theme;
    let candidates = app.palette_candidates();
    let shown = candidates.len().min(8);
    let mut lines =
        vec![Line::from(vec![Span::styled(":", theme.key()), Span::raw(format!("{input}▏"))])];
    for (i, c) in candidates.iter().take(shown).enumerate() {
        let style = if i == choice { theme.selected() } else { Style::new() };
        lines.push(
            Line::from(vec![
                Span::styled(format!(" {:<16}", c.name), theme.key()),
                Span::styled(c.help.clone(), theme.dim()),
            ])
            .style(style),
        );
    }
    if candidates.is_empty() {
        lines.push(Line::styled(" no such command", theme.warn()));
    }
    let height = u16::try_from(lines.len()).unwrap_or(10).saturating_add(2);
    let width = area.width.min(70);
    let rect = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + area.height.saturating_sub(height + 1),
        width,
        height: height.min(area.height),
    };
    frame.render_widget(Clear, rect);
    frame.render_widget(Paragraph::new(lines).block(popup("Command", app)), rect);
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}
