//! The operator console: a full-screen terminal UI over one node.
//!
//! The console is built as a pure core with a thin shell, so everything but the terminal itself
//! is tested without one:
//!
//! - [`model`]: the view model — a [`model::Snapshot`] of the node and the [`model::Update`]s
//!   that change it, in `amsp-proto`'s vocabulary.
//! - [`source`]: [`source::NodeSource`], the one interface to a node (in-process, HTTP, or a
//!   recording), awaited only on background tasks.
//! - [`app`]: the state machine, `handle(&mut App, Event) -> Option<Command>`.
//! - [`keymap`]: every key, once; the footer, the help overlay and the palette come from it.
//! - [`ui`]: drawing, a pure function of the app (`ui::draw(frame, &app)`); tables build rows
//!   only for the visible window.
//! - [`terminal`]: the shell — raw mode, alternate screen, input thread, node tasks, panic-safe
//!   restore — and [`run`].
//! - [`fixtures`]: constructed snapshots for tests, benchmarks and recordings.

pub mod app;
pub mod fixtures;
pub mod history;
pub mod keymap;
pub mod layout;
pub mod model;
pub mod palette;
pub mod rows;
pub mod sort;
pub mod source;
pub mod terminal;
pub mod theme;
pub mod ui;
pub mod view;

pub use app::{App, Command, Event, Options, handle};
pub use source::{Action, NodeSource};
pub use terminal::{RunError, run};
pub use view::View;
