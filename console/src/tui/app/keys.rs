//! Keys, by mode: dialogs and inputs capture the keyboard; otherwise the keymap decides.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::{App, Command, MAX_INPUT, Mode};
use crate::tui::keymap::{self, Intent, Scope};
use crate::tui::palette::{self, PaletteAction};
use crate::tui::view::View;

impl App {
    /// Pasted text goes where typed text would; line breaks become spaces and the input limit
    /// holds.
    pub(super) fn paste(&mut self, text: &str) {
        let clean = text.replace(['\r', '\n', '\t'], " ");
        let append = |input: &mut String| {
            let room = MAX_INPUT.saturating_sub(input.chars().count());
            input.extend(clean.chars().filter(|c| !c.is_control()).take(room));
        };
        match &mut self.mode {
            Mode::Filter => {
                append(&mut self.tables[self.view.index()].filter);
                self.refresh(self.view);
            }
            Mode::Palette { input, choice } => {
                append(input);
                *choice = 0;
            }
            _ => {}
        }
    }

    pub(super) fn key(&mut self, key: KeyEvent) -> Option<Command> {
        if key.kind == KeyEventKind::Release {
            return None;
        }
        match self.mode.clone() {
            Mode::Help { scroll } => {
                match keymap::lookup(Scope::HelpOverlay, &key, self.read_only) {
                    Some(Intent::Back) => self.mode = Mode::Normal,
                    Some(Intent::Down) => {
                        self.mode = Mode::Help { scroll: scroll.saturating_add(1) }
                    }
                    Some(Intent::Up) => self.mode = Mode::Help { scroll: scroll.saturating_sub(1) },
                    _ => {}
                }
                None
            }
            Mode::Confirm(action) => {
                match keymap::lookup(Scope::Dialog, &key, self.read_only) {
                    Some(Intent::Confirm) => {
                        self.mode = Mode::Normal;
                        self.say(format!("{} {} sent", action.verb(), action.subject()), false);
                        return Some(Command::Act(action));
                    }
                    Some(Intent::Deny) => self.mode = Mode::Normal,
                    _ => {}
                }
                None
            }
            Mode::Filter => {
                match keymap::lookup(Scope::Input, &key, self.read_only) {
                    Some(Intent::Accept) => self.mode = Mode::Normal,
                    Some(Intent::Back) => {
                        self.mode = Mode::Normal;
                        self.tables[self.view.index()].filter.clear();
                        self.refresh(self.view);
                    }
                    Some(_) => {}
                    None => {
                        let filter = &mut self.tables[self.view.index()].filter;
                        if edit(filter, &key) {
                            self.refresh(self.view);
                        }
                    }
                }
                None
            }
            Mode::Palette { mut input, mut choice } => {
                let candidates = palette::matches(&input, self.read_only);
                match keymap::lookup(Scope::Input, &key, self.read_only) {
                    Some(Intent::Accept) => {
                        self.mode = Mode::Normal;
                        // Run what was typed when it parses, else the highlighted suggestion
                        // (a known command with bad arguments says what is wrong with them).
                        let typed = palette::parse(&input, self.read_only);
                        let chosen = match (typed, candidates.get(choice)) {
                            (Ok(a), _) => Ok(a),
                            (Err(palette::PaletteError::Unknown(_)), Some(c))
                                if !input.trim().is_empty() =>
                            {
                                palette::parse(&c.name, self.read_only)
                            }
                            (Err(e), _) => Err(e),
                        };
                        return match chosen {
                            Ok(action) => self.palette_action(action),
                            Err(e) => {
                                self.say(e.to_string(), true);
                                None
                            }
                        };
                    }
                    Some(Intent::Back) => {
                        self.mode = Mode::Normal;
                        return None;
                    }
                    Some(Intent::Complete) => {
                        if let Some(c) = candidates.get(choice) {
                            input = c.name.clone();
                            choice = 0;
                        }
                    }
                    Some(Intent::Up) => choice = choice.saturating_sub(1),
                    Some(Intent::Down) => {
                        choice = (choice + 1).min(candidates.len().saturating_sub(1));
                    }
                    Some(_) => {}
                    None => {
                        if key.code == KeyCode::Backspace && input.is_empty() {
                            self.mode = Mode::Normal;
                            return None;
                        }
                        if edit(&mut input, &key) {
                            choice = 0;
                        }
                    }
                }
                self.mode = Mode::Palette { input, choice };
                None
            }
            Mode::Normal => match keymap::lookup_normal(self.view, &key, self.read_only) {
                Some(intent) => self.intent(intent),
                None => {
                    if self.read_only && keymap::is_disabled_action(self.view, &key) {
                        self.say("read-only console: actions are disabled", true);
                    }
                    None
                }
            },
        }
    }

    fn palette_action(&mut self, action: PaletteAction) -> Option<Command> {
        match action {
            PaletteAction::Go(view) => {
                self.go(view);
                None
            }
            PaletteAction::Intent(intent) => self.intent(intent),
            PaletteAction::Level(level) => {
                self.go(View::Log);
                self.set_level(level);
                None
            }
            PaletteAction::Filter(text) => {
                self.tables[self.view.index()].filter = text;
                self.refresh(self.view);
                None
            }
            PaletteAction::Offer { price, days, message } => self.make_offer(price, days, message),
            PaletteAction::Deliver { path, prints } => self.deliver(path, prints),
        }
    }
}

/// Apply a typing key to `text`; whether it changed.
fn edit(text: &mut String, key: &KeyEvent) -> bool {
    match key.code {
        KeyCode::Backspace => text.pop().is_some(),
        KeyCode::Char('u') if key.modifiers.contains(KeyModifiers::CONTROL) => {
            let changed = !text.is_empty();
            text.clear();
            changed
        }
        KeyCode::Char(c)
            if !key.modifiers.intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
                && text.chars().count() < MAX_INPUT =>
        {
            text.push(c);
            true
        }
        _ => false,
    }
}
