//! The I/O task: owns the socket and every piece of protocol state, and
//! runs one `select!` loop over incoming frames, queued input, the resend
//! tick, keep-alive pings, event capacity, and shutdown.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::{FutureExt, SinkExt, StreamExt};
use serde::Serialize;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{interval, interval_at, sleep, sleep_until, Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::{Bytes, Message as WsMessage};

use super::backend::SessionBackend;
use super::crypto::SessionCipher;
use super::dial::{self, Ws};
use super::outgoing::{Outgoing, Resend};
use super::reorder::{Arrival, Reorder};
use super::{ChannelConfig, ChannelError, Command, Event, PortSignal, SessionInfo, SessionKind};
use crate::protocol::codec::{created_now, Batched, FrameBatch, FrameBuf};
use crate::protocol::codec::{
    encode_new, flag_payload, ACKNOWLEDGE, CHANNEL_CLOSED, INPUT_STREAM_DATA, MAX_PAYLOAD_CHUNK,
    OUTPUT_STREAM_DATA, PAUSE_PUBLICATION, START_PUBLICATION,
};
use crate::protocol::payloads::{
    read_ack, Acks, ChannelClosed, EncryptionChallengeRequest, EncryptionChallengeResponse,
    HandshakeCompletePayload, HandshakeRequestPayload, HandshakeResponsePayload,
    KmsEncryptionRequest, KmsEncryptionResponse, ProcessedClientAction, SessionTypeRequest,
    SizeData, ACTION_KMS_ENCRYPTION, ACTION_SESSION_TYPE, ACTION_STATUS_FAILED,
    ACTION_STATUS_SUCCESS, ACTION_STATUS_UNSUPPORTED,
};
use crate::protocol::sha;
use crate::protocol::{decode, CodecError, Message, PayloadType};

/// Frames read from the socket's buffer in one go before acks are flushed
/// and output is delivered.
const READ_BATCH: usize = 256;
/// Most bytes of output gathered into one [`Event::Output`].
const MAX_EVENT_OUTPUT: usize = 64 * 1024;
/// How often the oldest unacknowledged message is checked.
const RESEND_TICK: Duration = Duration::from_millis(100);
/// Ceiling of the reconnect backoff.
const MAX_RECONNECT_BACKOFF: Duration = Duration::from_secs(5);
/// Bound on one ResumeSession or GenerateDataKey call.
const AWS_CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Bound on the closing handshake of the socket.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);
/// Session types that are a shell-like byte stream.
const STREAM_SESSION_TYPES: [&str; 3] = [
    "InteractiveCommands",
    "NonInteractiveCommands",
    "Standard_Stream",
];

/// The session type of a port session's handshake.
const PORT_SESSION_TYPE: &str = "Port";

/// How the loop ended without an error.
enum End {
    /// `channel_closed`, with its text.
    Closed(Option<String>),
    /// The caller dropped the channel or asked to terminate.
    Shutdown,
}

pub(crate) struct Engine {
    ws: Ws,
    info: SessionInfo,
    config: ChannelConfig,
    backend: Arc<dyn SessionBackend>,
    out: Outgoing,
    reorder: Reorder,
    cipher: Option<SessionCipher>,
    /// `pause_publication` seen, `start_publication` not yet.
    paused: bool,
    /// Input may go out (see the module docs of `channel`).
    ready: bool,
    /// A HandshakeRequest arrived.
    handshake_started: bool,
    /// The input queue is still open.
    input_open: bool,
    /// Input taken off the queue but not yet sent (the window filled, or
    /// publication paused, part-way through it), and how much of it is sent.
    input_rest: Vec<u8>,
    input_sent: usize,
    /// Set when a read or write fails; the loop then reconnects.
    broken: Option<String>,
    /// Frames written to the socket's buffer but not yet flushed.
    unflushed: bool,
    /// Acknowledgements to write (payloads), made into frames together.
    acks: Acks,
    /// Reconnects since the last frame decoded.
    failed_reconnects: u32,
    hold_until: Instant,
    commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<Result<Event, ChannelError>>,
    signals: mpsc::Sender<PortSignal>,
    shutdown: oneshot::Receiver<()>,
}

impl Engine {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        ws: Ws,
        info: SessionInfo,
        config: ChannelConfig,
        backend: Arc<dyn SessionBackend>,
        commands: mpsc::Receiver<Command>,
        events: mpsc::Sender<Result<Event, ChannelError>>,
        signals: mpsc::Sender<PortSignal>,
        shutdown: oneshot::Receiver<()>,
    ) -> Self {
        let hold_until = Instant::now() + config.input_hold;
        let reorder = Reorder::new(config.reorder_bound);
        Self {
            ws,
            info,
            config,
            backend,
            out: Outgoing::default(),
            reorder,
            cipher: None,
            paused: false,
            ready: false,
            handshake_started: false,
            input_open: true,
            input_rest: Vec::new(),
            input_sent: 0,
            broken: None,
            unflushed: false,
            acks: Acks::default(),
            failed_reconnects: 0,
            hold_until,
            commands,
            events,
            signals,
            shutdown,
        }
    }

    /// Runs the channel to its end, then closes the socket and hands the
    /// last event (Closed or the error) to the caller.
    pub(crate) async fn run(mut self) {
        let result = self.main_loop().await;
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, self.ws.close(None)).await;
        let last = match result {
            Ok(End::Shutdown) => return,
            Ok(End::Closed(output)) => Ok(Event::Closed { output }),
            Err(error) => Err(error),
        };
        tokio::select! {
            _ = self.events.send(last) => {}
            _ = &mut self.shutdown => {}
        }
    }

    async fn main_loop(&mut self) -> Result<End, ChannelError> {
        let mut resend_tick = interval(RESEND_TICK);
        resend_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let keepalive_every = self.config.keepalive.max(Duration::from_millis(1));
        let mut keepalive = interval_at(Instant::now() + keepalive_every, keepalive_every);
        keepalive.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let window = self.config.window.max(1);

        loop {
            self.send_input_rest(window).await?;
            self.flush().await;
            if let Some(reason) = self.broken.take() {
                if let Some(end) = self.reconnect(reason).await? {
                    return Ok(end);
                }
                continue;
            }
            let can_pull = self.input_open
                && self.ready
                && !self.paused
                && !self.input_waiting()
                && self.out.in_flight() < window;
            // After a drain, the expected message is still here only when
            // the events are full: the consumer is behind.
            let deliverable = self.reorder.peek_expected().is_some();
            // A port session's agent always handshakes: no time-out then.
            let holding =
                !self.ready && !self.handshake_started && self.config.kind == SessionKind::Exec;

            tokio::select! {
                _ = &mut self.shutdown => return Ok(End::Shutdown),
                // Flow control, as the official plugin gets it by writing
                // output before reading on: while the consumer is behind,
                // the socket is not read, so TCP holds the agent back. Reading
                // on would ack messages that cannot be delivered, the agent's
                // window would keep sliding, and past the reorder bound
                // messages would go unacked; the agent then resends only its
                // oldest one per timeout, and the stream would crawl.
                frame = self.ws.next(), if !deliverable => {
                    // Then whatever else is already read, with the acks
                    // written together and the output delivered together;
                    // never more than the buffer has room for (each frame
                    // takes at most one place), so nothing has to drop.
                    let limit = READ_BATCH.min(self.reorder.room().max(1));
                    let mut batch = FrameBatch::default();
                    let mut more = add_frame(&mut batch, frame);
                    while more && batch.len() < limit {
                        match self.ws.next().now_or_never() {
                            Some(next) => more = add_frame(&mut batch, next),
                            None => break,
                        }
                    }
                    if let Some(end) = self.on_ws_batch(batch).await? {
                        return Ok(end);
                    }
                    self.drain().await?;
                }
                command = self.commands.recv(), if can_pull => match command {
                    Some(command) => {
                        self.send_command(command).await?;
                        // And what else is queued, within the window, so that
                        // one flush carries a batch (uploads are otherwise a
                        // write system call per KiB).
                        let mut taken = 1;
                        self.send_input_rest(window).await?;
                        while taken < READ_BATCH
                            && !self.paused
                            && self.broken.is_none()
                            && !self.input_waiting()
                            && self.out.in_flight() < window
                        {
                            match self.commands.try_recv() {
                                Ok(command) => {
                                    self.send_command(command).await?;
                                    self.send_input_rest(window).await?;
                                }
                                Err(_) => break,
                            }
                            taken += 1;
                        }
                    }
                    None => self.input_open = false,
                },
                open = self.events.reserve().map(|r| r.is_ok()), if deliverable => {
                    if !open {
                        return Ok(End::Shutdown);
                    }
                    self.drain().await?;
                }
                _ = resend_tick.tick() => self.resend_due().await?,
                _ = keepalive.tick() => {
                    self.write(WsMessage::Ping(Bytes::from_static(b"keepalive"))).await;
                }
                _ = sleep_until(self.hold_until), if holding => self.ready = true,
            }
        }
    }

    /// One read from the socket.
    async fn on_ws(
        &mut self,
        frame: Option<Result<WsMessage, tokio_tungstenite::tungstenite::Error>>,
    ) -> Result<Option<End>, ChannelError> {
        match frame {
            Some(Ok(WsMessage::Binary(bytes))) => return self.on_frame(&bytes).await,
            Some(Ok(WsMessage::Close(frame))) => {
                self.broken = Some(match frame {
                    Some(f) if !f.reason.is_empty() => {
                        format!("the service closed the socket: {}", f.reason)
                    }
                    _ => "the service closed the socket".to_owned(),
                });
            }
            // Pings are answered by tungstenite itself; text and pongs carry
            // nothing for us.
            Some(Ok(_)) => {}
            Some(Err(e)) => self.broken = Some(format!("read failed: {e}")),
            None => self.broken = Some("the socket closed".to_owned()),
        }
        Ok(None)
    }

    /// One binary frame. Undecodable frames and unknown types are ignored.
    async fn on_frame(&mut self, bytes: &[u8]) -> Result<Option<End>, ChannelError> {
        self.on_decoded(decode(bytes), Instant::now()).await
    }

    /// Frames read together: the binary ones decoded at once (their digests
    /// computed two at a time), then each handled in order as [`Engine::on_ws`]
    /// would.
    async fn on_ws_batch(
        &mut self,
        batch: FrameBatch<WsFrame>,
    ) -> Result<Option<End>, ChannelError> {
        // One clock read for the batch's acknowledgements.
        let now = Instant::now();
        for frame in batch.finish() {
            let end = match frame {
                Batched::Message(message) => self.on_decoded(message, now).await?,
                Batched::Other(other) => self.on_ws(other).await?,
            };
            if end.is_some() {
                return Ok(end);
            }
        }
        self.write_acks().await;
        Ok(None)
    }

    /// One decoded binary frame, read at `now`.
    async fn on_decoded(
        &mut self,
        decoded: Result<Message, CodecError>,
        now: Instant,
    ) -> Result<Option<End>, ChannelError> {
        let Ok(message) = decoded else {
            return Ok(None);
        };
        self.failed_reconnects = 0;
        match &*message.message_type {
            OUTPUT_STREAM_DATA => self.on_stream(message).await?,
            ACKNOWLEDGE => {
                if let Some((_, seq)) = read_ack(&message.payload) {
                    self.out.ack(seq, now);
                }
            }
            CHANNEL_CLOSED => {
                let closed: ChannelClosed =
                    serde_json::from_slice(&message.payload).unwrap_or_default();
                let output = Some(closed.output).filter(|o| !o.is_empty());
                return Ok(Some(self.finish(output).await?));
            }
            PAUSE_PUBLICATION => self.paused = true,
            START_PUBLICATION => {
                self.paused = false;
                self.send_queued().await;
            }
            _ => {}
        }
        Ok(None)
    }

    /// An `output_stream_data`: ack unless dropped. Delivery follows the
    /// batch of frames it came in (see [`Engine::drain`]).
    async fn on_stream(&mut self, message: Message) -> Result<(), ChannelError> {
        // Written while the message is at hand, taken back if it is dropped.
        self.acks.push(&message);
        if self.reorder.offer(message) == Arrival::Dropped {
            self.acks.pop();
        }
        Ok(())
    }

    /// Processes in-order messages while events have room; consecutive
    /// output messages become one event.
    async fn drain(&mut self) -> Result<(), ChannelError> {
        while let Some(next) = self.reorder.peek_expected() {
            if produces_event(next) && self.events.capacity() == 0 {
                break;
            }
            if is_output(next) {
                let bytes = self.gather_output()?;
                if !bytes.is_empty() {
                    self.emit(Ok(Event::Output(bytes))).await?;
                }
                continue;
            }
            let Some(message) = self.reorder.pop_expected() else {
                break;
            };
            self.deliver(message).await?;
        }
        Ok(())
    }

    /// Takes the in-order output messages at the head of the buffer (there
    /// is at least one), up to [`MAX_EVENT_OUTPUT`] bytes, decrypted and joined.
    fn gather_output(&mut self) -> Result<Vec<u8>, ChannelError> {
        // Output without a handshake: the agent is taking input.
        if !self.handshake_started && self.config.kind == SessionKind::Exec {
            self.ready = true;
        }
        let mut bytes: Vec<u8> = Vec::new();
        while bytes.len() < MAX_EVENT_OUTPUT && self.reorder.peek_expected().is_some_and(is_output)
        {
            let Some(message) = self.reorder.pop_expected() else {
                break;
            };
            let payload = self.open_payload(message)?;
            if bytes.is_empty() {
                bytes = payload;
            } else {
                bytes.extend_from_slice(&payload);
            }
        }
        Ok(bytes)
    }

    /// After `channel_closed`: deliver what is still in order, then end.
    async fn finish(&mut self, output: Option<String>) -> Result<End, ChannelError> {
        self.drain().await?;
        while self.reorder.peek_expected().is_some() {
            tokio::select! {
                _ = &mut self.shutdown => return Ok(End::Shutdown),
                open = self.events.reserve().map(|r| r.is_ok()) => {
                    if !open {
                        return Ok(End::Shutdown);
                    }
                }
            }
            self.drain().await?;
        }
        Ok(End::Closed(output))
    }

    /// One in-order stream message other than output.
    async fn deliver(&mut self, message: Message) -> Result<(), ChannelError> {
        match message.payload_type {
            // Output goes through `gather_output`.
            PayloadType::HandshakeRequest => self.on_handshake_request(&message.payload).await?,
            PayloadType::HandshakeComplete => {
                let complete: HandshakeCompletePayload =
                    serde_json::from_slice(&message.payload).unwrap_or_default();
                self.ready = true;
                let customer_message = Some(complete.customer_message).filter(|m| !m.is_empty());
                self.emit(Ok(Event::HandshakeComplete { customer_message }))
                    .await?;
            }
            PayloadType::EncChallengeRequest => self.on_challenge(&message.payload).await?,
            PayloadType::Flag if self.config.kind == SessionKind::Port => {
                if let Some(bytes) = message.payload.get(..4) {
                    let mut flag = [0u8; 4];
                    flag.copy_from_slice(bytes);
                    let _ = self
                        .signals
                        .try_send(PortSignal::Flag(u32::from_be_bytes(flag)));
                }
            }
            // ExitCode (never sent for ECS Exec), flags, and anything new.
            _ => {}
        }
        Ok(())
    }

    /// The payload of an output message, decrypted in KMS mode.
    fn open_payload(&self, message: Message) -> Result<Vec<u8>, ChannelError> {
        match &self.cipher {
            None => Ok(message.payload),
            Some(cipher) => cipher
                .decrypt(&message.payload)
                .map_err(|e| ChannelError::Kms {
                    message: format!(
                        "cannot decrypt output message {}: {e}",
                        message.sequence_number
                    ),
                }),
        }
    }

    async fn emit(&mut self, event: Result<Event, ChannelError>) -> Result<(), ChannelError> {
        match self.events.try_send(event) {
            Ok(()) => Ok(()),
            // Unreachable while this task is the only sender and checks
            // capacity first; wait rather than lose the event.
            Err(TrySendError::Full(event)) => self
                .events
                .send(event)
                .await
                .map_err(|_| ChannelError::Closed),
            Err(TrySendError::Closed(_)) => Err(ChannelError::Closed),
        }
    }

    /// PayloadType 5: answer every action (6), then fail if one could not be done.
    async fn on_handshake_request(&mut self, payload: &[u8]) -> Result<(), ChannelError> {
        self.handshake_started = true;
        self.ready = false;
        let request: HandshakeRequestPayload = serde_json::from_slice(payload)
            .map_err(|e| ChannelError::Protocol(format!("unreadable HandshakeRequest: {e}")))?;

        let mut processed = Vec::new();
        let mut errors = Vec::new();
        let mut failure = None;
        for action in request.requested_client_actions {
            let action_type = action.action_type;
            let (status, result, error) = match action_type.as_str() {
                ACTION_SESSION_TYPE => {
                    let (session_type, properties) =
                        serde_json::from_value::<SessionTypeRequest>(action.action_parameters)
                            .map(|r| (r.session_type, r.properties))
                            .unwrap_or_default();
                    let wanted = match self.config.kind {
                        SessionKind::Exec => STREAM_SESSION_TYPES.contains(&session_type.as_str()),
                        SessionKind::Port => session_type == PORT_SESSION_TYPE,
                    };
                    if wanted && self.config.kind == SessionKind::Port {
                        let _ = self.signals.try_send(PortSignal::Handshake {
                            agent_version: request.agent_version.clone(),
                            properties,
                        });
                    }
                    if wanted {
                        (
                            ACTION_STATUS_SUCCESS,
                            serde_json::Value::Null,
                            String::new(),
                        )
                    } else {
                        let message = format!(
                            "the agent asked for session type {session_type:?}, which ecsx cannot do"
                        );
                        failure.get_or_insert(ChannelError::Handshake {
                            action: action_type.clone(),
                            message: message.clone(),
                        });
                        (ACTION_STATUS_FAILED, serde_json::Value::Null, message)
                    }
                }
                // Port sessions are never encrypted (the agent's
                // isEncryptionEnabled): a request for it is not ours to do.
                ACTION_KMS_ENCRYPTION if self.config.kind == SessionKind::Port => {
                    let message =
                        "KMS encryption of a port session, which the agent never asks for"
                            .to_owned();
                    failure.get_or_insert(ChannelError::Handshake {
                        action: action_type.clone(),
                        message: message.clone(),
                    });
                    (ACTION_STATUS_UNSUPPORTED, serde_json::Value::Null, message)
                }
                ACTION_KMS_ENCRYPTION => match self.setup_kms(action.action_parameters).await {
                    Ok(blob) => {
                        let response = KmsEncryptionResponse {
                            kms_cipher_text_key: blob,
                            kms_cipher_text_hash: None,
                        };
                        let value = serde_json::to_value(&response).unwrap_or_default();
                        (ACTION_STATUS_SUCCESS, value, String::new())
                    }
                    Err(message) => {
                        failure.get_or_insert(ChannelError::Kms {
                            message: message.clone(),
                        });
                        let text =
                            format!("Failed to process action {ACTION_KMS_ENCRYPTION}: {message}");
                        (ACTION_STATUS_FAILED, serde_json::Value::Null, text)
                    }
                },
                other => {
                    failure.get_or_insert(ChannelError::Handshake {
                        action: other.to_owned(),
                        message: format!("the agent asked for {other}, which ecsx cannot do"),
                    });
                    let text = format!("Unsupported action {other}");
                    (ACTION_STATUS_UNSUPPORTED, serde_json::Value::Null, text)
                }
            };
            if !error.is_empty() {
                errors.push(error.clone());
            }
            processed.push(ProcessedClientAction {
                action_type,
                action_status: status,
                action_result: result,
                error,
            });
        }
        let response = HandshakeResponsePayload {
            client_version: self.config.client_version.clone(),
            processed_client_actions: processed,
            errors: (!errors.is_empty()).then_some(errors),
        };
        self.send_stream(PayloadType::HandshakeResponse, &to_json(&response))
            .await;
        match failure {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// GenerateDataKey for the KMSEncryption action; installs the cipher and
    /// returns the CiphertextBlob.
    async fn setup_kms(&mut self, parameters: serde_json::Value) -> Result<Vec<u8>, String> {
        let request: KmsEncryptionRequest = serde_json::from_value(parameters)
            .map_err(|e| format!("unreadable KMSEncryption parameters: {e}"))?;
        let context = HashMap::from([
            ("aws:ssm:SessionId".to_owned(), self.info.session_id.clone()),
            ("aws:ssm:TargetId".to_owned(), self.info.target.clone()),
        ]);
        let key = tokio::time::timeout(
            AWS_CALL_TIMEOUT,
            self.backend.generate_data_key(&request.kms_key_id, context),
        )
        .await
        .map_err(|_| "GenerateDataKey timed out".to_owned())?
        .map_err(|e| format!("GenerateDataKey on {}: {e}", request.kms_key_id))?;
        let cipher = SessionCipher::from_data_key(&key.plaintext).map_err(|e| e.to_string())?;
        self.cipher = Some(cipher);
        Ok(key.ciphertext_blob)
    }

    /// PayloadType 8: decrypt with the agent's key, re-encrypt with ours, answer 9.
    async fn on_challenge(&mut self, payload: &[u8]) -> Result<(), ChannelError> {
        let Some(cipher) = &self.cipher else {
            return Err(ChannelError::Protocol(
                "encryption challenge before KMS encryption was agreed".to_owned(),
            ));
        };
        let request: EncryptionChallengeRequest = serde_json::from_slice(payload)
            .map_err(|e| ChannelError::Protocol(format!("unreadable EncChallengeRequest: {e}")))?;
        let kms_error = |e: super::CryptoError| ChannelError::Kms {
            message: format!("encryption challenge: {e}"),
        };
        let plain = cipher.decrypt(&request.challenge).map_err(kms_error)?;
        let challenge = cipher.encrypt(&plain).map_err(kms_error)?;
        let response = EncryptionChallengeResponse { challenge };
        self.send_stream(PayloadType::EncChallengeResponse, &to_json(&response))
            .await;
        Ok(())
    }

    /// Input or a size from the caller.
    async fn send_command(&mut self, command: Command) -> Result<(), ChannelError> {
        match command {
            Command::Input(bytes) => {
                // Sent by `send_input_rest`, a message per KiB, as the
                // window allows.
                self.input_rest = bytes;
                self.input_sent = 0;
            }
            Command::Size { cols, rows } => {
                let size = SizeData {
                    cols: cols.into(),
                    rows: rows.into(),
                };
                self.send_stream(PayloadType::Size, &to_json(&size)).await;
            }
            Command::Flag(flag) => {
                self.send_stream(PayloadType::Flag, &flag_payload(flag))
                    .await;
            }
        }
        Ok(())
    }

    /// Sends what is left of the input taken off the queue, a message of at
    /// most 1 KiB each, while the window has room and publication runs.
    async fn send_input_rest(&mut self, window: usize) -> Result<(), ChannelError> {
        while self.input_waiting()
            && !self.paused
            && self.broken.is_none()
            && self.out.in_flight() < window
        {
            // As many messages as the window takes, hashed two at a time.
            let room = window - self.out.in_flight();
            let rest = &self.input_rest[self.input_sent..];
            let chunks: Vec<&[u8]> = rest.chunks(MAX_PAYLOAD_CHUNK).take(room).collect();
            let taken: usize = chunks.iter().map(|c| c.len()).sum();
            let sealed: Vec<Vec<u8>>;
            let payloads: Vec<&[u8]> = match &self.cipher {
                None => chunks,
                Some(cipher) => {
                    sealed = chunks
                        .iter()
                        .map(|c| cipher.encrypt(c))
                        .collect::<Result<_, _>>()
                        .map_err(|e| ChannelError::Kms {
                            message: format!("cannot encrypt input: {e}"),
                        })?;
                    sealed.iter().map(Vec::as_slice).collect()
                }
            };
            let digests = sha::digests(&payloads);
            // One clock read each for the batch.
            let created = created_now();
            let now = Instant::now();
            let seqs: Vec<i64> = payloads.iter().map(|_| self.out.allocate_seq()).collect();
            let mut frames = FrameBuf::with_capacity(payloads.len(), taken);
            for ((payload, digest), &seq) in payloads.iter().zip(&digests).zip(&seqs) {
                frames.push(
                    INPUT_STREAM_DATA,
                    seq,
                    0,
                    PayloadType::Output,
                    payload,
                    digest,
                    created,
                );
            }
            self.input_sent += taken;
            for (seq, frame) in seqs.into_iter().zip(frames.finish()) {
                self.send_frame_seq(seq, frame, now).await;
            }
        }
        if !self.input_waiting() && !self.input_rest.is_empty() {
            self.input_rest.clear();
            self.input_sent = 0;
        }
        Ok(())
    }

    /// Input taken off the queue is not all sent yet.
    fn input_waiting(&self) -> bool {
        self.input_sent < self.input_rest.len()
    }

    /// Sequences one `input_stream_data`, records it as unacknowledged, and
    /// sends it unless publication is paused.
    async fn send_stream(&mut self, payload_type: PayloadType, payload: &[u8]) {
        let seq = self.out.allocate_seq();
        let frame = Bytes::from(encode_new(INPUT_STREAM_DATA, seq, 0, payload_type, payload));
        self.send_frame_seq(seq, frame, Instant::now()).await;
    }

    /// Records a sequenced frame as unacknowledged and sends it (as sent at
    /// `now`) unless publication is paused.
    async fn send_frame_seq(&mut self, seq: i64, frame: Bytes, now: Instant) {
        if self.paused {
            self.out.push(seq, frame, None);
        } else {
            self.out.push(seq, frame.clone(), Some(now));
            self.write(WsMessage::Binary(frame)).await;
        }
    }

    /// Sends every message queued during a pause.
    async fn send_queued(&mut self) {
        let now = Instant::now();
        let frames: Vec<Bytes> = self
            .out
            .pending_mut()
            .filter(|p| p.last_sent.is_none())
            .map(|p| {
                p.last_sent = Some(now);
                p.frame.clone()
            })
            .collect();
        for frame in frames {
            self.write(WsMessage::Binary(frame)).await;
        }
    }

    /// The 100 ms check of the oldest unacknowledged message.
    async fn resend_due(&mut self) -> Result<(), ChannelError> {
        if self.paused || self.broken.is_some() {
            return Ok(());
        }
        match self
            .out
            .check_resend(Instant::now(), self.config.max_resends)
        {
            Resend::Nothing => {}
            Resend::GiveUp => return Err(ChannelError::TooManyResends),
            Resend::Oldest => {
                if let Some(frame) = self.out.oldest_frame() {
                    self.write(WsMessage::Binary(frame)).await;
                }
            }
        }
        Ok(())
    }

    /// Queues one frame on the socket (written out by [`Engine::flush`] at
    /// the top of the loop, or earlier when the buffer fills); a failure
    /// marks the link broken.
    async fn write(&mut self, message: WsMessage) {
        if self.broken.is_some() {
            return;
        }
        match self.ws.feed(message).await {
            Ok(()) => self.unflushed = true,
            Err(e) => self.broken = Some(format!("write failed: {e}")),
        }
    }

    /// Queues the acknowledgements gathered so far (see [`Engine::on_stream`]).
    async fn write_acks(&mut self) {
        if self.acks.is_empty() {
            return;
        }
        for frame in self.acks.take_frames() {
            self.write(WsMessage::Binary(frame)).await;
        }
    }

    /// Writes out what [`Engine::write`] queued, acknowledgements first.
    async fn flush(&mut self) {
        self.write_acks().await;
        if !self.unflushed || self.broken.is_some() {
            return;
        }
        self.unflushed = false;
        if let Err(e) = self.ws.flush().await {
            self.broken = Some(format!("write failed: {e}"));
        }
    }

    /// ResumeSession for a fresh token, re-dial, resend the opening frame
    /// and everything unacknowledged; bounded attempts with backoff.
    async fn reconnect(&mut self, reason: String) -> Result<Option<End>, ChannelError> {
        let mut delay = self.config.reconnect_backoff + jitter(self.config.reconnect_backoff);
        let mut last = reason;
        while self.failed_reconnects < self.config.reconnect_attempts {
            self.failed_reconnects += 1;
            tokio::select! {
                _ = &mut self.shutdown => return Ok(Some(End::Shutdown)),
                _ = sleep(delay) => {}
            }
            delay = (delay * 2).min(MAX_RECONNECT_BACKOFF);

            let resumed = tokio::time::timeout(
                AWS_CALL_TIMEOUT,
                self.backend.resume_session(&self.info.session_id),
            )
            .await;
            let token = match resumed {
                Ok(Ok(Some(token))) => token,
                Ok(Ok(None)) => {
                    return Err(ChannelError::Resume {
                        message: "the session has ended (ResumeSession returned no token)"
                            .to_owned(),
                    })
                }
                Ok(Err(e)) => {
                    last = format!("ResumeSession failed: {e}");
                    continue;
                }
                Err(_) => {
                    last = "ResumeSession timed out".to_owned();
                    continue;
                }
            };
            let dialed = dial::dial(
                &self.info.stream_url,
                &token,
                &self.config.sdk,
                self.config.client_id,
                &self.config.client_version,
                self.config.connect_timeout,
            )
            .await;
            match dialed {
                Ok(ws) => {
                    self.info.token_value = token;
                    self.ws = ws;
                    self.unflushed = false;
                    self.paused = false;
                    self.resend_all().await;
                    return Ok(None);
                }
                Err(e) => last = e.to_string(),
            }
        }
        Err(ChannelError::Resume {
            message: format!(
                "{} attempts failed; last: {last}",
                self.config.reconnect_attempts
            ),
        })
    }

    /// After a reconnect: every unacknowledged message again, in order.
    async fn resend_all(&mut self) {
        let now = Instant::now();
        let frames: Vec<Bytes> = self
            .out
            .pending_mut()
            .map(|p| {
                p.last_sent = Some(now);
                p.frame.clone()
            })
            .collect();
        for frame in frames {
            self.write(WsMessage::Binary(frame)).await;
        }
    }
}

/// One read of the socket, as the stream gives it.
type WsFrame = Option<Result<WsMessage, tokio_tungstenite::tungstenite::Error>>;

/// Adds a frame to the batch; whether reading may go on after it (not after
/// a close, an error or the end).
fn add_frame(batch: &mut FrameBatch<WsFrame>, frame: WsFrame) -> bool {
    let more = matches!(&frame, Some(Ok(message)) if !matches!(message, WsMessage::Close(_)));
    match frame {
        Some(Ok(WsMessage::Binary(bytes))) => batch.push_binary(&bytes),
        other => batch.push_other(other),
    }
    more
}

/// Output for the caller: PayloadType 1, or 11 if ever sent.
fn is_output(message: &Message) -> bool {
    matches!(
        message.payload_type,
        PayloadType::Output | PayloadType::StdErr
    )
}

/// Whether delivering `message` emits an event (and so needs room).
fn produces_event(message: &Message) -> bool {
    matches!(
        message.payload_type,
        PayloadType::Output | PayloadType::StdErr | PayloadType::HandshakeComplete
    )
}

/// JSON of a payload type whose serialization cannot fail.
fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

/// Up to `base` of extra delay, so many clients do not reconnect in step.
fn jitter(base: Duration) -> Duration {
    let byte = uuid::Uuid::new_v4().as_bytes()[0];
    base.mul_f64(f64::from(byte) / 255.0)
}
