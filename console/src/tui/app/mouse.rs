//! The mouse: tabs and rows are clicked where [`layout`](crate::tui::layout) put them; the wheel
//! scrolls the table or the help.

use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};

use super::{App, Command, Mode, WHEEL_ROWS};
use crate::tui::keymap::Intent;
use crate::tui::layout;

impl App {
    pub(super) fn mouse(&mut self, mouse: MouseEvent) -> Option<Command> {
        match (&self.mode, mouse.kind) {
            (Mode::Help { scroll }, MouseEventKind::ScrollDown) => {
                self.mode = Mode::Help { scroll: scroll.saturating_add(WHEEL_ROWS as u16) };
            }
            (Mode::Help { scroll }, MouseEventKind::ScrollUp) => {
                self.mode = Mode::Help { scroll: scroll.saturating_sub(WHEEL_ROWS as u16) };
            }
            (Mode::Normal, MouseEventKind::ScrollDown) => self.move_by(WHEEL_ROWS as isize),
            (Mode::Normal, MouseEventKind::ScrollUp) => self.move_by(-(WHEEL_ROWS as isize)),
            (Mode::Normal, MouseEventKind::Down(MouseButton::Left)) => {
                let areas = self.areas();
                if mouse.row == areas.tabs.y {
                    let labels = layout::tab_labels(self.active_alerts(), areas.tabs.width);
                    if let Some(view) = layout::tab_at(areas.tabs, mouse.column, &labels) {
                        self.go(view);
                    }
                    return None;
                }
                let table = areas.table;
                let first = layout::first_row_y(table);
                let inside = mouse.column > table.x
                    && mouse.column < table.right().saturating_sub(1)
                    && mouse.row >= first
                    && usize::from(mouse.row - first) < layout::body_rows(table);
                if inside {
                    let t = self.table();
                    let position = t.offset + usize::from(mouse.row - first);
                    if position < t.rows.len() {
                        if position == t.selected {
                            return self.intent(Intent::Details);
                        }
                        self.select(self.view, position);
                    }
                }
            }
            _ => {}
        }
        None
    }
}
