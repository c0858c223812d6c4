//! Feedback on stderr while a person waits: a spinner that appears only when
//! a wait lasts longer than [`DELAY`], only on a terminal, and never with
//! `--quiet`, `--debug` (its lines would interleave), `ECSX_NO_PROGRESS` or
//! `TERM=dumb`. Scripts and pipes see nothing of it.
//!
//! ```no_run
//! # async fn demo() {
//! let tasks = ecsx::progress::while_waiting("listing tasks", async { 42 }).await;
//! # }
//! ```
//!
//! A [`Spinner`] is cleared when it is finished or dropped, so that whatever
//! comes next on stderr (an error line, the task picker) starts on a clean
//! line.

use std::future::Future;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How long a wait goes unannounced: shorter waits draw nothing.
pub const DELAY: Duration = Duration::from_millis(300);

/// Time between two frames of the spinner.
const TICK: Duration = Duration::from_millis(100);

static QUIET: AtomicBool = AtomicBool::new(false);

/// `--quiet`: no spinners for the rest of the process.
pub fn set_quiet(on: bool) {
    QUIET.store(on, Ordering::Relaxed);
}

/// Whether `--quiet` was given.
pub fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// Whether spinners may be drawn: stderr is a terminal and nothing opts out.
pub fn enabled() -> bool {
    allowed(
        quiet(),
        crate::aws::debug_enabled(),
        std::env::var_os("ECSX_NO_PROGRESS").as_deref(),
        std::env::var_os("TERM").as_deref(),
    ) && std::io::stderr().is_terminal()
}

/// The opt-outs, apart from the terminal check, for tests.
fn allowed(
    quiet: bool,
    debug: bool,
    no_progress: Option<&std::ffi::OsStr>,
    term: Option<&std::ffi::OsStr>,
) -> bool {
    !quiet && !debug && no_progress.is_none_or(|v| v.is_empty()) && term.is_none_or(|t| t != "dumb")
}

/// A spinner with a message, drawn on stderr once [`DELAY`] has passed.
/// Finishing or dropping it clears its line.
pub struct Spinner {
    inner: Option<Arc<Inner>>,
}

struct Inner {
    bar: ProgressBar,
    /// `true` once finished; the drawing thread checks it under the lock
    /// before it shows the bar, so a finished spinner never appears.
    done: Mutex<bool>,
    wake: Condvar,
    /// Set when the bar was put on stderr.
    shown: AtomicBool,
}

impl Spinner {
    /// Start waiting with `message` (`listing tasks`); draws nothing unless
    /// [`enabled`] and the wait outlasts [`DELAY`].
    pub fn start(message: impl Into<String>) -> Spinner {
        if !enabled() {
            return Spinner::hidden();
        }
        Spinner::start_on_terminal(message.into())
    }

    /// A spinner that never draws.
    pub fn hidden() -> Spinner {
        Spinner { inner: None }
    }

    fn start_on_terminal(message: String) -> Spinner {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
        let style = ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner())
            .tick_chars("-\\|/ ");
        bar.set_style(style);
        bar.set_message(message);
        let inner = Arc::new(Inner {
            bar,
            done: Mutex::new(false),
            wake: Condvar::new(),
            shown: AtomicBool::new(false),
        });
        let shared = Arc::clone(&inner);
        let spawned = std::thread::Builder::new()
            .name("ecsx-progress".into())
            .spawn(move || {
                let Ok(done) = shared.done.lock() else { return };
                let Ok((done, _)) = shared.wake.wait_timeout_while(done, DELAY, |d| !*d) else {
                    return;
                };
                if !*done {
                    shared.bar.set_draw_target(ProgressDrawTarget::stderr());
                    shared.bar.enable_steady_tick(TICK);
                    shared.shown.store(true, Ordering::Relaxed);
                }
            });
        match spawned {
            Ok(_) => Spinner { inner: Some(inner) },
            // No thread, no spinner: the wait itself goes on.
            Err(_) => Spinner::hidden(),
        }
    }

    /// Change the message (`retrying: the agent is not connected yet`).
    pub fn set_message(&self, message: impl Into<String>) {
        if let Some(inner) = &self.inner {
            inner.bar.set_message(message.into());
        }
    }

    /// Run `f` (which prints on stderr) with the spinner's line cleared.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.inner {
            Some(inner) => inner.bar.suspend(f),
            None => f(),
        }
    }

    /// Stop and clear the line.
    pub fn finish(self) {
        drop(self)
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            if let Ok(mut done) = inner.done.lock() {
                *done = true;
            }
            inner.wake.notify_all();
            inner.bar.finish_and_clear();
        }
    }
}

/// Await `future` with a spinner saying `message` while it runs.
pub async fn while_waiting<F: Future>(message: impl Into<String>, future: F) -> F::Output {
    let spinner = Spinner::start(message);
    let output = future.await;
    spinner.finish();
    output
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn every_opt_out_is_honoured() {
        assert!(allowed(false, false, None, Some(OsStr::new("xterm"))));
        assert!(allowed(false, false, Some(OsStr::new("")), None));
        assert!(!allowed(true, false, None, None), "--quiet");
        assert!(!allowed(false, true, None, None), "--debug");
        assert!(!allowed(false, false, Some(OsStr::new("1")), None));
        assert!(!allowed(false, false, None, Some(OsStr::new("dumb"))));
    }

    #[test]
    fn a_spinner_finished_at_once_never_draws() {
        let spinner = Spinner::start_on_terminal("quick".into());
        let inner = Arc::clone(spinner.inner.as_ref().unwrap());
        spinner.finish();
        std::thread::sleep(DELAY + Duration::from_millis(200));
        assert!(
            !inner.shown.load(Ordering::Relaxed),
            "a finished spinner was shown"
        );
    }

    #[test]
    fn a_long_wait_shows_the_spinner_until_finished() {
        let spinner = Spinner::start_on_terminal("slow".into());
        let inner = Arc::clone(spinner.inner.as_ref().unwrap());
        std::thread::sleep(DELAY / 2);
        assert!(
            !inner.shown.load(Ordering::Relaxed),
            "shown before the delay"
        );
        // The thread wakes at DELAY; a loaded machine may run it later.
        let start = std::time::Instant::now();
        while !inner.shown.load(Ordering::Relaxed) && start.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            inner.shown.load(Ordering::Relaxed),
            "not shown after the delay"
        );
        spinner.finish();
        assert!(inner.bar.is_finished());
    }

    #[test]
    fn hidden_spinners_run_what_they_suspend() {
        let spinner = Spinner::hidden();
        assert_eq!(spinner.suspend(|| 7), 7);
        spinner.set_message("nothing");
    }
}
