//! The node's wall clock: every service stamps records and measures ages against this one
//! source, so no module needs another's internals just to know the time.

/// Unix time in milliseconds (0 if the system clock is set before 1970).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
