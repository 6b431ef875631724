//! The Log view: the node's tracing output, filtered by level and text, following the newest
//! line unless the operator scrolls up.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Wrap};

use super::format;
use super::table::{self, col};
use crate::tui::app::App;
use crate::tui::model::Level;
use crate::tui::theme::Theme;
use crate::tui::view::View;

/// The style of a log level.
pub fn level_style(theme: &Theme, level: Level) -> ratatui::style::Style {
    match level {
        Level::Error => theme.error(),
        Level::Warn => theme.warn(),
        Level::Info => theme.ok(),
        Level::Debug | Level::Trace => theme.dim(),
    }
}

/// Draw the Log view.
pub fn draw(frame: &mut Frame<'_>, area: Rect, detail: Option<Rect>, app: &App) {
    let theme = &app.theme;
    let log = &app.snapshot.log;
    let columns = [
        col("Time", Constraint::Length(8)),
        col("Level", Constraint::Length(5)),
        col("Target", Constraint::Length(14)),
        col("Message", Constraint::Min(10)),
    ];
    table::draw(frame, area, app, View::Log, &columns, |i| {
        let l = &log[i];
        Row::new(vec![
            Cell::from(format::clock(l.ts_ms)).style(theme.dim()),
            Cell::from(l.level.name()).style(level_style(theme, l.level)),
            Cell::from(l.target.clone()).style(theme.dim()),
            Cell::from(l.message.clone()),
        ])
    });
    if let Some(rect) = detail {
        let title = format!(
            " Line — showing {} and above{} ",
            app.row_options.log_level.name(),
            if app.log_follow { ", following" } else { "" }
        );
        let block = Block::default()
            .borders(Borders::ALL)
            .border_style(theme.border())
            .title(Line::styled(title, theme.accent()));
        let text = match app.table().selected_item().and_then(|i| log.get(i)) {
            Some(l) => {
                format!("{} {} {}\n{}", format::clock(l.ts_ms), l.level.name(), l.target, l.message)
            }
            None => "no line selected".to_owned(),
        };
        frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: false }).block(block), rect);
    }
}
