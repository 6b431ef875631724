//! The Design view (use case 3): the design requests this node posted or sees, who asked, the
//! budget and when it is due, and — in the detail — what is asked for and every designer's
//! offer by name, price and delivery time, cheapest first, the accepted (or, on the operator's
//! own open request, the picked) one marked.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Wrap};

use super::format;
use super::table::{self, col};
use crate::tui::app::App;
use crate::tui::model::DesignRequest;
use crate::tui::view::View;

/// When a design is due, relative to the node's clock: "in 4d02h", "3h10m late", "—".
pub fn due(deadline_ms: Option<u64>, now_ms: u64) -> String {
    match deadline_ms {
        None => "—".to_owned(),
        Some(_) if now_ms == 0 => "—".to_owned(),
        Some(d) if d >= now_ms => format!("in {}", format::duration((d - now_ms) / 1000)),
        Some(d) => format!("{} late", format::duration((now_ms - d) / 1000)),
    }
}

/// Draw the Design view.
pub fn draw(frame: &mut Frame<'_>, area: Rect, detail: Option<Rect>, app: &App) {
    let theme = &app.theme;
    let designs = &app.snapshot.designs;
    let now = app.snapshot.node.now_ms;
    let all = [
        col("Title", Constraint::Min(16)),
        col("From", Constraint::Length(12)),
        col("Budget", Constraint::Length(10)),
        col("Due", Constraint::Length(10)),
        col("Offers", Constraint::Length(6)),
        col("State", Constraint::Min(18)),
    ];
    // Too narrow for every column beside the detail (which says who asked, the budget and when
    // it is due), the table keeps what tells the requests apart rather than cutting them all.
    let narrow = detail.is_some() && !table::fits(&all, area);
    let keep = |i: usize| !narrow || matches!(i, 0 | 4 | 5);
    let columns: Vec<_> =
        all.iter().enumerate().filter(|(i, _)| keep(*i)).map(|(_, c)| *c).collect();
    table::draw(frame, area, app, View::Design, &columns, |i| {
        let d = &designs[i];
        let from = if d.mine { "you".to_owned() } else { d.requester.clone() };
        let state_style = match (&d.designer, d.delivery_accepted) {
            (_, true) => theme.ok(),
            (Some(_), false) => theme.accent(),
            (None, false) => theme.text(),
        };
        let cells = [
            Cell::from(d.title.clone()),
            Cell::from(from),
            Cell::from(format::money(d.budget, &d.currency)),
            Cell::from(due(d.deadline_ms, now)),
            Cell::from(d.offers.len().to_string()),
            Cell::from(d.state()).style(state_style),
        ];
        Row::new(cells.into_iter().enumerate().filter(|(i, _)| keep(*i)).map(|(_, c)| c))
    });
    if let Some(rect) = detail {
        let request = app.table().selected_item().and_then(|i| designs.get(i));
        draw_detail(frame, rect, app, request);
    }
}

fn draw_detail(frame: &mut Frame<'_>, area: Rect, app: &App, request: Option<&DesignRequest>) {
    let theme = &app.theme;
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border())
        .title(Line::styled(" Design request ", theme.accent()));
    let Some(d) = request else {
        let text = if app.snapshot.designs.is_empty() {
            "no design requests yet"
        } else {
            "no design request selected"
        };
        frame.render_widget(Paragraph::new(text).block(block), area);
        return;
    };
    let field = |name: &str, value: String| {
        Line::from(vec![Span::styled(format!("{name:>8} "), theme.dim()), Span::raw(value)])
    };
    let mut lines = vec![
        Line::styled(d.title.clone(), theme.accent()),
        field("id", d.id.clone()),
        field("from", d.requester.clone()),
        field("budget", format::money(d.budget, &d.currency)),
        field("due", due(d.deadline_ms, app.snapshot.node.now_ms)),
    ];
    if !d.skills.is_empty() {
        lines.push(field("skills", d.skills.join(", ")));
    }
    lines.push(field("state", d.state()));
    lines.push(Line::raw(""));
    lines.push(Line::raw(d.description.clone()));
    lines.push(Line::raw(""));
    if d.offers.is_empty() {
        lines.push(Line::styled("no offers yet", theme.dim()));
    }
    // Cheapest first; while the request is the operator's to decide, the picked one is marked.
    let picked = app.picked_offer().filter(|(p, _)| p.id == d.id && p.mine && p.designer.is_none());
    for (i, o) in d.offers_by_price().into_iter().enumerate() {
        let (mark, style) = match (o.accepted, picked) {
            (true, _) => ("✔ ", theme.ok()),
            (false, Some((_, at))) if at == i => ("▶ ", theme.accent()),
            _ => ("• ", theme.text()),
        };
        lines.push(Line::from(vec![
            Span::styled(mark, style),
            Span::styled(o.designer.clone(), style),
            Span::raw(format!(
                " — {} in {}",
                format::money(o.price, &o.currency),
                format::duration(o.delivery_s)
            )),
        ]));
        if !o.message.is_empty() {
            lines.push(Line::styled(format!("  {}", o.message), theme.dim()));
        }
    }
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(block), area);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_reads_ahead_and_late_against_the_nodes_clock() {
        let hour = 3_600_000;
        assert_eq!(due(Some(10 * hour + 26 * hour), 10 * hour), "in 1d02h");
        assert_eq!(due(Some(10 * hour), 13 * hour + 600_000), "3h10m late");
        assert_eq!(due(None, 10 * hour), "—");
        assert_eq!(due(Some(10 * hour), 0), "—", "no clock yet");
    }
}
