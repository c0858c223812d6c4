//! A local process in a pseudo-terminal, as the SSM agent runs an ECS Exec
//! command: a new session with the pty's slave as controlling terminal and
//! stdin/stdout/stderr, the Linux defaults of a fresh pty (ECHO, ICANON,
//! ONLCR, ISIG), and the master side non-blocking under tokio's [`AsyncFd`],
//! so reading and writing it never blocks the runtime.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::process::Stdio;

use tokio::io::unix::AsyncFd;
use tokio::process::{Child, Command};

/// The master side of a pty.
#[derive(Debug)]
pub(crate) struct Master {
    fd: AsyncFd<OwnedFd>,
}

/// What a read of the master gave.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Read {
    /// Some bytes.
    Data(usize),
    /// Every slave descriptor is closed: the process (and its children) are gone.
    Closed,
}

/// A started process and its terminal.
#[derive(Debug)]
pub(crate) struct Spawned {
    pub master: Master,
    pub child: Child,
    /// Process id, also its process group and session id.
    pub pid: i32,
}

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// A new pty pair sized `cols` x `rows`: (master, slave), both close-on-exec.
fn open_pty(cols: u16, rows: u16) -> io::Result<(OwnedFd, OwnedFd)> {
    // SAFETY: posix_openpt has no memory arguments; the returned descriptor
    // is owned here and nowhere else.
    let master = unsafe {
        OwnedFd::from_raw_fd(check(libc::posix_openpt(
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        ))?)
    };
    let raw = master.as_raw_fd();
    // SAFETY: `raw` is a valid pty master for the calls below.
    unsafe {
        check(libc::grantpt(raw))?;
        check(libc::unlockpt(raw))?;
    }
    let mut name = [0 as libc::c_char; 128];
    // SAFETY: the buffer and its length are valid; ptsname_r NUL-terminates.
    let ret = unsafe { libc::ptsname_r(raw, name.as_mut_ptr(), name.len()) };
    if ret != 0 {
        return Err(io::Error::from_raw_os_error(ret));
    }
    // SAFETY: ptsname_r wrote a NUL-terminated path into `name`.
    let path = unsafe { CStr::from_ptr(name.as_ptr()) };
    // SAFETY: `path` is a valid C string; the descriptor is owned here.
    let slave = unsafe {
        OwnedFd::from_raw_fd(check(libc::open(
            path.as_ptr(),
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        ))?)
    };
    set_size_raw(raw, cols, rows)?;
    // SAFETY: fcntl on a valid descriptor with integer arguments.
    unsafe {
        let flags = check(libc::fcntl(raw, libc::F_GETFL))?;
        check(libc::fcntl(raw, libc::F_SETFL, flags | libc::O_NONBLOCK))?;
    }
    Ok((master, slave))
}

fn set_size_raw(fd: libc::c_int, cols: u16, rows: u16) -> io::Result<()> {
    let size = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize from the pointer, which is valid.
    check(unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &size) }).map(|_| ())
}

/// Start `argv` in a new pty: `env` is its whole environment (PATH in it is
/// also where `argv[0]` is looked up), `cwd` its working folder.
pub(crate) fn spawn(
    argv: &[String],
    env: &[(String, String)],
    cwd: &Path,
    cols: u16,
    rows: u16,
) -> io::Result<Spawned> {
    let Some((program, args)) = argv.split_first() else {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "empty command"));
    };
    let (master, slave) = open_pty(cols, rows)?;
    let mut command = Command::new(program);
    command
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(cwd)
        .stdin(Stdio::from(slave.try_clone()?))
        .stdout(Stdio::from(slave.try_clone()?))
        .stderr(Stdio::from(slave))
        .kill_on_drop(true);
    // SAFETY: only async-signal-safe calls (setsid, ioctl) between fork and exec.
    unsafe {
        command.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(io::Error::last_os_error());
            }
            // stdin is the slave by now: make it the controlling terminal.
            if libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    // The Command (and with it the parent's copies of the slave) is dropped
    // on return, so the master reads EIO once the process side closes.
    let child = command.spawn()?;
    let pid = child
        .id()
        .and_then(|p| i32::try_from(p).ok())
        .unwrap_or_default();
    // SAFETY: the AsyncFd owns the OwnedFd, so the descriptor stays open and
    // the same for the AsyncFd's whole life.
    let fd = unsafe { AsyncFd::register(master)? };
    Ok(Spawned {
        master: Master { fd },
        child,
        pid,
    })
}

impl Master {
    /// Read what the process wrote; waits until there is something.
    /// Cancel-safe: nothing is consumed unless it returns.
    pub(crate) async fn read(&self, buf: &mut [u8]) -> io::Result<Read> {
        loop {
            let mut guard = self.fd.readable().await?;
            let result = guard.try_io(|fd| {
                // SAFETY: `buf` is valid for writes of its length.
                let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            });
            match result {
                Ok(Ok(0)) => return Ok(Read::Closed),
                Ok(Ok(n)) => return Ok(Read::Data(n)),
                // Linux answers EIO once the last slave descriptor is closed.
                Ok(Err(e)) if e.raw_os_error() == Some(libc::EIO) => return Ok(Read::Closed),
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
    }

    /// Write some of `bytes` (what the terminal takes now); waits for room.
    /// Cancel-safe. `Ok(None)`: the process side is gone.
    pub(crate) async fn write(&self, bytes: &[u8]) -> io::Result<Option<usize>> {
        loop {
            let mut guard = self.fd.writable().await?;
            let result = guard.try_io(|fd| {
                // SAFETY: `bytes` is valid for reads of its length.
                let n = unsafe { libc::write(fd.as_raw_fd(), bytes.as_ptr().cast(), bytes.len()) };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            });
            match result {
                Ok(Ok(n)) => return Ok(Some(n)),
                Ok(Err(e)) if e.raw_os_error() == Some(libc::EIO) => return Ok(None),
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
    }

    /// Resize the terminal; the kernel signals SIGWINCH to its foreground group.
    pub(crate) fn set_size(&self, cols: u16, rows: u16) -> io::Result<()> {
        set_size_raw(self.fd.get_ref().as_raw_fd(), cols, rows)
    }
}

/// Send `signal` to the process group `pgid` (ignoring a group that is gone).
pub(crate) fn kill_group(pgid: i32, signal: libc::c_int) {
    if pgid > 0 {
        // SAFETY: kill has no memory arguments.
        unsafe {
            libc::kill(-pgid, signal);
        }
    }
}
