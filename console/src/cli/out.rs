//! Standard output for every command, and the forms shared by what commands print. A reader
//! that stops early (`amsp … | head`) closes the pipe: the rest of the output is dropped and the
//! command ends with its own exit status, where `println!` would panic.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once standard output could not be written; later output is dropped.
static CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes formatted text to standard output; a closed pipe silences the rest of the output.
pub fn write(args: std::fmt::Arguments<'_>) {
    if CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.flush()) {
        CLOSED.store(true, Ordering::Relaxed);
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("amsp: standard output: {e}");
        }
    }
}

/// `println!` for command output: see [`write`].
#[macro_export]
macro_rules! outln {
    () => { $crate::cli::out::write(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::cli::out::write(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `print!` for command output: see [`write`].
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => { $crate::cli::out::write(format_args!($($arg)*)) };
}

/// A peer as people read it: the name its profile gives beside its id (a name is a claim that
/// two peers can make alike; the id is who it is), or the id alone.
pub fn who(peer: &amsp_proto::PeerId, name: Option<&str>) -> String {
    match name {
        Some(n) if !n.trim().is_empty() => format!("{n} ({peer})"),
        _ => peer.to_string(),
    }
}
