//! The Orders view: every order this node takes part in, its stage and quotes, and in details
//! the event history — who did what, when.

use amsp_proto::order::Stage;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Wrap};

use super::format;
use super::table::{self, col};
use crate::tui::app::App;
use crate::tui::model::Order;
use crate::tui::theme::Theme;
use crate::tui::view::View;

/// The style of an order stage.
pub fn stage_style(theme: &Theme, stage: Stage) -> ratatui::style::Style {
    match stage {
        Stage::Failed => theme.error(),
        Stage::Cancelled => theme.dim(),
        Stage::Printing | Stage::Sliced | Stage::Grouped => theme.ok(),
        Stage::QuoteRequested | Stage::Quoted | Stage::Placed => theme.warn(),
        _ => theme.text(),
    }
}

fn best_quote(o: &Order) -> String {
    let chosen = o.quotes.iter().find(|q| q.chosen);
    let cheapest =
        o.quotes.iter().min_by(|a, b| a.quote.price.total().total_cmp(&b.quote.price.total()));
    match chosen.or(cheapest) {
        Some(q) => format!(
            "{}{}",
            format::money(q.quote.price.total(), &q.quote.price.currency),
            if o.quotes.len() > 1 { format!(" ({})", o.quotes.len()) } else { String::new() }
        ),
        None => "—".to_owned(),
    }
}

/// Draw the Orders view.
pub fn draw(frame: &mut Frame<'_>, area: Rect, detail: Option<Rect>, app: &App) {
    let theme = &app.theme;
    let snapshot = &app.snapshot;
    let now = snapshot.node.now_ms;
    let mut columns = [
        col("Order", Constraint::Length(8)),
        col("Stage", Constraint::Length(14)),
        col("Customer", Constraint::Length(10)),
        col("Centre", Constraint::Length(10)),
        col("Quote", Constraint::Length(14)),
        col("Last event", Constraint::Min(10)),
    ];
    let longest = |name: &dyn Fn(&Order) -> usize| snapshot.orders.iter().map(name).max();
    let customer = longest(&|o| o.customer.chars().count()).unwrap_or(0);
    let centre = longest(&|o| o.centre.as_ref().map_or(0, |c| c.chars().count())).unwrap_or(0);
    table::widen(&mut columns, area, &[(2, customer), (3, centre)]);
    table::draw(frame, area, app, View::Orders, &columns, |i| {
        let o = &snapshot.orders[i];
        let last = o
            .history
            .last()
            .map(|h| format!("{} {}", h.action, format::ago(h.timestamp_ms, now)))
            .unwrap_or_default();
        Row::new(vec![
            Cell::from(format::tail(&o.id.to_string(), 8)).style(theme.dim()),
            Cell::from(o.stage.name()).style(stage_style(theme, o.stage)),
            Cell::from(o.customer.clone()),
            Cell::from(o.centre.clone().unwrap_or_else(|| "—".to_owned())),
            Cell::from(best_quote(o)),
            Cell::from(last),
        ])
    });
    if let Some(rect) = detail {
        let order = app.table().selected_item().and_then(|i| snapshot.orders.get(i));
        draw_detail(frame, rect, app, order);
    }
}

fn draw_detail(frame: &mut Frame<'_>, area: Rect, app: &App, order: Option<&Order>) {
    let theme = &app.theme;
    let snapshot = &app.snapshot;
    let Some(o) = order else {
        frame.render_widget(
            Paragraph::new("no order selected")
                .block(Block::default().borders(Borders::ALL).border_style(theme.border())),
            area,
        );
        return;
    };
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(area);
    let mut lines = vec![
        Line::from(vec![Span::styled("order ", theme.dim()), Span::raw(o.id.to_string())]),
        Line::from(vec![
            Span::styled("stage ", theme.dim()),
            Span::styled(o.stage.name(), stage_style(theme, o.stage)),
        ]),
        Line::styled("parts", theme.dim()),
    ];
    if let Some(note) = &o.note {
        let style = if o.stage == Stage::Failed { theme.error() } else { theme.warn() };
        lines.push(Line::styled(note.clone(), style));
    }
    lines.extend(o.parts.iter().map(|p| Line::raw(format!("  {p}"))));
    lines.push(Line::styled("quotes", theme.dim()));
    if o.quotes.is_empty() {
        lines.push(Line::raw("  none yet"));
    }
    for q in &o.quotes {
        let style = if q.chosen { theme.ok() } else { theme.text() };
        lines.push(Line::styled(
            format!(
                "{} {:<10} {} · {} print · {} lead",
                if q.chosen { "✔" } else { " " },
                q.centre,
                format::money(q.quote.price.total(), &q.quote.price.currency),
                format::duration(q.quote.print_time_s),
                format::duration(q.quote.lead_time_s),
            ),
            style,
        ));
    }
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(theme.border())
                .title(Line::styled(" Order ", theme.accent())),
        ),
        left,
    );
    // History: newest at the bottom, scrolled so the newest events are visible.
    let rows = usize::from(right.height.saturating_sub(2));
    let skip = o.history.len().saturating_sub(rows);
    let history: Vec<Line<'_>> = o
        .history
        .iter()
        .skip(skip)
        .map(|h| {
            let mut spans = vec![
                Span::styled(format!("{} ", format::clock(h.timestamp_ms)), theme.dim()),
                Span::styled(
                    format!("{:<12} ", format::peer_name(snapshot, &h.author)),
                    theme.accent(),
                ),
                Span::raw(h.action.clone()),
            ];
            if let Some(why) = &h.superseded {
                spans.push(Span::styled(format!(" (superseded: {why})"), theme.warn()));
            }
            Line::from(spans)
        })
        .collect();
    frame.render_widget(
        Paragraph::new(history).block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(theme.border())
                .title(Line::styled(format!(" History ({}) ", o.history.len()), theme.accent())),
        ),
        right,
    );
}
