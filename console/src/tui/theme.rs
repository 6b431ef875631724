//! Colours: the 16 ANSI colours only (they follow the operator's terminal scheme and work over
//! any SSH session), and a `NO_COLOR` mode that keeps meaning in bold, reverse and underline.

use ratatui::style::{Color, Modifier, Style};

/// The console's styles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    /// Whether colours are used at all.
    pub color: bool,
}

impl Theme {
    /// Colours, unless the `NO_COLOR` convention (a non-empty value) asks for none.
    pub fn from_env() -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Self { color: !no_color }
    }

    fn fg(&self, color: Color) -> Style {
        if self.color { Style::new().fg(color) } else { Style::new() }
    }

    /// Plain text.
    pub fn text(&self) -> Style {
        Style::new()
    }

    /// Less important text (ids, timestamps).
    pub fn dim(&self) -> Style {
        if self.color { Style::new().fg(Color::DarkGray) } else { Style::new() }
    }

    /// Titles and the active tab.
    pub fn accent(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    /// Things that are fine.
    pub fn ok(&self) -> Style {
        self.fg(Color::Green)
    }

    /// Things to watch.
    pub fn warn(&self) -> Style {
        self.fg(Color::Yellow)
    }

    /// Things that failed.
    pub fn error(&self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    /// The selected row.
    pub fn selected(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    /// Key names in the footer and help.
    pub fn key(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    /// Table headers.
    pub fn header(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
    }

    /// A flashing critical alert, phase `on` or off.
    pub fn flash(&self, on: bool) -> Style {
        match (on, self.color) {
            (true, true) => {
                Style::new().fg(Color::White).bg(Color::Red).add_modifier(Modifier::BOLD)
            }
            (true, false) => Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD),
            (false, _) => self.error(),
        }
    }

    /// Borders.
    pub fn border(&self) -> Style {
        self.dim()
    }

    /// The colour for a chart series, by position.
    pub fn series(&self, i: usize) -> Style {
        const SERIES: [Color; 4] = [Color::Red, Color::Yellow, Color::Cyan, Color::Magenta];
        self.fg(SERIES[i % SERIES.len()])
    }
}
