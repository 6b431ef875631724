//! The shell around the pure app: the real terminal, the input thread, the node tasks and the
//! loop that feeds events to [`handle`] and draws.
//!
//! Nothing in the loop waits on the node: the source is awaited only on spawned tasks, whose
//! results arrive on bounded channels like keys do. The terminal is restored on every exit
//! path — normal return, error, and panic (through a panic hook).

use std::io::{self, Stdout};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, TryLockError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossterm::event::{
    self as term, DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste,
    EnableMouseCapture,
};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use thiserror::Error;
use tokio::sync::mpsc;

use super::app::{App, Command, Event, Options, handle};
use super::model::{Health, Snapshot, Update};
use super::source::{Action, NodeSource, SourceError, UPDATE_QUEUE};
use super::ui;

/// How often the clock ticks: the flash phase and status expiry need no finer steps.
pub const TICK: Duration = Duration::from_millis(250);

/// How long the input thread waits for a key before checking whether the console has quit.
const INPUT_POLL: Duration = Duration::from_millis(100);

/// Keys and mouse events queued between frames; more than a person can type in one.
const INPUT_QUEUE: usize = 256;

/// Action results queued; actions come at human speed.
const RESULT_QUEUE: usize = 64;

/// Updates applied before the next frame is drawn, so a burst does not starve the keyboard.
const UPDATES_PER_FRAME: usize = 512;

/// Wait before reconnecting to a node that went away.
const RECONNECT: Duration = Duration::from_secs(2);

/// Why the console stopped with an error.
#[derive(Debug, Error)]
pub enum RunError {
    /// The terminal could not be put into (or drawn in) full-screen mode.
    #[error("terminal: {0}")]
    Terminal(#[from] io::Error),
    /// Some thread of the console panicked; the terminal was restored and the console stopped
    /// rather than draw on a terminal that is no longer in raw mode.
    #[error("the console stopped after a panic (the terminal was restored)")]
    Panicked,
}

/// Set by the panic hook: the terminal has been restored, so the loop must stop drawing.
static PANICKED: AtomicBool = AtomicBool::new(false);

/// Whether this process has the terminal in raw mode on the alternate screen. Restoring twice
/// would be harmful: leaving the alternate screen again moves the cursor back to where it was
/// when the console started, over whatever was printed since.
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Held while drawing, so a panic on another thread restores the terminal between frames rather
/// than in the middle of one (after which the frame would land on the restored screen).
static DRAWING: Mutex<()> = Mutex::new(());

/// How long the panic hook waits for a frame in progress to finish. The panicking thread may be
/// the one drawing, so the hook never waits forever.
const PANIC_DRAW_WAIT: Duration = Duration::from_millis(100);

fn restore_terminal() {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return;
    }
    // Best effort: each step may fail if the previous one left the terminal half set up.
    let _ = disable_raw_mode();
    let _ = execute!(
        io::stdout(),
        LeaveAlternateScreen,
        DisableMouseCapture,
        DisableBracketedPaste,
        crossterm::cursor::Show
    );
}

/// Restores the terminal when dropped, whatever path leaves `run`.
struct TerminalGuard;

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let deadline = Instant::now() + PANIC_DRAW_WAIT;
        let _frame = loop {
            match DRAWING.try_lock() {
                Ok(guard) => break Some(guard),
                Err(TryLockError::Poisoned(p)) => break Some(p.into_inner()),
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err(TryLockError::WouldBlock) => break None,
            }
        };
        PANICKED.store(true, Ordering::SeqCst);
        restore_terminal();
        previous(info);
    }));
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// Read terminal events on a thread of its own (crossterm's reads block) until `stop` is set or
/// the loop is gone.
fn spawn_input(tx: mpsc::Sender<Event>, stop: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            match term::poll(INPUT_POLL) {
                Ok(false) => continue,
                Ok(true) => {}
                Err(_) => break,
            }
            let event = match term::read() {
                Ok(term::Event::Key(k)) => Event::Key(k),
                Ok(term::Event::Mouse(m)) => Event::Mouse(m),
                Ok(term::Event::Resize(w, h)) => Event::Resize(w, h),
                Ok(term::Event::Paste(text)) => Event::Paste(text),
                Ok(_) => continue,
                Err(_) => break,
            };
            if tx.blocking_send(event).is_err() {
                break;
            }
        }
    });
}

/// Keep the console fed from `source`: a snapshot, then updates; on failure say so in the
/// header and try again.
fn spawn_feed<S: NodeSource>(source: Arc<S>, tx: mpsc::Sender<Update>) {
    tokio::spawn(async move {
        loop {
            let connected = async {
                let updates = source.subscribe().await?;
                let snapshot = source.snapshot().await?;
                Ok::<_, SourceError>((snapshot, updates))
            };
            match connected.await {
                Ok((snapshot, mut updates)) => {
                    if tx.send(Update::Resync(Box::new(snapshot))).await.is_err() {
                        return;
                    }
                    while let Some(u) = updates.recv().await {
                        if tx.send(u).await.is_err() {
                            return;
                        }
                    }
                    let down = Update::Health(Health::Down("update stream closed".to_owned()));
                    if tx.send(down).await.is_err() {
                        return;
                    }
                }
                Err(e) => {
                    if tx.send(Update::Health(Health::Down(e.to_string()))).await.is_err() {
                        return;
                    }
                }
            }
            tokio::time::sleep(RECONNECT).await;
        }
    });
}

fn spawn_action<S: NodeSource>(
    source: Arc<S>,
    action: Action,
    tx: mpsc::Sender<(Action, Result<(), SourceError>)>,
) {
    tokio::spawn(async move {
        let result = source.act(action.clone()).await;
        let _ = tx.send((action, result)).await;
    });
}

/// Run the console on the real terminal until the operator quits.
pub async fn run<S: NodeSource>(source: S, options: Options) -> Result<(), RunError> {
    install_panic_hook();
    enable_raw_mode()?;
    ACTIVE.store(true, Ordering::SeqCst);
    let _guard = TerminalGuard;
    execute!(io::stdout(), EnterAlternateScreen, EnableMouseCapture, EnableBracketedPaste)?;
    let mut terminal: Terminal<CrosstermBackend<Stdout>> =
        Terminal::new(CrosstermBackend::new(io::stdout()))?;
    terminal.clear()?;
    let size = terminal.size()?;
    let mut app = App::new(Snapshot::default(), options, (size.width, size.height));

    let stop = Arc::new(AtomicBool::new(false));
    let (input_tx, mut input_rx) = mpsc::channel(INPUT_QUEUE);
    spawn_input(input_tx, stop.clone());
    let source = Arc::new(source);
    let (update_tx, mut update_rx) = mpsc::channel(UPDATE_QUEUE);
    spawn_feed(source.clone(), update_tx);
    let (result_tx, mut result_rx) = mpsc::channel(RESULT_QUEUE);
    let mut ticker = tokio::time::interval(TICK);

    let outcome = loop {
        {
            let _frame = DRAWING.lock().unwrap_or_else(|p| p.into_inner());
            if PANICKED.load(Ordering::SeqCst) {
                break Err(RunError::Panicked);
            }
            if let Err(e) = terminal.draw(|frame| ui::draw(frame, &app)) {
                break Err(RunError::Terminal(e));
            }
        }
        let event = tokio::select! {
            Some(event) = input_rx.recv() => event,
            Some(update) = update_rx.recv() => Event::Update(update),
            Some((action, result)) = result_rx.recv() => Event::ActionDone { action, result },
            _ = ticker.tick() => Event::Tick(now_ms()),
        };
        let mut command = handle(&mut app, event);
        // Apply what else is waiting before drawing again.
        for _ in 0..UPDATES_PER_FRAME {
            if command.is_some() {
                break;
            }
            match update_rx.try_recv() {
                Ok(update) => command = handle(&mut app, Event::Update(update)),
                Err(_) => break,
            }
        }
        match command {
            Some(Command::Quit) => break Ok(()),
            Some(Command::Act(action)) => spawn_action(source.clone(), action, result_tx.clone()),
            None => {}
        }
    };
    stop.store(true, Ordering::Relaxed);
    outcome
}
