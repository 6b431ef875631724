//! `test-store-burst`: writes to a node store as fast as it can and reports each acknowledged
//! write on stdout, until killed.
//!
//! The crash tests run it, kill it with SIGKILL mid-burst, reopen the store and check that every
//! write reported here is present: the store's durability promise, tested on a real process.
//!
//! Output, one line per acknowledged write:
//! - `E <event id hex>`: an order event whose envelope is the id repeated [`REPEAT`] times;
//! - `L <seq> <event id hex>`: a log entry holding the id twice.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use amsp_node::store::Store;

/// Concurrent writers, so group commit has batches to form.
const WRITERS: u64 = 16;
/// Writes per writer before the burst stops by itself (the tests kill it much sooner).
const MAX_WRITES_PER_WRITER: u64 = 100_000;
/// Envelope stand-in length, in event ids.
const REPEAT: usize = 8;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let dir: PathBuf = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .ok_or_else(|| anyhow::anyhow!("usage: test-store-burst DATA_DIR"))?;
    // The test that just checked the file may still be closing it; wait for it briefly.
    let mut opened = Store::open(&dir);
    for _ in 0..100 {
        if opened.is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        opened = Store::open(&dir);
    }
    let store = opened?;
    let run = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_nanos();
    let out = Arc::new(Mutex::new(std::io::stdout()));
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let store = store.clone();
        let out = Arc::clone(&out);
        tasks.push(tokio::spawn(async move {
            for i in 0..MAX_WRITES_PER_WRITER {
                let id = *blake3::hash(format!("{run}-{w}-{i}").as_bytes()).as_bytes();
                let line = if i % 2 == 0 {
                    let envelope = id.repeat(REPEAT);
                    let mut order = [0u8; 16];
                    order[..8].copy_from_slice(&w.to_be_bytes());
                    store.insert_order_event(order, id, envelope).await?;
                    format!("E {}\n", blake3::Hash::from_bytes(id).to_hex())
                } else {
                    let seq = store.append_log(id.repeat(2)).await?;
                    format!("L {seq} {}\n", blake3::Hash::from_bytes(id).to_hex())
                };
                let mut o = out.lock().map_err(|_| anyhow::anyhow!("stdout lock poisoned"))?;
                o.write_all(line.as_bytes())?;
                o.flush()?;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(())
}
