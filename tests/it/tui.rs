//! The TUI: whole screens on ratatui's TestBackend at 80×24 and 120×40, every key
//! binding through `App::update`, and no panic at tiny sizes.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use edasim::tui::app::{App, KEYMAP};
use edasim::tui::{Action, Theme, action_for, ui};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use crate::bundled;

fn screen(app: &App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    t.draw(|f| ui::draw(f, app, Theme { color: false }))
        .expect("draw");
    format!("{}", t.backend())
}

fn snap(name: &str, text: String) {
    insta::with_settings!({snapshot_path => "snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!(name, text);
    });
}

#[test]
fn flash_sale_screens() {
    let mut app = App::new(bundled("flash-sale.toml"));
    snap("tui-t0-80x24", screen(&app, 80, 24));
    snap("tui-t0-120x40", screen(&app, 120, 40));
    for _ in 0..100 {
        app.update(Action::Step);
    }
    assert_eq!(app.engine.steps(), 100);
    snap("tui-100-steps-80x24", screen(&app, 80, 24));
    snap("tui-100-steps-120x40", screen(&app, 120, 40));
    while app.engine.now() < 60_000_000_000 {
        app.update(Action::StepInterval);
    }
    snap("tui-60s-80x24", screen(&app, 80, 24));
    snap("tui-60s-120x40", screen(&app, 120, 40));
}

#[test]
fn tiny_and_odd_sizes_do_not_panic() {
    let mut app = App::new(bundled("flash-sale.toml"));
    for _ in 0..5 {
        app.update(Action::StepInterval);
    }
    for (w, h) in [(20, 5), (1, 1), (19, 4), (30, 8), (200, 60), (80, 10)] {
        let _ = screen(&app, w, h);
    }
}

#[test]
fn every_binding_is_reachable_from_a_key() {
    for b in KEYMAP {
        let code = match b.key {
            "space" => KeyCode::Char(' '),
            "tab" => KeyCode::Tab,
            "shift-tab" => KeyCode::BackTab,
            k => KeyCode::Char(k.chars().next().expect("a key")),
        };
        let ev = KeyEvent::new(code, KeyModifiers::NONE);
        assert_eq!(action_for(ev), Some(b.action), "key {}", b.key);
    }
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(action_for(ctrl_c), Some(Action::Quit));
    let mut release = KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE);
    release.kind = KeyEventKind::Release;
    assert_eq!(action_for(release), None, "only presses count");
}

#[test]
fn keys_change_the_state_they_promise() {
    let mut app = App::new(bundled("commit-auto.toml"));
    assert!(app.paused, "opens paused at t = 0");
    assert_eq!(app.engine.now(), 0);
    app.update(Action::TogglePause);
    assert!(!app.paused);
    app.update(Action::Tick(0.5));
    assert!(app.engine.now() > 0, "running advances time");
    app.update(Action::TogglePause);
    let t = app.engine.now();
    app.update(Action::Tick(0.5));
    assert_eq!(app.engine.now(), t, "paused: time stands still");
    let steps = app.engine.steps();
    app.update(Action::Step);
    assert_eq!(app.engine.steps(), steps + 1);
    let before = app.history.len();
    app.update(Action::StepInterval);
    assert_eq!(app.history.len(), before + 1, "one more sample");
    let speed = app.speed();
    app.update(Action::Faster);
    assert!(app.speed() > speed);
    app.update(Action::Slower);
    app.update(Action::Slower);
    assert!(app.speed() < speed);
    let focus = app.focus;
    app.update(Action::FocusNext);
    assert_ne!(app.focus, focus);
    app.update(Action::FocusPrev);
    assert_eq!(app.focus, focus);
    app.update(Action::FocusNext); // from the charts to the log
    assert_eq!(app.focus, edasim::tui::app::Panel::Log);
    app.update(Action::ScrollUp);
    assert_eq!(app.log_scroll, 1);
    app.update(Action::ScrollDown);
    assert_eq!(app.log_scroll, 0);
    app.update(Action::ToggleHelp);
    assert!(app.show_help);
    assert!(screen(&app, 80, 24).contains("keys"));
    app.update(Action::Quit);
    assert!(app.quit);
}

#[test]
fn running_at_max_speed_reaches_the_end_in_bounded_batches() {
    let mut app = App::new(bundled("flash-sale.toml"));
    app.update(Action::TogglePause);
    while app.speed().is_finite() {
        app.update(Action::Faster);
    }
    let mut frames = 0;
    while !app.engine.is_finished() {
        app.update(Action::Tick(0.033));
        frames += 1;
        assert!(frames < 1_000);
    }
    assert!(frames > 1, "a frame simulates a bounded number of events");
    assert!(app.paused, "pauses when finished");
}

#[test]
fn the_readme_key_table_is_the_keymap() {
    let readme = std::fs::read_to_string(format!("{}/README.md", env!("CARGO_MANIFEST_DIR")))
        .expect("README");
    for b in KEYMAP {
        let row = format!("| `{}` | {} |", b.key, b.help);
        assert!(readme.contains(&row), "README lacks the key row {row}");
    }
}

#[test]
fn stepping_forward_then_back_restores_the_same_state_and_screen() {
    let mut app = App::new(bundled("flash-sale.toml"));
    // Somewhere in the middle, past a checkpoint boundary.
    for _ in 0..3 {
        app.update(Action::StepInterval);
    }
    let steps = app.engine.steps();
    let summary = serde_json::to_string(&app.engine.summary()).expect("json");
    let before = screen(&app, 120, 40);
    for _ in 0..250 {
        app.update(Action::Step);
    }
    assert_eq!(app.engine.steps(), steps + 250);
    for _ in 0..250 {
        app.update(Action::StepBack);
    }
    assert_eq!(app.engine.steps(), steps);
    assert_eq!(
        serde_json::to_string(&app.engine.summary()).expect("json"),
        summary
    );
    assert_eq!(screen(&app, 120, 40), before);
}

#[test]
fn going_back_across_checkpoints_matches_going_forward() {
    let model = bundled("flash-sale.toml");
    let mut a = App::new(model.clone());
    while a.engine.steps() < 120_000 {
        a.update(Action::StepInterval);
    }
    let target = a.engine.steps() - 70_001;
    // Back one event at a time would be slow; go back far via the same mechanism.
    let mut b = App::new(model);
    while b.engine.steps() < target {
        b.update(Action::Step);
        if b.engine.steps() + 10_000 < target {
            // Skip ahead quickly with whole intervals while far from the target.
            b.update(Action::StepInterval);
        }
    }
    // Rewind `a` to the same event count.
    while a.engine.steps() > b.engine.steps() {
        let gap = a.engine.steps() - b.engine.steps();
        if gap > 1 {
            a.update(Action::StepBackInterval);
            if a.engine.steps() < b.engine.steps() {
                while a.engine.steps() < b.engine.steps() {
                    a.update(Action::Step);
                }
            }
        } else {
            a.update(Action::StepBack);
        }
    }
    assert_eq!(a.engine.steps(), b.engine.steps());
    assert_eq!(
        serde_json::to_string(&a.engine.summary()).expect("json"),
        serde_json::to_string(&b.engine.summary()).expect("json")
    );
}

#[test]
fn export_writes_the_metrics_so_far_as_tidy_csv() {
    let mut app = App::new(bundled("commit-auto.toml"));
    for _ in 0..5 {
        app.update(Action::StepInterval);
    }
    let csv = String::from_utf8(app.export_csv().expect("csv")).expect("utf-8");
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("time_s,component,metric,value"));
    assert!(csv.contains("5.000,billing,processed,"));
    assert!(!csv.contains("6.000,"));
    // Back one interval: the export forgets the rows of the undone sample.
    app.update(Action::StepBackInterval);
    let csv = String::from_utf8(app.export_csv().expect("csv")).expect("utf-8");
    assert!(csv.contains("4.000,billing,processed,") && !csv.contains("5.000,"));
}
