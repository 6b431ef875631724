//! Snapshot tests of every console view, drawn on ratatui's test backend from constructed node
//! states: empty, busy and in error, at 80×24 and wide, plus the overlays.

use amsp_console::tui::app::{App, Event, Options, handle};
use amsp_console::tui::model::Snapshot;
use amsp_console::tui::theme::Theme;
use amsp_console::tui::{View, fixtures, ui};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;

fn app(snapshot: Snapshot, width: u16, height: u16) -> App {
    let options = Options { read_only: false, theme: Theme { color: true } };
    App::new(snapshot, options, (width, height))
}

fn draw(app: &App) -> TestBackend {
    let mut terminal =
        Terminal::new(TestBackend::new(app.size.width, app.size.height)).expect("test backend");
    terminal.draw(|frame| ui::draw(frame, app)).expect("test backend");
    terminal.backend().clone()
}

fn screen(app: &App) -> String {
    draw(app).to_string()
}

fn key(app: &mut App, code: KeyCode) {
    handle(app, Event::Key(KeyEvent::new(code, KeyModifiers::NONE)));
}

fn chars(app: &mut App, text: &str) {
    for c in text.chars() {
        key(app, KeyCode::Char(c));
    }
}

fn states() -> [(&'static str, Snapshot); 3] {
    [("empty", fixtures::empty()), ("busy", fixtures::busy()), ("error", fixtures::error())]
}

#[test]
fn every_view_in_every_state_at_80x24() {
    for (state, snapshot) in states() {
        for view in View::ALL {
            let mut a = app(snapshot.clone(), 80, 24);
            handle(&mut a, Event::Tick(fixtures::NOW_MS));
            key(&mut a, KeyCode::Char(char::from(b'1' + view.index() as u8)));
            assert_eq!(a.view, view);
            insta::assert_snapshot!(format!("{}_{state}_80x24", view.name()), screen(&a));
        }
    }
}

#[test]
fn every_view_with_details_at_80x24() {
    for (state, snapshot) in states() {
        if state == "empty" {
            continue;
        }
        for view in View::ALL {
            let mut a = app(snapshot.clone(), 80, 24);
            handle(&mut a, Event::Tick(fixtures::NOW_MS));
            key(&mut a, KeyCode::Char(char::from(b'1' + view.index() as u8)));
            key(&mut a, KeyCode::Enter);
            assert!(a.detail);
            insta::assert_snapshot!(format!("{}_{state}_detail_80x24", view.name()), screen(&a));
        }
    }
}

#[test]
fn every_view_busy_with_details_at_160x48() {
    for view in View::ALL {
        let mut a = app(fixtures::busy(), 160, 48);
        handle(&mut a, Event::Tick(fixtures::NOW_MS));
        key(&mut a, KeyCode::Char(char::from(b'1' + view.index() as u8)));
        key(&mut a, KeyCode::Enter);
        insta::assert_snapshot!(format!("{}_busy_detail_160x48", view.name()), screen(&a));
    }
}

#[test]
fn help_overlay_lists_the_keymap() {
    let mut a = app(fixtures::busy(), 80, 24);
    key(&mut a, KeyCode::Char('?'));
    let text = screen(&a);
    assert!(text.contains("Show every key"), "{text}");
    insta::assert_snapshot!("help_80x24", text);
}

#[test]
fn palette_suggests_commands() {
    let mut a = app(fixtures::busy(), 80, 24);
    key(&mut a, KeyCode::Char(':'));
    chars(&mut a, "p");
    insta::assert_snapshot!("palette_p_80x24", screen(&a));
}

#[test]
fn confirmation_dialog_names_the_job() {
    let mut a = app(fixtures::busy(), 80, 24);
    key(&mut a, KeyCode::Char('c'));
    let text = screen(&a);
    assert!(text.contains(&format!("job {}", fixtures::job_id(1))), "{text}");
    insta::assert_snapshot!("confirm_cancel_80x24", text);
}

#[test]
fn filter_being_typed_shows_in_footer_and_title() {
    let mut a = app(fixtures::busy(), 80, 24);
    key(&mut a, KeyCode::Char('/'));
    chars(&mut a, "mk4");
    insta::assert_snapshot!("jobs_filter_mk4_80x24", screen(&a));
}

#[test]
fn read_only_footer_hides_actions() {
    let options = Options { read_only: true, theme: Theme { color: true } };
    let a = App::new(fixtures::busy(), options, (80, 24));
    let text = screen(&a);
    assert!(text.contains("read-only"));
    let footer = text.lines().last().unwrap();
    assert!(!footer.contains("pause") && footer.contains("help"), "{footer}");
    insta::assert_snapshot!("jobs_read_only_80x24", text);
}

#[test]
fn new_critical_alert_flashes_in_the_header_of_any_view() {
    let mut a = app(fixtures::busy(), 80, 24);
    handle(&mut a, Event::Tick(fixtures::NOW_MS));
    key(&mut a, KeyCode::Char('5'));
    let mut alert = fixtures::error().alerts.pop().unwrap();
    alert.message = "disk 99% full".to_owned();
    handle(&mut a, Event::Update(amsp_console::tui::model::Update::Alert(alert)));
    let text = screen(&a);
    assert!(text.lines().next().unwrap().contains("disk 99% full"), "{text}");
    insta::assert_snapshot!("models_flash_80x24", text);
}

#[test]
fn tiny_terminal_gets_a_notice_not_a_crash() {
    for (w, h) in [(30, 8), (39, 24), (80, 9)] {
        let text = screen(&app(fixtures::busy(), w, h));
        assert!(text.contains("too small"), "{w}×{h}: {text}");
    }
    for (w, h) in [(1, 1), (0, 0), (0, 24), (80, 0)] {
        let _ = draw(&app(fixtures::busy(), w, h));
    }
    insta::assert_snapshot!("too_small_30x8", screen(&app(fixtures::busy(), 30, 8)));
}

#[test]
fn every_view_draws_at_odd_sizes_without_panicking() {
    for (w, h) in [(40, 10), (41, 11), (55, 13), (100, 30), (250, 70)] {
        for view in View::ALL {
            for detail in [false, true] {
                let mut a = app(fixtures::error(), w, h);
                key(&mut a, KeyCode::Char(char::from(b'1' + view.index() as u8)));
                if detail {
                    key(&mut a, KeyCode::Enter);
                }
                key(&mut a, KeyCode::Char('G'));
                let _ = screen(&a);
            }
        }
    }
}

const SIXTEEN: [Color; 17] = [
    Color::Reset,
    Color::Black,
    Color::Red,
    Color::Green,
    Color::Yellow,
    Color::Blue,
    Color::Magenta,
    Color::Cyan,
    Color::Gray,
    Color::DarkGray,
    Color::LightRed,
    Color::LightGreen,
    Color::LightYellow,
    Color::LightBlue,
    Color::LightMagenta,
    Color::LightCyan,
    Color::White,
];

#[test]
fn colours_stay_within_the_16_ansi_colours() {
    for view in View::ALL {
        let mut a = app(fixtures::error(), 160, 48);
        handle(&mut a, Event::Tick(fixtures::NOW_MS));
        key(&mut a, KeyCode::Char(char::from(b'1' + view.index() as u8)));
        key(&mut a, KeyCode::Enter);
        let backend = draw(&a);
        let mut coloured = 0;
        for cell in backend.buffer().content() {
            assert!(SIXTEEN.contains(&cell.fg), "{view:?}: fg {:?}", cell.fg);
            assert!(SIXTEEN.contains(&cell.bg), "{view:?}: bg {:?}", cell.bg);
            coloured += usize::from(cell.fg != Color::Reset);
        }
        assert!(coloured > 0, "{view:?} drew no colour at all");
    }
}

#[test]
fn no_color_mode_draws_no_colour() {
    for view in View::ALL {
        let options = Options { read_only: false, theme: Theme { color: false } };
        let mut a = App::new(fixtures::error(), options, (160, 48));
        handle(&mut a, Event::Tick(fixtures::NOW_MS));
        key(&mut a, KeyCode::Char(char::from(b'1' + view.index() as u8)));
        key(&mut a, KeyCode::Enter);
        let backend = draw(&a);
        for cell in backend.buffer().content() {
            assert_eq!(cell.fg, Color::Reset, "{view:?} at {:?}", cell.symbol());
            assert_eq!(cell.bg, Color::Reset, "{view:?} at {:?}", cell.symbol());
        }
    }
}

#[test]
fn ten_thousand_jobs_scrolled_to_the_end_show_the_last_rows() {
    let mut a = app(fixtures::large(10_000, 200), 80, 24);
    key(&mut a, KeyCode::Char('G'));
    let text = screen(&a);
    assert!(text.contains("part-9999 "), "{text}");
    assert!(text.contains("(10000)"), "{text}");
    insta::assert_snapshot!("jobs_10000_end_80x24", text);
}

#[test]
fn log_at_debug_and_alerts_with_cleared_ones() {
    let mut a = app(fixtures::busy(), 80, 24);
    handle(&mut a, Event::Tick(fixtures::NOW_MS));
    key(&mut a, KeyCode::Char('7'));
    key(&mut a, KeyCode::Char('v'));
    let text = screen(&a);
    assert!(text.contains("DEBUG") && text.contains("≥DEBUG"), "{text}");
    insta::assert_snapshot!("log_debug_80x24", text);
    key(&mut a, KeyCode::Char('6'));
    key(&mut a, KeyCode::Char('x'));
    let text = screen(&a);
    assert!(text.contains("cleared") && text.contains("with cleared"), "{text}");
    insta::assert_snapshot!("alerts_with_cleared_80x24", text);
}

#[test]
fn before_the_node_answers_the_header_says_connecting() {
    let a = app(Snapshot::default(), 80, 24);
    let text = screen(&a);
    assert!(text.lines().next().unwrap().contains("connecting"), "{text}");
    insta::assert_snapshot!("connecting_80x24", text);
}

#[test]
fn a_snapshot_changed_without_refresh_draws_without_panicking() {
    let mut a = app(fixtures::busy(), 80, 24);
    a.snapshot.jobs.truncate(2);
    let text = screen(&a);
    assert!(text.contains("twisted-vase") && !text.contains("hinge"), "{text}");
}

#[test]
fn design_view_names_who_asked_and_each_designers_offer() {
    let mut a = app(fixtures::busy(), 160, 48);
    handle(&mut a, Event::Tick(fixtures::NOW_MS));
    key(&mut a, KeyCode::Char('8'));
    assert_eq!(a.view, View::Design);
    let s = screen(&a);
    let row = s
        .lines()
        .find(|l| l.trim_start_matches('"').starts_with("│Bike light mount"))
        .unwrap_or_else(|| panic!("{s}"));
    for want in ["Bea Keller", "120.00 EUR", "in 5d02h", "open, 2 offers"] {
        assert!(row.contains(want), "{want:?} missing from {row}");
    }
    let own = s
        .lines()
        .find(|l| l.trim_start_matches('"').starts_with("│Replacement lid"))
        .unwrap_or_else(|| panic!("{s}"));
    for want in [" you ", "1h00m late", "delivered: review"] {
        assert!(own.contains(want), "{want:?} missing from {own}");
    }
    // Beside the detail the table is too narrow for every column: it keeps the whole title,
    // the offers and the state, and the detail says who asked, the budget and when it is due.
    key(&mut a, KeyCode::Enter);
    let s = screen(&a);
    let row = s
        .lines()
        .find(|l| l.trim_start_matches('"').starts_with("│Replacement lid hinge "))
        .unwrap_or_else(|| panic!("{s}"));
    assert!(row.contains("delivered: review") && !row.contains(" you "), "{row}");
    for want in ["from Bea Keller", "budget 120.00 EUR", "due in 5d02h"] {
        assert!(s.contains(want), "{want:?} missing from\n{s}");
    }
    // The detail of the selected request: every offer by its designer's name, price and time.
    for want in [
        "Dana Design — 95.00 EUR in 3d00h",
        "two revisions included",
        "Fabrik Nord — 110.00 EUR in 2d00h",
        "skills cad, fdm",
    ] {
        assert!(s.contains(want), "{want:?} missing from\n{s}");
    }
    // Cheapest first, though Fabrik Nord offered first; nothing is picked on another's request.
    let at = |what: &str| s.find(what).unwrap_or_else(|| panic!("{what:?} missing from\n{s}"));
    assert!(at("Dana Design — 95.00") < at("Fabrik Nord — 110.00"), "{s}");
    assert!(!s.contains('▶'), "a pick on Bea's own request\n{s}");
    // On the operator's own open request the picked offer is marked, and `]` moves the mark.
    let mut own = fixtures::busy();
    own.designs[0].mine = true;
    let mut b = app(own, 160, 48);
    handle(&mut b, Event::Tick(fixtures::NOW_MS));
    key(&mut b, KeyCode::Char('8'));
    key(&mut b, KeyCode::Enter);
    assert!(screen(&b).contains("▶ Dana Design — 95.00"), "{}", screen(&b));
    key(&mut b, KeyCode::Char(']'));
    assert!(screen(&b).contains("▶ Fabrik Nord — 110.00"), "{}", screen(&b));
    // The filter finds requests by who asked.
    key(&mut a, KeyCode::Char('/'));
    chars(&mut a, "bea");
    key(&mut a, KeyCode::Enter);
    let s = screen(&a);
    assert!(s.contains("Bike light mount") && !s.contains("Replacement lid hinge"), "{s}");
}

#[test]
fn models_view_shows_a_catalogue_listing_with_its_terms() {
    use amsp_console::tui::model::Listing;
    let mut snapshot = fixtures::busy();
    let mut entry = snapshot.models[0].clone();
    entry.name = "Desk riser".into();
    entry.catalogue = true;
    entry.listing = Some(Listing {
        entry: "0000000000000000000000000001".into(),
        title: "Desk riser".into(),
        designer: "Studio Kern".into(),
        tags: vec!["desk".into(), "riser".into()],
        terms: "6 prints, 30 days · personal use".into(),
        price: 2.5,
        currency: "EUR".into(),
        copy: false,
    });
    snapshot.models.insert(0, entry);
    let mut a = app(snapshot, 160, 48);
    handle(&mut a, Event::Tick(fixtures::NOW_MS));
    key(&mut a, KeyCode::Char(char::from(b'1' + View::Models.index() as u8)));
    key(&mut a, KeyCode::Enter);
    let s = screen(&a);
    // The table gains price and designer columns; the row shows both beside the title.
    let row = s.lines().find(|l| l.contains("Desk riser ★")).unwrap_or_else(|| panic!("{s}"));
    assert!(row.contains("2.50 EUR") && row.contains("Studio Kern"), "{row}");
    assert!(s.contains("Price") && !s.contains("Size"), "{s}");
    // A stored model with no listing: no price, no designer.
    let plain = s.lines().find(|l| l.contains("gear-48t")).unwrap_or_else(|| panic!("{s}"));
    let plain = plain.split("││").next().unwrap();
    assert!(plain.contains('—') && !plain.contains("EUR"), "{plain}");
    // The detail: each fact on its line, licence and tags included.
    for want in [
        "★ catalogue: Desk riser",
        "by Studio Kern",
        "licence 6 prints, 30 days · personal use",
        "price 2.50 EUR",
        "tags desk, riser",
    ] {
        assert!(s.contains(want), "{want:?} missing:\n{s}");
    }
}

/// `o` shows the fleet overview in place of the view: each chart with its latest value and its
/// scale, materials by printer, the alerts; `o` again goes back.
#[test]
fn the_overview_charts_the_fleet_with_scales() {
    use amsp_console::tui::history::Sample;
    let mut a = app(fixtures::busy(), 120, 40);
    for (i, (busy, queued, done)) in [(1, 6, 10), (2, 4, 12), (2, 3, 15)].into_iter().enumerate() {
        let (wait_s, done_g) = (300 + i as u64 * 60, done as u64 * 20);
        let at_ms = i as u64 * 60_000;
        a.history.push(Sample { at_ms, busy, printers: 4, queued, done, wait_s, done_g });
    }
    chars(&mut a, "o");
    assert!(a.overview);
    let s = screen(&a);
    for want in [
        "Fleet utilisation",
        "now 50 %",
        "scale 0 – 100 %",
        "Jobs finished / hour",
        "now 180 /h",
        "scale 0 – 180 /h",
        "Queue depth",
        "now 3 jobs",
        "scale 0 – 6 jobs",
        "Longest queue wait",
        "now 7 min",
        "Material printed / hour",
        "now 3600 g/h",
        "scale 0 – 3600 g/h",
        "Materials loaded",
        "Alerts",
    ] {
        assert!(s.contains(want), "no {want:?} in\n{s}");
    }
    chars(&mut a, "o");
    assert!(!a.overview);
    assert!(!screen(&a).contains("Fleet utilisation"));
}

#[test]
fn a_wide_jobs_table_shows_wait_and_grams_and_marks_its_sort_column() {
    let mut a = app(fixtures::busy(), 140, 20);
    handle(&mut a, Event::Tick(fixtures::NOW_MS));
    // State, Progress, ETA, Layer, Printer, Wait: six presses, then largest first.
    chars(&mut a, "ssssssS");
    let text = screen(&a);
    assert!(text.contains("by Wait▼"), "{text}");
    assert!(text.contains("Wait▼"), "{text}");
    for column in ["Layer", "Grams", "Order", "Part"] {
        assert!(text.contains(column), "{column} missing:\n{text}");
    }
    insta::assert_snapshot!("jobs_sorted_by_wait_140x20", text);
}

#[test]
fn a_wide_terminal_shows_names_whole_and_a_narrow_one_keeps_its_layout() {
    let mut snapshot = fixtures::busy();
    snapshot.printers[0].name = "mk3s-backroom-left".into();
    snapshot.orders[0].customer = "Bea Werkstatt Nord".into();
    let whole = |view: char, width: u16| {
        let mut a = app(snapshot.clone(), width, 30);
        handle(&mut a, Event::Tick(fixtures::NOW_MS));
        chars(&mut a, &view.to_string());
        screen(&a)
    };
    let wide = whole('2', 160);
    assert!(wide.contains("mk3s-backroom-left"), "{wide}");
    assert!(whole('3', 160).contains("Bea Werkstatt Nord"));
    // At 80 columns the flexible columns keep their room: names are cut as before.
    let narrow = whole('2', 80);
    assert!(!narrow.contains("mk3s-backroom-left") && narrow.contains("mk3s-backr"), "{narrow}");
}
