//! Printers: one driver interface and its implementations.
//!
//! The engine drives every printer through [`PrinterDriver`] (upload, start, pause, resume,
//! cancel, status). Three drivers implement it:
//! - [`sim::SimPrinter`] plays real G-code timing ([`gcode_plan`]) fast-forwarded, with
//!   injectable faults, for demos and tests;
//! - [`octoprint::OctoPrintDriver`] talks to OctoPrint's REST API;
//! - [`moonraker::MoonrakerDriver`] talks to a Klipper host through Moonraker's HTTP API.
//!
//! The two HTTP drivers share one client shape ([`host_client`]: API key header, a timeout on
//! every request, bounded response bodies, typed errors naming the endpoint and field) and one
//! rule for following a job across host restarts ([`job_tracker`]: a job we started that
//! vanishes without completing is reported `interrupted`, never silently forgotten).
//! [`config::PrinterConfig`] is how a printer is registered and read from `amspd`'s TOML.

pub mod config;
pub mod driver;
pub mod gcode_facts;
pub mod gcode_plan;
pub mod host_client;
pub mod job_tracker;
pub mod json_field;
pub mod moonraker;
pub mod octoprint;
pub mod sim;

pub use config::{ApiKey, BuildVolume, ConfigError, DriverConfig, PrinterConfig};
pub use driver::{DriverError, PrinterDriver, PrinterState, PrinterStatus, Temperature};
pub use sim::{Fault, SimPrinter, SimSettings};
