//! `amsp`: the operator console and command-line client.

use std::process::ExitCode;

fn main() -> ExitCode {
    amsp_console::cli::app::run()
}
