//! The Models view: the store and catalogue, each model's check report, and for sliced models a
//! top-down view and a layer preview drawn on braille canvases (2×4 dots a cell, so a layer's
//! perimeters read at terminal resolution).

use amsp_proto::alert::Severity;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::canvas::{Canvas, Line as Segment};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Wrap};

use super::format;
use super::table::{self, col};
use crate::tui::app::App;
use crate::tui::model::{Listing, Model, Polyline};
use crate::tui::theme::Theme;
use crate::tui::view::View;

/// Rows for the check report when it sits above the canvases.
const REPORT_ROWS: u16 = 10;

fn check_cell(theme: &Theme, m: &Model) -> (String, ratatui::style::Style) {
    match &m.check {
        None => ("unchecked".to_owned(), theme.dim()),
        Some(c) if c.printable && c.findings.is_empty() => ("ok".to_owned(), theme.ok()),
        Some(c) if c.printable => (format!("ok, {} notes", c.findings.len()), theme.warn()),
        Some(c) => (format!("{} problems", c.findings.len()), theme.error()),
    }
}

/// Draw the Models view.
pub fn draw(frame: &mut Frame<'_>, area: Rect, detail: Option<Rect>, app: &App) {
    let theme = &app.theme;
    let models = &app.snapshot.models;
    // Once the node knows catalogue entries, each row says who offers it and for how much (in
    // place of the file size, which an entry not stored here lacks, and the id, in the detail).
    let listings = models.iter().any(|m| m.listing.is_some());
    let columns = if listings {
        [
            col("Name", Constraint::Min(13)),
            col("Fmt", Constraint::Length(4)),
            col("Price", Constraint::Length(8)),
            col("Tris", Constraint::Length(6)),
            col("mm", Constraint::Length(11)),
            col("Check", Constraint::Length(11)),
            col("Layers", Constraint::Length(6)),
            col("By", Constraint::Length(12)),
        ]
    } else {
        [
            col("Name", Constraint::Min(12)),
            col("Fmt", Constraint::Length(4)),
            col("Size", Constraint::Length(9)),
            col("Tris", Constraint::Length(6)),
            col("mm", Constraint::Length(12)),
            col("Check", Constraint::Length(12)),
            col("Layers", Constraint::Length(6)),
            col("Id", Constraint::Length(8)),
        ]
    };
    table::draw(frame, area, app, View::Models, &columns, |i| {
        let m = &models[i];
        let (check, style) = check_cell(theme, m);
        let name = if m.catalogue { format!("{} ★", m.name) } else { m.name.clone() };
        let (third, last) = match (&m.listing, listings) {
            (Some(l), _) => (Cell::from(price(l)), Cell::from(l.designer.clone())),
            (None, true) => (Cell::from("—"), Cell::from("")),
            (None, false) => (
                Cell::from(format::bytes(m.size_bytes)),
                Cell::from(m.id.short()).style(theme.dim()),
            ),
        };
        Row::new(vec![
            Cell::from(name),
            Cell::from(m.format.clone()),
            third,
            Cell::from(format::count(m.triangles)),
            Cell::from(format!("{:.0}×{:.0}×{:.0}", m.size_mm[0], m.size_mm[1], m.size_mm[2])),
            Cell::from(check).style(style),
            Cell::from(
                m.preview.as_ref().map(|p| p.layers.len().to_string()).unwrap_or("—".into()),
            ),
            last,
        ])
    });
    if let Some(rect) = detail {
        let model = app.table().selected_item().and_then(|i| models.get(i));
        draw_detail(frame, rect, app, model);
    }
}

fn draw_detail(frame: &mut Frame<'_>, area: Rect, app: &App, model: Option<&Model>) {
    let theme = &app.theme;
    let Some(m) = model else {
        frame.render_widget(
            Paragraph::new("no model selected")
                .block(Block::default().borders(Borders::ALL).border_style(theme.border())),
            area,
        );
        return;
    };
    // Beside the table the detail is tall: the report goes on top and the canvases share the
    // rest; below the table it is wide: three columns.
    let (report, top, layer) = if area.height * 2 > area.width {
        let [report, canvases] =
            Layout::vertical([Constraint::Length(REPORT_ROWS), Constraint::Min(0)]).areas(area);
        let [top, layer] =
            Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
                .areas(canvases);
        (report, top, layer)
    } else {
        let [report, top, layer] = Layout::horizontal([
            Constraint::Percentage(34),
            Constraint::Percentage(33),
            Constraint::Percentage(33),
        ])
        .areas(area);
        (report, top, layer)
    };

    let mut lines = vec![Line::from(vec![
        Span::styled("id ", theme.dim()),
        Span::raw(m.id.short()),
        Span::styled(format!(" {} tris", format::count(m.triangles)), theme.dim()),
    ])];
    if let Some(l) = &m.listing {
        lines.extend(listing_lines(theme, l));
    }
    match &m.check {
        None => lines.push(Line::styled("not checked yet", theme.dim())),
        Some(c) => {
            lines.push(if c.printable {
                Line::styled("printable", theme.ok())
            } else {
                Line::styled("not printable", theme.error())
            });
            for f in &c.findings {
                let style = match f.severity {
                    Severity::Critical => theme.error(),
                    Severity::Warning => theme.warn(),
                    Severity::Info => theme.text(),
                };
                lines.push(Line::styled(format!("• {}", f.text), style));
            }
            for r in &c.repairs {
                lines.push(Line::styled(format!("✔ {r}"), theme.ok()));
            }
        }
    }
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: true }).block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(theme.border())
                .title(Line::styled(format!(" {} ", m.name), theme.accent())),
        ),
        report,
    );

    let Some(preview) = &m.preview else {
        let block = Block::default().borders(Borders::ALL).border_style(theme.border());
        frame.render_widget(
            Paragraph::new(Line::styled("not sliced", theme.dim())).block(block.clone()),
            top,
        );
        frame.render_widget(Paragraph::new("").block(block), layer);
        return;
    };
    let all_paths = preview.footprint.iter().chain(preview.layers.iter().flat_map(|l| &l.paths));
    let bounds = bounds(all_paths);
    draw_paths(frame, top, app, " top ", &preview.footprint, bounds, theme.series(2));
    if preview.layers.is_empty() {
        frame.render_widget(
            Paragraph::new("no layers")
                .block(Block::default().borders(Borders::ALL).border_style(theme.border())),
            layer,
        );
        return;
    }
    let index = app.layer.min(preview.layers.len() - 1);
    let l = &preview.layers[index];
    let title = format!(" layer {}/{} z {:.2} ", index + 1, preview.layers.len(), l.z_mm);
    draw_paths(frame, layer, app, &title, &l.paths, bounds, theme.series(1));
}

/// A copy's price, or "free".
fn price(l: &Listing) -> String {
    if l.price > 0.0 { format!("{:.2} {}", l.price, l.currency) } else { "free".to_owned() }
}

/// A catalogue entry's words: what it is, who offers it, on what terms and for how much.
fn listing_lines(theme: &Theme, l: &Listing) -> Vec<Line<'static>> {
    let what = if l.copy { "★ copy of " } else { "★ catalogue: " };
    let mut lines = vec![
        Line::from(vec![Span::styled(what, theme.accent()), Span::raw(l.title.clone())]),
        Line::from(vec![Span::styled("by ", theme.dim()), Span::raw(l.designer.clone())]),
        Line::from(vec![Span::styled("licence ", theme.dim()), Span::raw(l.terms.clone())]),
        Line::from(vec![Span::styled("price ", theme.dim()), Span::raw(price(l))]),
    ];
    if !l.tags.is_empty() {
        lines.push(Line::from(vec![
            Span::styled("tags ", theme.dim()),
            Span::raw(l.tags.join(", ")),
        ]));
    }
    lines
}

/// The bounding box (min x, min y, max x, max y) of paths, ignoring non-finite points.
fn bounds<'a>(paths: impl Iterator<Item = &'a Polyline>) -> [f64; 4] {
    let mut b = [f64::MAX, f64::MAX, f64::MIN, f64::MIN];
    for p in paths.flatten() {
        if p[0].is_finite() && p[1].is_finite() {
            b[0] = b[0].min(f64::from(p[0]));
            b[1] = b[1].min(f64::from(p[1]));
            b[2] = b[2].max(f64::from(p[0]));
            b[3] = b[3].max(f64::from(p[1]));
        }
    }
    if b[0] > b[2] { [0.0, 0.0, 1.0, 1.0] } else { b }
}

/// Bounds widened so one millimetre is as wide as it is tall on screen: a braille dot is half a
/// cell wide and a quarter tall, and a cell is about twice as tall as wide.
fn square(b: [f64; 4], area: Rect) -> ([f64; 2], [f64; 2]) {
    let w = f64::from(area.width.max(1)) * 2.0;
    let h = f64::from(area.height.max(1)) * 4.0;
    let (cx, cy) = ((b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0);
    let (dx, dy) = ((b[2] - b[0]).max(1e-3) * 1.05, (b[3] - b[1]).max(1e-3) * 1.05);
    let per_dot = (dx / w).max(dy / h);
    let (hx, hy) = (per_dot * w / 2.0, per_dot * h / 2.0);
    ([cx - hx, cx + hx], [cy - hy, cy + hy])
}

fn draw_paths(
    frame: &mut Frame<'_>,
    area: Rect,
    app: &App,
    title: &str,
    paths: &[Polyline],
    b: [f64; 4],
    style: ratatui::style::Style,
) {
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(app.theme.border())
        .title(Line::styled(title.to_owned(), app.theme.accent()));
    let (xb, yb) = square(b, block.inner(area));
    let color = style.fg.unwrap_or(ratatui::style::Color::Reset);
    let canvas =
        Canvas::default().block(block).marker(Marker::Braille).x_bounds(xb).y_bounds(yb).paint(
            move |ctx| {
                for path in paths {
                    for w in path.windows(2) {
                        ctx.draw(&Segment::new(
                            f64::from(w[0][0]),
                            f64::from(w[0][1]),
                            f64::from(w[1][0]),
                            f64::from(w[1][1]),
                            color,
                        ));
                    }
                }
            },
        );
    frame.render_widget(canvas, area);
}
