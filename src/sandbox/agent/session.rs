//! One ECS Exec session on the agent's side: a runner task that owns the
//! process, the protocol state of both directions and the current WebSocket,
//! for as long as the session lives. Sockets come and go (a drop, then
//! ResumeSession and a re-dial attach a new one); sequence numbers, the
//! unacknowledged output and the input expected next stay.
//!
//! What it speaks (docs/protocol.md in the shared docs, and the SSM agent):
//! output_stream_data from 0 (SYN on 0) in chunks of at most 1024 bytes, at
//! most [`WINDOW`] unacknowledged (the pty is not read beyond that: that is
//! how a slow client slows the process); every input message acknowledged,
//! duplicates again, early ones buffered; the oldest unacknowledged output
//! resent after the retransmission timeout; `channel_closed` once the process
//! is gone and its output acknowledged (or 2 s of waiting), then close. With
//! a KMS key: HandshakeRequest, the client's HandshakeResponse, an encryption
//! challenge, HandshakeComplete, and only then the process.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use axum::body::Bytes;
use axum::extract::ws::{Message as WsMessage, WebSocket};
use futures::{FutureExt, SinkExt};
use serde_json::json;
use tokio::sync::mpsc;
use tokio::time::{interval, sleep_until, Instant, MissedTickBehavior};

use super::faults::{Faults, Rng};
use super::port::{self as port_side, PortGuard, PortIn, PortOut};
use super::pty::{self, Child, Master, Read};
use super::{Slot, Stop};
use crate::port::version;
use crate::protocol::codec::{created_now, Batched, FrameBatch, FrameBuf};
use crate::protocol::codec::{
    flag_payload, ACKNOWLEDGE, CHANNEL_CLOSED, FLAG_SYN, INPUT_STREAM_DATA, MAX_PAYLOAD_CHUNK,
    OUTPUT_STREAM_DATA, PAUSE_PUBLICATION, PAYLOAD_FLAG_DISCONNECT_TO_PORT,
    PAYLOAD_FLAG_TERMINATE_SESSION, START_PUBLICATION,
};
use crate::protocol::payloads::{
    ack_frame, read_ack, Acks, ChannelClosed, EncryptionChallengeRequest,
    EncryptionChallengeResponse, HandshakeCompletePayload, HandshakeRequestPayload,
    HandshakeResponsePayload, KmsEncryptionResponse, RequestedClientAction, SizeData,
    ACTION_KMS_ENCRYPTION, ACTION_SESSION_TYPE, ACTION_STATUS_SUCCESS,
};
use crate::protocol::sha;
use crate::protocol::{encode, Message, PayloadType};
use crate::sandbox::kms::{self, Secret};
use crate::sandbox::world::AgentPacing;

/// Most unacknowledged output messages (well inside the client's reorder bound).
pub(crate) const WINDOW: usize = 512;
/// Most input messages held ahead of the one expected.
const AHEAD_BOUND: usize = 1024;
/// Farthest ahead of the one expected an input message is held (a client's
/// window keeps its messages far closer; the official client's allows
/// 10,000 in flight).
const AHEAD_SPAN: usize = 16 * 1024;
/// Most input bytes waiting for the pty; beyond it input goes unacknowledged.
const INPUT_LIMIT: usize = 64 * 1024;
/// Client frames handled before what they made us send is flushed.
const RECV_BATCH: usize = 64;
/// Most bytes taken from the pty at once.
const READ_CHUNK: usize = 16 * 1024;
/// How often the oldest unacknowledged output is looked at.
const RESEND_TICK: Duration = Duration::from_millis(100);
/// How long output may wait for acknowledgement once the process is gone (the agent's 2 s).
const FLUSH_WAIT: Duration = Duration::from_secs(2);
/// How long the pty may stay open after the process exited (a child holding it).
const EXIT_GRACE: Duration = Duration::from_secs(1);
/// How long a session waits for a new socket after losing one.
const DETACH_LIMIT: Duration = Duration::from_secs(120);
/// How long the client may take to answer the handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);
/// The agent version the handshake reports.
const AGENT_VERSION: &str = "3.3.1802.0";
/// The terminal size until the client sends one.
const DEFAULT_SIZE: (u16, u16) = (80, 24);
/// Most items from a port session's destination side handled in one turn.
const PORT_OUT_BATCH: usize = 8;
/// The most one such item carries (a read of the destination, in an smux frame).
const PORT_READ_MAX: usize = 64 * 1024;
/// Most input bytes handed to a port session's destination side at once.
const PORT_WRITE_CHUNK: usize = 32 * 1024;
/// Paced like the real agent: its shell plugin waits this long before the
/// first read of an interactive session ...
const PACED_FIRST_READ: Duration = Duration::from_secs(1);
/// ... then sleeps this long after each read of at most 1 KiB.
const PACED_READ_GAP: Duration = Duration::from_millis(1);
/// Paced output read from the pty and not yet sent. The pty is read as
/// usual and what goes out is paced instead: a pty whose process exited
/// may lose unread output when its slave closes, which the real agent's
/// delayed first read does not suffer.
const PACED_BUFFER: usize = 64 * 1024;

/// Initial, floor and ceiling of the retransmission timeout (protocol.md §4).
const INITIAL_RTO: Duration = Duration::from_millis(200);
const INITIAL_SRTT: f64 = 0.1;
const MIN_RTTVAR_TERM: f64 = 0.010;
const MAX_RTO: f64 = 1.0;

/// The TCP-style round-trip estimator.
#[derive(Debug)]
struct Rtt {
    srtt: f64,
    rttvar: f64,
    rto: Duration,
}

impl Rtt {
    fn new() -> Rtt {
        Rtt {
            srtt: INITIAL_SRTT,
            rttvar: 0.0,
            rto: INITIAL_RTO,
        }
    }

    fn sample(&mut self, r: Duration) {
        let r = r.as_secs_f64();
        self.rttvar = 0.75 * self.rttvar + 0.25 * (self.srtt - r).abs();
        self.srtt = 0.875 * self.srtt + 0.125 * r;
        let rto = self.srtt + (4.0 * self.rttvar).max(MIN_RTTVAR_TERM);
        self.rto = Duration::from_secs_f64(rto.clamp(0.0, MAX_RTO));
    }
}

/// One output message kept until acknowledged.
#[derive(Debug)]
struct Pending {
    frame: Bytes,
    /// `None` while it has never gone out (no socket, or paused).
    last_sent: Option<Instant>,
    acked: bool,
}

/// The output stream: sequence numbers and the unacknowledged messages, in
/// order; an acknowledged message leaves once everything before it has.
#[derive(Debug)]
struct Outbox {
    next_seq: i64,
    /// Sequence number of `queue[0]`.
    base: i64,
    queue: VecDeque<Pending>,
    unacked: usize,
    rtt: Rtt,
}

impl Outbox {
    fn new() -> Outbox {
        Outbox {
            next_seq: 0,
            base: 0,
            queue: VecDeque::new(),
            unacked: 0,
            rtt: Rtt::new(),
        }
    }

    /// Messages held (the window counts these).
    fn held(&self) -> usize {
        self.queue.len()
    }

    fn all_acked(&self) -> bool {
        self.unacked == 0
    }

    /// Sequences and records one message; returns its frame.
    fn push(&mut self, payload_type: PayloadType, payload: &[u8], sent: Option<Instant>) -> Bytes {
        let frames = self.push_many(payload_type, &[payload], &[sha::one(payload)], sent);
        frames.into_iter().next().unwrap_or_default()
    }

    /// [`Outbox::push`] for many payloads at once, their SHA-256 computed
    /// already: one CreatedDate for all, the frames in one buffer.
    fn push_many(
        &mut self,
        payload_type: PayloadType,
        payloads: &[&[u8]],
        digests: &[[u8; 32]],
        sent: Option<Instant>,
    ) -> Vec<Bytes> {
        let created = created_now();
        let size = payloads.iter().map(|p| p.len()).sum();
        let mut frames = FrameBuf::with_capacity(payloads.len(), size);
        for (payload, digest) in payloads.iter().zip(digests) {
            let seq = self.next_seq;
            self.next_seq += 1;
            let flags = if seq == 0 { FLAG_SYN } else { 0 };
            frames.push(
                OUTPUT_STREAM_DATA,
                seq,
                flags,
                payload_type,
                payload,
                digest,
                created,
            );
        }
        let frames = frames.finish();
        for frame in &frames {
            self.queue.push_back(Pending {
                frame: frame.clone(),
                last_sent: sent,
                acked: false,
            });
            self.unacked += 1;
        }
        frames
    }

    fn ack(&mut self, seq: i64, now: Instant) {
        let Some(index) = seq
            .checked_sub(self.base)
            .and_then(|i| usize::try_from(i).ok())
        else {
            return;
        };
        let Some(p) = self.queue.get_mut(index) else {
            return;
        };
        if !p.acked {
            p.acked = true;
            self.unacked -= 1;
            if let Some(sent) = p.last_sent {
                self.rtt.sample(now.saturating_duration_since(sent));
            }
        }
        while self.queue.front().is_some_and(|p| p.acked) {
            self.queue.pop_front();
            self.base += 1;
        }
    }

    /// The oldest unacknowledged message, if it has waited past the timeout;
    /// marked sent now.
    fn due(&mut self, now: Instant) -> Option<Bytes> {
        let rto = self.rtt.rto;
        let p = self.queue.iter_mut().find(|p| !p.acked)?;
        let sent = p.last_sent?;
        if now.saturating_duration_since(sent) <= rto {
            return None;
        }
        p.last_sent = Some(now);
        Some(p.frame.clone())
    }

    /// Unacknowledged frames, oldest first, marked sent now: all of them, or
    /// only those that never went out.
    fn take_for_send(&mut self, now: Instant, only_unsent: bool) -> Vec<Bytes> {
        self.queue
            .iter_mut()
            .filter(|p| !p.acked && (!only_unsent || p.last_sent.is_none()))
            .map(|p| {
                p.last_sent = Some(now);
                p.frame.clone()
            })
            .collect()
    }
}

/// Input messages held at or ahead of the one expected, each with whether
/// it was acknowledged. Slot `i` is sequence number `expected + i`, so
/// in-order traffic through it is a push and a pop at the ends.
#[derive(Default)]
struct Held {
    slots: VecDeque<Option<(Message, bool)>>,
    /// Slots that are `Some`.
    count: usize,
}

impl Held {
    fn len(&self) -> usize {
        self.count
    }

    /// The message `offset` ahead of the expected one, if held.
    fn get(&self, offset: usize) -> Option<&(Message, bool)> {
        self.slots.get(offset)?.as_ref()
    }

    /// Holds a message `offset` ahead of the expected one, unless one is
    /// held there already.
    fn insert(&mut self, offset: usize, entry: (Message, bool)) {
        if self.slots.len() <= offset {
            self.slots.resize_with(offset + 1, || None);
        }
        if self.slots[offset].is_none() {
            self.slots[offset] = Some(entry);
            self.count += 1;
        }
    }

    /// Takes the expected message, if held (its slot stays, empty).
    fn take_expected(&mut self) -> Option<(Message, bool)> {
        let entry = self.slots.front_mut()?.take()?;
        self.count -= 1;
        Some(entry)
    }

    /// The expected sequence number moved on by one.
    fn advance(&mut self) {
        if let Some(Some(_)) = self.slots.pop_front() {
            self.count -= 1;
        }
    }
}

/// The agent's half of a KMS data key: bytes 0..32 encrypt output, 32..64
/// decrypt input (the client uses them the other way round).
struct AgentCipher {
    encrypt: LessSafeKey,
    decrypt: LessSafeKey,
}

impl AgentCipher {
    fn new(data_key: &[u8]) -> Option<AgentCipher> {
        if data_key.len() != 64 {
            return None;
        }
        let key = |b: &[u8]| UnboundKey::new(&AES_256_GCM, b).ok().map(LessSafeKey::new);
        Some(AgentCipher {
            encrypt: key(&data_key[..32])?,
            decrypt: key(&data_key[32..])?,
        })
    }

    /// nonce ‖ ciphertext ‖ tag.
    fn seal(&self, plain: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        kms::random_fill(&mut nonce);
        let mut body = plain.to_vec();
        if self
            .encrypt
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut body)
            .is_err()
        {
            body.clear();
        }
        let mut out = nonce.to_vec();
        out.extend_from_slice(&body);
        out
    }

    fn open(&self, wire: &[u8]) -> Option<Vec<u8>> {
        let (nonce, body) = wire.split_at_checked(NONCE_LEN)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut body = body.to_vec();
        let n = self
            .decrypt
            .open_in_place(nonce, Aad::empty(), &mut body)
            .ok()?
            .len();
        body.truncate(n);
        Some(body)
    }
}

enum Phase {
    /// Waiting for the client's HandshakeResponse, then its challenge answer.
    Handshake {
        started: Instant,
        deadline: Instant,
        /// The plaintext of the challenge sent, once sent.
        challenge: Option<Vec<u8>>,
    },
    /// The process runs (or could not start and the session is ending).
    Running,
    /// The process is gone: waiting for the output to be acknowledged.
    Closing {
        /// Counted only while a socket is attached.
        deadline: Instant,
    },
}

/// How the runner ended.
enum End {
    /// Normal end or TerminateSession: `channel_closed`, then close.
    Closed,
    /// StopTask: the socket drops without a word.
    Dropped,
    /// Shutdown or abandoned: nothing more to say.
    Silent,
}

pub(crate) struct Runner {
    slot: Arc<Slot>,
    secret: Secret,
    ws: Option<WebSocket>,
    detached_at: Option<Instant>,
    attach: mpsc::Receiver<WebSocket>,
    stop: mpsc::Receiver<Stop>,
    out: Outbox,
    expected: i64,
    /// Input held until the pty takes it, with whether it was acknowledged.
    ahead: Held,
    phase: Phase,
    cipher: Option<AgentCipher>,
    master: Option<Master>,
    child: Option<Child>,
    pid: i32,
    pty_eof: bool,
    exited_at: Option<Instant>,
    size: (u16, u16),
    input: VecDeque<u8>,
    delayed_acks: VecDeque<(Instant, Bytes)>,
    faults: Faults,
    paused_until: Option<Instant>,
    output_messages: u64,
    output_bytes: u64,
    /// Said in `channel_closed` before the goodbye (why the session failed).
    note: Option<String>,
    /// A port session's destination side (after its handshake).
    port_in: Option<mpsc::Sender<PortIn>>,
    port_out: Option<mpsc::Receiver<PortOut>>,
    port_guard: Option<PortGuard>,
    /// The client sent flag 2 (TerminateSession).
    terminate_requested: bool,
    /// Why the main loop ended, for `--debug`.
    end_reason: &'static str,
    /// While the main loop runs, what is sent waits in the socket's buffer
    /// and goes out with one flush per turn (the acks of a fast upload would
    /// otherwise cost a system call each).
    hold_flush: bool,
    unflushed: bool,
    /// Acknowledgements to send (payloads), made into frames together.
    acks: Acks,
    /// `agent_pacing: real`: nothing more goes out before this instant ...
    next_read_at: Option<Instant>,
    /// ... and this is what waits to go out.
    paced: VecDeque<u8>,
    /// When paced: the slot of the last piece sent (see `next_paced_slot`).
    paced_slot: Option<Instant>,
}

impl Runner {
    pub(crate) fn new(
        slot: Arc<Slot>,
        secret: Secret,
        ws: WebSocket,
        attach: mpsc::Receiver<WebSocket>,
        stop: mpsc::Receiver<Stop>,
    ) -> Runner {
        let faults = Faults::new(
            slot.spec.knobs.clone(),
            Rng::for_session(slot.spec.seed, slot.spec.ordinal),
        );
        Runner {
            slot,
            secret,
            ws: Some(ws),
            detached_at: None,
            attach,
            stop,
            out: Outbox::new(),
            expected: 0,
            ahead: Held::default(),
            phase: Phase::Running,
            cipher: None,
            master: None,
            child: None,
            pid: 0,
            pty_eof: false,
            exited_at: None,
            size: DEFAULT_SIZE,
            input: VecDeque::new(),
            delayed_acks: VecDeque::new(),
            faults,
            paused_until: None,
            output_messages: 0,
            output_bytes: 0,
            note: None,
            port_in: None,
            port_out: None,
            port_guard: None,
            terminate_requested: false,
            end_reason: "",
            hold_flush: false,
            unflushed: false,
            acks: Acks::default(),
            next_read_at: None,
            paced_slot: None,
            paced: VecDeque::new(),
        }
    }

    fn paced(&self) -> bool {
        self.slot.spec.knobs.agent_pacing == AgentPacing::Real
    }

    /// Something takes the client's bytes (a pty or a port session).
    fn sink_open(&self) -> bool {
        (self.master.is_some() || self.port_in.is_some()) && !self.pty_eof
    }

    pub(crate) async fn run(mut self) {
        if self.slot.spec.port.is_some() {
            self.start_port_handshake().await;
        } else {
            match self.slot.spec.kms_key_arn.clone() {
                Some(key_arn) => self.start_handshake(&key_arn).await,
                None => self.start_process().await,
            }
        }
        let end = self.main_loop().await;
        crate::debug!(
            "sandbox: session {} ends ({}): {} output messages, {} bytes; process exited: {}, pty closed: {}",
            self.slot.id,
            self.end_reason,
            self.output_messages,
            self.output_bytes,
            self.exited_at.is_some(),
            self.pty_eof
        );
        if let Some(mut child) = self.child.take() {
            // The leader is unreaped (at most a zombie), so the group id is
            // still its own: its stragglers go too, and nobody else's.
            pty::kill_group(self.pid, libc::SIGKILL);
            let _ = child.start_kill();
            let _ = tokio::time::timeout(Duration::from_secs(2), child.wait()).await;
        }
        self.master = None;
        self.drop_port();
        match end {
            End::Closed => self.say_goodbye().await,
            End::Dropped | End::Silent => self.ws = None,
        }
        self.slot.mark_ended();
    }

    /// Runs the session; everything sent while it runs is flushed once per
    /// turn of the loop, before it waits again.
    async fn main_loop(&mut self) -> End {
        self.hold_flush = true;
        let end = self.turns().await;
        self.hold_flush = false;
        self.flush_held().await;
        end
    }

    async fn turns(&mut self) -> End {
        let mut resend = interval(RESEND_TICK);
        resend.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut buf = vec![0u8; READ_CHUNK];
        loop {
            self.flush_held().await;
            if let Some(end) = self.advance() {
                return end;
            }
            let now = Instant::now();
            if self.next_read_at.is_some_and(|t| t <= now) {
                self.next_read_at = None;
            }
            let paused = self.paused_until.is_some();
            let may_send =
                matches!(self.phase, Phase::Running) && !paused && self.out.held() < WINDOW;
            let may_read = !self.pty_eof && may_send;
            let paced = self.paced() && self.master.is_some();
            let can_read = if paced {
                // Paced: buffered here, sent below.
                !self.pty_eof
                    && matches!(self.phase, Phase::Running)
                    && self.paced.len() < PACED_BUFFER
            } else {
                may_read && self.master.is_some()
            };
            let can_send_paced =
                paced && may_send && self.next_read_at.is_none() && !self.paced.is_empty();
            let can_read_port = may_read && self.port_out.is_some();
            let room = (WINDOW - self.out.held().min(WINDOW)) * MAX_PAYLOAD_CHUNK;
            let read_len = if paced {
                (PACED_BUFFER - self.paced.len().min(PACED_BUFFER - 1)).min(READ_CHUNK)
            } else {
                room.clamp(1, READ_CHUNK)
            };
            let can_write = self.master.is_some() && !self.pty_eof && !self.input.is_empty();
            let can_write_port = self.port_in.is_some() && !self.pty_eof && !self.input.is_empty();
            let deadline = self.next_deadline();
            tokio::select! {
                stop = self.stop.recv() => {
                    let (end, why) = match stop {
                        Some(Stop::Terminate) => (End::Closed, "TerminateSession"),
                        Some(Stop::TaskStopped) => (End::Dropped, "task stopped"),
                        Some(Stop::Shutdown) | None => (End::Silent, "shutdown"),
                    };
                    self.end_reason = why;
                    return end;
                }
                Some(ws) = self.attach.recv() => self.on_attach(ws).await,
                frame = recv(&mut self.ws), if self.ws.is_some() => {
                    // This frame and those already arrived behind it; what
                    // they make us send is flushed once, at the loop's top.
                    // Each decoded as it is read, so that its bytes are let
                    // go before the next read (the socket's buffer is then
                    // reused and read in large pieces).
                    let mut batch = FrameBatch::default();
                    let mut more = add_frame(&mut batch, frame);
                    while more && batch.len() < RECV_BATCH {
                        match self.ws.as_mut().and_then(|ws| ws.recv().now_or_never()) {
                            Some(next) => more = add_frame(&mut batch, next),
                            None => break,
                        }
                    }
                    self.on_frames(batch).await;
                }
                read = read_pty(self.master.as_ref(), &mut buf[..read_len]), if can_read => match read {
                    Ok(Read::Data(n)) if paced => self.paced.extend(&buf[..n]),
                    Ok(Read::Data(n)) => {
                        let data = buf[..n].to_vec();
                        self.emit_output(&data).await;
                    }
                    Ok(Read::Closed) | Err(_) => self.pty_eof = true,
                },
                _ = std::future::ready(()), if can_send_paced => {
                    let n = self.paced.len().min(MAX_PAYLOAD_CHUNK);
                    let data = take_front(&mut self.paced, n);
                    let slot = super::next_paced_slot(self.paced_slot, Instant::now(), PACED_READ_GAP);
                    self.paced_slot = Some(slot);
                    self.next_read_at = Some(slot);
                    self.emit_output(&data).await;
                }
                item = recv_port(self.port_out.as_mut()), if can_read_port => {
                    // This item and those already queued behind it, while the
                    // window has room: one flush then carries them all.
                    let mut item = Some(item);
                    let mut taken = 0;
                    while let Some(next) = item.take() {
                        match next {
                            Some(PortOut::Data(data)) => self.emit_output(&data).await,
                            Some(PortOut::Flag(flag)) => {
                                self.send_stream(PayloadType::Flag, flag_payload(flag)).await;
                            }
                            Some(PortOut::Failed(reason)) => self.fail(reason),
                            None => self.pty_eof = true,
                        }
                        taken += 1;
                        let room = WINDOW.saturating_sub(self.out.held()) * MAX_PAYLOAD_CHUNK;
                        if taken < PORT_OUT_BATCH
                            && room >= PORT_READ_MAX
                            && matches!(self.phase, Phase::Running)
                            && self.paused_until.is_none()
                            && self.ws.is_some()
                        {
                            item = self.port_out.as_mut().and_then(|rx| rx.try_recv().ok().map(Some));
                        }
                    }
                }
                permit = reserve_port(self.port_in.clone()), if can_write_port => match permit {
                    Ok(permit) => {
                        let n = self.input.len().min(PORT_WRITE_CHUNK);
                        let bytes = take_front(&mut self.input, n);
                        permit.send(PortIn::Data(bytes));
                        self.drain_ahead().await;
                    }
                    Err(_) => {
                        self.input.clear();
                        self.pty_eof = true;
                    }
                },
                written = write_pty(self.master.as_ref(), self.input.as_slices().0), if can_write => match written {
                    Ok(Some(n)) => {
                        self.input.drain(..n);
                        self.drain_ahead().await;
                    }
                    Ok(None) | Err(_) => self.input.clear(),
                },
                _ = child_exited(&mut self.child), if self.child.is_some() && self.exited_at.is_none() => {
                    // The leader is gone (reaped at the end); the group may
                    // live on (children holding the pty).
                    self.exited_at = Some(Instant::now());
                }
                _ = resend.tick() => self.resend_due().await,
                _ = sleep_until(deadline.unwrap_or(now)), if deadline.is_some() => self.on_timers().await,
            }
        }
    }

    /// The earliest timer: a delayed ack, the end of a pause, the handshake
    /// or closing deadline, the exit grace, the detach limit.
    fn next_deadline(&self) -> Option<Instant> {
        let mut t: Option<Instant> = None;
        let mut consider = |x: Option<Instant>| {
            if let Some(x) = x {
                t = Some(t.map_or(x, |t| t.min(x)));
            }
        };
        consider(self.delayed_acks.front().map(|(due, _)| *due));
        consider(self.paused_until);
        match &self.phase {
            Phase::Handshake { deadline, .. } => consider(Some(*deadline)),
            Phase::Closing { deadline } if self.ws.is_some() => consider(Some(*deadline)),
            _ => {}
        }
        if matches!(self.phase, Phase::Running) && !self.pty_eof {
            consider(self.exited_at.map(|t| t + EXIT_GRACE));
        }
        if matches!(self.phase, Phase::Running) && !self.paced.is_empty() {
            consider(self.next_read_at);
        }
        if self.ws.is_none() {
            consider(self.detached_at.map(|t| t + DETACH_LIMIT));
        }
        t
    }

    /// State changes that depend on time or on what happened: the process
    /// gone starts closing; closing ends once output is acknowledged.
    fn advance(&mut self) -> Option<End> {
        let now = Instant::now();
        if self.ws.is_none() && self.detached_at.is_some_and(|t| now >= t + DETACH_LIMIT) {
            self.end_reason = "no socket within the detach limit";
            return Some(End::Silent);
        }
        if self.terminate_requested {
            self.end_reason = "the client's TerminateSession flag";
            return Some(End::Closed);
        }
        match &self.phase {
            Phase::Handshake { deadline, .. } if now >= *deadline => {
                self.fail("Handshake timed out. Please ensure that you have the latest version of the session manager plugin.".to_string());
            }
            Phase::Running => {
                let exited_long_ago = self.exited_at.is_some_and(|t| now >= t + EXIT_GRACE);
                // Paced output still to send keeps the session running.
                if (!self.sink_open() || exited_long_ago) && self.paced.is_empty() {
                    self.phase = Phase::Closing {
                        deadline: now + FLUSH_WAIT,
                    };
                    self.end_reason = if exited_long_ago && self.sink_open() {
                        "process exited, pty still open after the grace"
                    } else {
                        "pty closed"
                    };
                    // Everything may be acknowledged already: close now,
                    // not at the next timer.
                    if self.out.all_acked() {
                        return Some(End::Closed);
                    }
                }
            }
            Phase::Closing { deadline } => {
                if self.out.all_acked() {
                    return Some(End::Closed);
                }
                if self.ws.is_some() && now >= *deadline {
                    self.end_reason = "output unacknowledged at the closing deadline";
                    return Some(End::Closed);
                }
            }
            Phase::Handshake { .. } => {}
        }
        None
    }

    async fn on_timers(&mut self) {
        let now = Instant::now();
        let mut due = Vec::new();
        while self.delayed_acks.front().is_some_and(|(t, _)| *t <= now) {
            if let Some((_, frame)) = self.delayed_acks.pop_front() {
                due.push(frame);
            }
        }
        self.send(due).await;
        if self.paused_until.is_some_and(|t| t <= now) {
            self.paused_until = None;
            let start = control_message(START_PUBLICATION);
            let mut frames = vec![start];
            frames.extend(self.out.take_for_send(now, true));
            self.send(frames).await;
        }
    }

    async fn on_attach(&mut self, ws: WebSocket) {
        // A newer connection replaces an older one.
        self.ws = Some(ws);
        self.detached_at = None;
        let now = Instant::now();
        if let Phase::Closing { deadline } = &mut self.phase {
            *deadline = now + FLUSH_WAIT;
        }
        // Acks held for the old socket would only confuse; the client resends.
        self.delayed_acks.clear();
        self.acks.clear();
        let frames = self.out.take_for_send(now, false);
        self.send(frames).await;
    }

    fn detach(&mut self) {
        self.ws = None;
        self.detached_at = Some(Instant::now());
        self.delayed_acks.clear();
        self.acks.clear();
    }

    /// Writes frames and flushes once; a failure detaches.
    async fn send(&mut self, frames: Vec<Bytes>) {
        if frames.is_empty() {
            return;
        }
        let Some(ws) = self.ws.as_mut() else {
            return;
        };
        let mut result = Ok(());
        for frame in frames {
            result = ws.feed(WsMessage::Binary(frame)).await;
            if result.is_err() {
                break;
            }
        }
        if result.is_ok() && self.hold_flush {
            self.unflushed = true;
            return;
        }
        if result.is_ok() {
            result = ws.flush().await;
        }
        if result.is_err() {
            self.detach();
        }
    }

    /// Flushes what [`Runner::send`] left in the socket's buffer.
    async fn flush_held(&mut self) {
        if !self.acks.is_empty() {
            let frames = self.acks.take_frames();
            self.send(frames).await;
        }
        if !std::mem::take(&mut self.unflushed) {
            return;
        }
        if let Some(ws) = self.ws.as_mut() {
            if ws.flush().await.is_err() {
                self.detach();
            }
        }
    }

    /// A stream message of ours that is not output (handshake payloads).
    async fn send_stream(&mut self, payload_type: PayloadType, payload: Vec<u8>) {
        let sendable = self.ws.is_some() && self.paused_until.is_none();
        let now = Instant::now();
        let frame = self
            .out
            .push(payload_type, &payload, sendable.then_some(now));
        if sendable {
            self.send(vec![frame]).await;
        }
    }

    /// Output read from the pty: chunked, sequenced, encrypted in KMS mode,
    /// sent with the output faults; then maybe a pause or a dropped socket.
    async fn emit_output(&mut self, data: &[u8]) {
        let sendable = self.ws.is_some() && self.paused_until.is_none();
        let now = Instant::now();
        let mut wire = Vec::new();
        let mut held: Option<Bytes> = None;
        let sealed: Vec<Vec<u8>>;
        let payloads: Vec<&[u8]> = match &self.cipher {
            Some(cipher) => {
                sealed = data
                    .chunks(MAX_PAYLOAD_CHUNK)
                    .map(|c| cipher.seal(c))
                    .collect();
                sealed.iter().map(Vec::as_slice).collect()
            }
            None => data.chunks(MAX_PAYLOAD_CHUNK).collect(),
        };
        // Hashed two at a time (the digests are a third of the work).
        let digests = sha::digests(&payloads);
        let frames = self.out.push_many(
            PayloadType::Output,
            &payloads,
            &digests,
            sendable.then_some(now),
        );
        let plain = data.chunks(MAX_PAYLOAD_CHUNK).map(<[u8]>::len);
        for (frame, plain) in frames.into_iter().zip(plain) {
            self.output_messages += 1;
            self.output_bytes += plain as u64;
            if !sendable {
                continue;
            }
            if held.is_none() && self.faults.reorder() {
                held = Some(frame);
                continue;
            }
            if self.faults.duplicate() {
                wire.push(frame.clone());
            }
            wire.push(frame);
            if let Some(h) = held.take() {
                wire.push(h);
            }
        }
        if let Some(h) = held.take() {
            wire.push(h);
        }
        self.send(wire).await;
        if self.ws.is_some() && self.faults.drop_due(self.output_bytes) {
            // Gone without a close frame, as a broken network would do it.
            self.detach();
            return;
        }
        if let Some(pause) = self.faults.pause_due(self.output_messages) {
            if self.ws.is_some() {
                self.send(vec![control_message(PAUSE_PUBLICATION)]).await;
                self.paused_until = Some(Instant::now() + pause);
            }
        }
    }

    async fn resend_due(&mut self) {
        if self.ws.is_none() || self.paused_until.is_some() {
            return;
        }
        if let Some(frame) = self.out.due(Instant::now()) {
            self.send(vec![frame]).await;
        }
    }

    /// Frames read together: the binary ones decoded at once (digests
    /// computed two at a time), then each handled in order; nothing after a
    /// TerminateSession flag.
    async fn on_frames(&mut self, batch: FrameBatch<WsFrame>) {
        for frame in batch.finish() {
            if self.terminate_requested {
                break;
            }
            match frame {
                Batched::Message(Ok(message)) => self.on_message(message).await,
                Batched::Message(Err(_)) => {}
                Batched::Other(Some(Ok(WsMessage::Close(_))) | Some(Err(_)) | None) => {
                    self.detach()
                }
                Batched::Other(Some(Ok(_))) => {}
            }
        }
    }

    async fn on_message(&mut self, message: Message) {
        match &*message.message_type {
            INPUT_STREAM_DATA => self.on_input(message).await,
            ACKNOWLEDGE => {
                if let Some((ty, seq)) = read_ack(&message.payload) {
                    if ty == OUTPUT_STREAM_DATA {
                        self.out.ack(seq, Instant::now());
                    }
                }
            }
            _ => {}
        }
    }

    /// Sequencing of input (protocol.md §4).
    /// Input flow control, as TCP's: a message is acknowledged once the pty
    /// side has room for it. While the pty is backed up, arriving messages are
    /// kept unacknowledged (the client's window bounds how many) and are
    /// acknowledged as the pty drains, so the client's window slides at the
    /// pace the process reads instead of waiting on retransmissions.
    async fn on_input(&mut self, message: Message) {
        let seq = message.sequence_number;
        if seq < self.expected {
            self.ack(&message).await;
            return;
        }
        let offset = usize::try_from(seq - self.expected).unwrap_or(usize::MAX);
        if offset == 0 {
            if self.accept(&message).await {
                self.ack(&message).await;
                self.input_taken();
                self.drain_ahead().await;
            } else {
                // The pty is backed up: hold it, acknowledge when taken.
                self.ahead.insert(0, (message, false));
            }
        } else if let Some((held, acked)) = self.ahead.get(offset) {
            // A resend of what is held: acknowledge again only what was.
            if *acked {
                let held = held.clone();
                self.ack(&held).await;
            }
        } else if self.ahead.len() < AHEAD_BOUND && offset < AHEAD_SPAN {
            let congested = self.input.len() >= INPUT_LIMIT;
            if !congested {
                self.ack(&message).await;
            }
            self.ahead.insert(offset, (message, !congested));
        }
    }

    /// The expected input message was taken.
    fn input_taken(&mut self) {
        self.expected += 1;
        self.ahead.advance();
    }

    /// Processes buffered input that has become next, while it is accepted,
    /// acknowledging what was held unacknowledged.
    async fn drain_ahead(&mut self) {
        while let Some((message, acked)) = self.ahead.take_expected() {
            if !self.accept(&message).await {
                self.ahead.insert(0, (message, acked));
                break;
            }
            if !acked {
                self.ack(&message).await;
            }
            self.input_taken();
        }
    }

    async fn ack(&mut self, message: &Message) {
        if self.faults.drop_ack() {
            return;
        }
        let delay = self.faults.ack_delay();
        if delay.is_zero() {
            // Sent with the others of this turn, at its end.
            self.acks.push(message);
            if !self.hold_flush {
                self.flush_held().await;
            }
        } else if self.ws.is_some() {
            let frame = Bytes::from(ack_frame(message));
            self.delayed_acks.push_back((Instant::now() + delay, frame));
        }
    }

    /// One in-order input message; false when it cannot be taken yet.
    async fn accept(&mut self, message: &Message) -> bool {
        let in_handshake = matches!(self.phase, Phase::Handshake { .. });
        match message.payload_type {
            PayloadType::HandshakeResponse if in_handshake => {
                self.on_handshake_response(&message.payload).await;
                true
            }
            PayloadType::EncChallengeResponse if in_handshake => {
                self.on_challenge_response(&message.payload).await;
                true
            }
            // Before the handshake completes the agent ignores stream data.
            _ if in_handshake => true,
            PayloadType::Output => {
                if !self.sink_open() {
                    return true;
                }
                if self.input.len() >= INPUT_LIMIT {
                    return false;
                }
                match &self.cipher {
                    Some(cipher) => match cipher.open(&message.payload) {
                        Some(plain) => self.input.extend(plain),
                        None => return true,
                    },
                    None => self.input.extend(message.payload.iter()),
                }
                true
            }
            PayloadType::Size => {
                if let Ok(size) = serde_json::from_slice::<SizeData>(&message.payload) {
                    let cols = u16::try_from(size.cols).unwrap_or(u16::MAX);
                    let rows = u16::try_from(size.rows).unwrap_or(u16::MAX);
                    if cols > 0 && rows > 0 {
                        self.size = (cols, rows);
                        if let Some(master) = &self.master {
                            let _ = master.set_size(cols, rows);
                        }
                    }
                }
                true
            }
            PayloadType::Flag => {
                let flag = message
                    .payload
                    .get(..4)
                    .and_then(|b| <[u8; 4]>::try_from(b).ok())
                    .map(u32::from_be_bytes);
                match flag {
                    Some(PAYLOAD_FLAG_TERMINATE_SESSION) => self.terminate_requested = true,
                    Some(PAYLOAD_FLAG_DISCONNECT_TO_PORT) => {
                        if let Some(tx) = &self.port_in {
                            // After the input before it, in order.
                            if !self.input.is_empty() {
                                return false;
                            }
                            if let Err(mpsc::error::TrySendError::Full(_)) =
                                tx.try_send(PortIn::Disconnect)
                            {
                                return false;
                            }
                        }
                    }
                    _ => {}
                }
                true
            }
            _ => true,
        }
    }

    /// A port session opens with the handshake (SessionType Port, the
    /// document's properties; never KMS).
    async fn start_port_handshake(&mut self) {
        let properties = self
            .slot
            .spec
            .port
            .as_ref()
            .map(|p| p.properties.clone())
            .unwrap_or_default();
        let request = HandshakeRequestPayload {
            agent_version: AGENT_VERSION.to_string(),
            requested_client_actions: vec![RequestedClientAction {
                action_type: ACTION_SESSION_TYPE.to_string(),
                action_parameters: json!({"SessionType": "Port", "Properties": properties}),
            }],
        };
        let now = Instant::now();
        self.phase = Phase::Handshake {
            started: now,
            deadline: now + HANDSHAKE_TIMEOUT,
            challenge: None,
        };
        self.send_stream(PayloadType::HandshakeRequest, to_json(&request))
            .await;
    }

    /// The client answered a port handshake: HandshakeComplete, then the
    /// destination side in the mode the client's version calls for.
    async fn complete_port_handshake(&mut self, client_version: &str) {
        let Phase::Handshake { started, .. } = self.phase else {
            return;
        };
        let Some(spec) = self.slot.spec.port.clone() else {
            return;
        };
        let elapsed = i64::try_from(started.elapsed().as_nanos()).unwrap_or(i64::MAX);
        let complete = HandshakeCompletePayload {
            handshake_time_to_complete: elapsed,
            customer_message: String::new(),
        };
        self.phase = Phase::Running;
        self.send_stream(PayloadType::HandshakeComplete, to_json(&complete))
            .await;
        let mode = port_side::Mode {
            mux: version::agent_uses_mux(client_version),
            keepalive: version::agent_keepalive(client_version),
            paced: self.paced(),
        };
        let link = port_side::start(spec.dest, mode);
        self.port_in = Some(link.input);
        self.port_out = Some(link.output);
        self.port_guard = Some(link.guard);
    }

    fn drop_port(&mut self) {
        self.port_in = None;
        self.port_out = None;
        self.port_guard = None;
    }

    async fn start_handshake(&mut self, key_arn: &str) {
        let mut challenge = [0u8; 32];
        kms::random_fill(&mut challenge);
        use base64::Engine as _;
        let request = HandshakeRequestPayload {
            agent_version: AGENT_VERSION.to_string(),
            requested_client_actions: vec![
                RequestedClientAction {
                    action_type: ACTION_SESSION_TYPE.to_string(),
                    action_parameters: json!({"SessionType": "InteractiveCommands", "Properties": null}),
                },
                RequestedClientAction {
                    action_type: ACTION_KMS_ENCRYPTION.to_string(),
                    action_parameters: json!({
                        "KMSKeyId": key_arn,
                        "Challenge": base64::engine::general_purpose::STANDARD.encode(challenge),
                    }),
                },
            ],
        };
        let now = Instant::now();
        self.phase = Phase::Handshake {
            started: now,
            deadline: now + HANDSHAKE_TIMEOUT,
            challenge: None,
        };
        self.send_stream(PayloadType::HandshakeRequest, to_json(&request))
            .await;
    }

    async fn on_handshake_response(&mut self, payload: &[u8]) {
        if let Phase::Handshake {
            challenge: Some(_), ..
        } = self.phase
        {
            return; // A second response; the first one counts.
        }
        let response: HandshakeResponsePayload = match serde_json::from_slice(payload) {
            Ok(r) => r,
            Err(e) => {
                return self.fail(format!(
                    "Unmarshalling of HandshakeResponse message failed, {e}"
                ))
            }
        };
        let client_version = response.client_version.clone();
        for action in response.processed_client_actions {
            if action.action_status != ACTION_STATUS_SUCCESS {
                return self.fail(format!(
                    "{} failed on client with status {} error: {}",
                    action.action_type, action.action_status, action.error
                ));
            }
            if action.action_type == ACTION_KMS_ENCRYPTION {
                if let Err(e) = self.finalize_kms(action.action_result) {
                    return self.fail(format!("Fetching data key failed: {e}"));
                }
            }
        }
        if self.slot.spec.port.is_some() {
            return self.complete_port_handshake(&client_version).await;
        }
        let Some(cipher) = &self.cipher else {
            return self.fail("the client did not set up KMS encryption".to_string());
        };
        let mut plain = vec![0u8; 64];
        kms::random_fill(&mut plain);
        let request = EncryptionChallengeRequest {
            challenge: cipher.seal(&plain),
        };
        if let Phase::Handshake { challenge, .. } = &mut self.phase {
            *challenge = Some(plain);
        }
        self.send_stream(PayloadType::EncChallengeRequest, to_json(&request))
            .await;
    }

    /// Opens the client's CiphertextBlob with the sandbox's KMS, bound to
    /// this session and target, and installs the cipher.
    fn finalize_kms(&mut self, result: serde_json::Value) -> Result<(), String> {
        let response: KmsEncryptionResponse =
            serde_json::from_value(result).map_err(|e| e.to_string())?;
        let context = BTreeMap::from([
            ("aws:ssm:SessionId".to_string(), self.slot.id.clone()),
            ("aws:ssm:TargetId".to_string(), self.slot.target.clone()),
        ]);
        let (arn, key) = kms::open_blob(&self.secret, &response.kms_cipher_text_key, &context)
            .map_err(|e| format!("{}: {}", e.code, e.message))?;
        if Some(&arn) != self.slot.spec.kms_key_arn.as_ref() {
            return Err(format!(
                "the data key is of {arn}, not of the cluster's key"
            ));
        }
        self.cipher = Some(AgentCipher::new(&key).ok_or("the data key is not 64 bytes")?);
        Ok(())
    }

    async fn on_challenge_response(&mut self, payload: &[u8]) {
        let Phase::Handshake {
            started,
            challenge: Some(expected),
            ..
        } = &self.phase
        else {
            return;
        };
        let (started, expected) = (*started, expected.clone());
        let answer: Option<Vec<u8>> =
            serde_json::from_slice::<EncryptionChallengeResponse>(payload)
                .ok()
                .and_then(|r| self.cipher.as_ref()?.open(&r.challenge));
        if answer.as_deref() != Some(expected.as_slice()) {
            return self.fail("Encryption challenge does not match!".to_string());
        }
        let elapsed = i64::try_from(started.elapsed().as_nanos()).unwrap_or(i64::MAX);
        let complete = HandshakeCompletePayload {
            handshake_time_to_complete: elapsed,
            customer_message: "This session is encrypted using AWS KMS.".to_string(),
        };
        self.phase = Phase::Running;
        self.send_stream(PayloadType::HandshakeComplete, to_json(&complete))
            .await;
        self.start_process().await;
    }

    /// The session cannot go on: say why in `channel_closed`.
    fn fail(&mut self, reason: String) {
        self.end_reason = "the session failed (channel_closed says why)";
        self.note = Some(reason);
        self.master = None;
        self.drop_port();
        self.phase = Phase::Closing {
            deadline: Instant::now() + FLUSH_WAIT,
        };
    }

    /// Split the command as the agent does and exec it in a pty. A failure
    /// is told as output, as the agent tells it, and the session ends.
    async fn start_process(&mut self) {
        self.phase = Phase::Running;
        let spec = &self.slot.spec;
        let argv = match shell_words::split(&spec.command) {
            Ok(argv) if !argv.is_empty() => argv,
            Ok(_) => {
                return self
                    .start_failed("Failed to parse commands input: empty command".into())
                    .await
            }
            Err(e) => {
                return self
                    .start_failed(format!("Failed to parse commands input: {e}"))
                    .await
            }
        };
        if let Err(e) = std::fs::create_dir_all(&spec.cwd) {
            return self
                .start_failed(format!(
                    "Failed to start pty: chdir {}: {}",
                    spec.cwd.display(),
                    go_error(&e)
                ))
                .await;
        }
        let env = super::with_home(spec.env.clone(), &spec.cwd);
        let (cols, rows) = self.size;
        match pty::spawn(&argv, &env, &spec.cwd, cols, rows) {
            Ok(spawned) => {
                if self.paced() {
                    self.next_read_at = Some(Instant::now() + PACED_FIRST_READ);
                }
                self.master = Some(spawned.master);
                self.child = Some(spawned.child);
                self.pid = spawned.pid;
                self.slot.set_pgid(spawned.pid);
            }
            Err(e) => {
                let program = &argv[0];
                let why = if e.kind() == std::io::ErrorKind::NotFound && !program.contains('/') {
                    format!("exec: \"{program}\": executable file not found in $PATH")
                } else {
                    format!("fork/exec {program}: {}", go_error(&e))
                };
                self.start_failed(format!("Failed to start pty: {why}"))
                    .await
            }
        }
    }

    async fn start_failed(&mut self, why: String) {
        let text = format!("Unable to start command: {why}\r\n");
        let payload = match &self.cipher {
            Some(cipher) => cipher.seal(text.as_bytes()),
            None => text.into_bytes(),
        };
        self.send_stream(PayloadType::Output, payload).await;
        self.master = None;
    }

    /// `channel_closed`, then the close frame.
    async fn say_goodbye(&mut self) {
        let mut output = String::new();
        if let Some(note) = &self.note {
            output.push_str(&format!("\n\n{note}"));
        }
        output.push_str(&format!(
            "\n\nExiting session with sessionId: {}.\n\n",
            self.slot.id
        ));
        let message = Message::new(CHANNEL_CLOSED, 0, 0, PayloadType::None, Vec::new());
        let closed = ChannelClosed {
            message_id: message.message_id.to_string(),
            created_date: message.created_date.to_string(),
            destination_id: self.slot.target.clone(),
            session_id: self.slot.id.clone(),
            message_type: CHANNEL_CLOSED.to_string(),
            schema_version: 1,
            output,
        };
        let message = Message {
            payload: to_json(&closed),
            ..message
        };
        self.send(vec![Bytes::from(encode(&message))]).await;
        if let Some(mut ws) = self.ws.take() {
            let _ = tokio::time::timeout(Duration::from_secs(1), ws.close()).await;
        }
    }
}

/// A `start_publication` or `pause_publication` frame.
fn control_message(message_type: &'static str) -> Bytes {
    let message = Message::new(message_type, 0, 0, PayloadType::None, b"{}".to_vec());
    Bytes::from(encode(&message))
}

fn to_json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

/// An OS error worded as Go words it (`no such file or directory`).
fn go_error(e: &std::io::Error) -> String {
    let text = e.to_string();
    let text = text.split(" (os error").next().unwrap_or(&text);
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// One read of the socket, as the stream gives it.
type WsFrame = Option<Result<WsMessage, axum::Error>>;

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

async fn recv(ws: &mut Option<WebSocket>) -> WsFrame {
    match ws {
        Some(ws) => ws.recv().await,
        None => std::future::pending().await,
    }
}

async fn read_pty(master: Option<&Master>, buf: &mut [u8]) -> std::io::Result<Read> {
    match master {
        Some(m) => m.read(buf).await,
        None => std::future::pending().await,
    }
}

async fn recv_port(output: Option<&mut mpsc::Receiver<PortOut>>) -> Option<PortOut> {
    match output {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Room for one item towards the destination side (an owned permit, so
/// that the loop's other arms may borrow the runner).
async fn reserve_port(
    input: Option<mpsc::Sender<PortIn>>,
) -> Result<mpsc::OwnedPermit<PortIn>, mpsc::error::SendError<()>> {
    match input {
        Some(tx) => tx.reserve_owned().await,
        None => std::future::pending().await,
    }
}

async fn write_pty(master: Option<&Master>, bytes: &[u8]) -> std::io::Result<Option<usize>> {
    match master {
        Some(m) => m.write(bytes).await,
        None => std::future::pending().await,
    }
}

/// The first `n` bytes of `queue`, taken off it: two slice copies (a
/// `drain(..n).collect()` moves them one byte at a time, which was a tenth
/// of the sandbox's CPU in a fast upload).
fn take_front(queue: &mut VecDeque<u8>, n: usize) -> Vec<u8> {
    let n = n.min(queue.len());
    let (a, b) = queue.as_slices();
    let from_a = a.len().min(n);
    let mut out = Vec::with_capacity(n);
    out.extend_from_slice(&a[..from_a]);
    out.extend_from_slice(&b[..n - from_a]);
    queue.drain(..n);
    out
}

async fn child_exited(child: &mut Option<Child>) {
    match child {
        Some(c) => {
            let _ = c.exited().await;
        }
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::decode;

    #[test]
    fn held_input_is_kept_by_offset_and_counted() {
        let input = |seq| Message::new(INPUT_STREAM_DATA, seq, 0, PayloadType::Output, vec![1]);
        let mut held = Held::default();
        held.insert(2, (input(12), true));
        held.insert(2, (input(99), false)); // a resend keeps the first
        held.insert(5, (input(15), false));
        assert_eq!(held.len(), 2);
        assert!(held.get(0).is_none() && held.get(1).is_none() && held.get(9).is_none());
        assert_eq!(
            held.get(2).map(|(m, acked)| (m.sequence_number, *acked)),
            Some((12, true))
        );
        assert!(held.take_expected().is_none());
        held.advance(); // 10 taken without being held
        held.advance(); // 11
        let (m, acked) = held.take_expected().expect("12 is next");
        assert_eq!((m.sequence_number, acked, held.len()), (12, true, 1));
        held.insert(0, (m, acked)); // not taken after all: back in place
        assert_eq!(held.len(), 2);
        held.advance(); // 12 taken
        assert_eq!(held.len(), 1);
        assert_eq!(held.get(2).map(|(m, _)| m.sequence_number), Some(15));
        held.advance();
        held.advance();
        held.advance();
        assert_eq!(held.len(), 0);
        held.advance(); // past the end: nothing to drop
        assert_eq!(held.len(), 0);
    }

    #[test]
    fn take_front_takes_across_the_ring_boundary() {
        let mut q: VecDeque<u8> = VecDeque::with_capacity(8);
        q.extend(0..6u8);
        q.drain(..4);
        q.extend(6..12u8); // wraps around
        assert_eq!(take_front(&mut q, 5), vec![4, 5, 6, 7, 8]);
        assert_eq!(q.iter().copied().collect::<Vec<_>>(), vec![9, 10, 11]);
        assert_eq!(take_front(&mut q, 10), vec![9, 10, 11]);
        assert!(q.is_empty());
    }

    #[test]
    fn outbox_acks_out_of_order_and_frees_in_order() {
        let mut out = Outbox::new();
        let now = Instant::now();
        for _ in 0..4 {
            out.push(PayloadType::Output, b"x", Some(now));
        }
        assert_eq!(out.held(), 4);
        out.ack(2, now);
        assert_eq!(out.held(), 4, "a hole before it keeps it");
        out.ack(0, now);
        assert_eq!(out.held(), 3, "0 leaves; 1 is still missing, so 2 stays");
        out.ack(1, now);
        assert_eq!(out.held(), 1, "1 and 2 leave");
        out.ack(1, now); // duplicate ack
        out.ack(99, now); // unknown
        out.ack(3, now);
        assert!(out.all_acked());
        assert_eq!(out.held(), 0);
        let seq0 = decode(&out.push(PayloadType::Output, b"y", None)).unwrap();
        assert_eq!(seq0.sequence_number, 4);
        assert_eq!(seq0.flags, 0);
    }

    #[test]
    fn first_output_carries_syn() {
        let mut out = Outbox::new();
        let m = decode(&out.push(PayloadType::Output, b"hi", None)).unwrap();
        assert_eq!((m.sequence_number, m.flags), (0, FLAG_SYN));
    }

    #[test]
    fn only_the_oldest_is_resent_after_the_timeout() {
        let mut out = Outbox::new();
        let t0 = Instant::now();
        out.push(PayloadType::Output, b"a", Some(t0));
        out.push(PayloadType::Output, b"b", Some(t0));
        assert!(out.due(t0 + Duration::from_millis(100)).is_none());
        let resent = out.due(t0 + Duration::from_millis(250)).expect("due");
        assert_eq!(decode(&resent).unwrap().sequence_number, 0);
        assert!(
            out.due(t0 + Duration::from_millis(260)).is_none(),
            "just resent"
        );
    }

    #[test]
    fn rto_follows_the_protocol_formula() {
        let mut rtt = Rtt::new();
        assert_eq!(rtt.rto, Duration::from_millis(200));
        rtt.sample(Duration::from_millis(20));
        // RTTVAR = 0.25*|0.1-0.02| = 0.02; SRTT = 0.0875+0.0025 = 0.09; RTO = 0.09+0.08
        assert!((rtt.rto.as_secs_f64() - 0.17).abs() < 1e-9, "{:?}", rtt.rto);
        for _ in 0..100 {
            rtt.sample(Duration::from_secs(5));
        }
        assert_eq!(rtt.rto, Duration::from_secs(1));
    }

    #[test]
    fn cipher_halves_are_the_agents() {
        let key: Vec<u8> = (0..64u8).collect();
        let agent = AgentCipher::new(&key).unwrap();
        let client = crate::exec::channel::SessionCipher::from_data_key(&key).unwrap();
        let sealed = agent.seal(b"output");
        assert_eq!(client.decrypt(&sealed).unwrap(), b"output");
        let input = client.encrypt(b"input").unwrap();
        assert_eq!(agent.open(&input).unwrap(), b"input");
        assert!(agent.open(&sealed).is_none(), "its own output is not input");
    }

    #[test]
    fn go_style_errors() {
        let e = std::io::Error::from_raw_os_error(libc::ENOENT);
        assert_eq!(go_error(&e), "no such file or directory");
    }
}
