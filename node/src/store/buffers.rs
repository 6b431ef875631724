//! Chunk buffers handed from one transfer to the next.
//!
//! A model fetch or upload moves hundreds of 256 KiB chunks a second, and each fresh buffer is
//! zeroed (often page-faulted in first) only to be overwritten at once and freed on another
//! thread. Buffers given back here are taken again by the next chunk read, whatever its length,
//! without zeroing: a buffer from [`take`] holds stale bytes until its taker overwrites all of
//! it, so only code that fills every byte before reading any (or drops the buffer on failure)
//! may take one.

use std::sync::{Mutex, PoisonError};

use crate::package::CHUNK_SIZE;

/// Buffers kept between transfers (4 MiB): enough for a fetch's store batches to come back
/// before the next chunks are read, small next to a node's idle footprint.
const KEPT: usize = 16;

static POOL: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// A buffer of exactly `len` bytes with unspecified contents, which the caller overwrites.
pub(crate) fn take(len: usize) -> Vec<u8> {
    let reused = POOL.lock().unwrap_or_else(PoisonError::into_inner).pop();
    match reused {
        Some(mut b) => {
            if b.len() >= len {
                b.truncate(len);
            } else {
                b.resize(len, 0);
            }
            b
        }
        None => vec![0; len],
    }
}

/// Hands a chunk's buffer back once its bytes are no longer needed; kept only if it is
/// chunk-sized and the pool has room.
pub(crate) fn give(b: Vec<u8>) {
    if !(CHUNK_SIZE / 2..=CHUNK_SIZE * 2).contains(&b.capacity()) {
        return;
    }
    let mut pool = POOL.lock().unwrap_or_else(PoisonError::into_inner);
    if pool.len() < KEPT {
        pool.push(b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_given_back_is_taken_again_at_any_length_and_the_pool_stays_bounded() {
        // Other tests share the pool: only what this test can see of it is asserted.
        let b = vec![7u8; CHUNK_SIZE];
        let at = b.as_ptr();
        give(b);
        let short = take(100);
        assert_eq!(short.len(), 100);
        let long = take(CHUNK_SIZE);
        assert_eq!(long.len(), CHUNK_SIZE);
        assert!(
            short.as_ptr() == at || long.as_ptr() == at || POOL.lock().unwrap().len() >= KEPT,
            "the buffer given back was not reused"
        );
        // A tiny or huge buffer is not kept.
        give(vec![0; 10]);
        give(vec![0; CHUNK_SIZE * 4]);
        assert!(POOL.lock().unwrap().iter().all(|b| b.capacity() <= CHUNK_SIZE * 2));
        for _ in 0..KEPT * 2 {
            give(vec![0; CHUNK_SIZE]);
        }
        assert_eq!(POOL.lock().unwrap().len(), KEPT);
    }
}
