//! Where things are on the screen. One pure function of the terminal size and the app's mode,
//! used by drawing and by mouse hit-testing, so a click lands on what was drawn.

use ratatui::layout::{Constraint, Direction, Layout, Rect};

use super::view::View;

/// From this width on, details open beside the table instead of below it.
pub const WIDE_COLUMNS: u16 = 140;

/// Rows the table keeps when details open below it, so the selection stays in sight.
const MIN_TABLE_ROWS: u16 = 6;

/// The screen's regions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    /// Node identity, health and flashing alerts.
    pub header: Rect,
    /// The tab bar.
    pub tabs: Rect,
    /// The table of the current view, with its border.
    pub table: Rect,
    /// The details of the selected row, when open.
    pub detail: Option<Rect>,
    /// Keys that work here, or a status message.
    pub footer: Rect,
}

/// Split `area` for a view with details open or closed.
pub fn areas(area: Rect, detail_open: bool) -> Areas {
    let [header, tabs, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);
    if !detail_open {
        return Areas { header, tabs, table: body, detail: None, footer };
    }
    let (direction, constraints) = if area.width >= WIDE_COLUMNS {
        (Direction::Horizontal, [Constraint::Percentage(50), Constraint::Percentage(50)])
    } else {
        (Direction::Vertical, [Constraint::Min(MIN_TABLE_ROWS), Constraint::Percentage(60)])
    };
    let split = Layout::default().direction(direction).constraints(constraints).split(body);
    Areas { header, tabs, table: split[0], detail: Some(split[1]), footer }
}

/// Rows of data a table area can show: its height less the borders and the header row.
pub fn body_rows(table: Rect) -> usize {
    usize::from(table.height.saturating_sub(3))
}

/// The screen row of the first data row of a table area.
pub fn first_row_y(table: Rect) -> u16 {
    table.y.saturating_add(2)
}

/// The tab labels, in order, as drawn in a tab bar `width` columns wide: padded on both sides
/// where they fit so, else on the left only, so every view's name stays readable at 80 columns.
pub fn tab_labels(alert_count: usize, width: u16) -> Vec<String> {
    let labels = |pad: &str| -> Vec<String> {
        View::ALL
            .iter()
            .map(|v| match (v, alert_count) {
                (View::Alerts, n) if n > 0 => format!(" {} {} {n}{pad}", v.index() + 1, v.title()),
                _ => format!(" {} {}{pad}", v.index() + 1, v.title()),
            })
            .collect()
    };
    let wide = labels(" ");
    let used: usize =
        wide.iter().map(|l| l.chars().count()).sum::<usize>() + usize::from(TAB_GAP) * wide.len();
    if used <= usize::from(width) { wide } else { labels("") }
}

/// Columns between tab labels.
pub const TAB_GAP: u16 = 1;

/// The view whose tab label covers column `x` of the tab bar.
pub fn tab_at(tabs: Rect, x: u16, labels: &[String]) -> Option<View> {
    let mut left = tabs.x;
    for (i, label) in labels.iter().enumerate() {
        let width = u16::try_from(label.chars().count()).unwrap_or(u16::MAX);
        if x >= left && x < left.saturating_add(width) {
            return Some(View::at(i));
        }
        left = left.saturating_add(width).saturating_add(TAB_GAP);
    }
    None
}

/// The first row shown so that `selected` is visible in a window of `height` rows, starting
/// from the previous `offset` and moving it as little as possible.
pub fn scroll_offset(selected: usize, offset: usize, height: usize, total: usize) -> usize {
    if height == 0 || total == 0 {
        return 0;
    }
    let mut offset = offset.min(total.saturating_sub(height));
    if selected < offset {
        offset = selected;
    } else if selected >= offset + height {
        offset = selected + 1 - height;
    }
    offset
}
