//! The TUI: whole screens on ratatui's TestBackend at 80×24 and 120×40, every key
//! binding through `App::update`, and no panic at tiny sizes.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use edasim::tui::app::{App, KEYMAP};
use edasim::tui::{Action, Theme, action_for, ui};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

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
            "enter" => KeyCode::Enter,
            "esc" => KeyCode::Esc,
            k => KeyCode::Char(k.chars().next().expect("a key")),
        };
        let ev = KeyEvent::new(code, KeyModifiers::NONE);
        assert_eq!(action_for(ev, false), Some(b.action), "key {}", b.key);
    }
    let key = |c| KeyEvent::new(c, KeyModifiers::NONE);
    for (code, action) in [
        (KeyCode::Up, Action::ScrollUp),
        (KeyCode::Down, Action::ScrollDown),
        (KeyCode::Left, Action::PageBack),
        (KeyCode::Right, Action::PageForward),
        (KeyCode::PageUp, Action::PageBack),
        (KeyCode::PageDown, Action::PageForward),
    ] {
        assert_eq!(action_for(key(code), false), Some(action), "{code:?}");
    }
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(action_for(ctrl_c, false), Some(Action::Quit));
    assert_eq!(action_for(ctrl_c, true), Some(Action::Quit));
    let mut release = KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE);
    release.kind = KeyEventKind::Release;
    assert_eq!(action_for(release, false), None, "only presses count");
    // In a prompt, keys are text.
    assert_eq!(
        action_for(key(KeyCode::Char('q')), true),
        Some(Action::Char('q'))
    );
    assert_eq!(
        action_for(key(KeyCode::Char(' ')), true),
        Some(Action::Char(' '))
    );
    assert_eq!(action_for(key(KeyCode::Enter), true), Some(Action::Submit));
    assert_eq!(
        action_for(key(KeyCode::Backspace), true),
        Some(Action::Backspace)
    );
    assert_eq!(action_for(key(KeyCode::Esc), true), Some(Action::Close));
    let ctrl_u = KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL);
    assert_eq!(action_for(ctrl_u, true), Some(Action::ClearLine));
}

#[test]
fn ctrl_u_clears_the_prompt() {
    let mut app = App::new(bundled("commit-auto.toml"));
    app.update(Action::Goto);
    for c in "no such thing".chars() {
        app.update(Action::Char(c));
    }
    app.update(Action::ClearLine);
    for c in "5s".chars() {
        app.update(Action::Char(c));
    }
    app.update(Action::Submit);
    finish_goal(&mut app);
    assert_eq!(app.engine.now(), 5_000_000_000, "{:?}", app.message);
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
    app.update(Action::FocusNext); // from the charts to the anomalies
    assert_eq!(app.focus, edasim::tui::app::Panel::Anomalies);
    app.update(Action::FocusNext); // and on to the log
    assert_eq!(app.focus, edasim::tui::app::Panel::Log);
    assert_eq!(app.selected, None, "the log follows the newest record");
    let newest = app.journal.back().expect("records").seq;
    app.update(Action::ScrollUp);
    assert_eq!(app.selected, Some(newest - 1), "up selects the one before");
    app.update(Action::PageBack);
    assert_eq!(app.selected, Some(newest - 11));
    app.update(Action::PageForward);
    app.update(Action::ScrollDown);
    assert_eq!(app.selected, None, "down past the newest follows again");
    app.update(Action::FocusPrev);
    app.update(Action::FocusPrev);
    assert_eq!(app.focus, edasim::tui::app::Panel::Charts);
    let pan = app.chart_pan;
    app.update(Action::PageBack);
    assert!(app.chart_pan > pan, "h pans the charts back");
    app.update(Action::PageForward);
    assert_eq!(app.chart_pan, pan);
    app.update(Action::FocusNext);
    app.update(Action::Inspect);
    assert!(app.inspect.is_some() || app.message.is_some());
    app.update(Action::Close);
    assert_eq!(app.inspect, None);
    app.update(Action::Goto);
    assert!(app.prompt.is_some());
    app.update(Action::Char('x'));
    app.update(Action::Submit);
    assert!(
        app.prompt.as_ref().is_some_and(|p| p.error.is_some()),
        "a bad target keeps the prompt open with the reason"
    );
    app.update(Action::Close);
    assert!(app.prompt.is_none());
    app.update(Action::Filter);
    app.update(Action::Char('b'));
    app.update(Action::Submit);
    assert!(app.filter.is_some());
    app.update(Action::Close);
    assert!(app.filter.is_none(), "esc clears the filter");
    app.update(Action::ToggleHelp);
    assert!(app.show_help);
    assert!(screen(&app, 80, 24).contains("keys"));
    app.update(Action::Quit);
    assert!(app.quit);
}

/// A bundled scenario, running, at "max" speed.
fn running_at_max_speed(name: &str) -> App {
    let mut app = App::new(bundled(name));
    app.update(Action::TogglePause);
    while app.speed().is_finite() {
        app.update(Action::Faster);
    }
    app
}

#[test]
fn running_at_max_speed_reaches_the_end_in_bounded_batches() {
    let mut app = running_at_max_speed("flash-sale.toml");
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

/// Types `text` into the prompt opened by `open` and submits it.
fn prompt(app: &mut App, open: Action, text: &str) {
    app.update(open);
    for c in text.chars() {
        app.update(Action::Char(c));
    }
    app.update(Action::Submit);
    assert!(
        app.prompt.is_none(),
        "{text}: {:?}",
        app.prompt.as_ref().and_then(|p| p.error.clone())
    );
}

/// Lets a run-until finish, as the shell would between frames.
fn finish_goal(app: &mut App) {
    let mut slices = 0;
    while app.busy() {
        app.update(Action::Work);
        slices += 1;
        assert!(slices < 10_000);
    }
}

#[test]
fn run_until_stops_exactly_at_each_kind_of_target() {
    let mut app = App::new(bundled("flash-sale-kafka.toml"));
    prompt(&mut app, Action::Goto, "2.5s");
    finish_goal(&mut app);
    assert_eq!(app.engine.now(), 2_500_000_000);
    assert!(
        app.message
            .as_deref()
            .is_some_and(|m| m.starts_with("reached"))
    );

    prompt(&mut app, Action::Goto, "#5000");
    finish_goal(&mut app);
    assert_eq!(app.engine.steps(), 5000);

    // A message id: stops on the first event of that message, and no later.
    let next_msg = app
        .journal
        .iter()
        .map(|r| r.msg)
        .filter(|&m| m != u64::MAX)
        .max();
    let target = next_msg.expect("messages") + 50;
    prompt(&mut app, Action::Goto, &format!("msg {target}"));
    finish_goal(&mut app);
    let last = *app.journal.back().expect("records");
    assert_eq!(last.msg, target, "the last event touches the message");
    let (first, last) = app.step_mark.expect("the hit is marked");
    assert!(
        app.journal
            .iter()
            .filter(|r| r.msg == target)
            .all(|r| r.seq >= first && r.seq <= last),
        "stopped at the message's first event"
    );

    // A key, then a metric threshold at sample granularity.
    prompt(&mut app, Action::Goto, "key user-1");
    finish_goal(&mut app);
    let key = app.model().keys.find("user-1").expect("key");
    assert_eq!(app.journal.back().map(|r| r.key), Some(key));
    prompt(&mut app, Action::Goto, "payment.lag > 1k");
    finish_goal(&mut app);
    let lag = app.history.back().expect("sample").services[1].2;
    assert!(lag > 1000, "payment lag {lag}");
    assert!(app.engine.now() > 60_000_000_000, "only during the spike");
    assert_eq!(app.engine.now(), app.engine.last_sample_time());

    // Backwards: a time behind us rewinds, identical to going forward.
    let steps = app.engine.steps();
    prompt(&mut app, Action::Goto, "#5000");
    assert_eq!(app.engine.steps(), 5000);
    let mut fresh = App::new(bundled("flash-sale-kafka.toml"));
    prompt(&mut fresh, Action::Goto, "#5000");
    finish_goal(&mut fresh);
    (app.message, fresh.message) = (None, None);
    assert_eq!(screen(&app, 120, 40), screen(&fresh, 120, 40));
    assert!(steps > 5000);

    // Space cancels a run-until.
    prompt(&mut app, Action::Goto, "290s");
    app.update(Action::Work);
    app.update(Action::TogglePause);
    assert!(app.goal.is_none() && app.paused && !app.busy());
}

#[test]
fn the_filter_narrows_the_log_and_enter_shows_a_journey() {
    let mut app = App::new(bundled("flash-sale-kafka.toml"));
    for _ in 0..3 {
        app.update(Action::StepInterval);
    }
    prompt(&mut app, Action::Filter, "payment#2");
    let (window, sel) = app.log_window(30);
    assert_eq!(window.len(), 30);
    assert_eq!(sel, Some(29), "the newest is selected");
    let payment = app
        .names()
        .iter()
        .position(|n| n == "payment")
        .expect("payment") as u32;
    assert!(
        window
            .iter()
            .all(|r| r.component == payment && r.instance == 1)
    );
    let text = screen(&app, 120, 40);
    assert!(text.contains("filter: payment#2"), "{text}");

    // Select an acked record's message and inspect it.
    let acked = window
        .iter()
        .rev()
        .find(|r| r.kind == edasim::sim::trace::TraceKind::Ack)
        .map(|r| (r.seq, r.msg))
        .expect("an ack");
    app.update(Action::Select(acked.0));
    app.update(Action::Inspect);
    assert_eq!(app.inspect, Some(acked.1));
    let journey = app.journey(acked.1);
    let kinds: Vec<&str> = journey.iter().map(|r| r.kind.name()).collect();
    assert_eq!(&kinds[..2], &["produce", "append"], "{kinds:?}");
    assert!(kinds.contains(&"deliver") && kinds.contains(&"ack"));
    let text = screen(&app, 120, 40);
    assert!(text.contains(&format!("msg {}", acked.1)), "{text}");
    assert!(
        text.contains("checkout") && text.contains("processed once"),
        "{text}"
    );
    snap("tui-journey-120x40", text);
    app.update(Action::Inspect);
    assert_eq!(app.inspect, None, "enter again closes");

    prompt(&mut app, Action::Filter, "msg 3");
    let (window, _) = app.log_window(50);
    assert!(!window.is_empty() && window.iter().all(|r| r.msg == 3));
    prompt(&mut app, Action::Filter, "key user-13022");
    let (window, _) = app.log_window(50);
    assert!(
        window
            .iter()
            .all(|r| app.model().keys.name(r.key).as_deref() == Some("user-13022"))
    );
}

#[test]
fn a_step_marks_its_log_lines_and_the_edge_it_crossed() {
    use edasim::tui::app::Node;
    let mut app = App::new(bundled("flash-sale.toml"));
    app.update(Action::Step);
    // The first event is a produce: checkout → orders, then delivery to the services.
    let crossed = app.crossed();
    assert!(
        crossed.contains(&(Node::Producer(0), Node::Topic(0))),
        "{crossed:?}"
    );
    assert!(
        crossed.contains(&(Node::Topic(0), Node::Service(0))),
        "{crossed:?}"
    );
    let text = screen(&app, 120, 40);
    assert!(text.contains("▸"), "step lines are marked:\n{text}");
    app.update(Action::StepBack);
    assert!(app.crossed().is_empty());
}

#[test]
fn the_mouse_focuses_panels_and_selects_log_lines() {
    use edasim::tui::app::Panel;
    use edasim::tui::ui::{Hit, hit_test, layout};
    use ratatui::layout::Rect;
    let mut app = App::new(bundled("flash-sale.toml"));
    app.update(Action::StepInterval);
    let area = Rect::new(0, 0, 120, 40);
    let a = layout(area, &app);
    assert_eq!(
        hit_test(area, &app, a.topology.x + 2, a.topology.y + 1),
        Some(Hit::Panel(Panel::Topology))
    );
    let row = a.log.y + a.log.height - 2;
    let Some(Hit::LogRecord(seq)) = hit_test(area, &app, a.log.x + 3, row) else {
        panic!("the bottom log row holds a record")
    };
    assert_eq!(Some(seq), app.journal.back().map(|r| r.seq));
    app.update(Action::Select(seq - 1));
    assert_eq!((app.focus, app.selected), (Panel::Log, Some(seq - 1)));
    let click = |x, y| crossterm::event::MouseEvent {
        kind: crossterm::event::MouseEventKind::Down(crossterm::event::MouseButton::Left),
        column: x,
        row: y,
        modifiers: KeyModifiers::NONE,
    };
    assert_eq!(
        edasim::tui::mouse_action(click(a.charts.x + 1, a.charts.y + 1), area, &app),
        Some(Action::Focus(Panel::Charts))
    );
}

#[test]
fn run_until_a_sample_time_includes_that_sample() {
    let mut a = App::new(bundled("flash-sale.toml"));
    prompt(&mut a, Action::Goto, "3s");
    finish_goal(&mut a);
    let mut b = App::new(bundled("flash-sale.toml"));
    for _ in 0..3 {
        b.update(Action::StepInterval);
    }
    assert_eq!(a.history.len(), 3, "the sample at 3 s is on screen");
    (a.message, b.message) = (None, None);
    assert_eq!(screen(&a, 120, 40), screen(&b, 120, 40));
    // And back to a sample time behind us: the same screen as going forward.
    prompt(&mut a, Action::Goto, "10s");
    finish_goal(&mut a);
    prompt(&mut a, Action::Goto, "3s");
    a.message = None;
    assert_eq!(screen(&a, 120, 40), screen(&b, 120, 40));
}

#[test]
fn slowing_down_from_max_speed_stops_the_full_speed_run() {
    let mut app = running_at_max_speed("flash-sale.toml");
    app.update(Action::Tick(0.033));
    assert!(app.busy(), "at max speed there is always work owed");
    app.update(Action::Slower);
    assert!(app.speed().is_finite());
    assert!(!app.busy(), "time owed at max speed is forgiven");
    let t0 = app.engine.now();
    app.update(Action::Tick(0.1));
    let owed = (0.1 * app.speed() * 1e9) as u64;
    assert!(app.engine.now() <= t0 + owed, "runs at the new speed only");
}

#[test]
fn a_run_until_after_the_end_says_it_was_not_reached() {
    let mut app = App::new(bundled("commit-auto.toml"));
    prompt(&mut app, Action::Goto, "#999999999");
    finish_goal(&mut app);
    assert!(app.engine.is_finished());
    assert!(app.goal.is_none());
    // Once finished, a new goal is settled by the next slice instead of hanging.
    prompt(&mut app, Action::Goto, "msg 999999999");
    assert!(app.busy());
    finish_goal(&mut app);
    assert!(app.goal.is_none());
    let msg = app.message.clone().unwrap_or_default();
    assert!(msg.contains("not reached"), "{msg}");
    // Space on a finished run keeps it paused: there is nothing to run.
    app.update(Action::TogglePause);
    assert!(app.paused);
}

#[test]
fn step_back_lands_on_the_state_step_forward_showed() {
    let mut app = App::new(bundled("flash-sale.toml"));
    for _ in 0..40 {
        app.update(Action::Step);
    }
    let at_40 = screen(&app, 120, 40);
    app.update(Action::Step);
    app.update(Action::StepBack);
    assert_eq!(app.engine.steps(), 40);
    assert_eq!(
        screen(&app, 120, 40),
        at_40,
        "same marks and log as after `n`"
    );
    // From the finished state, `b` goes to just after the last event and `n` returns.
    let mut app = App::new(bundled("commit-auto.toml"));
    prompt(&mut app, Action::Goto, "#999999999");
    finish_goal(&mut app);
    let end = (app.engine.steps(), app.engine.summary().events);
    let finished = screen(&app, 120, 40);
    app.update(Action::StepBack);
    assert!(!app.engine.is_finished());
    assert_eq!(app.engine.steps(), end.0);
    assert!(
        app.step_mark.is_some(),
        "the last event is marked, as `n` marks it"
    );
    app.update(Action::Step);
    assert!(app.engine.is_finished());
    assert_eq!(screen(&app, 120, 40), finished);
}

#[test]
fn a_metric_goal_works_in_bounded_slices() {
    let mut app = App::new(bundled("flash-sale.toml"));
    prompt(&mut app, Action::Goto, "payment.lag > 1000000000");
    let mut slices = 0;
    while app.busy() && slices < 3 {
        let before = app.engine.steps();
        app.update(Action::Work);
        assert!(
            app.engine.steps() - before <= 20_000 + 100,
            "a slice is bounded"
        );
        slices += 1;
    }
    assert!(app.goal.is_some(), "still under way after three slices");
    app.update(Action::TogglePause);
    assert!(app.goal.is_none(), "space cancels it");
}

#[test]
fn control_chords_are_not_typed_into_the_prompt() {
    let ctrl_w = KeyEvent::new(KeyCode::Char('w'), KeyModifiers::CONTROL);
    assert_eq!(action_for(ctrl_w, true), None);
    let shift_a = KeyEvent::new(KeyCode::Char('A'), KeyModifiers::SHIFT);
    assert_eq!(action_for(shift_a, true), Some(Action::Char('A')));
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(action_for(ctrl_c, true), Some(Action::Quit));
    // AltGr arrives as Ctrl+Alt on Windows and types text.
    let altgr_at = KeyEvent::new(
        KeyCode::Char('@'),
        KeyModifiers::CONTROL | KeyModifiers::ALT,
    );
    assert_eq!(action_for(altgr_at, true), Some(Action::Char('@')));
}

#[test]
fn a_long_interval_is_stepped_in_slices_and_back_lands_on_the_same_screen() {
    let mut model = bundled("flash-sale.toml");
    // One sample every two minutes: far more events an interval (about a million by
    // 120 s) than `s` simulates at once.
    model.metrics_interval = edasim::time::SimDuration(120_000_000_000);
    let mut app = App::new(model);
    app.update(Action::StepInterval);
    assert!(app.busy(), "the rest of the interval is left to slices");
    assert!(app.engine.steps() <= edasim::tui::app::SYNC_EVENTS + 100);
    finish_goal(&mut app);
    assert_eq!(app.engine.last_sample_time(), 120_000_000_000);
    assert_eq!(app.history.len(), 1);
    let steps = app.engine.steps();
    app.message = None;
    let at_120 = screen(&app, 120, 40);
    app.update(Action::StepInterval);
    finish_goal(&mut app);
    assert_eq!(app.history.len(), 2);
    app.update(Action::StepBackInterval);
    finish_goal(&mut app);
    assert_eq!(app.engine.steps(), steps);
    app.message = None;
    assert_eq!(screen(&app, 120, 40), at_120);
}

#[test]
fn a_producer_without_an_event_name_shows_its_arrival_process() {
    let text = screen(&App::new(bundled("mm1.toml")), 120, 40);
    assert!(text.contains("poisson"), "{text}");
    assert!(!text.contains("Event "), "{text}");
}

/// One thing a user can do to the clock.
#[derive(Clone, Debug)]
enum Move {
    Step,
    Back,
    Interval,
    BackInterval,
    /// `g #(now + k)`.
    Jump(u64),
    /// `g #(now - k)`.
    JumpBack(u64),
    /// `g <ms>ms`.
    Time(u64),
}

fn any_move() -> impl Strategy<Value = Move> {
    prop_oneof![
        3 => Just(Move::Step),
        3 => Just(Move::Back),
        2 => Just(Move::Interval),
        2 => Just(Move::BackInterval),
        1 => (1u64..=60_000).prop_map(Move::Jump),
        1 => (1u64..=60_000).prop_map(Move::JumpBack),
        1 => (0u64..=95_000).prop_map(Move::Time),
    ]
}

/// What the user sees and exports, apart from marks, messages and the log.
fn observable(app: &App) -> (String, Vec<u8>, String) {
    (
        serde_json::to_string(&app.engine.summary()).expect("json"),
        app.export_csv().expect("csv"),
        format!("{:?}", app.history),
    )
}

/// The log is a window on the newest records, and checkpoints do not carry it: after
/// going back it may lack some of the oldest records that going forward would still
/// hold, but it holds the newest `REWIND_LOG` at least, and what it holds is the same.
fn same_log(back: &App, forward: &App) -> bool {
    let (ja, jb) = (&back.journal, &forward.journal);
    let least = jb.len().min(edasim::tui::app::REWIND_LOG as usize);
    ja.len() >= least && ja.len() <= jb.len() && ja.iter().eq(jb.iter().skip(jb.len() - ja.len()))
}

/// Walks `moves` through `scenario`, then goes straight forward to where the walk
/// stopped and compares.
fn walk(scenario: &str, moves: &[Move], ms_scale: u64) -> Result<(), TestCaseError> {
    let model = bundled(scenario);
    let mut a = App::new(model.clone());
    for m in moves {
        let steps = a.engine.steps();
        match m {
            Move::Step => a.update(Action::Step),
            Move::Back => a.update(Action::StepBack),
            Move::Interval => a.update(Action::StepInterval),
            Move::BackInterval => a.update(Action::StepBackInterval),
            Move::Jump(k) => prompt(&mut a, Action::Goto, &format!("#{}", steps + k)),
            Move::JumpBack(k) => {
                prompt(
                    &mut a,
                    Action::Goto,
                    &format!("#{}", steps.saturating_sub(*k)),
                );
            }
            Move::Time(ms) => prompt(&mut a, Action::Goto, &format!("{}ms", ms * ms_scale)),
        }
        finish_goal(&mut a);
    }
    let mut b = App::new(model);
    let target = if a.engine.is_finished() {
        u64::MAX / 2
    } else {
        a.engine.steps()
    };
    prompt(&mut b, Action::Goto, &format!("#{target}"));
    finish_goal(&mut b);
    if b.engine.now() < a.engine.now() {
        // `a` ended on a time goal past its last event: the clock moved on alone.
        prompt(&mut b, Action::Goto, &format!("{}ns", a.engine.now()));
        finish_goal(&mut b);
    }
    prop_assert_eq!(b.engine.steps(), a.engine.steps());
    prop_assert_eq!(b.engine.is_finished(), a.engine.is_finished());
    prop_assert!(observable(&a) == observable(&b), "after {:?}", moves);
    prop_assert!(same_log(&a, &b), "after {:?}", moves);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    /// However the user wanders back and forth through time, where they stop is the
    /// state going straight forward to the same event gives: same counters, same CSV,
    /// same log, same charts.
    #[test]
    fn any_walk_through_time_lands_on_the_forward_state(
        moves in proptest::collection::vec(any_move(), 1..=24),
    ) {
        walk("commit-auto.toml", &moves, 1)?;
    }

    /// The same through the flash sale's crash, retries and rebalances, with jumps of
    /// up to 300 s (so checkpoints are thinned on the way).
    #[test]
    fn any_walk_through_the_flash_sale_lands_on_the_forward_state(
        moves in proptest::collection::vec(any_move(), 1..=10),
    ) {
        walk("flash-sale.toml", &moves, 3)?;
    }
}

#[test]
fn going_far_back_keeps_the_log_of_where_you_land() {
    let model = bundled("flash-sale.toml");
    let mut a = App::new(model.clone());
    // To the end (the journal has long dropped the first records), then back to just
    // after a checkpoint (one is kept every 50,000 events).
    prompt(&mut a, Action::Goto, "#999999999");
    finish_goal(&mut a);
    prompt(&mut a, Action::Goto, "#150002");
    let mut b = App::new(model);
    prompt(&mut b, Action::Goto, "#150002");
    finish_goal(&mut b);
    assert_eq!(a.engine.steps(), b.engine.steps());
    assert!(!b.journal.is_empty());
    assert!(
        same_log(&a, &b),
        "log after going back: {} records, forward: {}",
        a.journal.len(),
        b.journal.len()
    );
    a.message = None;
    b.message = None;
    assert_eq!(screen(&a, 120, 40), screen(&b, 120, 40));
}

#[test]
fn a_selection_survives_a_step_back_that_keeps_its_record() {
    let mut app = App::new(bundled("flash-sale.toml"));
    // Past the checkpoint at 100,000 events, so `b` restores it and re-simulates.
    prompt(&mut app, Action::Goto, "#100500");
    finish_goal(&mut app);
    app.update(Action::Focus(edasim::tui::app::Panel::Log));
    app.update(Action::ScrollUp);
    app.update(Action::ScrollUp);
    let seq = app.selected.expect("a selection");
    assert!(seq > 0);
    app.update(Action::Step);
    let after_n = screen(&app, 120, 40);
    app.update(Action::Step);
    app.update(Action::StepBack);
    assert_eq!(app.selected, Some(seq));
    assert_eq!(screen(&app, 120, 40), after_n);
    // Back before the record was written: the selection goes, the log follows the newest.
    prompt(&mut app, Action::Goto, "#1000");
    assert_eq!(app.selected, None);
}

#[test]
fn back_an_interval_from_the_end_off_the_grid() {
    let mut model = bundled("commit-auto.toml");
    // 90 s is not a multiple of 7 s: the last sample, at the end, is off the grid.
    model.metrics_interval = edasim::time::SimDuration(7_000_000_000);
    let mut app = App::new(model);
    prompt(&mut app, Action::Goto, "#999999999");
    finish_goal(&mut app);
    assert_eq!(app.engine.last_sample_time(), 90_000_000_000);
    app.update(Action::StepBackInterval);
    finish_goal(&mut app);
    assert_eq!(app.engine.last_sample_time(), 84_000_000_000);
    assert_eq!(app.engine.now(), 84_000_000_000);
    app.update(Action::StepBackInterval);
    finish_goal(&mut app);
    assert_eq!(app.engine.last_sample_time(), 77_000_000_000);
}

/// Anything a user can do: a key (through the keymap or typed into a prompt), a click
/// or a wheel turn somewhere, a frame's tick, a slice of work.
#[derive(Clone, Debug)]
enum Input {
    Key(char),
    Special(KeyCode),
    Click(u16, u16),
    Wheel(bool, u16, u16),
    Tick(u16),
    Work,
}

fn any_input() -> impl Strategy<Value = Input> {
    let keys: Vec<char> = " nsbBg/e+-?kjhl#>.0123456789mtyxé€".chars().collect();
    prop_oneof![
        8 => proptest::sample::select(keys).prop_map(Input::Key),
        2 => proptest::sample::select(vec![
            KeyCode::Enter,
            KeyCode::Esc,
            KeyCode::Tab,
            KeyCode::BackTab,
            KeyCode::Backspace,
            KeyCode::Up,
            KeyCode::Down,
            KeyCode::Left,
            KeyCode::Right,
            KeyCode::PageUp,
            KeyCode::PageDown,
        ])
        .prop_map(Input::Special),
        2 => (0u16..130, 0u16..50).prop_map(|(x, y)| Input::Click(x, y)),
        1 => (any::<bool>(), 0u16..130, 0u16..50).prop_map(|(u, x, y)| Input::Wheel(u, x, y)),
        2 => (0u16..500).prop_map(Input::Tick),
        1 => Just(Input::Work),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// No sequence of inputs at any terminal size panics, and the log stays a contiguous
    /// run of trace records ending at the engine's position.
    #[test]
    fn no_input_sequence_at_any_size_panics(
        scenario in proptest::sample::select(vec!["commit-auto.toml", "flash-sale.toml", "mm1.toml"]),
        inputs in proptest::collection::vec(any_input(), 1..=60),
        sizes in proptest::collection::vec((1u16..=160, 1u16..=60), 1..=4),
    ) {
        use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
        let mut app = App::new(bundled(scenario));
        for (i, input) in inputs.iter().enumerate() {
            let (w, h) = sizes[i % sizes.len()];
            let area = ratatui::layout::Rect::new(0, 0, w, h);
            let action = match *input {
                Input::Key(c) => action_for(
                    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE),
                    app.prompt.is_some(),
                ),
                Input::Special(code) => {
                    action_for(KeyEvent::new(code, KeyModifiers::NONE), app.prompt.is_some())
                }
                Input::Click(x, y) | Input::Wheel(_, x, y) => {
                    let kind = match *input {
                        Input::Wheel(true, ..) => MouseEventKind::ScrollUp,
                        Input::Wheel(false, ..) => MouseEventKind::ScrollDown,
                        _ => MouseEventKind::Down(MouseButton::Left),
                    };
                    let ev = MouseEvent { kind, column: x, row: y, modifiers: KeyModifiers::NONE };
                    edasim::tui::mouse_action(ev, area, &app)
                }
                Input::Tick(ms) => Some(Action::Tick(f64::from(ms) / 1000.0)),
                Input::Work => Some(Action::Work),
            };
            if let Some(a) = action {
                app.update(a);
            }
            let _ = screen(&app, w, h);
            let seqs: Vec<u64> = app.journal.iter().map(|r| r.seq).collect();
            prop_assert!(seqs.windows(2).all(|p| p[1] == p[0] + 1), "after {:?}", input);
            prop_assert_eq!(
                seqs.last().copied().unwrap_or(app.engine.trace_seq()),
                app.engine.trace_seq()
            );
        }
    }
}

/// Runs `app` sample by sample to `t` seconds.
fn run_to(app: &mut App, t: u64) {
    while app.engine.now() < t * 1_000_000_000 && !app.engine.is_finished() {
        app.update(Action::StepInterval);
    }
}

/// The text of the screen's topology panel (from the top border to the bottom one).
fn topology_text(screen: &str) -> String {
    screen
        .lines()
        .skip(1)
        .take_while(|l| !l.starts_with("\"└") && !l.starts_with('└'))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_flash_sale_crash_and_a_four_service_chain_show_every_state_at_both_sizes() {
    let mut flash = App::new(bundled("flash-sale.toml"));
    run_to(&mut flash, 112);
    let mut chain = App::new(bundled("order-chain.toml"));
    run_to(&mut chain, 70);
    for (name, app, crashed) in [
        ("flash-sale-crash", &flash, "payment"),
        ("order-chain-70s", &chain, "shipping"),
    ] {
        for (w, h) in [(80u16, 24u16), (120, 40)] {
            let text = screen(app, w, h);
            snap(&format!("tui-{name}-{w}x{h}"), text.clone());
            // The status bar keeps help and quit whatever else it drops.
            let status = text.lines().nth(usize::from(h) - 1).unwrap_or_default();
            assert!(
                status.contains("? help") && status.contains("q quit"),
                "{name} {w}x{h}: {status}"
            );
            // Every service is drawn with its lag and state: the crashed instance shows.
            let topo = topology_text(&text);
            for x in &app.model().services {
                assert!(topo.contains(&x.name), "{name} {w}x{h}: {} missing", x.name);
            }
            assert!(
                topo.contains("✗1"),
                "{name} {w}x{h}: {crashed}'s crash not shown"
            );
            let states = topo.matches("healthy").count() + topo.matches('✓').count();
            assert!(
                states + 1 >= app.model().services.len(),
                "{name} {w}x{h}: states missing\n{topo}"
            );
        }
    }
}

#[test]
fn a_health_label_does_not_flicker_under_auto_commit() {
    // The flash sale's payment group auto-commits every 5 s: its lag from committed
    // offsets is a saw-tooth. Judged over a window, its label changes seldom.
    let mut app = App::new(bundled("flash-sale.toml"));
    run_to(&mut app, 300);
    let si = app
        .model()
        .services
        .iter()
        .position(|s| s.name == "payment")
        .unwrap_or(0);
    let labels: Vec<(u64, bool)> = app
        .history
        .iter()
        .filter_map(|s| s.health.get(si).map(|h| (s.time, h.lagging)))
        .collect();
    assert!(labels.len() > 200, "{}", labels.len());
    let mut changes = Vec::new();
    for w in labels.windows(2) {
        if w[0].1 != w[1].1 {
            changes.push(w[1].0);
        }
    }
    assert!(
        !changes.is_empty(),
        "the spike makes payment lag at least once"
    );
    for c in changes.windows(2) {
        assert!(
            c[1] - c[0] >= 5_000_000_000,
            "label changed at {} s and again at {} s",
            c[0] as f64 / 1e9,
            c[1] as f64 / 1e9
        );
    }
    // The raw one-sample rule (lag > 1000) flips far more often.
    let raw: Vec<bool> = app
        .history
        .iter()
        .map(|s| s.services.get(si).is_some_and(|v| v.2 > 1000))
        .collect();
    let raw_changes = raw.windows(2).filter(|w| w[0] != w[1]).count();
    assert!(
        raw_changes > changes.len(),
        "{raw_changes} vs {}",
        changes.len()
    );
}

#[test]
fn journey_headers_stay_distinct_and_every_row_scrolls_into_view() {
    use edasim::tui::panels::journey::lane_labels;
    let names: Vec<String> = ["payment#2", "payments", "payment#1", "notification#1"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for w in [3usize, 4, 6, 9, 20] {
        let (labels, legend) = lane_labels(&names, w);
        for (i, a) in labels.iter().enumerate() {
            assert!(
                ratatui::text::Span::raw(a.as_str()).width() <= w,
                "{a} wider than {w}"
            );
            for b in &labels[i + 1..] {
                assert_ne!(a, b, "at {w}: {labels:?}");
            }
        }
        if legend.is_some() {
            assert!(legend.unwrap_or_default().contains("payment#2"));
        }
    }
    assert_eq!(lane_labels(&names, 4).0[0], "p…#2");
    // A long journey at 80×24: j scrolls until its last row shows.
    let mut app = App::new(bundled("flash-sale.toml"));
    run_to(&mut app, 112);
    app.update(Action::Focus(edasim::tui::app::Panel::Anomalies));
    app.update(Action::Inspect);
    assert!(app.inspect.is_some());
    let first = screen(&app, 80, 24);
    let last_row = |s: &str| s.contains("processed") && s.contains("attempt");
    let mut seen_end = last_row(&first);
    for _ in 0..40 {
        app.update(Action::ScrollDown);
        seen_end |= last_row(&screen(&app, 80, 24));
    }
    assert!(
        seen_end,
        "the journey's outcome rows never scrolled into view"
    );
}

#[test]
fn tab_reaches_the_anomalies_and_enter_opens_the_anomalys_journey() {
    use edasim::tui::app::Panel;
    let mut app = App::new(bundled("flash-sale-kafka.toml"));
    run_to(&mut app, 112);
    let mut seen = Vec::new();
    for _ in 0..4 {
        app.update(Action::FocusNext);
        seen.push(app.focus);
    }
    assert!(seen.contains(&Panel::Anomalies), "{seen:?}");
    app.update(Action::Focus(Panel::Anomalies));
    app.update(Action::ScrollUp);
    let want = app.engine.anomalies().rev().nth(1).map(|a| a.msg);
    app.update(Action::Inspect);
    assert_eq!(app.inspect, want);
    // The topology: j selects the next service, enter opens its inspector with why.
    app.update(Action::Close);
    app.update(Action::Focus(Panel::Topology));
    app.update(Action::ScrollDown);
    app.update(Action::Inspect);
    assert_eq!(app.inspect_node, Some(1));
    let text = screen(&app, 120, 40);
    assert!(text.contains("payment · service, 5 of 6 up"), "{text}");
    assert!(text.contains("down: 1 of 6 instances crashed"), "{text}");
}

#[test]
fn small_tui_fixes() {
    use edasim::tui::app::SPEEDS;
    // + and - walk one ladder of 1-2-5 steps.
    for w in SPEEDS.windows(2).filter(|w| w[1].is_finite()) {
        let r = w[1] / w[0];
        assert!((1.9..=2.6).contains(&r), "{w:?}");
    }
    let mut app = App::new(bundled("flash-sale.toml"));
    let start = app.speed;
    app.update(Action::Faster);
    app.update(Action::Faster);
    app.update(Action::Slower);
    app.update(Action::Slower);
    assert_eq!(app.speed, start);
    // B between two samples goes to the latest sample, not the one before.
    prompt(&mut app, Action::Goto, "50.5s");
    finish_goal(&mut app);
    assert_eq!(app.engine.now(), 50_500_000_000);
    app.update(Action::StepBackInterval);
    finish_goal(&mut app);
    assert_eq!(app.engine.now(), 50_000_000_000);
    app.update(Action::StepBackInterval);
    finish_goal(&mut app);
    assert_eq!(app.engine.now(), 49_000_000_000);
    // The header cuts the time, it does not round it up.
    prompt(&mut app, Action::Goto, "49.9996s");
    finish_goal(&mut app);
    let text = screen(&app, 120, 40);
    assert!(
        text.contains("t 49.999 / 300 s"),
        "{}",
        text.lines().next().unwrap_or_default()
    );
    // A refused target says what was meant, and the reason fits the status line.
    app.update(Action::Goto);
    for c in "paymnt.lagg > 5".chars() {
        app.update(Action::Char(c));
    }
    app.update(Action::Submit);
    let err = app
        .prompt
        .as_ref()
        .and_then(|p| p.error.clone())
        .unwrap_or_default();
    assert!(err.contains("did you mean"), "{err}");
    let text = screen(&app, 80, 24);
    let status = text.lines().nth(23).unwrap_or_default();
    assert!(status.contains("unknown metric 'lagg'"), "{status}");
    assert!(
        status.trim_end_matches('"').trim_end().chars().count() <= 81,
        "{status}"
    );
    app.update(Action::Close);
    // The log filter applies as it is typed; esc restores the log.
    app.update(Action::Filter);
    for c in "payment#2".chars() {
        app.update(Action::Char(c));
    }
    assert!(app.filter.is_some());
    app.update(Action::Close);
    assert!(app.filter.is_none());
}

/// A second and a third export at the same simulated time get their own names; the
/// first file is left as it was, and no temporary file stays behind.
#[test]
fn exports_at_one_instant_never_overwrite() {
    let dir = std::env::temp_dir().join(format!("edasim-export-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut app = App::new(bundled("commit-auto.toml"));
    for _ in 0..3 {
        app.update(Action::StepInterval);
    }
    let first = edasim::tui::export(&app, &dir);
    assert!(first.ends_with("edasim-commit-auto-3s.csv"), "{first}");
    let bytes = std::fs::read(dir.join("edasim-commit-auto-3s.csv")).expect("first export");
    std::fs::write(dir.join("edasim-commit-auto-3s.csv"), b"user's edits").expect("edit");
    let second = edasim::tui::export(&app, &dir);
    assert!(second.ends_with("edasim-commit-auto-3s-2.csv"), "{second}");
    let third = edasim::tui::export(&app, &dir);
    assert!(third.ends_with("edasim-commit-auto-3s-3.csv"), "{third}");
    assert_eq!(
        std::fs::read(dir.join("edasim-commit-auto-3s.csv")).expect("first"),
        b"user's edits"
    );
    assert_eq!(
        std::fs::read(dir.join("edasim-commit-auto-3s-2.csv")).expect("second"),
        bytes,
        "the same moment exports the same rows"
    );
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "edasim-commit-auto-3s-2.csv",
            "edasim-commit-auto-3s-3.csv",
            "edasim-commit-auto-3s.csv"
        ]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_fault_timeline_lists_marks_and_draws_the_faults_under_way() {
    // Scheduled faults of every layer on one small system: a partition's outage, a
    // slowdown of the consumer, a poison window, then a whole outage of the topic.
    let text = "[scenario]\nname = \"f\"\nseed = 3\nduration = \"60s\"\n\n\
         [[producer]]\nname = \"p\"\ntarget = \"t\"\nrate = { dist = \"constant\", per_second = 100 }\n\
         keys = { format = \"k{}\", count = 50 }\n\n\
         [[topic]]\nname = \"t\"\npartitions = 4\n\n\
         [[consumer]]\nname = \"c\"\nsource = \"t\"\ninstances = 2\n\
         processing = { dist = \"constant\", value = \"1ms\" }\n\n\
         [[fault]]\nkind = \"partition_outage\"\ntarget = \"t\"\npartition = 3\nat = \"10s\"\nduration = \"10s\"\n\n\
         [[fault]]\nkind = \"slowdown\"\ntarget = \"c\"\nfactor = 4\nat = \"12s\"\nduration = \"4s\"\n\n\
         [[fault]]\nkind = \"poison\"\ntarget = \"p\"\nfraction = 0.05\nat = \"14s\"\nduration = \"2s\"\n\n\
         [[fault]]\nkind = \"broker_outage\"\ntarget = \"t\"\nat = \"30s\"\nduration = \"5s\"\n";
    let model =
        edasim::scenario::load_str("f.toml", text).unwrap_or_else(|e| panic!("{}", e.to_plain()));
    let mut app = App::new(model);
    run_to(&mut app, 5);
    let s = screen(&app, 120, 40);
    assert!(
        s.contains("faults next a partition_outage t[3] in 5.0s"),
        "{s}"
    );
    run_to(&mut app, 15);
    let s = screen(&app, 120, 40);
    // Each fault under way, with what it hits and the time it has left.
    assert!(
        s.contains("faults a partition_outage t[3]  5.0s left"),
        "{s}"
    );
    assert!(s.contains("b slowdown c ×4  1.0s left"), "{s}");
    assert!(s.contains("c poison p 5%  1.0s left"), "{s}");
    // The topology says it in words: the partition down, the consumer slow, the
    // producer poisoning.
    assert!(s.contains("p3 down"), "{s}");
    assert!(s.contains("slow"), "{s}");
    assert!(s.contains("poison 5%"), "{s}");
    // The time axis: a alone for 2 s, then a and b, then all three.
    let axis = s
        .lines()
        .find(|l| l.contains("faults abc under way"))
        .unwrap_or_else(|| panic!("no axis row\n{s}"));
    assert!(axis.contains("aa++"), "{axis}");
    assert!(!axis.contains("aaa"), "one sample a second: {axis}");
    run_to(&mut app, 25);
    let s = screen(&app, 120, 40);
    assert!(s.contains("faults next d broker_outage t in 5.0s"), "{s}");
    assert!(!s.contains("p3 down"), "{s}");
    run_to(&mut app, 32);
    let s = screen(&app, 120, 40);
    assert!(s.contains("down 3.0s left"), "{s}");
    assert!(s.contains("d broker_outage t  3.0s left"), "{s}");
    // At 80×24 the faults under way fit on one line.
    let small = screen(&app, 80, 24);
    assert!(
        small.contains("faults d broker_outage t 3.0s left"),
        "{small}"
    );
}

#[test]
fn a_cut_off_instance_and_an_open_breaker_are_named_on_the_topology() {
    let mut app = App::new(bundled("network-partition.toml"));
    run_to(&mut app, 30);
    let s = screen(&app, 120, 40);
    assert!(s.contains("cut off"), "{s}");
    assert!(s.contains("network_partition"), "{s}");
    let mut app = App::new(bundled("circuit-breaker.toml"));
    run_to(&mut app, 25);
    let s = screen(&app, 120, 40);
    assert!(s.contains("brk open"), "{s}");
    assert!(s.contains("failing"), "the breakerless side fails: {s}");
}

#[test]
fn a_saga_message_journey_shows_its_steps_and_compensations_in_order() {
    use edasim::sim::saga::SagaOutcome;
    use edasim::sim::trace::TraceKind;
    let mut app = App::new(bundled("flash-sale.toml"));
    run_to(&mut app, 2);
    // The first saga the declined card compensated.
    let msg = app
        .journal
        .iter()
        .find(|r| {
            r.kind == TraceKind::SagaStep
                && SagaOutcome::from_code(r.offset) == Some(SagaOutcome::RolledBack)
        })
        .map(|r| r.msg)
        .expect("a compensated saga in the first 2 s");
    let text: Vec<String> = ui::journey_lines(&app, msg, 110)
        .iter()
        .map(|l| l.to_string())
        .collect();
    let all = text.join("\n");
    let at = |needle: &str| {
        text.iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no {needle:?} in\n{all}"))
    };
    // The steps in the order they ran, then the compensation of the one that completed.
    let order = [
        "saga started",
        "reserve sent",
        "reserve done",
        "charge sent",
        "charge failed",
        "undo reserve sent",
        "undo reserve done",
        "saga compensated",
    ];
    for w in order.windows(2) {
        assert!(at(w[0]) < at(w[1]), "{} before {}\n{all}", w[0], w[1]);
    }
    assert!(
        !all.contains("undo charge"),
        "a failed step is not undone\n{all}"
    );
    assert!(
        !all.contains("ship"),
        "no step after the failure runs\n{all}"
    );
    assert!(
        all.contains("saga order: reserve ✓ → charge ✗ → undo reserve ↩ → compensated in"),
        "{all}"
    );
    // A command and its compensation are two events, not a duplicate.
    assert!(
        all.contains("inventory: processed 2 events once each"),
        "{all}"
    );
    assert!(!all.contains("duplicate"), "{all}");
}

#[test]
fn an_exchange_draws_its_bindings_with_their_keys_and_lists_them_when_small() {
    let mut app = App::new(bundled("rabbit-topic-routing.toml"));
    run_to(&mut app, 60);
    let s = screen(&app, 120, 40);
    for needle in [
        "orders topic",
        "order.eu.*",
        "*.*.cancelled",
        "order.#",
        "audit fanout",
        "alternate",
        "unrouted fanout",
    ] {
        assert!(s.contains(needle), "no {needle:?} in\n{s}");
    }
    let s = screen(&app, 80, 24);
    assert!(
        s.contains("orders ─▶ eu-fulfilment, us-fulfilment, cancellations, audit; else unrouted"),
        "{s}"
    );
    assert!(s.contains("q quit"), "{s}");
}

#[test]
fn a_rabbitmq_queue_shows_ready_and_unacknowledged_messages() {
    let mut app = App::new(bundled("rabbit-overflow.toml"));
    run_to(&mut app, 50);
    let s = screen(&app, 120, 40);
    for needle in [
        "5000 rdy 40 unack",
        "dead-letters direct",
        "─overflow─▶ overflow-dlq",
        "─poison─▶ poison-dlq",
        "✗1 down",
    ] {
        assert!(s.contains(needle), "no {needle:?} in\n{s}");
    }
    assert!(!s.contains(" vis "), "{s}");
    let s = screen(&app, 80, 24);
    assert!(
        s.contains("dead-letters ─▶ overflow-dlq, expired-dlq, poison-dlq"),
        "{s}"
    );
}

#[test]
fn an_event_bus_shows_its_rules_and_the_deliveries_waiting_for_a_retry() {
    let mut app = App::new(bundled("eventbridge-rules-and-replay.toml"));
    // Mid-outage of eu-fulfilment: its deliveries wait for their retries.
    run_to(&mut app, 180);
    let s = screen(&app, 80, 24);
    for needle in [
        "orders ─▶ fraud-checks, notify, eu-fulfilment, returns-queue, analytics",
        "analytics ─▶ analytics-events",
        "broker_outage eu-fulfilment",
    ] {
        assert!(s.contains(needle), "no {needle:?} in\n{s}");
    }
    let s = screen(&app, 120, 40);
    assert!(s.contains(" retrying"), "{s}");
    // After the replay, its copies are explained as such.
    run_to(&mut app, 540);
    let s = screen(&app, 120, 40);
    assert!(s.contains("replayed from an event bus"), "{s}");
}
