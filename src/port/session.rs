//! One forward's life: listen, `ssm:StartSession`, the data channel in its
//! Port kind up to HandshakeComplete, then serve (mux or basic) until the
//! caller stops it (flag 2 and `ssm:TerminateSession`) or the session ends.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::spec::ForwardSpec;
use super::{basic, mux, version};
use crate::aws::Aws;
use crate::error::Error;
use crate::exec::channel::{
    Channel, ChannelConfig, ChannelError, Event, PortSignal, SessionInfo, SessionKind,
};
use crate::protocol::codec::PAYLOAD_FLAG_TERMINATE_SESSION;

/// Bound on the agent's handshake after the socket opened.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);
/// Output events held for the forward (see `start_session`).
const PORT_EVENT_BUFFER: usize = 16;
/// Bound on sending flag 2 at the end.
const FLAG_TIMEOUT: Duration = Duration::from_millis(500);

/// What a forward tells its user while it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// The agent could not connect to the destination for one connection
    /// (that connection was closed; the forward keeps listening).
    ConnectToPortError,
}

/// Where notices go (the command prints them on stderr).
pub type Notify = Arc<dyn Fn(Notice) + Send + Sync>;

/// Why a forward could not start or went down. One line each.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    #[error("cannot listen on {addr}: {message} (pick another local port, or 0 for a free one)")]
    Listen { addr: String, message: String },
    #[error(transparent)]
    Channel(ChannelError),
    #[error("the port session's handshake did not complete: {0}")]
    Handshake(String),
    #[error(
        "port session protocol error: {0} (the agent sent something ecsx does not understand)"
    )]
    Protocol(String),
}

/// How a forward ended without an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForwardEnd {
    /// The caller stopped it; the session was terminated.
    Stopped,
    /// The service closed the session (`channel_closed`), with its text.
    Closed(Option<String>),
}

/// Accepts on whichever listener has a connection first.
pub(crate) async fn accept_any(listeners: &[TcpListener]) -> std::io::Result<TcpStream> {
    if listeners.is_empty() {
        return std::future::pending().await;
    }
    let accepts = listeners.iter().map(|l| Box::pin(l.accept()));
    let (result, _, _) = futures::future::select_all(accepts).await;
    result.map(|(conn, _)| conn)
}

/// Binds the forward's listeners: every bind address on the same port
/// (with port 0, the port the first one got). ::1 is skipped quietly when
/// the machine has no IPv6 loopback.
pub async fn listen(spec: &ForwardSpec) -> Result<Vec<TcpListener>, PortError> {
    let addrs = spec.bind_addrs().map_err(|message| PortError::Listen {
        addr: spec.bind.clone().unwrap_or_default(),
        message,
    })?;
    let mut port = spec.local_port;
    let mut listeners = Vec::new();
    for (i, ip) in addrs.iter().enumerate() {
        let addr = SocketAddr::new(*ip, port);
        match TcpListener::bind(addr).await {
            Ok(l) => {
                if port == 0 {
                    port = l.local_addr().map(|a| a.port()).unwrap_or(0);
                }
                listeners.push(l);
            }
            // The default second loopback is optional.
            Err(_) if i > 0 && spec.bind.is_none() => {}
            Err(e) => {
                return Err(PortError::Listen {
                    addr: addr.to_string(),
                    message: io_message(&e),
                })
            }
        }
    }
    Ok(listeners)
}

fn io_message(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::AddrInUse => "the address is in use".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    }
}

/// A forward whose session is up and whose listeners are bound.
pub struct Forward {
    pub spec: ForwardSpec,
    /// What it listens on, first one first.
    pub local: Vec<SocketAddr>,
    pub session_id: String,
    /// smux (else basic mode).
    pub mux: bool,
    keepalive: bool,
    listeners: Vec<TcpListener>,
    channel: Channel,
    signals: mpsc::Receiver<PortSignal>,
}

impl std::fmt::Debug for Forward {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forward")
            .field("spec", &self.spec)
            .field("local", &self.local)
            .field("session_id", &self.session_id)
            .field("mux", &self.mux)
            .finish_non_exhaustive()
    }
}

/// `ssm:StartSession` on `target` (`ecs:<cluster>_<task id>_<runtime id>`)
/// for `spec`, then the channel up to HandshakeComplete. The listeners are
/// bound by the caller first (so a busy port fails before any AWS call).
pub async fn start_session(
    aws: &Aws,
    target: &str,
    spec: ForwardSpec,
    listeners: Vec<TcpListener>,
    config: Option<ChannelConfig>,
) -> Result<Forward, Error> {
    let local: Vec<SocketAddr> = listeners
        .iter()
        .filter_map(|l| l.local_addr().ok())
        .collect();
    let local_port = local.first().map(|a| a.port()).unwrap_or(spec.local_port);
    let (document, parameters) = spec.document(local_port);
    crate::debug!(
        "StartSession {target} {document} -> {}",
        spec.remote_label()
    );
    let ssm = aws.ssm();
    // The agent reports RUNNING a little before it is connected: retry
    // TargetNotConnected for a few seconds, as exec does.
    let backoff = [250u64, 500, 1000, 1500, 2000, 2500];
    let mut attempt = 0;
    let out = loop {
        let result = ssm
            .start_session()
            .target(target)
            .document_name(document)
            .set_parameters(Some(parameters.clone()))
            .send()
            .await;
        match result {
            Ok(out) => break out,
            Err(e) => match start_error(aws, target, e) {
                Error::Aws { code, .. }
                    if code == "TargetNotConnected" && attempt < backoff.len() =>
                {
                    crate::debug!("TargetNotConnected, retrying in {} ms", backoff[attempt]);
                    tokio::time::sleep(Duration::from_millis(backoff[attempt])).await;
                    attempt += 1;
                }
                other => return Err(other),
            },
        }
    };
    let info = SessionInfo {
        session_id: out.session_id().unwrap_or_default().to_string(),
        stream_url: out.stream_url().unwrap_or_default().to_string(),
        token_value: out.token_value().unwrap_or_default().to_string(),
        target: target.to_string(),
    };
    if info.session_id.is_empty() || info.stream_url.is_empty() || info.token_value.is_empty() {
        return Err(Error::Exec(
            "StartSession answered without a session id, stream URL or token; the SSM endpoint is not behaving as AWS does".to_string(),
        ));
    }
    let mut config = config.unwrap_or_else(|| aws.channel_config());
    config.kind = SessionKind::Port;
    // Output events of up to 64 KiB each: 16 of them bound what waits for a
    // slow local reader to about 1 MiB (the socket is not read meanwhile).
    config.event_buffer = config.event_buffer.min(PORT_EVENT_BUFFER);
    // The agent decides from our version; both sides must agree.
    let agent_would_mux = version::agent_uses_mux(&config.client_version);
    let session_id = info.session_id.clone();
    let mut channel = Channel::open(info, config)
        .await
        .map_err(|e| Error::Exec(e.to_string()))?;
    let mut signals = channel
        .take_port_signals()
        .ok_or_else(|| Error::Exec("the channel's port signals were taken".to_string()))?;
    let handshake = tokio::time::timeout(
        HANDSHAKE_TIMEOUT,
        wait_handshake(&mut channel, &mut signals),
    )
    .await;
    let (agent_version, properties) = match handshake {
        Ok(Ok(found)) => found,
        Ok(Err(e)) => {
            channel.terminate().await;
            return Err(Error::Exec(e.to_string()));
        }
        Err(_) => {
            channel.terminate().await;
            return Err(Error::Exec(
                PortError::Handshake("the agent did not complete it within 30 s".to_string())
                    .to_string(),
            ));
        }
    };
    let local_forwarding =
        properties.get("type").and_then(|t| t.as_str()) == Some("LocalPortForwarding");
    let mux = local_forwarding && agent_would_mux && version::client_uses_mux(&agent_version);
    let keepalive = version::client_keepalive(&agent_version);
    crate::debug!(
        "port session {session_id}: agent {agent_version}, {} mode",
        if mux { "mux" } else { "basic" }
    );
    Ok(Forward {
        spec,
        local,
        session_id,
        mux,
        keepalive,
        listeners,
        channel,
        signals,
    })
}

/// StartSession's errors, with what to do about the common ones.
fn start_error<E, R>(aws: &Aws, target: &str, err: aws_sdk_ssm::error::SdkError<E, R>) -> Error
where
    E: aws_sdk_ssm::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match aws.error("StartSession", err) {
        Error::Aws { code, message, .. } if code == "TargetNotConnected" => Error::Aws {
            operation: "StartSession",
            code,
            message: format!(
                "{message} ({target}: the task must be RUNNING with ECS Exec enabled and its agent running; see `ecsx verify`)"
            ),
        },
        other => other,
    }
}

/// Events up to HandshakeComplete; the agent's version and properties.
async fn wait_handshake(
    channel: &mut Channel,
    signals: &mut mpsc::Receiver<PortSignal>,
) -> Result<(String, serde_json::Value), PortError> {
    match channel.next_event().await {
        Some(Ok(Event::HandshakeComplete { .. })) => {}
        Some(Ok(Event::Output(_))) => {
            return Err(PortError::Handshake(
                "the agent sent data before its handshake".to_string(),
            ))
        }
        Some(Ok(Event::Closed { output })) => {
            let text = output.map(|o| o.trim().to_string()).unwrap_or_default();
            return Err(PortError::Handshake(format!(
                "the session was closed{}",
                if text.is_empty() {
                    String::new()
                } else {
                    format!(": {text}")
                }
            )));
        }
        Some(Err(e)) => return Err(PortError::Channel(e)),
        None => return Err(PortError::Channel(ChannelError::Closed)),
    }
    while let Ok(signal) = signals.try_recv() {
        if let PortSignal::Handshake {
            agent_version,
            properties,
        } = signal
        {
            return Ok((agent_version, properties));
        }
    }
    Err(PortError::Handshake(
        "the agent's handshake named no Port session".to_string(),
    ))
}

impl Forward {
    /// Serves connections until `stop` resolves (then flag 2 and
    /// `ssm:TerminateSession`) or the session ends.
    pub async fn run(
        mut self,
        stop: impl std::future::Future<Output = ()>,
        notify: Notify,
    ) -> Result<ForwardEnd, PortError> {
        let served = {
            let serve = async {
                if self.mux {
                    mux::serve(
                        &mut self.channel,
                        &mut self.signals,
                        &self.listeners,
                        self.keepalive,
                        notify,
                    )
                    .await
                } else {
                    basic::serve(&mut self.channel, &mut self.signals, &self.listeners).await
                }
            };
            tokio::select! {
                served = serve => Some(served),
                _ = stop => None,
            }
        };
        match served {
            Some(Ok(output)) => Ok(ForwardEnd::Closed(output)),
            Some(Err(e)) => {
                self.channel.terminate().await;
                Err(e)
            }
            None => {
                self.terminate().await;
                Ok(ForwardEnd::Stopped)
            }
        }
    }

    /// Ends the session for good: flag 2 (as the official client does),
    /// then `ssm:TerminateSession`.
    pub async fn terminate(self) {
        let input = self.channel.input();
        let _ = tokio::time::timeout(
            FLAG_TIMEOUT,
            input.send_flag(PAYLOAD_FLAG_TERMINATE_SESSION),
        )
        .await;
        drop(self.listeners);
        self.channel.terminate().await;
    }
}
