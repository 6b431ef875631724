//! Key, mouse and update handling on the pure state machine: event in, state and command out.

use amsp_console::tui::app::{App, Command, Event, FLASH_MS, Mode, Options, STATUS_MS, handle};
use amsp_console::tui::keymap::{self, BINDINGS, Scope};
use amsp_console::tui::layout;
use amsp_console::tui::model::{JobState, Level, LogLine, Update};
use amsp_console::tui::palette;
use amsp_console::tui::source::{Action, SourceError};
use amsp_console::tui::theme::Theme;
use amsp_console::tui::{View, fixtures};
use amsp_proto::alert::Severity;
use crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};

fn app_with(snapshot: amsp_console::tui::model::Snapshot, read_only: bool) -> App {
    let mut app = App::new(snapshot, Options { read_only, theme: Theme { color: true } }, (80, 24));
    handle(&mut app, Event::Tick(fixtures::NOW_MS));
    app
}

fn app() -> App {
    app_with(fixtures::busy(), false)
}

fn press(app: &mut App, code: KeyCode) -> Option<Command> {
    handle(app, Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn ch(app: &mut App, c: char) -> Option<Command> {
    press(app, KeyCode::Char(c))
}

fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        ch(app, c);
    }
}

fn click(app: &mut App, column: u16, row: u16) -> Option<Command> {
    handle(
        app,
        Event::Mouse(MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column,
            row,
            modifiers: KeyModifiers::NONE,
        }),
    )
}

fn wheel(app: &mut App, kind: MouseEventKind) {
    handle(
        app,
        Event::Mouse(MouseEvent { kind, column: 10, row: 10, modifiers: KeyModifiers::NONE }),
    );
}

fn selected_job(app: &App) -> amsp_proto::JobId {
    let i = app.table_of(View::Jobs).selected_item().expect("a job is selected");
    app.snapshot.jobs[i].id
}

#[test]
fn number_keys_tab_and_vim_keys_switch_views() {
    let mut a = app();
    for view in View::ALL {
        ch(&mut a, char::from(b'1' + view.index() as u8));
        assert_eq!(a.view, view);
    }
    press(&mut a, KeyCode::Tab);
    assert_eq!(a.view, View::Jobs, "Tab wraps from the last view to the first");
    press(&mut a, KeyCode::BackTab);
    assert_eq!(a.view, View::Design, "Shift-Tab wraps back");
    ch(&mut a, 'l');
    assert_eq!(a.view, View::Jobs);
    ch(&mut a, 'h');
    assert_eq!(a.view, View::Design);
    // Terminals report Shift with BackTab; it still means the previous view.
    handle(&mut a, Event::Key(KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT)));
    assert_eq!(a.view, View::Log);
}

#[test]
fn arrows_vim_keys_and_paging_move_the_selection_within_bounds() {
    let mut a = app_with(fixtures::large(10_000, 200), false);
    assert_eq!(a.table().selected, 0);
    ch(&mut a, 'j');
    press(&mut a, KeyCode::Down);
    assert_eq!(a.table().selected, 2);
    ch(&mut a, 'k');
    assert_eq!(a.table().selected, 1);
    press(&mut a, KeyCode::Up);
    press(&mut a, KeyCode::Up);
    assert_eq!(a.table().selected, 0, "no wrap above the first row");
    let page = layout::body_rows(a.areas().table);
    assert_eq!(page, 18, "80×24 leaves 18 table rows");
    press(&mut a, KeyCode::PageDown);
    assert_eq!(a.table().selected, page);
    handle(&mut a, Event::Key(KeyEvent::new(KeyCode::Char('d'), KeyModifiers::CONTROL)));
    assert_eq!(a.table().selected, 2 * page);
    ch(&mut a, 'G');
    assert_eq!(a.table().selected, 9_999);
    assert_eq!(a.table().offset, 10_000 - page, "the last page is full");
    ch(&mut a, 'j');
    assert_eq!(a.table().selected, 9_999, "no wrap below the last row");
    ch(&mut a, 'g');
    assert_eq!((a.table().selected, a.table().offset), (0, 0));
}

#[test]
fn the_selection_always_stays_on_screen() {
    let mut a = app_with(fixtures::large(10_000, 200), false);
    let page = layout::body_rows(a.areas().table);
    for step in 0..200 {
        let code = if step % 7 == 3 { KeyCode::Up } else { KeyCode::PageDown };
        press(&mut a, code);
        let t = a.table();
        assert!(t.selected >= t.offset && t.selected < t.offset + page, "{step}: {t:?}");
    }
}

#[test]
fn resize_keeps_the_selection_visible() {
    let mut a = app_with(fixtures::large(1_000, 10), false);
    ch(&mut a, 'G');
    handle(&mut a, Event::Resize(120, 60));
    let page = layout::body_rows(a.areas().table);
    assert_eq!(page, 54);
    let t = a.table();
    assert!(t.selected >= t.offset && t.selected < t.offset + page);
    handle(&mut a, Event::Resize(80, 12));
    let page = layout::body_rows(a.areas().table);
    let t = a.table();
    assert!(t.selected >= t.offset && t.selected < t.offset + page, "{t:?} page {page}");
}

#[test]
fn slash_filters_the_table_and_esc_clears_it() {
    let mut a = app();
    ch(&mut a, '/');
    assert_eq!(a.mode, Mode::Filter);
    typed(&mut a, "MK4");
    let rows: Vec<_> =
        a.table().rows.iter().map(|&i| a.snapshot.jobs[i].printer_name.clone()).collect();
    assert_eq!(rows, vec![Some("mk4-01".into()), Some("mk4-02".into()), Some("mk4-02".into())]);
    assert_eq!(ch(&mut a, 'q'), None, "q is text while typing a filter");
    assert!(a.table().rows.is_empty());
    press(&mut a, KeyCode::Backspace);
    assert_eq!(a.table().rows.len(), 3);
    press(&mut a, KeyCode::Enter);
    assert_eq!(a.mode, Mode::Normal);
    assert_eq!(a.table().filter, "MK4", "Enter keeps the filter");
    press(&mut a, KeyCode::Esc);
    assert_eq!(a.table().filter, "");
    assert_eq!(a.table().rows.len(), 8);
    // Each view keeps its own filter.
    ch(&mut a, '/');
    typed(&mut a, "printing");
    press(&mut a, KeyCode::Enter);
    ch(&mut a, '2');
    assert_eq!(a.table().rows.len(), 4);
    ch(&mut a, '1');
    assert_eq!(a.table().rows.len(), 2);
}

#[test]
fn pause_asks_for_confirmation_then_sends_the_action() {
    let mut a = app();
    let job = selected_job(&a);
    assert_eq!(a.snapshot.jobs[0].state, JobState::Printing);
    assert_eq!(ch(&mut a, 'p'), None);
    assert_eq!(a.mode, Mode::Confirm(Action::Pause(job)));
    assert_eq!(ch(&mut a, 'x'), None, "other keys leave the dialog open");
    assert_eq!(a.mode, Mode::Confirm(Action::Pause(job)));
    assert_eq!(ch(&mut a, 'y'), Some(Command::Act(Action::Pause(job))));
    assert_eq!(a.mode, Mode::Normal);
    // No: nothing is sent.
    ch(&mut a, 'c');
    assert_eq!(a.mode, Mode::Confirm(Action::Cancel(job)));
    assert_eq!(ch(&mut a, 'n'), None);
    assert_eq!(a.mode, Mode::Normal);
    // Enter confirms too, Esc dismisses.
    ch(&mut a, 'c');
    assert_eq!(press(&mut a, KeyCode::Enter), Some(Command::Act(Action::Cancel(job))));
    ch(&mut a, 'c');
    assert_eq!(press(&mut a, KeyCode::Esc), None);
    assert_eq!(a.mode, Mode::Normal);
}

#[test]
fn actions_that_do_not_fit_the_job_state_are_refused_with_a_reason() {
    let mut a = app();
    ch(&mut a, 'r'); // resume a printing job
    assert_eq!(a.mode, Mode::Normal);
    let status = a.status.clone().unwrap();
    assert!(status.error && status.text.contains("cannot resume"), "{status:?}");
    // The paused job (third row) can be resumed; the failed one (last) reprinted.
    ch(&mut a, 'j');
    ch(&mut a, 'j');
    let paused = selected_job(&a);
    ch(&mut a, 'r');
    assert_eq!(a.mode, Mode::Confirm(Action::Resume(paused)));
    press(&mut a, KeyCode::Esc);
    ch(&mut a, 'G');
    let failed = selected_job(&a);
    ch(&mut a, 'p');
    assert_eq!(a.mode, Mode::Normal);
    ch(&mut a, 'R');
    assert_eq!(a.mode, Mode::Confirm(Action::Reprint(failed)));
}

#[test]
fn read_only_refuses_every_action_and_says_so() {
    let mut a = app_with(fixtures::busy(), true);
    for c in ['p', 'r', 'c', 'R'] {
        a.status = None;
        assert_eq!(ch(&mut a, c), None);
        assert_eq!(a.mode, Mode::Normal);
        assert!(a.status.as_ref().is_some_and(|s| s.text.contains("read-only")), "{c}");
    }
    ch(&mut a, '6');
    assert_eq!(ch(&mut a, 'a'), None);
    ch(&mut a, ':');
    typed(&mut a, "pause");
    assert_eq!(press(&mut a, KeyCode::Enter), None);
    assert!(a.status.as_ref().is_some_and(|s| s.error), "{:?}", a.status);
    assert!(!palette::commands(true).iter().any(|c| c.acts));
}

#[test]
fn b_confirms_the_bed_clear_of_a_printer_that_waits_for_it_and_only_then() {
    let mut snapshot = fixtures::busy();
    snapshot.printers[1].awaiting_clear = true;
    let waiting = snapshot.printers[1].id;
    let mut a = app_with(snapshot, false);
    ch(&mut a, '2');
    // The first printer does not wait: refused with the reason.
    assert_eq!(ch(&mut a, 'b'), None);
    assert!(a.status.as_ref().is_some_and(|s| s.error && s.text.contains("not waiting")));
    ch(&mut a, 'j');
    let i = a.table().selected_item().unwrap();
    assert_eq!(a.snapshot.printers[i].id, waiting, "rows follow the snapshot's order");
    assert_eq!(ch(&mut a, 'b'), Some(Command::Act(Action::BedClear(waiting))));
    // Read-only consoles do not send it.
    let mut ro = app_with(fixtures::busy(), true);
    ch(&mut ro, '2');
    assert_eq!(ch(&mut ro, 'b'), None);
}

#[test]
fn acknowledge_sends_the_selected_alert_without_a_dialog() {
    let mut a = app();
    ch(&mut a, '6');
    let first = &a.snapshot.alerts[a.table().selected_item().unwrap()];
    assert_eq!(first.severity, Severity::Critical, "critical unacknowledged alerts come first");
    let id = first.id.clone();
    assert_eq!(ch(&mut a, 'a'), Some(Command::Act(Action::Acknowledge(id))));
    // An acknowledged one is not sent again.
    ch(&mut a, 'j');
    ch(&mut a, 'j');
    let i = a.table().selected_item().unwrap();
    assert!(a.snapshot.alerts[i].acknowledged_ms.is_some());
    assert_eq!(ch(&mut a, 'a'), None);
}

#[test]
fn cleared_alerts_are_hidden_until_asked_for() {
    let mut a = app();
    ch(&mut a, '6');
    assert_eq!(a.table().rows.len(), 3);
    ch(&mut a, 'x');
    assert_eq!(a.table().rows.len(), 4);
    ch(&mut a, 'x');
    assert_eq!(a.table().rows.len(), 3);
}

#[test]
fn palette_jumps_runs_and_completes() {
    let mut a = app();
    ch(&mut a, ':');
    typed(&mut a, "printers");
    assert_eq!(press(&mut a, KeyCode::Enter), None);
    assert_eq!((a.view, &a.mode), (View::Printers, &Mode::Normal));
    // Tab completes the highlighted suggestion; Down moves the highlight.
    ch(&mut a, ':');
    typed(&mut a, "ne");
    press(&mut a, KeyCode::Tab);
    assert_eq!(a.mode, Mode::Palette { input: "network".into(), choice: 0 });
    press(&mut a, KeyCode::Enter);
    assert_eq!(a.view, View::Network);
    // Enter on a partial name runs the highlighted suggestion.
    ch(&mut a, ':');
    typed(&mut a, "ale");
    press(&mut a, KeyCode::Enter);
    assert_eq!(a.view, View::Alerts);
    // Arguments.
    ch(&mut a, ':');
    typed(&mut a, "level debug");
    press(&mut a, KeyCode::Enter);
    assert_eq!((a.view, a.row_options.log_level), (View::Log, Level::Debug));
    ch(&mut a, ':');
    typed(&mut a, "filter runaway");
    press(&mut a, KeyCode::Enter);
    assert_eq!(a.table().filter, "runaway");
    assert!(a.table().rows.iter().all(|&i| a.snapshot.log[i].message.contains("runaway")));
    // Actions through the palette ask for confirmation like the keys.
    ch(&mut a, ':');
    typed(&mut a, "cancel");
    press(&mut a, KeyCode::Enter);
    assert!(matches!(a.mode, Mode::Confirm(Action::Cancel(_))));
    press(&mut a, KeyCode::Esc);
    // Unknown commands explain themselves.
    ch(&mut a, ':');
    typed(&mut a, "frobnicate");
    press(&mut a, KeyCode::Enter);
    let status = a.status.clone().unwrap();
    assert!(status.error && status.text.contains("frobnicate"), "{status:?}");
    // Quit works from the palette too.
    ch(&mut a, ':');
    typed(&mut a, "quit");
    assert_eq!(press(&mut a, KeyCode::Enter), Some(Command::Quit));
}

#[test]
fn palette_esc_and_backspace_on_empty_close_it() {
    let mut a = app();
    ch(&mut a, ':');
    press(&mut a, KeyCode::Backspace);
    assert_eq!(a.mode, Mode::Normal);
    ch(&mut a, ':');
    typed(&mut a, "jo");
    press(&mut a, KeyCode::Esc);
    assert_eq!((a.mode.clone(), a.view), (Mode::Normal, View::Jobs));
}

#[test]
fn help_opens_and_closes_and_swallows_keys() {
    let mut a = app();
    ch(&mut a, '?');
    assert_eq!(a.mode, Mode::Help { scroll: 0 });
    ch(&mut a, 'j');
    assert_eq!(a.mode, Mode::Help { scroll: 1 });
    assert_eq!(ch(&mut a, '3'), None);
    assert_eq!(a.view, View::Jobs, "view keys do nothing under the help");
    assert_eq!(ch(&mut a, 'q'), None, "q closes the help rather than quitting");
    assert_eq!(a.mode, Mode::Normal);
}

#[test]
fn enter_opens_details_and_esc_goes_back() {
    let mut a = app();
    press(&mut a, KeyCode::Enter);
    assert!(a.detail);
    press(&mut a, KeyCode::Esc);
    assert!(!a.detail);
    press(&mut a, KeyCode::Enter);
    ch(&mut a, '2');
    assert!(!a.detail, "switching views closes details");
}

#[test]
fn q_and_ctrl_c_quit() {
    let mut a = app();
    assert_eq!(ch(&mut a, 'q'), Some(Command::Quit));
    assert!(a.quit);
    let mut a = app();
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(handle(&mut a, Event::Key(ctrl_c)), Some(Command::Quit));
}

#[test]
fn key_releases_are_ignored() {
    let mut a = app();
    let mut release = KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE);
    release.kind = KeyEventKind::Release;
    assert_eq!(handle(&mut a, Event::Key(release)), None);
}

#[test]
fn mouse_clicks_tabs_and_rows_and_scrolls() {
    let mut a = app();
    let tabs_row = a.areas().tabs.y;
    let labels = layout::tab_labels(a.active_alerts(), a.areas().tabs.width);
    // The middle of the third label.
    let x: usize = labels[..2].iter().map(|l| l.chars().count() + 1).sum::<usize>() + 3;
    click(&mut a, x as u16, tabs_row);
    assert_eq!(a.view, View::Orders);
    click(&mut a, 2, tabs_row);
    assert_eq!(a.view, View::Jobs);
    // Rows: the first data row is below the border and the header.
    let first = layout::first_row_y(a.areas().table);
    click(&mut a, 5, first + 3);
    assert_eq!(a.table().selected, 3);
    assert!(!a.detail);
    click(&mut a, 5, first + 3);
    assert!(a.detail, "clicking the selected row opens its details");
    // Below the last row: nothing.
    press(&mut a, KeyCode::Esc);
    click(&mut a, 5, first + 15);
    assert_eq!(a.table().selected, 3);
    wheel(&mut a, MouseEventKind::ScrollDown);
    assert_eq!(a.table().selected, 6);
    wheel(&mut a, MouseEventKind::ScrollUp);
    wheel(&mut a, MouseEventKind::ScrollUp);
    assert_eq!(a.table().selected, 0);
}

#[test]
fn a_new_critical_alert_flashes_until_its_time_is_up() {
    let mut a = app();
    ch(&mut a, '4');
    let mut alert = fixtures::error().alerts.pop().unwrap();
    assert_eq!(alert.severity, Severity::Critical);
    handle(&mut a, Event::Update(Update::Alert(alert.clone())));
    let flash = a.flash.clone().unwrap();
    assert_eq!(flash.until_ms, fixtures::NOW_MS + FLASH_MS);
    assert!(flash.text.contains("disk 97% full"));
    // The same alert again (still active) does not restart the flash.
    handle(&mut a, Event::Tick(fixtures::NOW_MS + 1_000));
    handle(&mut a, Event::Update(Update::Alert(alert.clone())));
    assert_eq!(a.flash.as_ref().unwrap().until_ms, fixtures::NOW_MS + FLASH_MS);
    handle(&mut a, Event::Tick(fixtures::NOW_MS + FLASH_MS));
    assert_eq!(a.flash, None);
    // Acknowledged elsewhere: no flash, and an acknowledgement stops a running one.
    alert.id = "DiskFilling:other".into();
    handle(&mut a, Event::Update(Update::Alert(alert.clone())));
    assert!(a.flash.is_some());
    alert.acknowledged_ms = Some(fixtures::NOW_MS);
    handle(&mut a, Event::Update(Update::Alert(alert)));
    assert_eq!(a.flash, None);
}

#[test]
fn warnings_do_not_flash() {
    let mut a = app();
    let mut alert = fixtures::error().alerts.pop().unwrap();
    alert.severity = Severity::Warning;
    handle(&mut a, Event::Update(Update::Alert(alert)));
    assert_eq!(a.flash, None);
}

#[test]
fn updates_change_rows_and_keep_the_selected_item() {
    let mut a = app();
    ch(&mut a, 'j');
    let job = selected_job(&a);
    // A job added elsewhere does not move the selection off the job.
    let mut new = a.snapshot.jobs[3].clone();
    new.id = fixtures::job_id(500);
    new.part = "new part".into();
    handle(&mut a, Event::Update(Update::Job(Box::new(new))));
    assert_eq!(a.table().rows.len(), 9);
    assert_eq!(selected_job(&a), job);
    // Progress lands in the snapshot.
    let progress =
        Update::JobProgress { job, state: JobState::Printing, progress: 0.5, eta_s: Some(60) };
    handle(&mut a, Event::Update(progress));
    assert_eq!(a.snapshot.jobs[1].progress, 0.5);
    // With a filter on the state, a state change moves the job out of the table.
    ch(&mut a, '/');
    typed(&mut a, "printing");
    press(&mut a, KeyCode::Enter);
    assert_eq!(a.table().rows.len(), 2);
    let done = Update::JobProgress { job, state: JobState::Done, progress: 1.0, eta_s: None };
    handle(&mut a, Event::Update(done));
    assert_eq!(a.table().rows.len(), 1);
}

#[test]
fn the_log_follows_new_lines_until_scrolled_up() {
    let mut a = app();
    ch(&mut a, '7');
    let last = a.table().rows.len() - 1;
    assert_eq!(a.table().selected, last);
    let line = |n: u64| LogLine {
        ts_ms: fixtures::NOW_MS + n,
        level: Level::Info,
        target: "amsp_node".into(),
        message: format!("new {n}"),
    };
    handle(&mut a, Event::Update(Update::Log(line(1))));
    assert_eq!(a.table().selected, last + 1);
    ch(&mut a, 'k');
    assert!(!a.log_follow);
    handle(&mut a, Event::Update(Update::Log(line(2))));
    assert_eq!(a.table().selected, last);
    ch(&mut a, 'f');
    assert!(a.log_follow);
    assert_eq!(a.table().selected, last + 2);
    // Debug lines appear only at a more verbose level.
    let mut debug = line(3);
    debug.level = Level::Debug;
    handle(&mut a, Event::Update(Update::Log(debug)));
    assert_eq!(a.table().rows.len(), last + 3);
    ch(&mut a, 'v');
    assert_eq!(a.row_options.log_level, Level::Debug);
    assert!(a.table().rows.len() > last + 3);
    ch(&mut a, 'V');
    ch(&mut a, 'V');
    ch(&mut a, 'V');
    ch(&mut a, 'V');
    assert_eq!(a.row_options.log_level, Level::Error);
    assert!(a.table().rows.iter().all(|&i| a.snapshot.log[i].level == Level::Error));
}

#[test]
fn layer_keys_step_through_the_preview_within_bounds() {
    let mut a = app();
    ch(&mut a, '5');
    assert_eq!(a.max_layer(), 199);
    ch(&mut a, ']');
    ch(&mut a, '+');
    assert_eq!(a.layer, 2);
    for _ in 0..300 {
        ch(&mut a, ']');
    }
    assert_eq!(a.layer, 199);
    ch(&mut a, '[');
    assert_eq!(a.layer, 198);
}

#[test]
fn action_results_and_messages_expire() {
    let mut a = app();
    let job = selected_job(&a);
    let refused = SourceError::Refused {
        verb: "pause",
        subject: format!("job {job}"),
        reason: "printer busy".into(),
    };
    handle(&mut a, Event::ActionDone { action: Action::Pause(job), result: Err(refused) });
    let status = a.status.clone().unwrap();
    assert!(status.error && status.text.contains("printer busy"));
    handle(&mut a, Event::Tick(fixtures::NOW_MS + STATUS_MS));
    assert_eq!(a.status, None);
}

#[test]
fn resync_replaces_everything_and_clamps_selections() {
    let mut a = app_with(fixtures::large(500, 20), false);
    ch(&mut a, 'G');
    assert_eq!(a.table().selected, 499);
    handle(&mut a, Event::Update(Update::Resync(Box::new(fixtures::busy()))));
    assert_eq!(a.table().rows.len(), 8);
    assert!(a.table().selected < 8);
    handle(&mut a, Event::Update(Update::Resync(Box::new(fixtures::empty()))));
    assert_eq!((a.table().rows.len(), a.table().selected), (0, 0));
    // Actions with nothing selected explain themselves instead of panicking.
    ch(&mut a, 'p');
    assert!(a.status.as_ref().is_some_and(|s| s.text.contains("no job")));
}

#[test]
fn keymap_has_no_conflicts_within_a_scope() {
    let scopes = [Scope::Global, Scope::Dialog, Scope::Input, Scope::HelpOverlay]
        .into_iter()
        .chain(View::ALL.iter().map(|v| Scope::View(*v)));
    for scope in scopes {
        let mut seen = Vec::new();
        for b in BINDINGS.iter().filter(|b| b.scope == scope) {
            for k in b.keys {
                assert!(!seen.contains(k), "{scope:?}: {} bound twice", k.label());
                seen.push(*k);
            }
        }
    }
    // A view's own keys must not hide a global key.
    for view in View::ALL {
        for b in BINDINGS.iter().filter(|b| b.scope == Scope::View(view)) {
            for k in b.keys {
                let global = BINDINGS.iter().filter(|g| g.scope == Scope::Global);
                for g in global {
                    assert!(!g.keys.contains(k), "{view:?} hides global key {}", k.label());
                }
            }
        }
    }
}

#[test]
fn every_palette_command_parses_and_help_lists_every_binding() {
    for c in palette::commands(false) {
        if c.name.ends_with(' ') {
            continue; // "filter " takes an argument
        }
        assert!(palette::parse(&c.name, false).is_ok(), "{}", c.name);
    }
    let help = keymap::help_sections(false);
    let documented: usize = help.iter().map(|(_, lines)| lines.len()).sum();
    let reachable = BINDINGS.iter().filter(|b| b.scope != Scope::HelpOverlay).count();
    assert_eq!(documented, reachable);
}

#[test]
fn pasted_text_goes_into_the_filter_or_command_and_is_bounded() {
    let mut a = app();
    handle(&mut a, Event::Paste("ignored".into()));
    assert_eq!(a.table().filter, "", "paste outside an input does nothing");
    ch(&mut a, '/');
    handle(&mut a, Event::Paste("mk4\n".into()));
    assert_eq!(a.table().filter, "mk4 ");
    assert_eq!(a.table().rows.len(), 3);
    press(&mut a, KeyCode::Esc);
    ch(&mut a, '/');
    handle(&mut a, Event::Paste("x".repeat(10_000)));
    assert_eq!(a.table().filter.len(), amsp_console::tui::app::MAX_INPUT);
    press(&mut a, KeyCode::Esc);
    ch(&mut a, ':');
    handle(&mut a, Event::Paste("orders".into()));
    press(&mut a, KeyCode::Enter);
    assert_eq!(a.view, View::Orders);
}

#[test]
fn s_sorts_every_table_by_each_of_its_columns_and_capital_s_turns_it_around() {
    use amsp_console::tui::sort;
    let mut a = app();
    // Jobs by ETA: known times ascending, jobs with none after them.
    while a.table().sort.and_then(|s| s.column(View::Jobs)) != Some("ETA") {
        ch(&mut a, 's');
        assert!(a.table().sort.is_some(), "s ran past the last key without reaching ETA");
    }
    assert_eq!(a.status.as_ref().map(|s| s.text.as_str()), Some("sorted by ETA ▲"));
    let etas: Vec<Option<u64>> = a.table().rows.iter().map(|&i| a.snapshot.jobs[i].eta_s).collect();
    let known: Vec<u64> = etas.iter().flatten().copied().collect();
    assert!(known.len() >= 2, "{etas:?}");
    assert!(known.windows(2).all(|w| w[0] <= w[1]), "{etas:?}");
    assert!(etas.iter().skip_while(|e| e.is_some()).all(|e| e.is_none()), "{etas:?}");
    // The selection follows its job, not its row.
    let selected = selected_job(&a);
    ch(&mut a, 'S');
    assert_eq!(selected_job(&a), selected);
    let reversed: Vec<u64> =
        a.table().rows.iter().filter_map(|&i| a.snapshot.jobs[i].eta_s).collect();
    assert!(reversed.windows(2).all(|w| w[0] >= w[1]), "{reversed:?}");
    // Every key of every view sorts its rows; after the last, the table's own order returns.
    for view in View::ALL {
        ch(&mut a, char::from(b'1' + view.index() as u8));
        while a.table().sort.is_some() {
            ch(&mut a, 's');
        }
        let own: Vec<usize> = a.table().rows.clone();
        for k in sort::keys(view) {
            ch(&mut a, 's');
            let s = a.table().sort.expect("a key is chosen");
            assert_eq!(s.column(view), Some(k.column));
            let mut rows = own.clone();
            sort::apply(&a.snapshot, view, s, &mut rows);
            assert_eq!(a.table().rows, rows, "{view:?} by {}", k.column);
        }
        ch(&mut a, 's');
        assert_eq!(a.table().sort, None, "{view:?}");
        assert_eq!(a.table().rows, own, "{view:?}");
    }
    // Printers by name read alphabetically.
    ch(&mut a, '2');
    ch(&mut a, 's');
    let names: Vec<&str> =
        a.table().rows.iter().map(|&i| a.snapshot.printers[i].name.as_str()).collect();
    assert!(names.windows(2).all(|w| w[0].to_lowercase() <= w[1].to_lowercase()), "{names:?}");
    while a.table().sort.is_some() {
        ch(&mut a, 's');
    }
    // S with no sort says what to do instead.
    ch(&mut a, 'S');
    assert!(a.status.as_ref().is_some_and(|s| s.error && s.text.contains("s picks")));
}

#[test]
fn an_order_that_failed_inspection_is_made_again_or_called_off_from_the_orders_view() {
    use amsp_proto::order::Stage;
    let mut snapshot = fixtures::busy();
    let printing = snapshot.orders.iter().position(|o| o.stage == Stage::Printing);
    let printing = printing.expect("the fixture has a printing order");
    let failed = (printing + 1) % snapshot.orders.len();
    snapshot.orders[failed].stage = Stage::Failed;
    snapshot.orders[failed].choice = true;
    snapshot.orders[failed].note = Some("inspection failed: 80.0 % within ±0.2 mm".into());
    let mut a = app_with(snapshot, false);
    ch(&mut a, '3');
    let pick = |a: &mut App, index: usize| {
        ch(a, 'g');
        for _ in 0..a.snapshot.orders.len() {
            if a.table().selected_item() == Some(index) {
                break;
            }
            ch(a, 'j');
        }
        assert_eq!(a.table().selected_item(), Some(index), "order {index} has a row");
        a.snapshot.orders[index].id
    };
    // A printing order is neither made again nor called off, and the console says why.
    pick(&mut a, printing);
    for c in ['R', 'c'] {
        a.status = None;
        assert_eq!(ch(&mut a, c), None);
        assert_eq!(a.mode, Mode::Normal);
        let status = a.status.clone().unwrap();
        assert!(status.error && status.text.contains("is printing"), "{status:?}");
    }
    // The failed one: both, each after a confirmation.
    let id = pick(&mut a, failed);
    ch(&mut a, 'R');
    assert_eq!(a.mode, Mode::Confirm(Action::ReprintOrder(id)));
    assert_eq!(ch(&mut a, 'y'), Some(Command::Act(Action::ReprintOrder(id))));
    ch(&mut a, 'c');
    assert_eq!(press(&mut a, KeyCode::Enter), Some(Command::Act(Action::CancelOrder(id))));
    // A read-only console sends neither.
    let mut ro = app_with(a.snapshot.clone(), true);
    ch(&mut ro, '3');
    pick(&mut ro, failed);
    assert_eq!(ch(&mut ro, 'R'), None);
    assert_eq!(ro.mode, Mode::Normal);
}

#[test]
fn the_requester_picks_a_dearer_but_quicker_offer_and_accepts_that_one() {
    let mut snapshot = fixtures::busy();
    snapshot.designs[0].mine = true;
    let mut a = app_with(snapshot, false);
    ch(&mut a, '8');
    // `]` steps from the cheapest to the next and says which offer it is.
    ch(&mut a, ']');
    let status = a.status.clone().unwrap();
    assert!(
        !status.error && status.text == "offer 2 of 2: Fabrik Nord — 110.00 EUR in 2d00h",
        "{status:?}"
    );
    // Past the last offer the pick stays on it.
    ch(&mut a, ']');
    ch(&mut a, 'a');
    let fabrik = Action::AcceptOffer {
        request: "01JDESIGNBIKELIGHT0000000A".into(),
        offer: "offer-fabrik-nord".into(),
        what: "Fabrik Nord's offer on Bike light mount (110.00 EUR in 2d00h)".into(),
    };
    assert_eq!(a.mode, Mode::Confirm(fabrik));
    ch(&mut a, 'n');
    // `[` goes back to the cheaper one, and that is what `a` then offers to accept.
    ch(&mut a, '[');
    ch(&mut a, 'a');
    let Mode::Confirm(Action::AcceptOffer { offer, .. }) = a.mode.clone() else {
        panic!("no dialog: {:?}", a.status)
    };
    assert_eq!(offer, "offer-dana-design");
    ch(&mut a, 'n');
    // The pick belongs to its request: another request starts from its own cheapest.
    ch(&mut a, ']');
    ch(&mut a, 'j');
    assert_eq!(
        a.picked_offer().map(|(d, at)| (d.title.as_str(), at)),
        Some(("Replacement lid hinge", 0))
    );
    ch(&mut a, 'k');
    assert_eq!(a.picked_offer().map(|(_, at)| at), Some(1), "the pick is kept for its request");
    // A request with no offers says so.
    let mut empty = fixtures::busy();
    empty.designs[0].offers.clear();
    let mut e = app_with(empty, false);
    ch(&mut e, '8');
    ch(&mut e, ']');
    let status = e.status.clone().unwrap();
    assert!(status.error && status.text.contains("no offers on"), "{status:?}");
}

/// Runs `command` in the palette and returns what it sent and the status it left.
fn palette_run(a: &mut App, command: &str) -> (Option<Command>, Option<(String, bool)>) {
    ch(a, ':');
    typed(a, command);
    let sent = press(a, KeyCode::Enter);
    (sent, a.status.clone().map(|s| (s.text, s.error)))
}

#[test]
fn a_designer_offers_on_a_request_from_the_palette_after_a_dialog() {
    // The bike light mount is Bea's: this node (a designer) may offer on it.
    let mut a = app();
    ch(&mut a, '8');
    palette_run(&mut a, "offer 95.5 3 two revisions included");
    let offer = Action::MakeOffer {
        request: "01JDESIGNBIKELIGHT0000000A".into(),
        price: 95.5,
        delivery_s: 3 * 86_400,
        message: "two revisions included".into(),
        what: "95.50 EUR in 3d00h on Bike light mount for Bea Keller".into(),
    };
    assert_eq!(a.mode, Mode::Confirm(offer.clone()), "{:?}", a.status);
    assert_eq!(ch(&mut a, 'y'), Some(Command::Act(offer)));
    // Bad numbers are named, with how to write an offer.
    for (typed_in, says) in [
        ("offer", "needs a price"),
        ("offer abc 3", "\"abc\" is not a price"),
        ("offer -5 3", "\"-5\" is not a price"),
        ("offer 95", "needs the days"),
        ("offer 95 0", "\"0\" is not a number of days from 1 to 365"),
    ] {
        let (sent, status) = palette_run(&mut a, typed_in);
        assert_eq!(sent, None, "{typed_in}");
        let (text, error) = status.unwrap();
        assert!(
            error && text.contains(says) && text.contains("offer PRICE DAYS"),
            "{typed_in}: {text}"
        );
        assert_eq!(a.mode, Mode::Normal);
    }
    // The hinge is this node's own request and already went to a designer: refused, with why.
    ch(&mut a, 'j');
    let (_, status) = palette_run(&mut a, "offer 40 2");
    let (text, error) = status.unwrap();
    assert!(error && text.contains("own request"), "{text}");
    // Outside the Design view the palette says where offers are made.
    ch(&mut a, '1');
    let (_, status) = palette_run(&mut a, "offer 40 2");
    assert!(status.unwrap().0.contains("Design view"));
    // A read-only console neither offers the command nor runs it.
    let mut r = app_with(fixtures::busy(), true);
    ch(&mut r, '8');
    assert!(palette::matches("off", true).iter().all(|c| c.name.trim() != "offer"));
    let (sent, status) = palette_run(&mut r, "offer 95 3");
    assert_eq!(sent, None);
    assert!(status.unwrap().0.contains("read-only"));
    assert_eq!(r.mode, Mode::Normal);
}

#[test]
fn the_chosen_designer_delivers_a_model_file_from_the_palette() {
    // Bea's bike light mount, not yet given to anyone: nothing to deliver, and why.
    let mut a = app();
    ch(&mut a, '8');
    let (_, status) = palette_run(&mut a, "deliver mount.stl");
    let (text, error) = status.unwrap();
    assert!(error && text.contains("no accepted offer yet"), "{text}");
    // Given to a designer: the dialog names the file, the request, who asked and the licence;
    // a last word that is a number is the prints, the rest (spaces and all) the file.
    let mut snapshot = fixtures::busy();
    snapshot.designs[0].designer = Some("Fabrik Nord".into());
    let mut a = app_with(snapshot, false);
    ch(&mut a, '8');
    palette_run(&mut a, "deliver my mount v2.stl 5");
    let delivery = Action::Deliver {
        request: "01JDESIGNBIKELIGHT0000000A".into(),
        path: "my mount v2.stl".into(),
        prints: Some(5),
        what: "my mount v2.stl on Bike light mount for Bea Keller (5 prints)".into(),
    };
    assert_eq!(a.mode, Mode::Confirm(delivery.clone()), "{:?}", a.status);
    assert_eq!(ch(&mut a, 'y'), Some(Command::Act(delivery)));
    palette_run(&mut a, "deliver mount.stl");
    let Mode::Confirm(Action::Deliver { prints, what, .. }) = a.mode.clone() else {
        panic!("no dialog: {:?}", a.status)
    };
    assert_eq!((prints, what.ends_with("(unlimited prints)")), (None, true), "{what}");
    ch(&mut a, 'n');
    // No file named: said, with how to write it.
    let (_, status) = palette_run(&mut a, "deliver");
    let (text, error) = status.unwrap();
    assert!(
        error && text.contains("needs a model file") && text.contains("deliver FILE"),
        "{text}"
    );
    // The node's own request: refused.
    ch(&mut a, 'j');
    let (_, status) = palette_run(&mut a, "deliver mount.stl");
    assert!(status.unwrap().0.contains("own request"));
}

#[test]
fn a_model_file_for_a_delivery_is_bounded_before_it_is_read() {
    use amsp_console::tui::source::read_model_file;
    let dir = tempfile::tempdir().unwrap();
    let small = dir.path().join("bracket.stl");
    std::fs::write(&small, b"solid x\nendsolid x\n").unwrap();
    let (name, bytes) = read_model_file(small.to_str().unwrap()).unwrap();
    assert_eq!((name.as_str(), bytes.len()), ("bracket.stl", 19));
    // A sparse file past the largest model: refused by its size, never read.
    let big = dir.path().join("huge.stl");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(amsp_node::package::MAX_MODEL_BYTES + 1).unwrap();
    let e = read_model_file(big.to_str().unwrap()).unwrap_err();
    assert!(e.contains("the largest model accepted"), "{e}");
    let e = read_model_file(dir.path().join("missing.stl").to_str().unwrap()).unwrap_err();
    assert!(e.contains("missing.stl"), "{e}");
}

#[test]
fn the_requester_accepts_the_cheapest_offer_from_the_design_view() {
    let mut snapshot = fixtures::busy();
    // The bike light mount is this node's request now: two offers, none accepted.
    snapshot.designs[0].mine = true;
    let mut a = app_with(snapshot, false);
    ch(&mut a, '8');
    assert_eq!(a.view, View::Design);
    ch(&mut a, 'a');
    let Mode::Confirm(action) = a.mode.clone() else { panic!("no dialog: {:?}", a.status) };
    assert_eq!(
        action,
        Action::AcceptOffer {
            request: "01JDESIGNBIKELIGHT0000000A".into(),
            offer: "offer-dana-design".into(),
            what: "Dana Design's offer on Bike light mount (95.00 EUR in 3d00h)".into(),
        }
    );
    assert_eq!(ch(&mut a, 'y'), Some(Command::Act(action)));
    // The hinge already went to a designer: nothing to accept, and the reason is said.
    ch(&mut a, 'j');
    ch(&mut a, 'a');
    assert_eq!(a.mode, Mode::Normal);
    let status = a.status.clone().unwrap();
    assert!(status.error && status.text.contains("already went to Dana Design"), "{status:?}");
    // Someone else's request: only they accept.
    let mut b = app();
    ch(&mut b, '8');
    ch(&mut b, 'a');
    assert_eq!(b.mode, Mode::Normal);
    let status = b.status.clone().unwrap();
    assert!(status.text.contains("Bea Keller asked for"), "{status:?}");
    // A read-only console sends nothing.
    let mut snapshot = fixtures::busy();
    snapshot.designs[0].mine = true;
    let mut r = app_with(snapshot, true);
    ch(&mut r, '8');
    ch(&mut r, 'a');
    assert_eq!(r.mode, Mode::Normal);
}
