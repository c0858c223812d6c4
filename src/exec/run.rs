//! Driving an [`ExecSession`] to its end: output to a [`Sink`], input from
//! stdin, the terminal or bytes, the deadline, signals, and the task's fate.
//!
//! The deadline and signals are raced against everything else, including a
//! write to a consumer that never reads: `--timeout` holds whatever the
//! reader of stdout does.

use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::aws::Aws;
use crate::ecs::Target;
use crate::error::{Error, Result};
use crate::exec::channel::InputHandle;
use crate::exec::session::{feed_input, ExecSession, Interrupter, SessionEvent};
use crate::exec::target::{stopped_reason, watch_task};
use crate::exec::terminal::{self, RawGuard};
use crate::exec::wrap::{Mode, Remote};

fn exec_error(message: impl Into<String>) -> Error {
    Error::Exec(message.into())
}

/// A boxed future, for [`Sink`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where a session's stdout goes.
pub trait Sink: Send {
    /// Take these bytes; waiting here holds the session back (flow control).
    fn write(&mut self, bytes: Vec<u8>) -> BoxFuture<'_, std::io::Result<()>>;
}

/// The process's standard output, written by a thread of its own so that a
/// blocked reader blocks only that thread: the session loop waits for room
/// in a small queue, and a deadline or a signal still ends it.
pub struct StdoutPipe {
    tx: Option<mpsc::Sender<Vec<u8>>>,
    failed: Arc<Mutex<Option<std::io::Error>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl StdoutPipe {
    /// Start the writer thread.
    pub fn spawn() -> StdoutPipe {
        let (tx, mut rx) = mpsc::channel::<Vec<u8>>(4);
        let failed = Arc::new(Mutex::new(None));
        let failed_in = Arc::clone(&failed);
        let thread = std::thread::Builder::new()
            .name("ecsx-stdout".into())
            .spawn(move || {
                let mut out = raw_stdout();
                while let Some(bytes) = rx.blocking_recv() {
                    match out.write_all(&bytes) {
                        Ok(()) => {}
                        // No stdout at all (`>&-`): as std's stdout, output goes nowhere.
                        Err(e) if e.raw_os_error() == Some(libc::EBADF) => {}
                        Err(e) => {
                            *failed_in.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                            return;
                        }
                    }
                }
            })
            .ok();
        StdoutPipe {
            tx: Some(tx),
            failed,
            thread,
        }
    }

    fn error(&self) -> std::io::Error {
        self.failed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .unwrap_or_else(|| std::io::Error::from(std::io::ErrorKind::BrokenPipe))
    }

    /// Queue bytes for stdout.
    pub async fn send(&self, bytes: Vec<u8>) -> std::io::Result<()> {
        match &self.tx {
            Some(tx) if self.thread.is_some() => tx.send(bytes).await.map_err(|_| self.error()),
            _ => raw_stdout().write_all(&bytes),
        }
    }

    /// Wait until everything queued is written (or the writer failed).
    pub async fn flush(mut self) -> std::io::Result<()> {
        drop(self.tx.take());
        if let Some(thread) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
        match self.failed.lock().unwrap_or_else(|p| p.into_inner()).take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl Sink for StdoutPipe {
    fn write(&mut self, bytes: Vec<u8>) -> BoxFuture<'_, std::io::Result<()>> {
        Box::pin(self.send(bytes))
    }
}

/// Standard output without std's line buffering, which would split every
/// write at its last newline into two system calls. Nothing else writes to
/// stdout during a session, so nothing is buffered ahead of it.
fn raw_stdout() -> std::mem::ManuallyDrop<std::fs::File> {
    use std::os::fd::FromRawFd;
    // SAFETY: descriptor 1 stays open for the whole process, and ManuallyDrop
    // means this File never closes it.
    std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(1) })
}

/// The deadline for a session bound by `timeout`, with the timeout's text.
pub fn deadline(timeout: Option<Duration>) -> Option<(Instant, String)> {
    timeout.map(|t| {
        (
            Instant::now() + t,
            humantime::format_duration(t).to_string(),
        )
    })
}

/// What feeds the remote command's stdin.
pub enum Input {
    /// Nothing (one-off).
    None,
    /// The local terminal's keys and window size (interactive).
    Terminal,
    /// This process's stdin, base64-carried (pipe).
    Stdin,
    /// These bytes, base64-carried (pipe).
    Bytes(Vec<u8>),
    /// A reader, base64-carried (pipe), with progress callbacks.
    Reader(Box<dyn tokio::io::AsyncRead + Send + Unpin>),
}

/// What to watch while a session runs.
pub struct RunOptions {
    /// When to give up (`--timeout`), with its text for the error.
    pub deadline: Option<(Instant, String)>,
    /// Watch the task (by id) and name its stoppedReason if it stops.
    pub watch: Option<(Aws, Target)>,
    /// Handle SIGINT/SIGTERM/SIGHUP as the foreground command does.
    pub signals: bool,
    /// Feed stdin.
    pub input: Input,
    /// Told the raw byte count of input as it goes out.
    pub on_input: Option<Box<dyn FnMut(u64) + Send>>,
}

impl RunOptions {
    /// No deadline, no watching, no signals, no input.
    pub fn plain() -> RunOptions {
        RunOptions {
            deadline: None,
            watch: None,
            signals: false,
            input: Input::None,
            on_input: None,
        }
    }
}

/// Drive `session` to its end: the remote exit status, or why there is none.
/// On error and on timeout the session is terminated.
pub async fn run(
    mut session: ExecSession,
    options: RunOptions,
    sink: &mut dyn Sink,
    stderr: &mut dyn FnMut(&[u8]),
) -> Result<i32> {
    let RunOptions {
        deadline,
        watch,
        signals,
        input,
        on_input,
    } = options;
    let interrupter = session.interrupter();
    let task_id = session.task_id().to_string();
    let mode = session.mode();
    let _raw = if mode == Mode::Interactive {
        RawGuard::enable()?
    } else {
        None
    };
    // Debug builds only: lets the tests prove the terminal survives a panic.
    #[cfg(debug_assertions)]
    if std::env::var_os("ECSX_TEST_PANIC_IN_SESSION").is_some() {
        panic!("panic requested by ECSX_TEST_PANIC_IN_SESSION");
    }
    // Whether Ctrl-C was passed on to the remote command.
    let interrupted = Arc::new(AtomicBool::new(false));
    let outcome = {
        let events = pump(&mut session, mode, input, on_input, sink, stderr);
        tokio::pin!(events);
        let watcher = async {
            match &watch {
                Some((aws, target)) => {
                    watch_task(aws.clone(), target.clone(), task_id.clone()).await
                }
                None => std::future::pending().await,
            }
        };
        tokio::pin!(watcher);
        let expiry = async {
            match &deadline {
                Some((at, text)) => {
                    tokio::time::sleep_until(*at).await;
                    text.clone()
                }
                None => std::future::pending().await,
            }
        };
        tokio::pin!(expiry);
        let signalled = on_signals(signals, interrupter, Arc::clone(&interrupted));
        tokio::pin!(signalled);
        tokio::select! {
            r = &mut events => r,
            shown = &mut expiry => Err(Stop::Failed(Error::Timeout(shown))),
            reason = &mut watcher => Err(Stop::Failed(exec_error(format!("task {task_id} stopped during the session: {reason}")))),
            e = &mut signalled => Err(Stop::Failed(e)),
        }
    };
    let outcome = match outcome {
        Ok(()) => Ok(()),
        Err(Stop::Failed(e)) => Err(e),
        // A task that stops takes its channel with it: say why.
        Err(Stop::Lost(e)) => Err(match &watch {
            Some((aws, target)) => match stopped_reason(aws, target, &task_id).await {
                Some(reason) => exec_error(format!(
                    "task {task_id} stopped during the session: {reason}"
                )),
                None => e,
            },
            None => e,
        }),
    };
    match outcome {
        Ok(()) => {}
        Err(e) => {
            drop(_raw);
            session.terminate().await;
            return Err(e);
        }
    }
    let exited = match session.remote() {
        Remote::Exited(code) => Some(*code),
        _ => None,
    };
    let starting = matches!(session.remote(), Remote::Starting);
    if exited.is_some() && mode != Mode::Interactive {
        session.close().await;
    }
    if interrupted.load(Ordering::SeqCst) && exited.is_none() {
        return Err(Error::Interrupted);
    }
    match (exited, starting) {
        (Some(code), _) => Ok(code),
        (None, true) => Err(exec_error(if matches!(mode, Mode::Pipe | Mode::Upload) {
            "the session ended before the command started; the image needs `sh` and `base64` (the output above may say more)"
        } else {
            "the session ended before the command started; the image needs `sh` (the output above may say more)"
        })),
        (None, false) => Err(exec_error(
            "the session ended without the command's exit status (the connection or the task went away)",
        )),
    }
}

/// Why [`pump`] stopped early.
enum Stop {
    /// The data channel failed: the task's fate may explain it.
    Lost(Error),
    /// Anything else.
    Failed(Error),
}

/// Events to the sink until the exit status (or the end), with input fed
/// alongside.
async fn pump(
    session: &mut ExecSession,
    mode: Mode,
    input: Input,
    on_input: Option<Box<dyn FnMut(u64) + Send>>,
    sink: &mut dyn Sink,
    stderr: &mut dyn FnMut(&[u8]),
) -> std::result::Result<(), Stop> {
    let mut input = Some(input);
    let mut on_input = on_input;
    let mut input_task: Option<tokio::task::JoinHandle<Result<()>>> = None;
    if mode == Mode::Interactive {
        if let Some(Input::Terminal) = input.take() {
            input_task = Some(tokio::spawn(forward_terminal(session.input())));
        }
    }
    let result = loop {
        tokio::select! {
            event = session.next() => match event {
                Ok(Some(SessionEvent::Stdout(bytes))) => {
                    if let Err(e) = sink.write(bytes).await {
                        break Err(Stop::Failed(Error::Io(e)));
                    }
                }
                Ok(Some(SessionEvent::Stderr(bytes))) => stderr(&bytes),
                Ok(Some(SessionEvent::Notice(text))) => stderr(format!("ecsx: {text}\n").as_bytes()),
                Ok(Some(SessionEvent::Started)) => {
                    if matches!(mode, Mode::Pipe | Mode::Upload) {
                        if let Some(source) = input.take() {
                            let handle = session.input();
                            let progress = on_input.take();
                            input_task = Some(tokio::spawn(feed(handle, source, progress)));
                        }
                    }
                }
                Ok(Some(SessionEvent::Exited(_))) if mode != Mode::Interactive => break Ok(()),
                Ok(Some(SessionEvent::Exited(_))) => {}
                Ok(Some(SessionEvent::Closed)) | Ok(None) => break Ok(()),
                Err(e) if matches!(session.remote(), Remote::NoBase64 | Remote::NoStty) => break Err(Stop::Failed(e)),
                Err(e) => break Err(Stop::Lost(e)),
            },
            Some(joined) = async { match input_task.as_mut() { Some(t) => Some(t.await), None => None } } => {
                input_task = None;
                match joined {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) if mode != Mode::Interactive => break Err(Stop::Failed(e)),
                    _ => {}
                }
            }
        }
    };
    if let Some(t) = input_task {
        t.abort();
    }
    result
}

async fn feed(
    handle: InputHandle,
    source: Input,
    progress: Option<Box<dyn FnMut(u64) + Send>>,
) -> Result<()> {
    let mut progress = progress;
    let tell = move |n: u64| {
        if let Some(p) = progress.as_mut() {
            p(n)
        }
    };
    match source {
        Input::Bytes(bytes) => feed_input(&handle, &bytes[..], tell).await,
        Input::Stdin => feed_input(&handle, tokio::io::stdin(), tell).await,
        Input::Reader(reader) => feed_input(&handle, reader, tell).await,
        Input::None | Input::Terminal => feed_input(&handle, &b""[..], tell).await,
    }
}

/// Ctrl-C is passed on once; a second one, or a remote side that does not
/// end within 3 s, gives up (130). SIGTERM and SIGHUP give up at once.
async fn on_signals(
    enabled: bool,
    interrupter: Interrupter,
    interrupted: Arc<AtomicBool>,
) -> Error {
    if !enabled {
        return std::future::pending().await;
    }
    let signal = |kind| tokio::signal::unix::signal(kind);
    use tokio::signal::unix::SignalKind;
    let (mut int, mut term, mut hup) = match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) {
        (Ok(a), Ok(b), Ok(c)) => (a, b, c),
        _ => return std::future::pending().await,
    };
    let mut first: Option<Instant> = None;
    loop {
        let give_up = async {
            match first {
                Some(at) => tokio::time::sleep_until(at + Duration::from_secs(3)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = int.recv() => {
                if first.is_some() {
                    return Error::Interrupted;
                }
                first = Some(Instant::now());
                interrupted.store(true, Ordering::SeqCst);
                let _ = interrupter.interrupt().await;
            }
            _ = term.recv() => return Error::Interrupted,
            _ = hup.recv() => return Error::Interrupted,
            _ = give_up => return Error::Interrupted,
        }
    }
}

/// Raw keys from the terminal, and the window size on every resize.
async fn forward_terminal(input: InputHandle) -> Result<()> {
    let io = |e: crate::exec::channel::ChannelError| exec_error(e.to_string());
    if let Some((cols, rows)) = terminal::size() {
        input.send_size(cols, rows).await.map_err(io)?;
    }
    let mut winch = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change())?;
    let mut stdin = tokio::io::stdin();
    let mut buf = vec![0u8; 4096];
    loop {
        tokio::select! {
            n = stdin.read(&mut buf) => {
                let n = n?;
                if n == 0 {
                    return Ok(());
                }
                input.send_input(&buf[..n]).await.map_err(io)?;
            }
            _ = winch.recv() => {
                if let Some((cols, rows)) = terminal::size() {
                    input.send_size(cols, rows).await.map_err(io)?;
                }
            }
        }
    }
}

/// Writes to the process's stderr, unbuffered, ignoring failures.
pub fn write_stderr(bytes: &[u8]) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(bytes);
    let _ = err.flush();
}
