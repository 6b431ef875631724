//! The console's views (tabs), in the order of their number keys.

/// One tab of the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum View {
    /// Queued and running print jobs.
    Jobs,
    /// Printers with temperatures.
    Printers,
    /// Orders this node takes part in.
    Orders,
    /// Peers, roles, latency, capacity ads, traffic.
    Network,
    /// The model store and catalogue.
    Models,
    /// Active and past alerts.
    Alerts,
    /// The node's log.
    Log,
    /// Design requests and the offers made on them.
    Design,
}

impl View {
    /// Every view, in tab order.
    pub const ALL: [View; 8] = [
        View::Jobs,
        View::Printers,
        View::Orders,
        View::Network,
        View::Models,
        View::Alerts,
        View::Log,
        View::Design,
    ];

    /// Number of views.
    pub const COUNT: usize = Self::ALL.len();

    /// The tab title.
    pub fn title(self) -> &'static str {
        match self {
            View::Jobs => "Jobs",
            View::Printers => "Printers",
            View::Orders => "Orders",
            View::Network => "Network",
            View::Models => "Models",
            View::Alerts => "Alerts",
            View::Log => "Log",
            View::Design => "Design",
        }
    }

    /// The lower-case name used in the command palette.
    pub fn name(self) -> &'static str {
        match self {
            View::Jobs => "jobs",
            View::Printers => "printers",
            View::Orders => "orders",
            View::Network => "network",
            View::Models => "models",
            View::Alerts => "alerts",
            View::Log => "log",
            View::Design => "design",
        }
    }

    /// Position in the tab bar, from 0.
    pub fn index(self) -> usize {
        match self {
            View::Jobs => 0,
            View::Printers => 1,
            View::Orders => 2,
            View::Network => 3,
            View::Models => 4,
            View::Alerts => 5,
            View::Log => 6,
            View::Design => 7,
        }
    }

    /// The view at tab position `i`, wrapping around.
    pub fn at(i: usize) -> View {
        Self::ALL[i % Self::COUNT]
    }

    /// The next tab, wrapping.
    pub fn next(self) -> View {
        Self::at(self.index() + 1)
    }

    /// The previous tab, wrapping.
    pub fn prev(self) -> View {
        Self::at(self.index() + Self::COUNT - 1)
    }
}
