//! Text forms of numbers, times and ids for narrow table cells.

use amsp_proto::PeerId;

use crate::tui::model::Snapshot;

/// "1h02m", "4m05s", "12s".
pub fn duration(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
    if h >= 24 {
        format!("{}d{:02}h", h / 24, h % 24)
    } else if h > 0 {
        format!("{h}h{m:02}m")
    } else if m > 0 {
        format!("{m}m{s:02}s")
    } else {
        format!("{s}s")
    }
}

/// "5m ago", relative to `now_ms`; "—" when unknown.
pub fn ago(then_ms: u64, now_ms: u64) -> String {
    if now_ms == 0 || then_ms == 0 {
        return "—".to_owned();
    }
    if then_ms > now_ms {
        return "now".to_owned();
    }
    let secs = (now_ms - then_ms) / 1000;
    let coarse = match secs {
        0..60 => format!("{secs}s"),
        60..3_600 => format!("{}m", secs / 60),
        3_600..86_400 => format!("{}h{:02}m", secs / 3_600, (secs / 60) % 60),
        _ => format!("{}d", secs / 86_400),
    };
    format!("{coarse} ago")
}

/// "14:03:07", the UTC time of day.
pub fn clock(ms: u64) -> String {
    let s = ms / 1000;
    format!("{:02}:{:02}:{:02}", (s / 3600) % 24, (s / 60) % 60, s % 60)
}

/// "1.2 MiB".
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{n} B") } else { format!("{v:.1} {}", UNITS[unit]) }
}

/// "12.3k" for large counts.
pub fn count(n: u64) -> String {
    match n {
        0..1_000 => n.to_string(),
        1_000..1_000_000 => format!("{:.1}k", n as f64 / 1e3),
        _ => format!("{:.1}M", n as f64 / 1e6),
    }
}

/// The last `n` characters of an id: ids begin with their timestamp, so the end tells them apart.
pub fn tail(id: &str, n: usize) -> String {
    let len = id.chars().count();
    id.chars().skip(len.saturating_sub(n)).collect()
}

/// A text progress bar: "██████░░░░  60%".
pub fn bar(fraction: f32, width: usize) -> String {
    let f = if fraction.is_finite() { fraction.clamp(0.0, 1.0) } else { 0.0 };
    let full = ((f * width as f32).round() as usize).min(width);
    format!("{}{} {:>3}%", "█".repeat(full), "░".repeat(width - full), (f * 100.0).round() as u32)
}

/// A one-line sparkline of the last `width` values, scaled to their own range.
pub fn sparkline(values: &[f32], width: usize) -> String {
    const TICKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let window = &values[values.len().saturating_sub(width)..];
    let (lo, hi) = window
        .iter()
        .filter(|v| v.is_finite())
        .fold((f32::MAX, f32::MIN), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
    let span = (hi - lo).max(1.0);
    window
        .iter()
        .map(|v| {
            if !v.is_finite() {
                return ' ';
            }
            let i = (((v - lo) / span) * 7.0).round() as usize;
            TICKS[i.min(7)]
        })
        .collect()
}

/// A peer's display name, "you" for this node, or the end of its id.
pub fn peer_name(snapshot: &Snapshot, id: &PeerId) -> String {
    if snapshot.node.peer_id.as_ref() == Some(id) {
        return if snapshot.node.display_name.is_empty() {
            "this node".to_owned()
        } else {
            format!("{} (this node)", snapshot.node.display_name)
        };
    }
    match snapshot.peers.iter().find(|p| &p.id == id) {
        Some(p) if !p.name.is_empty() => p.name.clone(),
        _ => format!("…{}", tail(&id.to_base58(), 8)),
    }
}

/// A price with its currency.
pub fn money(amount: f64, currency: &str) -> String {
    format!("{amount:.2} {currency}")
}
