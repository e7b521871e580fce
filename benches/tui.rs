//! The TUI's costs: drawing one whole frame of `flash-sale` at 120×40 on ratatui's
//! TestBackend (target: under 5 ms), at t = 0, in the calm at 60 s, and at the peak of
//! the spike with the log filtered; and one slice of simulation work at full speed
//! (what a frame runs between two reads of the keyboard); and stepping back, near and
//! far.
//!
//! Run: `cargo bench --bench tui`.

use divan::Bencher;
use edasim::model::Model;
use edasim::tui::app::{App, SLICE_EVENTS};
use edasim::tui::{Action, Theme, ui};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn main() {
    divan::main();
}

fn bundled(name: &str) -> Model {
    let path = format!("{}/scenarios/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("scenario");
    edasim::scenario::load_str(&path, &text).expect("valid scenario")
}

fn app_at(seconds: u64, filter: Option<&str>) -> App {
    let mut app = App::new(bundled("flash-sale.toml"));
    while app.engine.now() < seconds * 1_000_000_000 {
        app.update(Action::StepInterval);
    }
    if let Some(f) = filter {
        app.update(Action::Filter);
        for c in f.chars() {
            app.update(Action::Char(c));
        }
        app.update(Action::Submit);
    }
    app
}

fn frame(b: Bencher, app: &App) {
    let mut t = Terminal::new(TestBackend::new(120, 40)).expect("terminal");
    let theme = Theme { color: true };
    b.bench_local(|| {
        // A fresh buffer each time, so every cell is drawn and diffed as on a change.
        t.clear().expect("clear");
        t.draw(|f| ui::draw(f, app, theme)).expect("draw");
    });
}

#[divan::bench(sample_count = 50)]
fn frame_120x40_t0(b: Bencher) {
    frame(b, &app_at(0, None));
}

#[divan::bench(sample_count = 50)]
fn frame_120x40_60s(b: Bencher) {
    frame(b, &app_at(60, None));
}

#[divan::bench(sample_count = 50)]
fn frame_120x40_spike_filtered(b: Bencher) {
    frame(b, &app_at(110, Some("payment#2")));
}

#[divan::bench(sample_count = 50)]
fn frame_120x40_journey(b: Bencher) {
    let mut app = app_at(110, None);
    app.update(Action::Inspect);
    frame(b, &app);
}

/// One slice of full-speed simulation during the spike, with the TUI's bookkeeping
/// (trace journal, samples, checkpoints): the longest the loop goes without reading
/// input, unless the frame budget stops it sooner.
#[divan::bench(sample_count = 30)]
fn work_slice_at_full_speed(b: Bencher) {
    let base = app_at(100, None);
    b.counter(divan::counter::ItemsCount::new(SLICE_EVENTS))
        .with_inputs(|| {
            // The state at 100 s, running at full speed, without re-simulating it.
            let mut app = App::new(base.model().clone());
            app.engine = base.engine.clone();
            app.update(Action::TogglePause);
            while app.speed().is_finite() {
                app.update(Action::Faster);
            }
            app
        })
        .bench_local_values(|mut app| {
            app.update(Action::Tick(0.0));
            app
        });
}

/// `b` then `n` at the end of the run: restoring the latest checkpoint and simulating
/// forward to one event back (the pair returns to the same state each time).
#[divan::bench(sample_count = 20)]
fn step_back_then_forward_at_the_end(b: Bencher) {
    let mut app = App::new(bundled("flash-sale.toml"));
    while !app.engine.is_finished() {
        app.update(Action::StepInterval);
    }
    app.update(Action::StepBack);
    b.bench_local(|| {
        app.update(Action::StepBack);
        app.update(Action::Step);
    });
}

/// From the end back to just after an early checkpoint: the log has long dropped those
/// records, so the rewind starts from an earlier checkpoint to rebuild `REWIND_LOG` of
/// them (the dearest rewind there is).
#[divan::bench(sample_count = 5)]
fn far_rewind_rebuilding_the_log(b: Bencher) {
    b.with_inputs(|| {
        let mut app = App::new(bundled("flash-sale.toml"));
        while !app.engine.is_finished() {
            app.update(Action::StepInterval);
        }
        app
    })
    .bench_local_values(|mut app| {
        app.update(Action::Goto);
        for c in "#1000002".chars() {
            app.update(Action::Char(c));
        }
        app.update(Action::Submit);
        app
    });
}
