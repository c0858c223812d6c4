//! The local terminal during an interactive session: raw mode that is always
//! undone (normal end, error, timeout, a panic), and the window size.
//!
//! Raw mode is restored by a guard's `Drop` and, for panics, by a panic hook
//! that restores the saved settings before the default hook prints. Signals
//! that would kill ecsx outright (SIGTERM, SIGHUP) are turned into an orderly
//! end by the session loop, which drops the guard.

use std::io::IsTerminal;
use std::sync::Mutex;

/// Settings saved before raw mode, for the panic hook.
static SAVED: Mutex<Option<libc::termios>> = Mutex::new(None);

/// Raw mode on stdin while alive.
pub struct RawGuard {
    saved: libc::termios,
}

impl RawGuard {
    /// Put stdin in raw mode; `None` when stdin is not a terminal.
    pub fn enable() -> std::io::Result<Option<RawGuard>> {
        if !std::io::stdin().is_terminal() {
            return Ok(None);
        }
        // SAFETY: tcgetattr/tcsetattr on fd 0 with a zeroed, then filled, termios.
        unsafe {
            let mut saved: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut saved) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            let mut raw = saved;
            libc::cfmakeraw(&mut raw);
            // Keep output processing so local messages on stderr stay readable.
            raw.c_oflag |= libc::OPOST;
            if libc::tcsetattr(0, libc::TCSADRAIN, &raw) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if let Ok(mut slot) = SAVED.lock() {
                *slot = Some(saved);
            }
            install_panic_hook();
            Ok(Some(RawGuard { saved }))
        }
    }
}

impl Drop for RawGuard {
    fn drop(&mut self) {
        // SAFETY: restoring settings read from the same fd.
        unsafe {
            libc::tcsetattr(0, libc::TCSADRAIN, &self.saved);
        }
        if let Ok(mut slot) = SAVED.lock() {
            *slot = None;
        }
    }
}

fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore_saved();
            previous(info);
        }));
    });
}

/// Restore the terminal from the saved settings, if raw mode is on.
pub fn restore_saved() {
    if let Ok(slot) = SAVED.try_lock() {
        if let Some(saved) = slot.as_ref() {
            // SAFETY: as in Drop.
            unsafe {
                libc::tcsetattr(0, libc::TCSADRAIN, saved);
            }
        }
    }
}

/// The terminal's size (cols, rows), from stdout, stdin or stderr.
pub fn size() -> Option<(u16, u16)> {
    for fd in [1, 0, 2] {
        // SAFETY: TIOCGWINSZ fills a winsize struct.
        unsafe {
            let mut ws: libc::winsize = std::mem::zeroed();
            if libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0 {
                return Some((ws.ws_col, ws.ws_row));
            }
        }
    }
    None
}
