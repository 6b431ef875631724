//! The `:` command palette: jump to a view or run an action by name.
//!
//! Its commands are the views plus every keymap binding that carries a command name, so the
//! palette never offers something the keys cannot do.

use super::keymap::{BINDINGS, Intent};
use super::model::Level;
use super::view::View;

/// What a palette command does.
#[derive(Debug, Clone, PartialEq)]
pub enum PaletteAction {
    /// Show a view.
    Go(View),
    /// Do what a key would do.
    Intent(Intent),
    /// Show log lines of this level and more important ones.
    Level(Level),
    /// Set the filter of the current view.
    Filter(String),
    /// Offer to design the selected request (a designer's node).
    Offer {
        /// The price, in the request's currency.
        price: f64,
        /// Days from acceptance to delivery.
        days: u32,
        /// A note for the requester.
        message: String,
    },
    /// Deliver a model file on the selected request (the accepted designer).
    Deliver {
        /// The model file, on the console's machine.
        path: String,
        /// Prints the licence allows; none for unlimited.
        prints: Option<u32>,
    },
}

/// How to write a delivery in the palette.
const DELIVER_USAGE: &str = "deliver FILE [PRINTS], e.g. `deliver bracket.stl 5`";

/// How to write an offer in the palette.
const OFFER_USAGE: &str = "offer PRICE DAYS [a note], e.g. `offer 95 3 two revisions included`";

/// One command the palette offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// What to type.
    pub name: String,
    /// What it does.
    pub help: String,
    /// Whether it changes the node.
    pub acts: bool,
}

/// Every command, in the order offered.
pub fn commands(read_only: bool) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = View::ALL
        .iter()
        .map(|v| Candidate {
            name: v.name().to_owned(),
            help: format!("Show the {} view", v.title()),
            acts: false,
        })
        .collect();
    for b in BINDINGS {
        if let Some(name) = b.command
            && !(read_only && b.acts)
        {
            out.push(Candidate { name: name.to_owned(), help: b.help.to_owned(), acts: b.acts });
        }
    }
    for level in Level::ALL {
        out.push(Candidate {
            name: format!("level {}", level.name().to_lowercase()),
            help: format!("Log: show {} and more important lines", level.name()),
            acts: false,
        });
    }
    out.push(Candidate {
        name: "filter ".to_owned(),
        help: "Filter this view's table by the text that follows".to_owned(),
        acts: false,
    });
    if !read_only {
        out.push(Candidate {
            name: "offer ".to_owned(),
            help: "Design view: offer on the selected request — PRICE DAYS [a note]".to_owned(),
            acts: true,
        });
        out.push(Candidate {
            name: "deliver ".to_owned(),
            help: "Design view: deliver a model file on the selected request — FILE [PRINTS]"
                .to_owned(),
            acts: true,
        });
    }
    out
}

/// Candidates matching what was typed: by prefix first, then by substring.
pub fn matches(input: &str, read_only: bool) -> Vec<Candidate> {
    let needle = input.trim_start().to_lowercase();
    let all = commands(read_only);
    let word = needle.split_whitespace().next().unwrap_or("");
    let mut prefix: Vec<Candidate> =
        all.iter().filter(|c| c.name.starts_with(needle.as_str())).cloned().collect();
    if prefix.is_empty() && !word.is_empty() {
        // "filter abc" matches the "filter " command by its first word.
        prefix = all.iter().filter(|c| c.name.trim_end() == word).cloned().collect();
    }
    let rest: Vec<Candidate> = all
        .into_iter()
        .filter(|c| !needle.is_empty() && !c.name.starts_with(needle.as_str()))
        .filter(|c| c.name.contains(needle.as_str()) && !prefix.contains(c))
        .collect();
    prefix.extend(rest);
    prefix
}

/// Why a command could not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaletteError {
    /// Nothing matches.
    #[error("unknown command {0:?}; type : and Tab to see the commands")]
    Unknown(String),
    /// `level` with a name that is not a level.
    #[error("unknown log level {0:?}; use error, warn, info, debug or trace")]
    BadLevel(String),
    /// An action with `--read-only`.
    #[error("{0} is disabled: the console is read-only")]
    ReadOnly(String),
    /// `offer` without a usable price or number of days.
    #[error("{0}; write {OFFER_USAGE}")]
    BadOffer(String),
    /// `deliver` without a file.
    #[error("the delivery needs a model file; write {DELIVER_USAGE}")]
    NoFile,
}

/// Parse a typed command into what it does.
pub fn parse(input: &str, read_only: bool) -> Result<PaletteAction, PaletteError> {
    let input = input.trim();
    let (word, rest) = match input.split_once(char::is_whitespace) {
        Some((w, r)) => (w.to_lowercase(), r.trim()),
        None => (input.to_lowercase(), ""),
    };
    if let Some(view) = View::ALL.iter().find(|v| v.name() == word) {
        return Ok(PaletteAction::Go(*view));
    }
    match word.as_str() {
        "level" => {
            let level = Level::ALL
                .iter()
                .find(|l| l.name().eq_ignore_ascii_case(rest))
                .ok_or_else(|| PaletteError::BadLevel(rest.to_owned()))?;
            return Ok(PaletteAction::Level(*level));
        }
        "filter" => return Ok(PaletteAction::Filter(rest.to_owned())),
        "offer" | "deliver" if read_only => return Err(PaletteError::ReadOnly(word)),
        "offer" => return parse_offer(rest),
        "deliver" => return parse_delivery(rest),
        _ => {}
    }
    match BINDINGS.iter().find(|b| b.command == Some(word.as_str())) {
        Some(b) if read_only && b.acts => Err(PaletteError::ReadOnly(word)),
        Some(b) => Ok(PaletteAction::Intent(b.intent)),
        None => Err(PaletteError::Unknown(input.to_owned())),
    }
}
/// `FILE [PRINTS]`: a last word that is a number is the prints; the rest, spaces and all, is
/// the file.
fn parse_delivery(rest: &str) -> Result<PaletteAction, PaletteError> {
    let (path, prints) = match rest.rsplit_once(char::is_whitespace) {
        Some((path, n)) if n.parse::<u32>().is_ok() => (path.trim(), n.parse().ok()),
        _ => (rest, None),
    };
    if path.is_empty() {
        return Err(PaletteError::NoFile);
    }
    Ok(PaletteAction::Deliver { path: path.to_owned(), prints })
}

/// `PRICE DAYS [a note]`.
fn parse_offer(rest: &str) -> Result<PaletteAction, PaletteError> {
    let mut words = rest.splitn(3, char::is_whitespace);
    let (price, days) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let bad = |why: String| Err(PaletteError::BadOffer(why));
    let price = match price.parse::<f64>() {
        Ok(p) if p.is_finite() && p >= 0.0 => p,
        _ if price.is_empty() => return bad("the offer needs a price".into()),
        _ => return bad(format!("{price:?} is not a price")),
    };
    let days = match days.parse::<u32>() {
        Ok(d) if (1..=365).contains(&d) => d,
        _ if days.is_empty() => return bad("the offer needs the days to deliver in".into()),
        _ => return bad(format!("{days:?} is not a number of days from 1 to 365")),
    };
    let message = words.next().unwrap_or("").trim().to_owned();
    Ok(PaletteAction::Offer { price, days, message })
}
