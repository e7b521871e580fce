//! The interactive terminal UI: a thin shell around the engine. A single-threaded
//! tokio runtime multiplexes crossterm's event stream and a frame clock; between frames
//! the simulation advances by speed × wall time in bounded batches, so keys are
//! handled within a frame even at full speed. The terminal is restored on quit, on
//! Ctrl-C and on panic (mouse capture included).

pub mod app;
pub mod ui;

use std::io;
use std::time::{Duration, Instant};

use crossterm::event::{Event, EventStream, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use futures::StreamExt;

use crate::model::Model;
pub use app::{Action, App};
pub use ui::Theme;

/// Frame period while running (about 30 frames per second).
const FRAME: Duration = Duration::from_millis(33);

/// Maps a key to an action through the keymap.
pub fn action_for(key: KeyEvent) -> Option<Action> {
    if key.kind != KeyEventKind::Press {
        return None;
    }
    let label = match key.code {
        KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => {
            return Some(Action::Quit);
        }
        KeyCode::Char(' ') => "space",
        KeyCode::Tab => "tab",
        KeyCode::BackTab => "shift-tab",
        KeyCode::Up => "k",
        KeyCode::Down => "j",
        KeyCode::Esc => "q",
        KeyCode::Char(c) => {
            return app::KEYMAP
                .iter()
                .find(|b| b.key.len() == 1 && b.key.starts_with(c))
                .map(|b| b.action);
        }
        _ => return None,
    };
    app::KEYMAP
        .iter()
        .find(|b| b.key == label)
        .map(|b| b.action)
}

/// Writes the metrics so far to `edasim-<scenario>-<t>s.csv` in the current directory
/// (atomically) and says where, or what went wrong.
fn export(app: &App) -> String {
    let name = format!(
        "edasim-{}-{:.0}s.csv",
        app.model().name,
        app.engine.now() as f64 / 1e9
    );
    let tmp = format!(".{name}.tmp-{}", std::process::id());
    let result = app
        .export_csv()
        .and_then(|bytes| std::fs::write(&tmp, bytes))
        .and_then(|_| std::fs::rename(&tmp, &name));
    match result {
        Ok(()) => format!("exported {} metric rows to {name}", app.rows.len()),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            format!("export failed: {e}")
        }
    }
}

/// Runs the TUI on `model` until the user quits.
#[allow(clippy::disallowed_methods)] // the shell reads the clock and the environment
pub fn run(model: Model) -> io::Result<()> {
    let theme = Theme {
        color: std::env::var_os("NO_COLOR").is_none(),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()?;
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = crossterm::execute!(io::stdout(), crossterm::event::DisableMouseCapture);
        ratatui::restore();
        hook(info);
    }));
    let mut terminal = ratatui::init();
    let _ = crossterm::execute!(io::stdout(), crossterm::event::EnableMouseCapture);
    let result = rt.block_on(async {
        let mut app = App::new(model);
        let mut events = EventStream::new();
        let mut last = Instant::now();
        let mut dirty = true;
        loop {
            if dirty {
                terminal.draw(|f| ui::draw(f, &app, theme))?;
                dirty = false;
            }
            let wait = if app.paused {
                Duration::from_millis(250)
            } else {
                FRAME
            };
            tokio::select! {
                ev = events.next() => match ev {
                    Some(Ok(Event::Key(key))) => {
                        if let Some(a) = action_for(key) {
                            app.message = None;
                            if a == Action::Export {
                                app.message = Some(export(&app));
                            } else {
                                app.update(a);
                            }
                            dirty = true;
                        }
                    }
                    Some(Ok(Event::Resize(..))) => dirty = true,
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(e),
                    None => break,
                },
                _ = tokio::time::sleep(wait) => {}
            }
            let now = Instant::now();
            let dt = now.duration_since(last).as_secs_f64();
            last = now;
            if !app.paused {
                app.update(Action::Tick(dt));
                dirty = true;
            }
            if app.quit {
                break;
            }
        }
        Ok(())
    });
    let _ = crossterm::execute!(io::stdout(), crossterm::event::DisableMouseCapture);
    ratatui::restore();
    result
}
