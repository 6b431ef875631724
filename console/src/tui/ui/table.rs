//! The one table every view uses: it builds rows only for the visible window, so a list of
//! 10,000 jobs costs the same to draw as a list of 20.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Line;
use ratatui::widgets::{
    Block, Borders, Paragraph, Row, Scrollbar, ScrollbarOrientation, ScrollbarState, Table,
    TableState as WidgetState,
};

use crate::tui::app::App;
use crate::tui::layout;
use crate::tui::view::View;

/// A column: its title and width.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// Shown in the header row.
    pub title: &'static str,
    /// Its width.
    pub width: Constraint,
}

/// Shorthand for a column.
pub const fn col(title: &'static str, width: Constraint) -> Column {
    Column { title, width }
}

/// Characters a flexible (`Min`) column keeps beyond its least before names are widened.
const FLEX_ROOM: u16 = 8;

/// Widens each `(column, characters wanted)` in turn, a `Length` column towards the width its
/// longest value needs (names, at most 32), with what `area` leaves beyond every column's own
/// width: a wide terminal shows names whole, a narrow one keeps the layout it had.
pub fn widen(columns: &mut [Column], area: Rect, wants: &[(usize, usize)]) {
    let mut spare = area.width.saturating_sub(needed(columns));
    for &(i, want) in wants {
        let Some(Column { width: Constraint::Length(n), .. }) = columns.get(i).copied() else {
            continue;
        };
        let want = u16::try_from(want.min(32)).unwrap_or(32);
        let extra = want.saturating_sub(n).min(spare);
        spare -= extra;
        if let Some(c) = columns.get_mut(i) {
            c.width = Constraint::Length(n + extra);
        }
    }
}

/// The width `columns` take at their own widths, with the gaps between them, the two borders
/// and the highlight's room on the left.
fn needed(columns: &[Column]) -> u16 {
    let own: u16 = columns
        .iter()
        .map(|c| match c.width {
            Constraint::Length(n) => n,
            // A flexible column keeps some room beyond its least, for its own text.
            Constraint::Min(n) => n.saturating_add(FLEX_ROOM),
            _ => 0,
        })
        .sum();
    let gaps = u16::try_from(columns.len().saturating_sub(1)).unwrap_or(u16::MAX);
    own.saturating_add(gaps).saturating_add(4)
}

/// Whether `columns` fit `area` at their own widths, without squeezing any.
pub fn fits(columns: &[Column], area: Rect) -> bool {
    needed(columns) <= area.width
}

/// Draw `view`'s table in `area`; `make_row` builds the row for one snapshot index and is called
/// only for the rows that fit.
pub fn draw<'a>(
    frame: &mut Frame<'_>,
    area: Rect,
    app: &App,
    view: View,
    columns: &[Column],
    make_row: impl Fn(usize) -> Row<'a>,
) {
    let theme = &app.theme;
    let t = app.table_of(view);
    let total = crate::tui::rows::len(&app.snapshot, view);
    let mut title = format!(" {} ", view.title());
    if t.rows.len() == total {
        title.push_str(&format!("({total}) "));
    } else {
        title.push_str(&format!("({}/{total}) ", t.rows.len()));
    }
    match view {
        View::Log => {
            title.push_str(&format!("≥{} ", app.row_options.log_level.name()));
            if app.log_follow {
                title.push_str("following ");
            }
        }
        View::Alerts if app.row_options.past_alerts => title.push_str("with cleared "),
        View::Models => title.push_str("★ in the catalogue "),
        View::Network => {
            let t = app.snapshot.traffic;
            let up = app.snapshot.peers.iter().filter(|p| p.connected).count();
            title.push_str(&format!(
                "{up} connected ↓{} ↑{} ",
                super::format::bytes(t.bytes_in),
                super::format::bytes(t.bytes_out)
            ));
        }
        _ => {}
    }
    if !t.filter.is_empty() {
        title.push_str(&format!("/{} ", t.filter));
    }
    let sorted = t.sort.and_then(|s| Some((s.column(view)?, s.arrow())));
    if let Some((column, arrow)) = sorted {
        title.push_str(&format!("by {column}{arrow} "));
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border())
        .title(Line::styled(title, theme.accent()));
    let height = layout::body_rows(area);
    if t.rows.is_empty() {
        let text = if view == View::Design && total == 0 {
            "no design requests yet: `amsp design request` posts one".to_owned()
        } else if total == 0 {
            format!("no {} yet", view.title().to_lowercase())
        } else {
            "nothing matches; Esc clears the filter".to_owned()
        };
        frame.render_widget(Paragraph::new(Line::styled(text, theme.dim())).block(block), area);
        return;
    }
    let offset = layout::scroll_offset(t.selected, t.offset, height, t.rows.len());
    let end = (offset + height).min(t.rows.len());
    // Rows are recomputed whenever their list changes; the bound check keeps a stale index
    // (a snapshot changed without a refresh) from ever reaching `make_row`.
    let rows: Vec<Row<'a>> =
        t.rows[offset..end].iter().filter(|&&i| i < total).map(|&i| make_row(i)).collect();
    let header = Row::new(columns.iter().map(|c| match sorted {
        Some((column, arrow)) if column == c.title => format!("{}{arrow}", c.title),
        _ => c.title.to_owned(),
    }))
    .style(theme.header());
    let table = Table::new(rows, columns.iter().map(|c| c.width))
        .header(header)
        .block(block)
        .column_spacing(1)
        .row_highlight_style(theme.selected());
    let mut state = WidgetState::default().with_selected(Some(t.selected - offset));
    frame.render_stateful_widget(table, area, &mut state);
    if t.rows.len() > height {
        let mut bar = ScrollbarState::new(t.rows.len().saturating_sub(height)).position(offset);
        frame.render_stateful_widget(
            Scrollbar::new(ScrollbarOrientation::VerticalRight).begin_symbol(None).end_symbol(None),
            Rect { y: layout::first_row_y(area), height: area.height.saturating_sub(3), ..area },
            &mut bar,
        );
    }
}
