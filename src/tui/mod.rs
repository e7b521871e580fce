//! The interactive terminal UI: a thin shell around the engine. A single-threaded
//! tokio runtime multiplexes crossterm's event stream and a frame clock; between frames
//! the simulation advances by speed × wall time in bounded batches, so keys are
//! handled within a frame even at full speed. The terminal is restored on quit, on
//! Ctrl-C and on panic (mouse capture included).

pub mod app;
pub mod graph;
pub mod panels;
pub mod query;
pub mod ui;

use std::io;
use std::time::{Duration, Instant};

use crossterm::event::{
    Event, EventStream, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent,
    MouseEventKind,
};
use futures::StreamExt;

use crate::model::Model;
pub use app::{Action, App};
pub use ui::Theme;

/// Frame period while running (about 30 frames per second).
const FRAME: Duration = Duration::from_millis(33);
/// Wall time a frame may spend simulating before it draws and reads input again.
const WORK_BUDGET: Duration = Duration::from_millis(20);

/// Maps a key to an action: through the keymap, or as text while a prompt is open
/// (`typing`).
pub fn action_for(key: KeyEvent, typing: bool) -> Option<Action> {
    if key.kind != KeyEventKind::Press {
        return None;
    }
    if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
        return Some(Action::Quit);
    }
    if typing {
        // Ctrl- or Alt-chords are not text; both at once is AltGr on Windows, which is.
        let (ctrl, alt) = (
            key.modifiers.contains(KeyModifiers::CONTROL),
            key.modifiers.contains(KeyModifiers::ALT),
        );
        let chord = ctrl != alt;
        return match key.code {
            KeyCode::Char('u') if ctrl && !alt => Some(Action::ClearLine),
            KeyCode::Char(_) if chord => None,
            KeyCode::Char(c) => Some(Action::Char(c)),
            KeyCode::Backspace => Some(Action::Backspace),
            KeyCode::Enter => Some(Action::Submit),
            KeyCode::Esc => Some(Action::Close),
            _ => None,
        };
    }
    let label = match key.code {
        KeyCode::Char(' ') => "space",
        KeyCode::Tab => "tab",
        KeyCode::BackTab => "shift-tab",
        KeyCode::Enter => "enter",
        KeyCode::Esc => "esc",
        KeyCode::Up => "k",
        KeyCode::Down => "j",
        KeyCode::Left | KeyCode::PageUp => "h",
        KeyCode::Right | KeyCode::PageDown => "l",
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

/// Maps a mouse event to an action: a click focuses the panel under it (selecting the
/// log line clicked), the wheel scrolls the panel under it.
pub fn mouse_action(ev: MouseEvent, screen: ratatui::layout::Rect, app: &App) -> Option<Action> {
    // Motion, drags and releases do nothing; skip the hit test (a layout) for them.
    if !matches!(
        ev.kind,
        MouseEventKind::Down(MouseButton::Left)
            | MouseEventKind::ScrollUp
            | MouseEventKind::ScrollDown
    ) {
        return None;
    }
    let hit = ui::hit_test(screen, app, ev.column, ev.row)?;
    match ev.kind {
        MouseEventKind::Down(MouseButton::Left) => Some(match hit {
            ui::Hit::LogRecord(seq) => Action::Select(seq),
            ui::Hit::Panel(p) => Action::Focus(p),
        }),
        MouseEventKind::ScrollUp | MouseEventKind::ScrollDown => {
            let panel = match hit {
                ui::Hit::LogRecord(_) => app::Panel::Log,
                ui::Hit::Panel(p) => p,
            };
            Some(if panel != app.focus {
                Action::Focus(panel)
            } else if ev.kind == MouseEventKind::ScrollUp {
                Action::ScrollUp
            } else {
                Action::ScrollDown
            })
        }
        _ => None,
    }
}

/// Writes the metrics so far to `edasim-<scenario>-<t>s.csv` in directory `dir` (the
/// TUI passes the current directory), atomically, and says where, or what went wrong.
/// A second export at the same simulated time gets `-2`, `-3`, ... and never replaces a
/// file.
pub fn export(app: &App, dir: &std::path::Path) -> String {
    let first = export_name(app.model().name.as_str(), app.engine.now());
    let name = (1..)
        .map(|k| {
            if k == 1 {
                first.clone()
            } else {
                first.replace(".csv", &format!("-{k}.csv"))
            }
        })
        .find(|n| !dir.join(n).exists())
        .unwrap_or(first);
    let path = dir.join(&name);
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    // `hard_link` refuses an existing name, so a file made meanwhile is not replaced.
    let result = app
        .export_csv()
        .and_then(|bytes| std::fs::write(&tmp, bytes))
        .and_then(|_| std::fs::hard_link(&tmp, &path))
        .and_then(|_| std::fs::remove_file(&tmp));
    match result {
        Ok(()) => format!("exported {} metric rows to {name}", app.rows.len()),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            format!("export failed: {e}")
        }
    }
}

/// The export's file name: the scenario and the simulated time to the millisecond
/// (trailing zeros dropped), so exports at different moments never overwrite each other.
pub fn export_name(scenario: &str, now_ns: u64) -> String {
    let ms = now_ns / 1_000_000;
    let t = format!("{}.{:03}", ms / 1000, ms % 1000);
    let t = t.trim_end_matches('0').trim_end_matches('.');
    format!("edasim-{scenario}-{t}s.csv")
}

/// Runs the TUI on `model` until the user quits.
#[allow(clippy::disallowed_methods)] // the shell reads the clock and the environment
pub fn run(model: Model) -> io::Result<()> {
    let theme = Theme {
        color: std::env::var_os("NO_COLOR").is_none(),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    type Hook = dyn Fn(&std::panic::PanicHookInfo<'_>) + Sync + Send + 'static;
    let original: std::sync::Arc<Hook> = std::panic::take_hook().into();
    let chained = std::sync::Arc::clone(&original);
    std::panic::set_hook(Box::new(move |info| {
        let _ = crossterm::execute!(io::stdout(), crossterm::event::DisableMouseCapture);
        ratatui::restore();
        chained(info);
    }));
    let mut terminal = ratatui::init();
    let _ = crossterm::execute!(io::stdout(), crossterm::event::EnableMouseCapture);
    let result = rt.block_on(async {
        let mut app = App::new(model);
        if let Ok(size) = terminal.size() {
            app.update(Action::Resize(size.width, size.height));
        }
        let mut events = EventStream::new();
        let mut ending = Ending::new();
        let mut last = Instant::now();
        let mut dirty = true;
        loop {
            if dirty {
                terminal.draw(|f| ui::draw(f, &app, theme))?;
                dirty = false;
            }
            // Owed work: poll input without waiting. Otherwise sleep a frame (running)
            // or a while (paused) unless a key comes first.
            let wait = if app.busy() {
                Duration::ZERO
            } else if app.paused {
                Duration::from_millis(250)
            } else {
                FRAME
            };
            let mut input = false;
            tokio::select! {
                biased;
                ev = events.next() => match ev {
                    Some(Ok(Event::Key(key))) => {
                        if let Some(a) = action_for(key, app.prompt.is_some()) {
                            app.message = None;
                            if a == Action::Export {
                                app.message = Some(export(&app, std::path::Path::new(".")));
                            } else {
                                app.update(a);
                            }
                            input = true;
                        }
                    }
                    Some(Ok(Event::Mouse(m))) => {
                        let size = terminal.size()?;
                        let screen = ratatui::layout::Rect::new(0, 0, size.width, size.height);
                        if let Some(a) = mouse_action(m, screen, &app) {
                            app.update(a);
                            input = true;
                        }
                    }
                    Some(Ok(Event::Resize(w, h))) => {
                        app.update(Action::Resize(w, h));
                        input = true;
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(e),
                    None => break,
                },
                () = ending.wait() => break,
                _ = tokio::time::sleep(wait) => {}
            }
            if app.quit {
                break;
            }
            if input {
                // Show the answer to a key at once; the simulation resumes after.
                dirty = true;
                continue;
            }
            let now = Instant::now();
            let dt = now.duration_since(last).as_secs_f64();
            last = now;
            if !app.paused || app.busy() {
                app.update(Action::Tick(dt));
                while app.busy() && now.elapsed() < WORK_BUDGET {
                    app.update(Action::Work);
                }
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
    // The terminal is ours no more: later panics go to the hook that was there before.
    drop(std::panic::take_hook());
    std::panic::set_hook(Box::new(move |info| original(info)));
    result
}

/// SIGTERM and SIGHUP: the loop ends as on `q`, so the terminal is restored. Where the
/// handlers cannot be installed, the TUI runs without them.
struct Ending {
    #[cfg(unix)]
    signals: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Ending {
    fn new() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let signals = signal(SignalKind::terminate())
                .and_then(|term| Ok((term, signal(SignalKind::hangup())?)))
                .ok();
            Self { signals }
        }
        #[cfg(not(unix))]
        Self {}
    }

    /// Resolves when one of the signals arrives (never, without handlers).
    async fn wait(&mut self) {
        #[cfg(unix)]
        if let Some((term, hup)) = self.signals.as_mut() {
            tokio::select! {
                _ = term.recv() => {}
                _ = hup.recv() => {}
            }
            return;
        }
        std::future::pending::<()>().await
    }
}

#[cfg(test)]
mod tests {
    use super::export_name;

    #[test]
    fn export_names_carry_the_time_to_the_millisecond() {
        assert_eq!(export_name("flash-sale", 0), "edasim-flash-sale-0s.csv");
        assert_eq!(
            export_name("flash-sale", 130_829_400_000),
            "edasim-flash-sale-130.829s.csv"
        );
        assert_eq!(export_name("a", 60_000_000_000), "edasim-a-60s.csv");
        assert_eq!(export_name("a", 1_500_000_000), "edasim-a-1.5s.csv");
    }
}
