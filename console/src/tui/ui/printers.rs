//! The Printers view: state, current job, temperatures with their recent history, material and
//! errors; details chart the temperature history against the targets.

use amsp_proto::printer_state::PrinterState;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Borders, Cell, Chart, Dataset, GraphType, Paragraph, Row};

use super::format;
use super::table::{self, col};
use crate::tui::app::App;
use crate::tui::model::{Heater, Printer};
use crate::tui::theme::Theme;
use crate::tui::view::View;

/// Samples in the inline sparkline.
const SPARK: usize = 12;

/// The style of a printer state.
pub fn state_style(theme: &Theme, state: PrinterState) -> ratatui::style::Style {
    match state {
        PrinterState::Printing | PrinterState::Heating => theme.ok(),
        PrinterState::Idle | PrinterState::Finished => theme.text(),
        PrinterState::Paused => theme.warn(),
        PrinterState::Offline | PrinterState::Error | PrinterState::Interrupted => theme.error(),
    }
}

fn temp(h: &Heater) -> String {
    if h.now.target > 0.0 {
        format!("{:.0}/{:.0}°", h.now.current, h.now.target)
    } else {
        format!("{:.0}°", h.now.current)
    }
}

/// Draw the Printers view.
pub fn draw(frame: &mut Frame<'_>, area: Rect, detail: Option<Rect>, app: &App) {
    let theme = &app.theme;
    let printers = &app.snapshot.printers;
    let mut columns = [
        col("Name", Constraint::Length(10)),
        col("State", Constraint::Length(11)),
        col("Job", Constraint::Length(8)),
        col("Hot end", Constraint::Length(8)),
        col("History", Constraint::Length(SPARK as u16)),
        col("Bed", Constraint::Length(6)),
        col("Material", Constraint::Length(8)),
        col("Errors", Constraint::Min(6)),
    ];
    let longest = printers.iter().map(|p| p.name.chars().count()).max().unwrap_or(0);
    table::widen(&mut columns, area, &[(0, longest)]);
    table::draw(frame, area, app, View::Printers, &columns, |i| {
        let p = &printers[i];
        let job = match p.job {
            Some(_) if p.state.busy() => format!("{:.0}%", p.progress * 100.0),
            Some(j) => format::tail(&j.to_string(), 6),
            None => "—".to_owned(),
        };
        let errors = p.errors.last().cloned().unwrap_or_default();
        let state = if p.awaiting_clear {
            Cell::from("clear bed").style(theme.warn())
        } else {
            Cell::from(p.state.name()).style(state_style(theme, p.state))
        };
        Row::new(vec![
            Cell::from(p.name.clone()),
            state,
            Cell::from(job),
            Cell::from(temp(&p.hotend)),
            Cell::from(format::sparkline(&p.hotend.history, SPARK)).style(theme.series(0)),
            Cell::from(temp(&p.bed)),
            Cell::from(p.material.as_ref().map(|m| m.to_string()).unwrap_or_else(|| "—".into())),
            Cell::from(errors).style(theme.error()),
        ])
    });
    if let Some(rect) = detail {
        let printer = app.table().selected_item().and_then(|i| printers.get(i));
        draw_detail(frame, rect, app, printer);
    }
}

fn points(history: &[f32]) -> Vec<(f64, f64)> {
    let n = history.len();
    history
        .iter()
        .enumerate()
        .filter(|(_, v)| v.is_finite())
        .map(|(i, v)| (i as f64 - n as f64, f64::from(*v)))
        .collect()
}

/// How far a job is: `62 %`, and in time `45m36s (1h14m in)` — the time in is worked out from
/// the time left and the share done, as hosts estimate it, and shown only while both are known.
fn timing(job: &crate::tui::model::Job) -> (String, Option<String>) {
    let done = job.progress.clamp(0.0, 1.0);
    let share = format!("{:.0} %", done * 100.0);
    let left = job.eta_s.map(|left| {
        let mut text = format::duration(left);
        if done > 0.0 && done < 1.0 {
            let elapsed = (left as f64 * f64::from(done) / f64::from(1.0 - done)).round() as u64;
            text.push_str(&format!(" ({} in)", format::duration(elapsed)));
        }
        text
    });
    (share, left)
}

fn draw_detail(frame: &mut Frame<'_>, area: Rect, app: &App, printer: Option<&Printer>) {
    let theme = &app.theme;
    let Some(p) = printer else {
        frame.render_widget(
            Paragraph::new("no printer selected")
                .block(Block::default().borders(Borders::ALL).border_style(theme.border())),
            area,
        );
        return;
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border())
        .title(Line::styled(format!(" {} — {} ", p.name, p.driver), theme.accent()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [info, chart] =
        Layout::horizontal([Constraint::Length(30), Constraint::Min(10)]).areas(inner);
    let job = p.job.and_then(|id| app.snapshot.jobs.iter().find(|j| j.id == id));
    let mut lines = vec![
        Line::from(vec![
            Span::styled("state    ", theme.dim()),
            Span::styled(p.state.name(), state_style(theme, p.state)),
        ]),
        Line::from(vec![
            Span::styled("job      ", theme.dim()),
            Span::raw(match job {
                Some(j) => j.part.clone(),
                None => p.job.map(|j| format::tail(&j.to_string(), 12)).unwrap_or("—".into()),
            }),
        ]),
        Line::from(vec![Span::styled("hot end  ", theme.dim()), Span::raw(temp(&p.hotend))]),
        Line::from(vec![Span::styled("bed      ", theme.dim()), Span::raw(temp(&p.bed))]),
        Line::from(vec![
            Span::styled("material ", theme.dim()),
            Span::raw(p.material.as_ref().map(|m| m.to_string()).unwrap_or("—".into())),
        ]),
    ];
    if let Some(j) = job {
        let (share, left) = timing(j);
        lines.insert(2, Line::from(vec![Span::styled("progress ", theme.dim()), Span::raw(share)]));
        if let Some(left) = left {
            lines.insert(
                3,
                Line::from(vec![Span::styled("left     ", theme.dim()), Span::raw(left)]),
            );
        }
    }
    if p.awaiting_clear {
        lines.insert(
            1,
            Line::from(vec![
                Span::styled("bed      ", theme.dim()),
                Span::styled("print done: clear the bed, then press b", theme.warn()),
            ]),
        );
    }
    let room = usize::from(info.height).saturating_sub(lines.len());
    for e in p.errors.iter().rev().take(room) {
        lines.push(Line::styled(format!("! {e}"), theme.error()));
    }
    frame.render_widget(Paragraph::new(lines), info);

    let hot = points(&p.hotend.history);
    let bed = points(&p.bed.history);
    let span = p.hotend.history.len().max(p.bed.history.len()).max(2) as f64;
    let hot_target =
        [(-span, f64::from(p.hotend.now.target)), (0.0, f64::from(p.hotend.now.target))];
    let bed_target = [(-span, f64::from(p.bed.now.target)), (0.0, f64::from(p.bed.now.target))];
    let top = p
        .hotend
        .history
        .iter()
        .chain(&p.bed.history)
        .copied()
        .chain([p.hotend.now.target, p.bed.now.target])
        .filter(|v| v.is_finite())
        .fold(50.0f32, f32::max);
    let top = f64::from((top / 50.0).ceil() * 50.0);
    let datasets = vec![
        Dataset::default()
            .name("hot end")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(theme.series(0))
            .data(&hot),
        Dataset::default()
            .name("bed")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(theme.series(2))
            .data(&bed),
        Dataset::default().marker(Marker::Dot).style(theme.dim()).data(&hot_target),
        Dataset::default().marker(Marker::Dot).style(theme.dim()).data(&bed_target),
    ];
    let chart_widget = Chart::new(datasets)
        .x_axis(
            Axis::default()
                .bounds([-span, 0.0])
                .labels([format!("-{}s", span as u64), "now".to_owned()])
                .style(theme.dim()),
        )
        .y_axis(
            Axis::default()
                .bounds([0.0, top])
                .labels(["0°".to_owned(), format!("{top:.0}°")])
                .style(theme.dim()),
        );
    frame.render_widget(chart_widget, chart);
}
