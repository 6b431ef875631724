//! Command-line subcommands: each module parses its arguments and calls the libraries.

pub mod inspect;
pub mod model;
pub mod slice;
