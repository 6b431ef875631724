//! The fleet overview (`o`), in the manner of btop: how busy the printers have been, how many
//! jobs finish an hour, how long the queue is and how long its oldest job has waited, how much
//! material is printed an hour, what material is loaded where, and what is wrong —
//! each chart with its scale, so a glance says whether the shop keeps up.

use std::collections::BTreeMap;

use amsp_proto::alert::Severity;
use amsp_proto::printer_state::PrinterState;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Bar, BarChart, BarGroup, Block, Borders, Paragraph, Sparkline};

use crate::tui::app::App;

/// Draw the overview over `area`.
pub fn draw(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let [top, middle, bottom] = Layout::vertical([
        Constraint::Percentage(34),
        Constraint::Percentage(33),
        Constraint::Fill(1),
    ])
    .areas(area);
    let [util, rate, queue] = Layout::horizontal([Constraint::Ratio(1, 3); 3]).areas(top);
    let [wait, grams] = Layout::horizontal([Constraint::Ratio(1, 2); 2]).areas(middle);
    let [materials, alerts] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Fill(1)]).areas(bottom);
    let h = &app.history;
    chart(frame, util, app, "Fleet utilisation", &h.utilisation(), "%", Some(100));
    chart(frame, rate, app, "Jobs finished / hour", &h.done_per_hour(), "/h", None);
    chart(frame, queue, app, "Queue depth", &h.queue(), "jobs", None);
    chart(frame, wait, app, "Longest queue wait", &h.wait_minutes(), "min", None);
    chart(frame, grams, app, "Material printed / hour", &h.grams_per_hour(), "g/h", None);
    material_bars(frame, materials, app);
    alert_summary(frame, alerts, app);
}

/// A sparkline titled with its latest value and its scale: `0 – max unit` (the max given, or
/// the largest value seen), so the bars' height means something.
fn chart(
    frame: &mut Frame<'_>,
    area: Rect,
    app: &App,
    title: &str,
    values: &[u64],
    unit: &str,
    max: Option<u64>,
) {
    let theme = &app.theme;
    let top = max.unwrap_or_else(|| values.iter().copied().max().unwrap_or(0).max(1));
    let now = values.last().map_or_else(|| "–".to_owned(), |v| format!("{v} {unit}"));
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border())
        .title(Line::from(vec![
            Span::styled(format!(" {title} "), theme.header()),
            Span::styled(format!("now {now} "), theme.accent()),
        ]))
        .title_bottom(Line::styled(format!(" scale 0 – {top} {unit} "), theme.dim()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if values.is_empty() {
        let note = "collecting: a sample every 5 s";
        frame.render_widget(Paragraph::new(Line::styled(note, theme.dim())), inner);
        return;
    }
    // The newest samples that fit, right-aligned like btop's graphs.
    let width = usize::from(inner.width);
    let shown = &values[values.len().saturating_sub(width)..];
    let spark = Sparkline::default().data(shown).max(top).style(theme.series(0));
    frame.render_widget(spark, inner);
}

/// Printers by loaded material, busy and idle.
fn material_bars(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let theme = &app.theme;
    let mut by: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for p in &app.snapshot.printers {
        let name = p.material.as_ref().map_or("none".to_owned(), |m| m.as_str().to_owned());
        let e = by.entry(name).or_default();
        if matches!(p.state, PrinterState::Printing | PrinterState::Paused) {
            e.0 += 1;
        } else {
            e.1 += 1;
        }
    }
    let most = by.values().map(|(b, i)| b + i).max().unwrap_or(0);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border())
        .title(Span::styled(" Materials loaded (printers busy / idle) ", theme.header()))
        .title_bottom(Line::styled(format!(" scale 0 – {most} printers "), theme.dim()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if by.is_empty() {
        frame.render_widget(Paragraph::new(Line::styled("no printers", theme.dim())), inner);
        return;
    }
    let mut chart = BarChart::default().bar_width(5).bar_gap(1).group_gap(2).max(most.max(1));
    for (material, (busy, idle)) in &by {
        let bars = [
            Bar::default().value(*busy).label(Line::from("busy")).style(theme.series(0)),
            Bar::default().value(*idle).label(Line::from("idle")).style(theme.dim()),
        ];
        chart = chart.data(BarGroup::default().label(Line::from(material.clone())).bars(&bars));
    }
    frame.render_widget(chart, inner);
}

/// Active alerts by severity, the newest first.
fn alert_summary(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let theme = &app.theme;
    let mut active: Vec<_> = app.snapshot.alerts.iter().filter(|a| a.is_active()).collect();
    active.sort_by_key(|a| std::cmp::Reverse(a.raised_ms));
    let count = |s: Severity| active.iter().filter(|a| a.severity == s).count();
    let (crit, warn) = (count(Severity::Critical), count(Severity::Warning));
    let style = |n: usize, s: Style| if n > 0 { s } else { theme.dim() };
    let mut lines = vec![Line::from(vec![
        Span::styled(format!("{crit} critical"), style(crit, theme.error())),
        Span::raw("  "),
        Span::styled(format!("{warn} warnings"), style(warn, theme.warn())),
        Span::raw("  "),
        Span::styled(format!("{} in all", active.len()), theme.text()),
    ])];
    for a in active.iter().take(usize::from(area.height.saturating_sub(3))) {
        lines.push(Line::styled(format!("{}: {}", a.subject, a.message), theme.text()));
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border())
        .title(Span::styled(" Alerts ", theme.header()));
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
