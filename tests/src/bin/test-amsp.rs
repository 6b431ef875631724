//! `amsp` as the scenarios run it: the console binary's own command line
//! ([`amsp_console::cli::app::run`]), built with this crate so tests find it beside them.

use std::process::ExitCode;

fn main() -> ExitCode {
    amsp_console::cli::app::run()
}
