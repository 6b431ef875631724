//! The Jobs view: the queue and running jobs with progress, ETA, printer, order and part.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Gauge, Paragraph, Row, Wrap};

use super::format;
use super::table::{self, Column, col};
use crate::tui::app::App;
use crate::tui::model::{Job, JobState};
use crate::tui::theme::Theme;
use crate::tui::view::View;

/// Width of the text progress bar in the table.
const BAR: usize = 10;

/// Below this width the order column is left out so the part name keeps some room.
const ORDER_COLUMN_FROM: u16 = 100;

/// From this width the queue wait and the material columns are shown too.
const WIDE_FROM: u16 = 118;

/// The style of a job state.
pub fn state_style(theme: &Theme, state: JobState) -> ratatui::style::Style {
    match state {
        JobState::Printing => theme.ok(),
        JobState::Paused => theme.warn(),
        JobState::Failed => theme.error(),
        JobState::Queued | JobState::Done | JobState::Cancelled => theme.dim(),
    }
}

/// Draw the Jobs view.
pub fn draw(frame: &mut Frame<'_>, area: Rect, detail: Option<Rect>, app: &App) {
    let theme = &app.theme;
    let jobs = &app.snapshot.jobs;
    let with_order = area.width >= ORDER_COLUMN_FROM;
    let wide = area.width >= WIDE_FROM;
    let now = app.snapshot.node.now_ms;
    let mut columns: Vec<Column> = vec![
        col("Job", Constraint::Length(8)),
        col("State", Constraint::Length(9)),
        col("Progress", Constraint::Length(15)),
        col("ETA", Constraint::Length(7)),
        col("Layer", Constraint::Length(7)),
        col("Printer", Constraint::Length(10)),
    ];
    if wide {
        columns.push(col("Wait", Constraint::Length(6)));
        columns.push(col("Grams", Constraint::Length(6)));
    }
    if with_order {
        columns.push(col("Order", Constraint::Length(8)));
    }
    columns.push(col("Part", Constraint::Min(8)));
    let printer = jobs.iter().filter_map(|j| j.printer_name.as_ref()).map(|n| n.chars().count());
    table::widen(&mut columns, area, &[(5, printer.max().unwrap_or(0))]);
    table::draw(frame, area, app, View::Jobs, &columns, |i| {
        let j = &jobs[i];
        let mut cells = vec![
            Cell::from(format::tail(&j.id.to_string(), 8)).style(theme.dim()),
            Cell::from(j.state.name()).style(state_style(theme, j.state)),
            Cell::from(progress_text(j)),
            Cell::from(j.eta_s.map(format::duration).unwrap_or_default()),
            Cell::from(layer_text(j)),
            Cell::from(j.printer_name.clone().unwrap_or_else(|| "—".to_owned())),
        ];
        if wide {
            let wait = j.wait_ms(now).map(|ms| format::duration(ms / 1000)).unwrap_or_default();
            cells.push(Cell::from(wait));
            cells.push(Cell::from(j.material_g.map(grams).unwrap_or_default()));
        }
        if with_order {
            let order = j.order.map(|o| format::tail(&o.to_string(), 8)).unwrap_or_default();
            cells.push(Cell::from(order).style(theme.dim()));
        }
        cells.push(Cell::from(j.part.clone()));
        Row::new(cells)
    });
    if let Some(rect) = detail {
        let job = app.table().selected_item().and_then(|i| jobs.get(i));
        draw_detail(frame, rect, app, job);
    }
}

/// "12/80" while printing, "80" (the total) otherwise; empty when the G-code marks no layers.
fn layer_text(j: &Job) -> String {
    match (j.layer, j.layers) {
        (Some(l), Some(n)) => format!("{l}/{n}"),
        (Some(l), None) => l.to_string(),
        (None, Some(n)) => n.to_string(),
        (None, None) => String::new(),
    }
}

/// "12.5g"; whole grams from 100 g.
fn grams(g: f32) -> String {
    if g >= 100.0 { format!("{g:.0}g") } else { format!("{g:.1}g") }
}

fn progress_text(j: &Job) -> String {
    match j.state {
        JobState::Queued => String::new(),
        _ => format::bar(j.progress, BAR),
    }
}

fn draw_detail(frame: &mut Frame<'_>, area: Rect, app: &App, job: Option<&Job>) {
    let theme = &app.theme;
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border())
        .title(Line::styled(" Job ", theme.accent()));
    let Some(j) = job else {
        frame.render_widget(Paragraph::new("no job selected").block(block), area);
        return;
    };
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [gauge, text] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(inner);
    let ratio = if j.progress.is_finite() { f64::from(j.progress.clamp(0.0, 1.0)) } else { 0.0 };
    frame.render_widget(
        Gauge::default().gauge_style(state_style(theme, j.state)).ratio(ratio).label(format!(
            "{} {:.0}%",
            j.state.name(),
            ratio * 100.0
        )),
        gauge,
    );
    let order_stage = j
        .order
        .and_then(|o| app.snapshot.orders.iter().find(|x| x.id == o))
        .map(|o| format!(" ({})", o.stage))
        .unwrap_or_default();
    let field = |name: &str, value: String| {
        Line::from(vec![Span::styled(format!("{name:>9} "), theme.dim()), Span::raw(value)])
    };
    let mut lines = vec![
        field("job", j.id.to_string()),
        field("part", j.part.clone()),
        field("printer", j.printer_name.clone().unwrap_or_else(|| "not assigned".to_owned())),
        field(
            "order",
            j.order.map(|o| format!("{o}{order_stage}")).unwrap_or_else(|| "—".to_owned()),
        ),
        field("eta", j.eta_s.map(format::duration).unwrap_or_else(|| "—".to_owned())),
        field(
            "layer",
            match (j.layer, j.layers) {
                (Some(l), Some(n)) => format!("{l} of {n}"),
                (None, Some(n)) => format!("{n} layers"),
                (Some(l), None) => l.to_string(),
                (None, None) => "—".to_owned(),
            },
        ),
        field("material", j.material_g.map(grams).unwrap_or_else(|| "—".to_owned())),
    ];
    let now = app.snapshot.node.now_ms;
    if let Some(wait) = j.wait_ms(now) {
        let verb = if j.started_ms.is_some() { "waited" } else { "waiting" };
        lines.push(field(
            verb,
            format!("{} (queued {})", format::duration(wait / 1000), format::clock(j.created_ms)),
        ));
    }
    if let Some(e) = &j.error {
        lines.push(Line::from(vec![
            Span::styled(format!("{:>9} ", "error"), theme.dim()),
            Span::styled(e.clone(), theme.error()),
        ]));
    }
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), text);
}
