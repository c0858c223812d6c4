//! A local process in a pseudo-terminal, as the SSM agent runs an ECS Exec
//! command: a new session with the pty's slave as controlling terminal and
//! stdin/stdout/stderr, the Linux defaults of a fresh pty (ECHO, ICANON,
//! ONLCR, ISIG), and the master side non-blocking under tokio's [`AsyncFd`],
//! so reading and writing it never blocks the runtime.
//!
//! The process is started with `posix_spawn` (a vfork-style clone), not
//! `fork`: forking the multi-threaded sandbox copied its page tables and made
//! every page copy-on-write, which cost more CPU than the shell it started
//! when a command ran on a hundred tasks at once.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

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

/// A new pty pair sized `cols` x `rows`: (master, slave, the slave's path),
/// both descriptors close-on-exec.
fn open_pty(cols: u16, rows: u16) -> io::Result<(OwnedFd, OwnedFd, CString)> {
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
    let path = unsafe { CStr::from_ptr(name.as_ptr()) }.to_owned();
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
    Ok((master, slave, path))
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

/// A process started by [`spawn`]: killed (and reaped) when dropped.
///
/// Its exit is noticed without reaping it: while it is a zombie its pid, which
/// is also its process group's id, cannot be given to another process, so
/// signalling the group stays safe until the owner is done with it.
#[derive(Debug)]
pub(crate) struct Child {
    pid: libc::pid_t,
    /// Readable once the process has exited.
    pidfd: AsyncFd<OwnedFd>,
    exited: bool,
    reaped: bool,
}

impl Child {
    /// Send SIGKILL, unless it has exited already.
    pub(crate) fn start_kill(&mut self) -> io::Result<()> {
        if self.exited || self.reaped {
            return Ok(());
        }
        // SAFETY: kill has no memory arguments; the pid is our unreaped child.
        check(unsafe { libc::kill(self.pid, libc::SIGKILL) }).map(|_| ())
    }

    /// Wait until the process has exited, leaving it unreaped. Cancel-safe.
    pub(crate) async fn exited(&mut self) -> io::Result<()> {
        while !self.exited {
            let mut guard = self.pidfd.readable().await?;
            if has_exited(self.pid)? {
                self.exited = true;
            } else {
                guard.clear_ready();
            }
        }
        Ok(())
    }

    /// Wait until the process has exited, and reap it. Cancel-safe.
    pub(crate) async fn wait(&mut self) -> io::Result<()> {
        self.exited().await?;
        reap(self.pid, &mut self.reaped)?;
        Ok(())
    }
}

/// Whether `pid`, our child, has exited; it stays unreaped.
fn has_exited(pid: libc::pid_t) -> io::Result<bool> {
    loop {
        // SAFETY: `info` is a plain C struct valid for writes; WNOHANG never
        // blocks and WNOWAIT leaves the child waitable.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let ret = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            )
        };
        if ret == 0 {
            // SAFETY: waitid filled `info` (si_pid stays 0 while it runs).
            return Ok(unsafe { info.si_pid() } != 0);
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            // Not ours to wait for (reaped already): gone all the same.
            Some(libc::ECHILD) => return Ok(true),
            _ => return Err(e),
        }
    }
}

/// Reap `pid` if it has exited; whether it is reaped now.
fn reap(pid: libc::pid_t, reaped: &mut bool) -> io::Result<bool> {
    if *reaped {
        return Ok(true);
    }
    let mut status = 0;
    // SAFETY: `status` is valid for writes; WNOHANG never blocks.
    let ret = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
    if ret == pid {
        *reaped = true;
    } else if ret < 0 {
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => {}
            Some(libc::ECHILD) => *reaped = true,
            _ => return Err(e),
        }
    }
    Ok(*reaped)
}

/// Kill `pid`, a child not yet reaped, and wait for it (blocking).
fn kill_and_reap(pid: libc::pid_t) {
    // SAFETY: kill has no memory arguments; waitpid takes a null status.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        libc::waitpid(pid, std::ptr::null_mut(), 0);
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if matches!(reap(self.pid, &mut self.reaped), Ok(true)) {
            return;
        }
        // Still running: kill it, and wait for it off the runtime's threads.
        let pid = self.pid;
        std::thread::spawn(move || kill_and_reap(pid));
    }
}

/// Where `program` is, looked up as `execvp` would in the PATH of `env`
/// (else this process's PATH) unless it names a path itself.
fn find_program(program: &str, env: &[(String, String)], cwd: &Path) -> io::Result<PathBuf> {
    let executable = |p: &Path| {
        let Ok(c) = CString::new(p.as_os_str().as_bytes()) else {
            return false;
        };
        // SAFETY: `c` is a valid C string.
        p.is_file() && unsafe { libc::access(c.as_ptr(), libc::X_OK) } == 0
    };
    if program.contains('/') {
        return Ok(cwd.join(program));
    }
    let path = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.clone())
        .or_else(|| std::env::var("PATH").ok())
        .unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".to_string());
    path.split(':')
        .map(|dir| {
            cwd.join(if dir.is_empty() { "." } else { dir })
                .join(program)
        })
        .find(|p| executable(p))
        .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
}

fn cstring(s: impl AsRef<[u8]>) -> io::Result<CString> {
    CString::new(s.as_ref()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

/// posix_spawn's file actions and attributes, destroyed on drop.
struct SpawnSetup {
    actions: libc::posix_spawn_file_actions_t,
    attr: libc::posix_spawnattr_t,
}

impl SpawnSetup {
    fn new() -> io::Result<Box<SpawnSetup>> {
        // SAFETY: both are plain C structs that the init calls fill in; the
        // Box keeps them at one address from init to destroy.
        let mut setup: Box<SpawnSetup> = Box::new(unsafe { std::mem::zeroed() });
        spawn_check(unsafe { libc::posix_spawn_file_actions_init(&mut setup.actions) })?;
        if let Err(e) = spawn_check(unsafe { libc::posix_spawnattr_init(&mut setup.attr) }) {
            // SAFETY: initialised just above.
            unsafe { libc::posix_spawn_file_actions_destroy(&mut setup.actions) };
            return Err(e);
        }
        Ok(setup)
    }
}

impl Drop for SpawnSetup {
    fn drop(&mut self) {
        // SAFETY: both were initialised in `new`.
        unsafe {
            libc::posix_spawn_file_actions_destroy(&mut self.actions);
            libc::posix_spawnattr_destroy(&mut self.attr);
        }
    }
}

fn spawn_check(ret: libc::c_int) -> io::Result<()> {
    match ret {
        0 => Ok(()),
        e => Err(io::Error::from_raw_os_error(e)),
    }
}

/// Start `argv` in a new pty: `env` is its whole environment (PATH in it is
/// also where `argv[0]` is looked up), `cwd` its working folder. The process
/// leads a new session whose controlling terminal is the pty (the slave is
/// opened after `setsid`), with default signal handling and no signal
/// blocked.
pub(crate) fn spawn(
    argv: &[String],
    env: &[(String, String)],
    cwd: &Path,
    cols: u16,
    rows: u16,
) -> io::Result<Spawned> {
    let Some(program) = argv.first() else {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "empty command"));
    };
    let path = cstring(find_program(program, env, cwd)?.as_os_str().as_bytes())?;
    let args = argv.iter().map(cstring).collect::<io::Result<Vec<_>>>()?;
    let vars = env
        .iter()
        .map(|(k, v)| cstring(format!("{k}={v}")))
        .collect::<io::Result<Vec<_>>>()?;
    let dir = cstring(cwd.as_os_str().as_bytes())?;
    let mut arg_ptrs: Vec<*mut libc::c_char> = args.iter().map(|a| a.as_ptr().cast_mut()).collect();
    arg_ptrs.push(std::ptr::null_mut());
    let mut env_ptrs: Vec<*mut libc::c_char> = vars.iter().map(|v| v.as_ptr().cast_mut()).collect();
    env_ptrs.push(std::ptr::null_mut());

    // The parent keeps its slave open until the child has its own.
    let (master, _slave, slave_path) = open_pty(cols, rows)?;
    let mut setup = SpawnSetup::new()?;
    let mut pid: libc::pid_t = 0;
    // SAFETY: every pointer given below is a valid NUL-terminated string or
    // a NULL-terminated array of them, alive until posix_spawn returns; the
    // sigsets are initialised before use.
    unsafe {
        let actions = &mut setup.actions;
        spawn_check(libc::posix_spawn_file_actions_addopen(
            actions,
            0,
            slave_path.as_ptr(),
            libc::O_RDWR,
            0,
        ))?;
        spawn_check(libc::posix_spawn_file_actions_adddup2(actions, 0, 1))?;
        spawn_check(libc::posix_spawn_file_actions_adddup2(actions, 0, 2))?;
        spawn_check(libc::posix_spawn_file_actions_addchdir_np(
            actions,
            dir.as_ptr(),
        ))?;
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        let attr = &mut setup.attr;
        spawn_check(libc::posix_spawnattr_setsigmask(attr, &none))?;
        spawn_check(libc::posix_spawnattr_setsigdefault(attr, &all))?;
        spawn_check(libc::posix_spawnattr_setflags(
            attr,
            libc::POSIX_SPAWN_SETSID
                | libc::POSIX_SPAWN_SETSIGMASK as libc::c_short
                | libc::POSIX_SPAWN_SETSIGDEF as libc::c_short,
        ))?;
        spawn_check(libc::posix_spawn(
            &mut pid,
            path.as_ptr(),
            &setup.actions,
            &setup.attr,
            arg_ptrs.as_ptr(),
            env_ptrs.as_ptr(),
        ))?;
    }
    // Until the Child owns the process, an error kills and reaps it here.
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor.
    let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if raw < 0 {
        let e = io::Error::last_os_error();
        kill_and_reap(pid);
        return Err(e);
    }
    // SAFETY: pidfd_open returned a new descriptor (close-on-exec) owned here.
    let pidfd = unsafe { OwnedFd::from_raw_fd(raw as libc::c_int) };
    // SAFETY: the AsyncFd owns the OwnedFd, as for the master below.
    let pidfd = match unsafe { AsyncFd::register_with_interest(pidfd, Interest::READABLE) } {
        Ok(fd) => fd,
        Err(e) => {
            kill_and_reap(pid);
            return Err(e.into());
        }
    };
    let child = Child {
        pid,
        pidfd,
        exited: false,
        reaped: false,
    };
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
