//! Drawing: a pure function of the app state. Nothing here changes state or waits on anything,
//! so a frame is cheap and the same state always draws the same screen.

mod alerts;
mod chrome;
mod design;
pub mod format;
mod jobs;
mod log;
mod models;
mod network;
mod orders;
mod overview;
mod printers;
mod table;

use ratatui::Frame;
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

use super::app::{App, Mode};
use super::layout;
use super::view::View;

/// The smallest terminal the console lays out in; below it a one-line notice is drawn instead
/// of clipped, overlapping widgets.
pub const MIN_SIZE: (u16, u16) = (40, 10);

/// Draw the whole console for `app` into `frame`.
pub fn draw(frame: &mut Frame<'_>, app: &App) {
    let area = frame.area();
    if area.width < MIN_SIZE.0 || area.height < MIN_SIZE.1 {
        let text = format!(
            "terminal {}×{} is too small; amsp needs {}×{}",
            area.width, area.height, MIN_SIZE.0, MIN_SIZE.1
        );
        frame.render_widget(Paragraph::new(Line::styled(text, app.theme.warn())), area);
        return;
    }
    let areas = layout::areas(area, app.detail);
    chrome::header(frame, areas.header, app);
    chrome::tabs(frame, areas.tabs, app);
    let draw_view = match app.view {
        View::Jobs => jobs::draw,
        View::Printers => printers::draw,
        View::Orders => orders::draw,
        View::Network => network::draw,
        View::Models => models::draw,
        View::Alerts => alerts::draw,
        View::Log => log::draw,
        View::Design => design::draw,
    };
    if app.overview {
        let whole = areas.detail.map_or(areas.table, |d| areas.table.union(d));
        overview::draw(frame, whole, app);
    } else {
        draw_view(frame, areas.table, areas.detail, app);
    }
    chrome::footer(frame, areas.footer, app);
    match &app.mode {
        Mode::Help { scroll } => chrome::help(frame, area, app, *scroll),
        Mode::Confirm(action) => chrome::confirm(frame, area, app, action),
        Mode::Palette { input, choice } => chrome::palette(frame, area, app, input, *choice),
        Mode::Normal | Mode::Filter => {}
    }
}
