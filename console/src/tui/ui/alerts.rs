//! The Alerts view: active alerts first, by severity, then (with `x`) the cleared ones.

use amsp_proto::alert::{Alert, Severity};
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Wrap};

use super::format;
use super::table::{self, col};
use crate::tui::app::App;
use crate::tui::theme::Theme;
use crate::tui::view::View;

/// The style and label of a severity.
pub fn severity(theme: &Theme, s: Severity) -> (ratatui::style::Style, &'static str) {
    match s {
        Severity::Critical => (theme.error(), "CRIT"),
        Severity::Warning => (theme.warn(), "WARN"),
        Severity::Info => (theme.text(), "info"),
    }
}

fn state(a: &Alert) -> &'static str {
    match (a.is_active(), a.acknowledged_ms.is_some()) {
        (true, false) => "active",
        (true, true) => "acked",
        (false, _) => "cleared",
    }
}

/// Draw the Alerts view.
pub fn draw(frame: &mut Frame<'_>, area: Rect, detail: Option<Rect>, app: &App) {
    let theme = &app.theme;
    let alerts = &app.snapshot.alerts;
    let now = app.snapshot.node.now_ms;
    let columns = [
        col("Sev", Constraint::Length(4)),
        col("State", Constraint::Length(7)),
        col("Subject", Constraint::Length(12)),
        col("Raised", Constraint::Length(10)),
        col("Message", Constraint::Min(10)),
    ];
    table::draw(frame, area, app, View::Alerts, &columns, |i| {
        let a = &alerts[i];
        let (style, label) = severity(theme, a.severity);
        let row_style = if a.is_active() { theme.text() } else { theme.dim() };
        Row::new(vec![
            Cell::from(label).style(style),
            Cell::from(state(a)),
            Cell::from(a.subject.clone()),
            Cell::from(format::ago(a.raised_ms, now)),
            Cell::from(a.message.clone()),
        ])
        .style(row_style)
    });
    if let Some(rect) = detail {
        let block = Block::default()
            .borders(Borders::ALL)
            .border_style(theme.border())
            .title(Line::styled(" Alert ", theme.accent()));
        let Some(a) = app.table().selected_item().and_then(|i| alerts.get(i)) else {
            frame.render_widget(Paragraph::new("no alert selected").block(block), rect);
            return;
        };
        let (style, label) = severity(theme, a.severity);
        let field = |name: &str, value: String| {
            Line::from(vec![Span::styled(format!("{name:>13} "), theme.dim()), Span::raw(value)])
        };
        let when = |ms: Option<u64>| {
            ms.map(|t| format!("{} ({})", format::clock(t), format::ago(t, now)))
                .unwrap_or_else(|| "—".to_owned())
        };
        let lines = vec![
            Line::from(vec![
                Span::styled(format!("{label} "), style),
                Span::raw(format!("{:?} on {}", a.kind, a.subject)),
            ]),
            field("message", a.message.clone()),
            field("id", a.id.clone()),
            field("raised", when(Some(a.raised_ms))),
            field("cleared", when(a.cleared_ms)),
            field("acknowledged", when(a.acknowledged_ms)),
        ];
        frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(block), rect);
    }
}
