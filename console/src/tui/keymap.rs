//! Every key the console understands, in one table.
//!
//! Key handling, the footer and the `?` help overlay are all generated from [`BINDINGS`], and the
//! command palette's action commands come from the bindings' `command` names, so a key cannot
//! work without being documented, nor be documented without working.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::view::View;

/// What a key asks for, before the app decides what it means in its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    /// Leave the console.
    Quit,
    /// Show or hide the help overlay.
    Help,
    /// Show or hide the fleet overview.
    Overview,
    /// Next tab.
    NextView,
    /// Previous tab.
    PrevView,
    /// A tab by number.
    Go(View),
    /// Selection up one row.
    Up,
    /// Selection down one row.
    Down,
    /// Selection up one page.
    PageUp,
    /// Selection down one page.
    PageDown,
    /// First row.
    Top,
    /// Last row.
    Bottom,
    /// Open or close the details of the selected row.
    Details,
    /// Close what is open: details, a filter, an overlay.
    Back,
    /// Start typing a filter for the table.
    Filter,
    /// Sort the table by its next column (after the last, its own order again).
    SortNext,
    /// Turn the table's sort order around.
    SortReverse,
    /// Open the command palette.
    Palette,
    /// Pause the selected job.
    Pause,
    /// Resume the selected job.
    Resume,
    /// Cancel the selected job.
    Cancel,
    /// Reprint the selected job.
    Reprint,
    /// Accept the picked offer on the selected design request.
    AcceptOffer,
    /// Pick the next dearer offer on the selected design request.
    NextOffer,
    /// Pick the next cheaper offer on the selected design request.
    PrevOffer,
    /// Acknowledge the selected alert.
    Acknowledge,
    /// Confirm the selected printer's bed is clear.
    BedClear,
    /// Have the selected order made again after its parts failed inspection.
    ReprintOrder,
    /// Call the selected order off.
    CancelOrder,
    /// Show more log levels.
    MoreVerbose,
    /// Show fewer log levels.
    LessVerbose,
    /// Keep the log scrolled to the newest line.
    Follow,
    /// Show past (cleared) alerts too, or only active ones.
    TogglePast,
    /// Next layer of the slice preview.
    LayerUp,
    /// Previous layer of the slice preview.
    LayerDown,
    /// Confirm the dialog.
    Confirm,
    /// Dismiss the dialog.
    Deny,
    /// Accept typed input (filter, command).
    Accept,
    /// Complete the command being typed.
    Complete,
}

/// Where a binding works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// In every view, when no dialog or input is open.
    Global,
    /// In one view.
    View(View),
    /// In the confirmation dialog.
    Dialog,
    /// While typing a filter or a command.
    Input,
    /// In the help overlay.
    HelpOverlay,
}

/// A key with its modifiers, constructible in constants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    /// The key.
    pub code: KeyCode,
    /// Ctrl or Alt (Shift is part of the character for character keys).
    pub mods: KeyModifiers,
}

const fn k(c: char) -> Key {
    Key { code: KeyCode::Char(c), mods: KeyModifiers::NONE }
}

const fn code(code: KeyCode) -> Key {
    Key { code, mods: KeyModifiers::NONE }
}

const fn ctrl(c: char) -> Key {
    Key { code: KeyCode::Char(c), mods: KeyModifiers::CONTROL }
}

impl Key {
    /// The key as the help shows it.
    pub fn label(&self) -> String {
        let base = match self.code {
            KeyCode::Char(' ') => "Space".to_owned(),
            KeyCode::Char(c) => c.to_string(),
            KeyCode::Up => "↑".to_owned(),
            KeyCode::Down => "↓".to_owned(),
            KeyCode::Left => "←".to_owned(),
            KeyCode::Right => "→".to_owned(),
            KeyCode::PageUp => "PgUp".to_owned(),
            KeyCode::PageDown => "PgDn".to_owned(),
            KeyCode::Home => "Home".to_owned(),
            KeyCode::End => "End".to_owned(),
            KeyCode::Enter => "Enter".to_owned(),
            KeyCode::Esc => "Esc".to_owned(),
            KeyCode::Tab => "Tab".to_owned(),
            KeyCode::BackTab => "S-Tab".to_owned(),
            other => format!("{other:?}"),
        };
        if self.mods.contains(KeyModifiers::CONTROL) { format!("C-{base}") } else { base }
    }

    /// Whether a terminal key event is this key. Shift is ignored for characters and back-tab,
    /// because terminals report it inconsistently for `?`, `G` or `S-Tab`.
    pub fn matches(&self, event: &KeyEvent) -> bool {
        let mut mods = event.modifiers;
        if matches!(event.code, KeyCode::Char(_) | KeyCode::BackTab) {
            mods.remove(KeyModifiers::SHIFT);
        }
        let code = match event.code {
            KeyCode::Char(c) if mods.contains(KeyModifiers::CONTROL) => {
                KeyCode::Char(c.to_ascii_lowercase())
            }
            other => other,
        };
        code == self.code && mods == self.mods
    }
}

/// One entry of the keymap.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    /// Keys that trigger it; the first is shown in the footer.
    pub keys: &'static [Key],
    /// What it asks for.
    pub intent: Intent,
    /// Where it works.
    pub scope: Scope,
    /// A word or two for the footer; empty keeps it out of the footer.
    pub short: &'static str,
    /// A sentence for the help overlay.
    pub help: &'static str,
    /// The command palette name, for bindings that make sense as commands.
    pub command: Option<&'static str>,
    /// Whether it changes the node (hidden and refused with `--read-only`).
    pub acts: bool,
}

const fn bind(
    keys: &'static [Key],
    intent: Intent,
    scope: Scope,
    short: &'static str,
    help: &'static str,
) -> Binding {
    Binding { keys, intent, scope, short, help, command: None, acts: false }
}

const fn cmd(mut b: Binding, name: &'static str) -> Binding {
    b.command = Some(name);
    b
}

const fn acts(mut b: Binding) -> Binding {
    b.acts = true;
    b
}

use Intent as I;
use Scope as S;

/// The whole keymap. Earlier entries win when two match in the same scope.
pub const BINDINGS: &[Binding] = &[
    // Dialog and inputs first: they capture keys while open.
    bind(&[k('y'), code(KeyCode::Enter)], I::Confirm, S::Dialog, "confirm", "Do it"),
    bind(&[k('n'), code(KeyCode::Esc)], I::Deny, S::Dialog, "cancel", "Leave it as it is"),
    bind(
        &[code(KeyCode::Enter)],
        I::Accept,
        S::Input,
        "apply",
        "Apply the filter or run the command",
    ),
    bind(
        &[code(KeyCode::Esc)],
        I::Back,
        S::Input,
        "cancel",
        "Close the input (a filter is cleared)",
    ),
    bind(&[code(KeyCode::Tab)], I::Complete, S::Input, "complete", "Complete the command name"),
    bind(&[code(KeyCode::Up)], I::Up, S::Input, "", "Previous command suggestion"),
    bind(&[code(KeyCode::Down)], I::Down, S::Input, "", "Next command suggestion"),
    bind(&[code(KeyCode::Esc), k('?'), k('q')], I::Back, S::HelpOverlay, "close", "Close the help"),
    bind(&[k('j'), code(KeyCode::Down)], I::Down, S::HelpOverlay, "scroll", "Scroll down"),
    bind(&[k('k'), code(KeyCode::Up)], I::Up, S::HelpOverlay, "", "Scroll up"),
    // Everywhere.
    cmd(bind(&[k('?')], I::Help, S::Global, "help", "Show every key"), "help"),
    cmd(
        bind(
            &[k('o')],
            I::Overview,
            S::Global,
            "",
            "Fleet overview with charts (o again to leave)",
        ),
        "overview",
    ),
    bind(&[k('/')], I::Filter, S::Global, "filter", "Filter the table by text"),
    cmd(
        bind(
            &[k('s')],
            I::SortNext,
            S::Global,
            "sort",
            "Sort by the next column (after the last: unsorted)",
        ),
        "sort",
    ),
    cmd(
        bind(&[k('S')], I::SortReverse, S::Global, "", "Turn the table's sort order around"),
        "sort-reverse",
    ),
    bind(&[k(':')], I::Palette, S::Global, "cmd", "Command palette: jump to a view, run an action"),
    bind(&[code(KeyCode::Enter)], I::Details, S::Global, "details", "Open or close details"),
    bind(&[code(KeyCode::Esc)], I::Back, S::Global, "", "Back: close details, clear the filter"),
    bind(&[k('j'), code(KeyCode::Down)], I::Down, S::Global, "", "Next row"),
    bind(&[k('k'), code(KeyCode::Up)], I::Up, S::Global, "", "Previous row"),
    bind(&[ctrl('d'), code(KeyCode::PageDown)], I::PageDown, S::Global, "", "Page down"),
    bind(&[ctrl('u'), code(KeyCode::PageUp)], I::PageUp, S::Global, "", "Page up"),
    bind(&[k('g'), code(KeyCode::Home)], I::Top, S::Global, "", "First row"),
    bind(&[k('G'), code(KeyCode::End)], I::Bottom, S::Global, "", "Last row"),
    bind(
        &[code(KeyCode::Tab), k('l'), code(KeyCode::Right)],
        I::NextView,
        S::Global,
        "",
        "Next view",
    ),
    bind(
        &[code(KeyCode::BackTab), k('h'), code(KeyCode::Left)],
        I::PrevView,
        S::Global,
        "",
        "Previous view",
    ),
    bind(&[k('1')], I::Go(View::Jobs), S::Global, "", "Jobs view"),
    bind(&[k('2')], I::Go(View::Printers), S::Global, "", "Printers view"),
    bind(&[k('3')], I::Go(View::Orders), S::Global, "", "Orders view"),
    bind(&[k('4')], I::Go(View::Network), S::Global, "", "Network view"),
    bind(&[k('5')], I::Go(View::Models), S::Global, "", "Models view"),
    bind(&[k('6')], I::Go(View::Alerts), S::Global, "", "Alerts view"),
    bind(&[k('7')], I::Go(View::Log), S::Global, "", "Log view"),
    bind(&[k('8')], I::Go(View::Design), S::Global, "", "Design requests view"),
    cmd(bind(&[k('q'), ctrl('c')], I::Quit, S::Global, "quit", "Quit"), "quit"),
    // Jobs.
    cmd(
        acts(bind(&[k('p')], I::Pause, S::View(View::Jobs), "pause", "Pause the selected job")),
        "pause",
    ),
    cmd(
        acts(bind(&[k('r')], I::Resume, S::View(View::Jobs), "resume", "Resume the selected job")),
        "resume",
    ),
    cmd(
        acts(bind(&[k('c')], I::Cancel, S::View(View::Jobs), "cancel", "Cancel the selected job")),
        "cancel",
    ),
    cmd(
        acts(bind(
            &[k('R')],
            I::Reprint,
            S::View(View::Jobs),
            "reprint",
            "Reprint the selected job",
        )),
        "reprint",
    ),
    // Printers.
    cmd(
        acts(bind(
            &[k('b')],
            I::BedClear,
            S::View(View::Printers),
            "bed clear",
            "Confirm the selected printer's bed is clear",
        )),
        "bed-clear",
    ),
    // Orders.
    cmd(
        acts(bind(
            &[k('R')],
            I::ReprintOrder,
            S::View(View::Orders),
            "reprint",
            "Have the selected order made again after its parts failed inspection",
        )),
        "reprint-order",
    ),
    cmd(
        acts(bind(
            &[k('c')],
            I::CancelOrder,
            S::View(View::Orders),
            "cancel",
            "Call the selected order off (before printing, or after a failed inspection)",
        )),
        "cancel-order",
    ),
    // Models.
    bind(
        &[k(']'), k('+')],
        I::LayerUp,
        S::View(View::Models),
        "layer+",
        "Next layer of the preview",
    ),
    bind(
        &[k('['), k('-')],
        I::LayerDown,
        S::View(View::Models),
        "layer-",
        "Previous layer of the preview",
    ),
    // Design.
    cmd(
        acts(bind(
            &[k('a')],
            I::AcceptOffer,
            S::View(View::Design),
            "accept offer",
            "Accept the picked offer (▶) on the selected request (yours, none accepted yet)",
        )),
        "accept-offer",
    ),
    bind(
        &[k(']'), k('+')],
        I::NextOffer,
        S::View(View::Design),
        "next offer",
        "Pick the next offer: they are listed cheapest first, the cheapest picked",
    ),
    bind(&[k('['), k('-')], I::PrevOffer, S::View(View::Design), "", "Pick the previous offer"),
    // Alerts.
    cmd(
        acts(bind(
            &[k('a')],
            I::Acknowledge,
            S::View(View::Alerts),
            "ack",
            "Acknowledge the selected alert",
        )),
        "ack",
    ),
    cmd(
        bind(
            &[k('x')],
            I::TogglePast,
            S::View(View::Alerts),
            "past",
            "Show or hide cleared alerts",
        ),
        "past",
    ),
    // Log.
    cmd(
        bind(&[k('v')], I::MoreVerbose, S::View(View::Log), "more", "Show one more log level"),
        "verbose",
    ),
    cmd(
        bind(&[k('V')], I::LessVerbose, S::View(View::Log), "less", "Show one log level fewer"),
        "quiet",
    ),
    cmd(
        bind(&[k('f')], I::Follow, S::View(View::Log), "follow", "Follow the newest line"),
        "follow",
    ),
];

/// The intent of `key` in `scope`, honouring `--read-only`.
pub fn lookup(scope: Scope, key: &KeyEvent, read_only: bool) -> Option<Intent> {
    BINDINGS
        .iter()
        .filter(|b| b.scope == scope && !(read_only && b.acts))
        .find(|b| b.keys.iter().any(|k| k.matches(key)))
        .map(|b| b.intent)
}

/// The intent of `key` in normal mode on `view`: the view's own keys first, then global ones.
pub fn lookup_normal(view: View, key: &KeyEvent, read_only: bool) -> Option<Intent> {
    lookup(Scope::View(view), key, read_only).or_else(|| lookup(Scope::Global, key, read_only))
}

/// Whether `key` is bound to an action that `--read-only` disables in `view` — so the app can
/// say why nothing happened instead of staying silent.
pub fn is_disabled_action(view: View, key: &KeyEvent) -> bool {
    BINDINGS.iter().any(|b| {
        b.acts
            && (b.scope == Scope::View(view) || b.scope == Scope::Global)
            && b.keys.iter().any(|k| k.matches(key))
    })
}

/// The footer entries for `scopes`: (key label, short text), in keymap order.
pub fn footer(scopes: &[Scope], read_only: bool) -> Vec<(String, &'static str)> {
    let mut out = Vec::new();
    for scope in scopes {
        for b in BINDINGS.iter().filter(|b| b.scope == *scope) {
            if b.short.is_empty() || (read_only && b.acts) {
                continue;
            }
            if let Some(key) = b.keys.first() {
                out.push((key.label(), b.short));
            }
        }
    }
    out
}

/// One line of the help overlay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelpLine {
    /// Every key of the binding, as shown.
    pub keys: String,
    /// What it does.
    pub help: &'static str,
    /// Whether `--read-only` disabled it.
    pub disabled: bool,
}

/// The help overlay's sections: a title and its lines, for every scope.
pub fn help_sections(read_only: bool) -> Vec<(String, Vec<HelpLine>)> {
    let mut scopes = vec![(Scope::Global, "Everywhere".to_owned())];
    scopes.extend(View::ALL.iter().map(|v| (Scope::View(*v), v.title().to_owned())));
    scopes.push((Scope::Input, "Filter and command input".to_owned()));
    scopes.push((Scope::Dialog, "Confirmation".to_owned()));
    scopes
        .into_iter()
        .filter_map(|(scope, title)| {
            let lines: Vec<HelpLine> = BINDINGS
                .iter()
                .filter(|b| b.scope == scope)
                .map(|b| HelpLine {
                    keys: b.keys.iter().map(Key::label).collect::<Vec<_>>().join(" "),
                    help: b.help,
                    disabled: read_only && b.acts,
                })
                .collect();
            (!lines.is_empty()).then_some((title, lines))
        })
        .collect()
}
