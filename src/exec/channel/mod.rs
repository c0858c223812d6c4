//! The client session layer of `ecsx exec`: one Session Manager data channel
//! over a WebSocket, spoken natively (no session-manager-plugin).
//!
//! [`Channel::open`] dials the `streamUrl` that `ecs:ExecuteCommand` returned
//! and spawns one I/O task that owns the socket and all protocol state
//! (docs/protocol.md in the shared docs):
//!
//! - our `input_stream_data` sequence from 0, kept unacknowledged in order,
//!   the oldest resent once older than the retransmission timeout, at most a
//!   window of messages outstanding (so [`InputHandle::send_input`] waits
//!   instead of buffering without bound);
//! - the agent's `output_stream_data`, acknowledged and delivered in order
//!   exactly once through a bounded reorder buffer;
//! - `pause_publication` / `start_publication`, keep-alive pings, the
//!   handshake (session type, KMS encryption, challenge), `channel_closed`,
//!   and resuming the session (`ssm:ResumeSession`) when the socket drops.
//!
//! Input is held until the session is ready: the agent ignores stream data
//! while its handshake is neither complete nor skipped, so the first input
//! goes out once the first ordinary output arrives, once `HandshakeComplete`
//! arrives, or when [`ChannelConfig::input_hold`] passes with no handshake
//! begun.
//!
//! Nothing here logs, and no `Debug` output shows a token or a key.

mod backend;
mod crypto;
mod dial;
mod engine;
mod outgoing;
mod reorder;
mod rto;

#[cfg(test)]
mod test_peer;
#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use aws_types::SdkConfig;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use uuid::Uuid;

pub use backend::{AwsBackend, DataKey, SessionBackend};
pub use crypto::{CryptoError, SessionCipher};

use crate::protocol::codec::MAX_PAYLOAD_CHUNK;
use crate::protocol::payloads::DEFAULT_CLIENT_VERSION;

/// How long [`Channel::terminate`] waits for `ssm:TerminateSession`.
const TERMINATE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long [`Channel::terminate`] waits for the I/O task to close the socket.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Input chunks queued between the caller and the I/O task.
const COMMAND_QUEUE: usize = 32;
/// Port signals held for the caller; more are dropped (only a misbehaving
/// agent sends that many flags unread).
const SIGNAL_QUEUE: usize = 64;

/// What `ecs:ExecuteCommand` returned, plus the KMS target.
#[derive(Clone)]
pub struct SessionInfo {
    /// The session id.
    pub session_id: String,
    /// The WebSocket URL, dialed as given.
    pub stream_url: String,
    /// The session token; secret, never shown by `Debug`.
    pub token_value: String,
    /// `ecs:<cluster>_<taskId>_<runtimeId>`, used only in the KMS
    /// encryption context.
    pub target: String,
}

impl fmt::Debug for SessionInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionInfo")
            .field("session_id", &self.session_id)
            .field("stream_url", &dial::display_url(&self.stream_url))
            .field("token_value", &"<redacted>")
            .field("target", &self.target)
            .finish()
    }
}

/// How to run a [`Channel`]. [`ChannelConfig::new`] gives the defaults.
#[derive(Clone)]
pub struct ChannelConfig {
    /// For `ssm:ResumeSession` / `ssm:TerminateSession`, `kms:GenerateDataKey`,
    /// and the SigV4 signature of the upgrade when it has credentials.
    pub sdk: SdkConfig,
    /// Sent in the opening frame; fixed for the process.
    pub client_id: Uuid,
    /// Sent in the opening frame and the handshake response.
    pub client_version: String,
    /// Most unacknowledged outgoing messages (default 1024).
    pub window: usize,
    /// Most received messages held ahead of the expected one (default 1024).
    pub reorder_bound: usize,
    /// Events held for [`Channel::next_event`] (default 256); when full,
    /// output waits in the reorder buffer, then goes unacknowledged.
    pub event_buffer: usize,
    /// Interval of WebSocket pings (default 5 min).
    pub keepalive: Duration,
    /// Resends of one message before [`ChannelError::TooManyResends`] (default 3000).
    pub max_resends: u32,
    /// Reconnect attempts after the socket drops (default 5).
    pub reconnect_attempts: u32,
    /// First delay before a reconnect attempt, doubled each time up to 5 s
    /// (default 100 ms).
    pub reconnect_backoff: Duration,
    /// Bound on dialing plus the opening frame (default 30 s).
    pub connect_timeout: Duration,
    /// How long input waits for a first message before going out anyway
    /// when no handshake has begun (default 2 s).
    pub input_hold: Duration,
    /// Replaces the AWS calls (tests, sandbox); `None` uses [`AwsBackend`] on `sdk`.
    pub backend: Option<Arc<dyn SessionBackend>>,
    /// What the session carries (default [`SessionKind::Exec`]).
    pub kind: SessionKind,
}

/// What a channel's session carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SessionKind {
    /// ECS Exec (a shell-like byte stream): input may go out after
    /// [`ChannelConfig::input_hold`] when no handshake has begun.
    #[default]
    Exec,
    /// A port session (ssm:StartSession): the agent always sends the
    /// handshake with SessionType Port, and nothing is sent before its
    /// HandshakeComplete. What only a port session has comes through
    /// [`Channel::take_port_signals`].
    Port,
}

/// What a port session says besides its bytes, in the order it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortSignal {
    /// The agent's HandshakeRequest: its version and the session's
    /// properties (sent before [`Event::HandshakeComplete`]).
    Handshake {
        agent_version: String,
        properties: serde_json::Value,
    },
    /// A PayloadType 10 flag from the agent (3: ConnectToPortError).
    Flag(u32),
}

impl fmt::Debug for ChannelConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChannelConfig")
            .field("region", &self.sdk.region())
            .field("client_id", &self.client_id)
            .field("client_version", &self.client_version)
            .field("window", &self.window)
            .field("reorder_bound", &self.reorder_bound)
            .field("event_buffer", &self.event_buffer)
            .field("keepalive", &self.keepalive)
            .field("max_resends", &self.max_resends)
            .field("reconnect_attempts", &self.reconnect_attempts)
            .field("reconnect_backoff", &self.reconnect_backoff)
            .field("connect_timeout", &self.connect_timeout)
            .field("input_hold", &self.input_hold)
            .field("custom_backend", &self.backend.is_some())
            .field("kind", &self.kind)
            .finish()
    }
}

impl ChannelConfig {
    /// The defaults, with a fresh client id.
    pub fn new(sdk: SdkConfig) -> Self {
        Self {
            sdk,
            client_id: Uuid::new_v4(),
            client_version: DEFAULT_CLIENT_VERSION.to_owned(),
            window: 1024,
            reorder_bound: 1024,
            event_buffer: 256,
            keepalive: Duration::from_secs(5 * 60),
            max_resends: 3000,
            reconnect_attempts: 5,
            reconnect_backoff: Duration::from_millis(100),
            connect_timeout: Duration::from_secs(30),
            input_hold: Duration::from_secs(2),
            backend: None,
            kind: SessionKind::Exec,
        }
    }
}

/// What the session produces, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Remote output bytes (PayloadType 1, or 11 if ever sent), decrypted,
    /// in order, exactly once.
    Output(Vec<u8>),
    /// The agent finished the KMS/session handshake; its message, if any, is
    /// for the user.
    HandshakeComplete {
        /// `CustomerMessage`, when not empty.
        customer_message: Option<String>,
    },
    /// The service closed the channel (`channel_closed`); the last event.
    Closed {
        /// Its `Output` text, when not empty.
        output: Option<String>,
    },
}

/// Why the channel failed. Each message is one line with a hint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    /// Dialing, the upgrade, or the opening frame failed.
    #[error("cannot open the ECS Exec data channel at {url}: {message} (check network access to ssmmessages and that the session has not expired)")]
    Connect {
        /// The stream URL without its query string.
        url: String,
        /// What failed.
        message: String,
    },
    /// The agent's handshake asked for something ecsx cannot do.
    #[error("session handshake failed on {action}: {message} (try a newer ecsx, or check the cluster's ECS Exec configuration)")]
    Handshake {
        /// The action type.
        action: String,
        /// What went wrong.
        message: String,
    },
    /// The peer broke the protocol.
    #[error("data channel protocol error: {0} (the agent or service sent something ecsx does not understand)")]
    Protocol(String),
    /// The socket dropped and the session could not be resumed.
    #[error("the data channel dropped and could not be resumed: {message} (check ssm:ResumeSession permission and network access)")]
    Resume {
        /// What failed last.
        message: String,
    },
    /// KMS encryption could not be set up or used.
    #[error("KMS encryption failed: {message} (the caller needs kms:GenerateDataKey on the cluster's ECS Exec key)")]
    Kms {
        /// What failed.
        message: String,
    },
    /// A message went unacknowledged through every resend.
    #[error("the agent stopped acknowledging input (gave up after the maximum number of resends); the session is stuck or the agent is gone")]
    TooManyResends,
    /// The channel has ended.
    #[error("the data channel is closed (the session has ended)")]
    Closed,
}

/// Most input bytes in one request to the I/O task: one hand-over between
/// tasks per 64 messages, not per message (a fast upload spent its time
/// waking the I/O task for each KiB).
pub(crate) const INPUT_COMMAND_MAX: usize = 64 * MAX_PAYLOAD_CHUNK;

/// Requests from the caller to the I/O task.
#[derive(Debug)]
enum Command {
    /// Stdin bytes, at most [`INPUT_COMMAND_MAX`], never empty; the I/O
    /// task sends them as messages of at most [`MAX_PAYLOAD_CHUNK`].
    Input(Vec<u8>),
    /// Terminal size.
    Size { cols: u16, rows: u16 },
    /// A PayloadType 10 flag (port sessions).
    Flag(u32),
}

/// A cheap, cloneable sender of input for a [`Channel`], so one task can
/// read stdin while another reads events.
#[derive(Debug, Clone)]
pub struct InputHandle {
    tx: mpsc::Sender<Command>,
}

impl InputHandle {
    /// Queues stdin bytes, sent as messages of at most 1024 bytes (nothing
    /// for an empty slice). Waits while the window of unacknowledged
    /// messages is full, so any amount streams in bounded memory. `Ok`
    /// means queued, not yet acknowledged.
    pub async fn send_input(&self, bytes: &[u8]) -> Result<(), ChannelError> {
        for chunk in bytes.chunks(INPUT_COMMAND_MAX) {
            self.tx
                .send(Command::Input(chunk.to_vec()))
                .await
                .map_err(|_| ChannelError::Closed)?;
        }
        Ok(())
    }

    /// [`InputHandle::send_input`] of bytes the caller no longer needs: up
    /// to [`INPUT_COMMAND_MAX`] of them go over as they are, without a copy.
    pub async fn send_input_owned(&self, bytes: Vec<u8>) -> Result<(), ChannelError> {
        if bytes.len() > INPUT_COMMAND_MAX || bytes.is_empty() {
            return self.send_input(&bytes).await;
        }
        self.tx
            .send(Command::Input(bytes))
            .await
            .map_err(|_| ChannelError::Closed)
    }

    /// Queues a flag (PayloadType 10: 1 DisconnectToPort, 2 TerminateSession),
    /// sequenced like input.
    pub async fn send_flag(&self, flag: u32) -> Result<(), ChannelError> {
        self.tx
            .send(Command::Flag(flag))
            .await
            .map_err(|_| ChannelError::Closed)
    }

    /// Queues a terminal size (PayloadType 3), sequenced like input.
    pub async fn send_size(&self, cols: u16, rows: u16) -> Result<(), ChannelError> {
        self.tx
            .send(Command::Size { cols, rows })
            .await
            .map_err(|_| ChannelError::Closed)
    }
}

/// One open data channel. Dropping it stops the I/O task and closes the
/// socket without terminating the session; [`Channel::terminate`] ends it.
pub struct Channel {
    input: InputHandle,
    events: mpsc::Receiver<Result<Event, ChannelError>>,
    signals: Option<mpsc::Receiver<PortSignal>>,
    session_id: String,
    backend: Arc<dyn SessionBackend>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl fmt::Debug for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Channel")
            .field("session_id", &self.session_id)
            .finish_non_exhaustive()
    }
}

impl Channel {
    /// Dials `stream_url` (ws:// or wss://), SigV4-signing the upgrade when
    /// the SDK config has credentials (service `ssmmessages`, only `Host`
    /// signed, empty-body hash), sends the opening text frame, and starts
    /// the I/O task.
    pub async fn open(info: SessionInfo, config: ChannelConfig) -> Result<Channel, ChannelError> {
        let backend: Arc<dyn SessionBackend> = match &config.backend {
            Some(backend) => Arc::clone(backend),
            None => Arc::new(AwsBackend::new(&config.sdk)),
        };
        let ws = dial::dial(
            &info.stream_url,
            &info.token_value,
            &config.sdk,
            config.client_id,
            &config.client_version,
            config.connect_timeout,
        )
        .await?;
        let (cmd_tx, cmd_rx) = mpsc::channel(COMMAND_QUEUE);
        let (event_tx, event_rx) = mpsc::channel(config.event_buffer.max(1));
        let (shutdown_tx, shutdown_rx) = oneshot::channel();
        let (signal_tx, signal_rx) = mpsc::channel(SIGNAL_QUEUE);
        let session_id = info.session_id.clone();
        let engine = engine::Engine::new(
            ws,
            info,
            config,
            Arc::clone(&backend),
            cmd_rx,
            event_tx,
            signal_tx,
            shutdown_rx,
        );
        let task = tokio::spawn(engine.run());
        Ok(Channel {
            input: InputHandle { tx: cmd_tx },
            events: event_rx,
            signals: Some(signal_rx),
            session_id,
            backend,
            shutdown: Some(shutdown_tx),
            task: Some(task),
        })
    }

    /// The receiver of a port session's [`PortSignal`]s (once; `None` after).
    pub fn take_port_signals(&mut self) -> Option<mpsc::Receiver<PortSignal>> {
        self.signals.take()
    }

    /// The session id.
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    /// A cloneable handle for sending input from another task.
    pub fn input(&self) -> InputHandle {
        self.input.clone()
    }

    /// See [`InputHandle::send_input`].
    pub async fn send_input(&self, bytes: &[u8]) -> Result<(), ChannelError> {
        self.input.send_input(bytes).await
    }

    /// See [`InputHandle::send_size`].
    pub async fn send_size(&self, cols: u16, rows: u16) -> Result<(), ChannelError> {
        self.input.send_size(cols, rows).await
    }

    /// The next event; after [`Event::Closed`] or an error, `None`.
    pub async fn next_event(&mut self) -> Option<Result<Event, ChannelError>> {
        self.events.recv().await
    }

    /// Ends the session for good: `ssm:TerminateSession` (best effort,
    /// bounded) and closes the socket. For timeouts and cancellation.
    pub async fn terminate(mut self) {
        let _ = tokio::time::timeout(
            TERMINATE_TIMEOUT,
            self.backend.terminate_session(&self.session_id),
        )
        .await;
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(mut task) = self.task.take() {
            if tokio::time::timeout(CLOSE_TIMEOUT, &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
    }
}
