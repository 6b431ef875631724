//! The Network view: peers with their roles, latency, how each is reached (direct, hole-punched,
//! relayed via whom), capacity ads and traffic.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Wrap};

use super::format;
use super::table::{self, col};
use crate::tui::app::App;
use crate::tui::model::Peer;
use crate::tui::view::View;

/// Latency above which a peer is shown as slow.
const SLOW_MS: u32 = 250;

/// Draw the Network view.
pub fn draw(frame: &mut Frame<'_>, area: Rect, detail: Option<Rect>, app: &App) {
    let theme = &app.theme;
    let peers = &app.snapshot.peers;
    let columns = [
        col("Name", Constraint::Length(12)),
        col("Peer", Constraint::Length(9)),
        col("Roles", Constraint::Length(5)),
        col("Latency", Constraint::Length(7)),
        col("Path", Constraint::Length(12)),
        col("Capacity", Constraint::Length(8)),
        col("In/Out", Constraint::Min(10)),
    ];
    table::draw(frame, area, app, View::Network, &columns, |i| {
        let p = &peers[i];
        let roles: String =
            p.roles.iter().map(|r| r.name().chars().next().unwrap_or('?')).collect();
        let (latency, style) = match (p.connected, p.latency_ms) {
            (false, _) => ("down".to_owned(), theme.error()),
            (true, None) => ("—".to_owned(), theme.dim()),
            (true, Some(ms)) if ms > SLOW_MS => (format!("{ms}ms"), theme.warn()),
            (true, Some(ms)) => (format!("{ms}ms"), theme.ok()),
        };
        let capacity = p
            .capacity
            .as_ref()
            .map(|c| format!("{}/{} q{}", c.free_printers(), c.printers.len(), c.queue_depth))
            .unwrap_or_else(|| "—".to_owned());
        Row::new(vec![
            Cell::from(p.name.clone()),
            Cell::from(format!("…{}", format::tail(&p.id.to_base58(), 8))).style(theme.dim()),
            Cell::from(roles),
            Cell::from(latency).style(style),
            // The relay's name is in the detail pane; the column says only how.
            match p.path.as_deref() {
                None => Cell::from("—").style(theme.dim()),
                Some(path) if path.starts_with("relayed") => {
                    Cell::from("relayed").style(theme.warn())
                }
                Some(path) => Cell::from(path.to_owned()),
            },
            Cell::from(capacity),
            Cell::from(format!(
                "{}/{}",
                format::bytes(p.traffic.bytes_in),
                format::bytes(p.traffic.bytes_out)
            )),
        ])
    });
    if let Some(rect) = detail {
        let peer = app.table().selected_item().and_then(|i| peers.get(i));
        draw_detail(frame, rect, app, peer);
    }
}

fn draw_detail(frame: &mut Frame<'_>, area: Rect, app: &App, peer: Option<&Peer>) {
    let theme = &app.theme;
    let traffic = app.snapshot.traffic;
    let block =
        Block::default().borders(Borders::ALL).border_style(theme.border()).title(Line::styled(
            format!(
                " Peer — node traffic in {} out {} ",
                format::bytes(traffic.bytes_in),
                format::bytes(traffic.bytes_out)
            ),
            theme.accent(),
        ));
    let Some(p) = peer else {
        frame.render_widget(Paragraph::new("no peer selected").block(block), area);
        return;
    };
    let roles: Vec<&str> = p.roles.iter().map(|r| r.name()).collect();
    let field = |name: &str, value: String| {
        Line::from(vec![Span::styled(format!("{name:>8} "), theme.dim()), Span::raw(value)])
    };
    let mut lines = vec![
        field("peer", p.id.to_base58()),
        field("name", p.name.clone()),
        field("roles", roles.join(", ")),
        field("address", p.address.clone()),
        field("path", p.path.clone().unwrap_or_else(|| "not connected".to_owned())),
        field(
            "latency",
            p.latency_ms.map(|ms| format!("{ms} ms")).unwrap_or_else(|| "—".to_owned()),
        ),
    ];
    match &p.capacity {
        None => lines.push(field("capacity", "no ad".to_owned())),
        Some(ad) => {
            lines.push(field(
                "capacity",
                format!(
                    "{}: {} printers, {} free, queue {}, {}/h + {} setup",
                    ad.centre_name,
                    ad.printers.len(),
                    ad.free_printers(),
                    ad.queue_depth,
                    format::money(ad.prices.per_hour, &ad.prices.currency),
                    format::money(ad.prices.setup, &ad.prices.currency),
                ),
            ));
            for pr in &ad.printers {
                let materials: Vec<&str> = pr.materials.iter().map(|m| m.as_str()).collect();
                lines.push(Line::raw(format!(
                    "         {:<10} {:<9} {} {}×{}×{} mm  {}",
                    pr.name,
                    pr.state.name(),
                    pr.process,
                    pr.build_volume_mm[0],
                    pr.build_volume_mm[1],
                    pr.build_volume_mm[2],
                    materials.join(",")
                )));
            }
        }
    }
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(block), area);
}
