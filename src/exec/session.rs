//! One ECS Exec session into a chosen container: `ecs:ExecuteCommand` (with
//! its TargetNotConnected retry), the data channel, and the remote command's
//! output turned back into exact stdout bytes and an exit status.
//!
//! [`ExecSession`] is what every way into a container builds on: `exec`
//! (one-off, `--pipe`, interactive), `cp` and `exec --all-tasks`. It gives
//! back [`SessionEvent`]s in order, an [`InputHandle`] for stdin, an
//! [`Interrupter`] that sends Ctrl-C (and keeps its terminal echo out of
//! stdout), resize, and terminate. [`crate::exec::run`] drives one to its end.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::aws::Aws;
use crate::ecs::{self, Target};
use crate::error::{Error, Result};
use crate::exec::channel::{Channel, ChannelError, Event, InputHandle, SessionInfo};
use crate::exec::target::Chosen;
use crate::exec::wrap::{self, Mode, OutputFilter, Remote};

/// Base64 text per input line: well under the terminal's 4096-byte line limit.
const INPUT_LINE: usize = 1000;
/// End of input for a terminal in canonical mode.
const EOF_BYTE: u8 = 0x04;
/// Ctrl-C.
const ETX: u8 = 0x03;
/// What the remote terminal echoes for Ctrl-C.
const CTRL_C_ECHO: &[u8] = b"^C";

fn exec_error(message: impl Into<String>) -> Error {
    Error::Exec(message.into())
}

fn channel_error(e: ChannelError) -> Error {
    exec_error(e.to_string())
}

/// What a session produces, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEvent {
    /// Bytes for stderr: banners and shell noise before the command starts.
    Stderr(Vec<u8>),
    /// The command's output, exactly (one-off and pipe), or the terminal's
    /// (interactive).
    Stdout(Vec<u8>),
    /// The command has started: input may be sent (pipe mode).
    Started,
    /// A message from the agent's handshake, for the user.
    Notice(String),
    /// The command ended with this status.
    Exited(i32),
    /// The service closed the channel; the last event.
    Closed,
}

/// Sends Ctrl-C to the remote command from any task, so that the session
/// itself can stay borrowed by whoever reads its events.
#[derive(Debug, Clone)]
pub struct Interrupter {
    input: InputHandle,
    pending: Arc<AtomicUsize>,
    strip_echo: bool,
}

impl Interrupter {
    /// Send Ctrl-C. In one-off and pipe modes the remote terminal's `^C`
    /// echo is taken out of stdout.
    pub async fn interrupt(&self) -> Result<()> {
        if self.strip_echo {
            self.pending.fetch_add(1, Ordering::SeqCst);
        }
        self.input.send_input(&[ETX]).await.map_err(channel_error)
    }
}

/// Removes the terminal's `^C` echo of interrupts ecsx sent.
#[derive(Debug, Default)]
struct EchoStrip {
    /// A `^` held back because a `C` may follow.
    held: bool,
}

impl EchoStrip {
    fn apply(&mut self, pending: &AtomicUsize, bytes: Vec<u8>) -> Vec<u8> {
        if pending.load(Ordering::SeqCst) == 0 && !self.held {
            return bytes;
        }
        let mut data = Vec::with_capacity(bytes.len() + 1);
        if std::mem::take(&mut self.held) {
            data.push(b'^');
        }
        data.extend_from_slice(&bytes);
        let mut out = Vec::with_capacity(data.len());
        let mut rest = &data[..];
        while pending.load(Ordering::SeqCst) > 0 {
            match memchr::memmem::find(rest, CTRL_C_ECHO) {
                Some(at) => {
                    out.extend_from_slice(&rest[..at]);
                    rest = &rest[at + CTRL_C_ECHO.len()..];
                    pending.fetch_sub(1, Ordering::SeqCst);
                }
                None => break,
            }
        }
        if pending.load(Ordering::SeqCst) > 0 && rest.last() == Some(&b'^') {
            self.held = true;
            rest = &rest[..rest.len() - 1];
        }
        out.extend_from_slice(rest);
        out
    }

    fn finish(&mut self) -> Vec<u8> {
        if std::mem::take(&mut self.held) {
            b"^".to_vec()
        } else {
            Vec::new()
        }
    }
}

/// An open ECS Exec session running one command.
pub struct ExecSession {
    channel: Channel,
    filter: OutputFilter,
    mode: Mode,
    task_id: String,
    echo: EchoStrip,
    interrupts: Arc<AtomicUsize>,
    queue: VecDeque<SessionEvent>,
    done: bool,
}

impl std::fmt::Debug for ExecSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecSession")
            .field("task_id", &self.task_id)
            .field("mode", &self.mode)
            .field("session_id", &self.channel.session_id())
            .finish_non_exhaustive()
    }
}

impl ExecSession {
    /// Run `command` (a shell command line) in the chosen container: wrap it
    /// for `mode`, call ExecuteCommand, and open the data channel.
    pub async fn start(
        aws: &Aws,
        target: &Target,
        chosen: &Chosen,
        command: &str,
        mode: Mode,
    ) -> Result<ExecSession> {
        let nonce = wrap::new_nonce();
        let remote = wrap::remote_command(command, mode, &nonce);
        let info = execute_command(aws, target, chosen, &remote).await?;
        let channel = Channel::open(info, aws.channel_config())
            .await
            .map_err(channel_error)?;
        Ok(ExecSession {
            channel,
            filter: OutputFilter::new(mode, &nonce),
            mode,
            task_id: chosen.task_id.clone(),
            echo: EchoStrip::default(),
            interrupts: Arc::new(AtomicUsize::new(0)),
            queue: VecDeque::new(),
            done: false,
        })
    }

    /// The task this session runs in.
    pub fn task_id(&self) -> &str {
        &self.task_id
    }

    /// The session's mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// What the remote side has reported so far.
    pub fn remote(&self) -> &Remote {
        self.filter.state()
    }

    /// A handle for raw input (the terminal's keys, or already-encoded data).
    pub fn input(&self) -> InputHandle {
        self.channel.input()
    }

    /// A handle that sends Ctrl-C.
    pub fn interrupter(&self) -> Interrupter {
        Interrupter {
            input: self.channel.input(),
            pending: Arc::clone(&self.interrupts),
            strip_echo: self.mode != Mode::Interactive,
        }
    }

    /// Tell the remote terminal its size.
    pub async fn resize(&self, cols: u16, rows: u16) -> Result<()> {
        self.channel
            .send_size(cols, rows)
            .await
            .map_err(channel_error)
    }

    /// The next event; `Ok(None)` once the session has ended. An error is
    /// the channel's (the caller may ask whether the task stopped).
    pub async fn next(&mut self) -> Result<Option<SessionEvent>> {
        loop {
            if let Some(event) = self.queue.pop_front() {
                return Ok(Some(event));
            }
            if self.done {
                return Ok(None);
            }
            match self.channel.next_event().await {
                Some(Ok(Event::Output(bytes))) => {
                    let before = self.filter.state().clone();
                    let filtered = self.filter.feed(&bytes);
                    let after = self.filter.state().clone();
                    // The ready line, and possibly the whole command, may
                    // come in one delivery: Started always comes first.
                    if before == Remote::Starting
                        && matches!(after, Remote::Running | Remote::Exited(_))
                    {
                        self.queue.push_back(SessionEvent::Started);
                    }
                    self.push_filtered(filtered);
                    match after {
                        Remote::NoBase64 => {
                            self.done = true;
                            return Err(exec_error(
                                "the container has no `base64`, which ecsx needs to carry input (--pipe, --input, cp uploads); install busybox or coreutils in the image (plain commands need only `sh`)",
                            ));
                        }
                        Remote::NoStty => {
                            self.done = true;
                            return Err(exec_error(
                                "the container has no `stty`, which --pipe needs to turn terminal echo off; install coreutils or busybox in the image, or pass the script with --command",
                            ));
                        }
                        Remote::Exited(code) if before != Remote::Exited(code) => {
                            self.queue.push_back(SessionEvent::Exited(code))
                        }
                        _ => {}
                    }
                }
                Some(Ok(Event::HandshakeComplete { customer_message })) => {
                    if let Some(m) = customer_message.filter(|m| !m.trim().is_empty()) {
                        self.queue
                            .push_back(SessionEvent::Notice(m.trim().to_string()));
                    }
                }
                Some(Ok(Event::Closed { output })) => {
                    self.end_output();
                    if let Some(text) = output.filter(|t| !t.trim().is_empty()) {
                        crate::debug!("channel closed: {}", text.trim());
                    }
                    self.queue.push_back(SessionEvent::Closed);
                    self.done = true;
                }
                Some(Err(e)) => {
                    self.done = true;
                    return Err(channel_error(e));
                }
                None => {
                    self.end_output();
                    self.queue.push_back(SessionEvent::Closed);
                    self.done = true;
                }
            }
        }
    }

    fn push_filtered(&mut self, filtered: wrap::Filtered) {
        if !filtered.stderr.is_empty() {
            self.queue.push_back(SessionEvent::Stderr(filtered.stderr));
        }
        if !filtered.stdout.is_empty() {
            let stdout = self.echo.apply(&self.interrupts, filtered.stdout);
            if !stdout.is_empty() {
                self.queue.push_back(SessionEvent::Stdout(stdout));
            }
        }
    }

    fn end_output(&mut self) {
        let mut filtered = self.filter.finish();
        let held = self.echo.finish();
        if !held.is_empty() {
            let mut stdout = held;
            stdout.extend_from_slice(&filtered.stdout);
            filtered.stdout = stdout;
        }
        if !filtered.stderr.is_empty() {
            self.queue.push_back(SessionEvent::Stderr(filtered.stderr));
        }
        if !filtered.stdout.is_empty() {
            self.queue.push_back(SessionEvent::Stdout(filtered.stdout));
        }
    }

    /// After the exit status: give the agent a moment to close the channel
    /// cleanly, then let the session go.
    pub async fn close(mut self) {
        let waited = tokio::time::Instant::now();
        let closed = tokio::time::timeout(Duration::from_millis(300), async {
            while let Some(Ok(ev)) = self.channel.next_event().await {
                if matches!(ev, Event::Closed { .. }) {
                    break;
                }
            }
        })
        .await;
        crate::debug!(
            "channel {} after {:?}",
            if closed.is_ok() {
                "closed"
            } else {
                "still open"
            },
            waited.elapsed()
        );
    }

    /// End the session for good (`ssm:TerminateSession`), for timeouts,
    /// failures and cancellation.
    pub async fn terminate(self) {
        self.channel.terminate().await
    }
}

/// ExecuteCommand, retrying TargetNotConnectedException for a few seconds
/// (the agent reports RUNNING before it is connected) and ThrottlingException
/// (many sessions at once) with backoff.
async fn execute_command(
    aws: &Aws,
    target: &Target,
    chosen: &Chosen,
    command: &str,
) -> Result<SessionInfo> {
    let backoff = [250u64, 500, 1000, 1500, 2000, 2500];
    let mut attempt = 0;
    let mut throttled = 0u32;
    loop {
        let result = aws
            .ecs()
            .execute_command()
            .cluster(&target.cluster)
            .task(chosen.task_arn())
            .container(&chosen.container)
            .command(command)
            .interactive(true)
            .send()
            .await;
        match result {
            Ok(out) => {
                let session = out
                    .session
                    .ok_or_else(|| exec_error("ExecuteCommand returned no session"))?;
                return Ok(SessionInfo {
                    session_id: session.session_id.unwrap_or_default(),
                    stream_url: session.stream_url.unwrap_or_default(),
                    token_value: session.token_value.unwrap_or_default(),
                    target: chosen.ssm_target(),
                });
            }
            Err(e) => match ecs::ecs_error(aws, target, "ExecuteCommand", e) {
                Error::Aws { code, .. }
                    if code == "TargetNotConnectedException" && attempt < backoff.len() =>
                {
                    crate::debug!(
                        "TargetNotConnectedException, retrying in {} ms",
                        backoff[attempt]
                    );
                    tokio::time::sleep(Duration::from_millis(backoff[attempt])).await;
                    attempt += 1;
                }
                Error::Aws { code, .. }
                    if is_throttling(&code) && throttled < THROTTLE_RETRIES =>
                {
                    // The SDK's own retries are spent: AWS throttles
                    // ExecuteCommand per account; wait and go on.
                    let wait = throttle_backoff(throttled);
                    crate::debug!("ExecuteCommand throttled, retrying in {wait:?}");
                    tokio::time::sleep(wait).await;
                    throttled += 1;
                }
                Error::Aws { code, message, .. } if code == "TargetNotConnectedException" => {
                    return Err(exec_error(format!(
                        "ExecuteCommand kept failing with TargetNotConnectedException ({message}); the agent in task {} is not connected: wait a minute after the task starts, or check the task role's ssmmessages permissions and VPC endpoints (`ecsx verify`)",
                        chosen.task_id
                    )))
                }
                Error::Aws { code, message, .. } if code == "InvalidParameterException" => {
                    return Err(exec_error(format!("ExecuteCommand refused: {message}")))
                }
                Error::Aws { code, message, .. } if code == "AccessDeniedException" => {
                    return Err(exec_error(format!(
                        "ExecuteCommand denied: {message}; the caller needs ecs:ExecuteCommand on this task"
                    )))
                }
                other => return Err(other),
            },
        }
    }
}

/// Extra rounds of retries for a throttled ExecuteCommand, after the SDK's.
const THROTTLE_RETRIES: u32 = 8;

fn is_throttling(code: &str) -> bool {
    matches!(
        code,
        "ThrottlingException" | "Throttling" | "TooManyRequestsException" | "RequestLimitExceeded"
    )
}

/// 200 ms, 400 ms, ... up to 3.2 s, with jitter so that many sessions
/// don't come back at once.
fn throttle_backoff(round: u32) -> Duration {
    let base = 200u64 << round.min(4);
    let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0]) * base / 512;
    Duration::from_millis(base + jitter)
}

/// Encodes input for a pipe-mode session: base64 lines, then end of file.
pub fn encode_input_chunk(chunk: &[u8]) -> Vec<u8> {
    let engine = base64::engine::general_purpose::STANDARD;
    let mut text = engine.encode(chunk).into_bytes();
    let mut out = Vec::with_capacity(text.len() + text.len() / INPUT_LINE + 1);
    for line in text.chunks_mut(INPUT_LINE) {
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    out
}

/// Stream `reader` into a pipe-mode session as base64 lines, then end of
/// file. `progress` is told how many raw bytes went out each time.
pub async fn feed_input<R: AsyncRead + Unpin>(
    input: &InputHandle,
    mut reader: R,
    mut progress: impl FnMut(u64),
) -> Result<()> {
    // A multiple of 3 so that only the last piece carries padding, and of
    // INPUT_LINE * 3 / 4 so that lines stay whole.
    let piece = INPUT_LINE / 4 * 3 * 48;
    let mut buf = vec![0u8; piece];
    let mut filled = 0;
    loop {
        let n = reader.read(&mut buf[filled..]).await?;
        if n == 0 {
            if filled > 0 {
                input
                    .send_input(&encode_input_chunk(&buf[..filled]))
                    .await
                    .map_err(channel_error)?;
                progress(filled as u64);
            }
            break;
        }
        filled += n;
        if filled == piece {
            input
                .send_input(&encode_input_chunk(&buf))
                .await
                .map_err(channel_error)?;
            progress(filled as u64);
            filled = 0;
        }
    }
    input.send_input(&[EOF_BYTE]).await.map_err(channel_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strip(pending: usize, chunks: &[&[u8]]) -> (Vec<u8>, usize) {
        let counter = AtomicUsize::new(pending);
        let mut strip = EchoStrip::default();
        let mut out = Vec::new();
        for chunk in chunks {
            out.extend(strip.apply(&counter, chunk.to_vec()));
        }
        out.extend(strip.finish());
        (out, counter.load(Ordering::SeqCst))
    }

    #[test]
    fn the_echo_of_an_interrupt_is_removed_once() {
        assert_eq!(strip(1, &[b"a^Cb^Cc"]), (b"ab^Cc".to_vec(), 0));
        assert_eq!(strip(0, &[b"a^Cb"]), (b"a^Cb".to_vec(), 0));
        assert_eq!(strip(2, &[b"^C", b"x^C"]), (b"x".to_vec(), 0));
    }

    #[test]
    fn an_echo_cut_between_deliveries_is_still_removed() {
        assert_eq!(strip(1, &[b"out^", b"Cmore"]), (b"outmore".to_vec(), 0));
        // A lone caret at the very end is output after all.
        assert_eq!(strip(1, &[b"out^"]), (b"out^".to_vec(), 1));
        assert_eq!(strip(1, &[b"a^", b"b"]), (b"a^b".to_vec(), 1));
    }

    #[test]
    fn input_lines_stay_under_the_terminal_limit() {
        let data = vec![7u8; 10_000];
        let text = encode_input_chunk(&data);
        assert!(text.split(|&b| b == b'\n').all(|l| l.len() <= INPUT_LINE));
        let joined: Vec<u8> = text.into_iter().filter(|&b| b != b'\n').collect();
        let back = base64::engine::general_purpose::STANDARD
            .decode(joined)
            .unwrap();
        assert_eq!(back, data);
    }

    #[test]
    fn throttle_backoff_grows_and_stays_bounded() {
        assert!(throttle_backoff(0) >= Duration::from_millis(200));
        assert!(throttle_backoff(0) < Duration::from_millis(400));
        assert!(throttle_backoff(10) <= Duration::from_millis(3200 + 3200));
    }
}
