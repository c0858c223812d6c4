//! The destination side of a port session (the agent's port plugin): what
//! the client's PayloadType 1 bytes mean once the handshake is done, and the
//! TCP connections they reach. The runner ([`super::session`]) owns the data
//! channel and hands bytes in and out through a [`PortLink`].
//!
//! - **mux** (smux v1, the agent is the server): one TCP dial per SYN to the
//!   destination; a failed dial is flag 3 (ConnectToPortError) then FIN; a
//!   FIN closes that connection; a connection that ends is a FIN. NOPs every
//!   10 s and an end after 30 s of silence only for clients at or below
//!   1.2.331.0 (protocol.md §8).
//! - **basic**: one destination connection, dialed at the start (the session
//!   fails when it cannot be), redialed on input after the destination
//!   closed, closed on flag 1 (DisconnectToPort).
//!
//! Memory is bounded in both directions: every queue is a bounded channel,
//! so a slow destination holds the client back through the runner's input
//! acknowledgements, and a slow client holds the destination back through
//! the runner's output window and TCP.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::port::io as port_io;
use crate::port::smux::{self, Cmd, Decoder};
use crate::protocol::codec::{MAX_PAYLOAD_CHUNK, PAYLOAD_FLAG_CONNECT_TO_PORT_ERROR};

/// Most bytes read from a destination at once (one PSH of smux's default size).
const READ_CHUNK: usize = smux::MAX_FRAME_DATA;
/// Chunks queued towards one destination connection.
const STREAM_QUEUE: usize = 16;
/// Items queued towards the runner.
const OUT_QUEUE: usize = 32;
/// Items queued from the runner.
const IN_QUEUE: usize = 8;
/// smux's keep-alive interval and timeout (used only for old clients).
const KEEPALIVE_EVERY: Duration = Duration::from_secs(10);
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(30);
/// The real agent's pacing: at most 1 KiB per read, then 1 ms of sleep.
const PACE: Duration = Duration::from_millis(1);
/// Bound on one dial.
const DIAL_TIMEOUT: Duration = Duration::from_secs(10);

/// Addresses the agent refuses to reach (instance metadata, DNS, time).
const REFUSED: [&str; 9] = [
    "169.254.169.254",
    "169.254.169.253",
    "169.254.169.123",
    "169.254.169.250",
    "169.254.169.251",
    "fd00:ec2::254",
    "fd00:ec2::253",
    "fd00:ec2::123",
    "fd00:ec2::240",
];

/// Where a session's connections go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Dest {
    /// `localhost` when the document names no host.
    pub host: String,
    pub port: u16,
}

/// How the session speaks, decided from the client's handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Mode {
    pub mux: bool,
    pub keepalive: bool,
    /// Pace what goes to the client as the real agent does.
    pub paced: bool,
}

/// From the runner: the client's bytes, or flag 1.
#[derive(Debug)]
pub(crate) enum PortIn {
    Data(Vec<u8>),
    Disconnect,
}

/// To the runner.
#[derive(Debug)]
pub(crate) enum PortOut {
    /// Bytes for the client (PayloadType 1).
    Data(Vec<u8>),
    /// A flag message (PayloadType 10).
    Flag(u32),
    /// The session cannot go on; said in `channel_closed`.
    Failed(String),
}

/// The runner's end of a port session: bytes in, items out, and the guard
/// whose drop ends every destination connection.
#[derive(Debug)]
pub(crate) struct PortLink {
    pub input: mpsc::Sender<PortIn>,
    pub output: mpsc::Receiver<PortOut>,
    pub guard: PortGuard,
}

/// Aborts the destination side when dropped.
#[derive(Debug)]
pub(crate) struct PortGuard(JoinHandle<()>);

impl Drop for PortGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Tasks aborted together when dropped (so aborting the session's task
/// ends its stream tasks too).
#[derive(Default)]
struct Tasks(Vec<JoinHandle<()>>);

impl Tasks {
    fn push(&mut self, task: JoinHandle<()>) {
        self.0.retain(|t| !t.is_finished());
        self.0.push(task);
    }
}

impl Drop for Tasks {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// Starts the destination side.
pub(crate) fn start(dest: Dest, mode: Mode) -> PortLink {
    let (in_tx, in_rx) = mpsc::channel(IN_QUEUE);
    let (out_tx, out_rx) = mpsc::channel(OUT_QUEUE);
    let task = tokio::spawn(async move {
        let out = Out::new(out_tx, mode.paced);
        if mode.mux {
            serve_mux(dest, mode.keepalive, in_rx, out).await;
        } else {
            serve_basic(dest, in_rx, out).await;
        }
    });
    PortLink {
        input: in_tx,
        output: out_rx,
        guard: PortGuard(task),
    }
}

/// The way to the runner: whole items, or 1 KiB pieces with 1 ms between
/// them when paced. Only one task writes through it at a time, so pieces of
/// different frames never interleave.
#[derive(Clone)]
struct Out {
    tx: mpsc::Sender<PortOut>,
    paced: bool,
    /// When paced: the slot of the last piece sent (see `next_paced_slot`).
    slot: Arc<std::sync::Mutex<Option<Instant>>>,
}

impl Out {
    fn new(tx: mpsc::Sender<PortOut>, paced: bool) -> Out {
        Out {
            tx,
            paced,
            slot: Arc::default(),
        }
    }

    async fn send(&self, item: PortOut) -> Result<(), ()> {
        match item {
            PortOut::Data(bytes) if self.paced => {
                for piece in bytes.chunks(MAX_PAYLOAD_CHUNK) {
                    let due = *self.slot.lock().unwrap_or_else(|e| e.into_inner());
                    if let Some(due) = due {
                        tokio::time::sleep_until(due).await;
                    }
                    self.tx
                        .send(PortOut::Data(piece.to_vec()))
                        .await
                        .map_err(|_| ())?;
                    let now = Instant::now();
                    let mut slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
                    *slot = Some(super::next_paced_slot(*slot, now, PACE));
                }
                Ok(())
            }
            item => self.tx.send(item).await.map_err(|_| ()),
        }
    }
}

/// Dials each address `dest` resolves to, in order.
async fn dial(dest: &Dest) -> std::io::Result<TcpStream> {
    let addrs = tokio::time::timeout(
        DIAL_TIMEOUT,
        tokio::net::lookup_host((dest.host.as_str(), dest.port)),
    )
    .await
    .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "lookup timed out"))??;
    let mut last = std::io::Error::new(
        std::io::ErrorKind::NotFound,
        format!("{} resolves to no address", dest.host),
    );
    for addr in addrs {
        if REFUSED.contains(&addr.ip().to_string().as_str()) {
            last = std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!("{} is a reserved address", addr.ip()),
            );
            continue;
        }
        match tokio::time::timeout(DIAL_TIMEOUT, TcpStream::connect(addr)).await {
            Ok(Ok(conn)) => {
                let _ = conn.set_nodelay(true);
                return Ok(conn);
            }
            Ok(Err(e)) => last = e,
            Err(_) => last = std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"),
        }
    }
    Err(last)
}

/// Frames from every stream towards the runner, through one writer.
type FrameTx = mpsc::Sender<PortOut>;

async fn serve_mux(dest: Dest, keepalive: bool, mut input: mpsc::Receiver<PortIn>, out: Out) {
    // Stream tasks hand whole frames to one pump, which paces them.
    let (frames_tx, mut frames_rx) = mpsc::channel::<PortOut>(OUT_QUEUE);
    let pump_out = out.clone();
    let mut pump = Tasks::default();
    pump.push(tokio::spawn(async move {
        while let Some(item) = frames_rx.recv().await {
            if pump_out.send(item).await.is_err() {
                break;
            }
        }
    }));
    let mut decoder = Decoder::new();
    let mut streams: HashMap<u32, mpsc::Sender<Vec<u8>>> = HashMap::new();
    let mut tasks = Tasks::default();
    let mut heard = Instant::now();
    let mut nop = tokio::time::interval_at(Instant::now() + KEEPALIVE_EVERY, KEEPALIVE_EVERY);
    'session: loop {
        tokio::select! {
            item = input.recv() => {
                let Some(item) = item else { break };
                heard = Instant::now();
                let PortIn::Data(bytes) = item else { continue };
                decoder.push(&bytes);
                loop {
                    let frame = match decoder.next_frame() {
                        Ok(Some(frame)) => frame,
                        Ok(None) => break,
                        Err(e) => {
                            let _ = frames_tx.send(PortOut::Failed(format!("smux: {e}"))).await;
                            break 'session;
                        }
                    };
                    match frame.cmd {
                        Cmd::Syn => {
                            let (tx, rx) = mpsc::channel(STREAM_QUEUE);
                            streams.insert(frame.stream, tx);
                            tasks.push(tokio::spawn(run_stream(
                                frame.stream,
                                dest.clone(),
                                rx,
                                frames_tx.clone(),
                            )));
                        }
                        Cmd::Psh => {
                            if let Some(tx) = streams.get(&frame.stream) {
                                // Waits while that destination is slow: the
                                // runner then stops acknowledging input.
                                if tx.send(frame.data).await.is_err() {
                                    streams.remove(&frame.stream);
                                }
                            }
                        }
                        // Dropping the sender ends that connection.
                        Cmd::Fin => {
                            streams.remove(&frame.stream);
                        }
                        Cmd::Nop | Cmd::Upd => {}
                    }
                }
            }
            _ = nop.tick(), if keepalive => {
                if heard.elapsed() >= KEEPALIVE_TIMEOUT {
                    let _ = frames_tx
                        .send(PortOut::Failed("smux keep-alive timed out".to_string()))
                        .await;
                    break;
                }
                let mut frame = Vec::new();
                smux::push_control(&mut frame, Cmd::Nop, 0);
                let _ = frames_tx.send(PortOut::Data(frame)).await;
            }
        }
    }
    drop(streams);
    drop(tasks);
    drop(frames_tx);
    // Let what is queued reach the runner (a failure note, the last frames).
    if let Some(task) = pump.0.pop() {
        let _ = task.await;
    }
}

/// One stream: dial, then copy both ways until either side ends; FIN.
async fn run_stream(id: u32, dest: Dest, mut from_client: mpsc::Receiver<Vec<u8>>, out: FrameTx) {
    let fin = || {
        let mut frame = Vec::new();
        smux::push_control(&mut frame, Cmd::Fin, id);
        PortOut::Data(frame)
    };
    let conn = match dial(&dest).await {
        Ok(conn) => conn,
        Err(_) => {
            let _ = out
                .send(PortOut::Flag(PAYLOAD_FLAG_CONNECT_TO_PORT_ERROR))
                .await;
            let _ = out.send(fin()).await;
            return;
        }
    };
    let (mut reader, mut writer) = conn.into_split();
    let upstream = async {
        // Until the client's side ends or a write fails.
        let _ = port_io::write_queue(&mut writer, &mut from_client).await;
    };
    let downstream = async {
        let mut buf = vec![0u8; READ_CHUNK];
        while let Some(psh) = port_io::read_frames(&mut reader, &mut buf, id).await {
            if out.send(PortOut::Data(psh)).await.is_err() {
                break;
            }
        }
    };
    tokio::select! {
        _ = upstream => {}
        _ = downstream => {}
    }
    let _ = out.send(fin()).await;
}

async fn serve_basic(dest: Dest, mut input: mpsc::Receiver<PortIn>, out: Out) {
    let mut conn = match dial(&dest).await {
        Ok(conn) => Some(conn),
        Err(e) => {
            let _ = out
                .send(PortOut::Failed(format!(
                    "Unable to start port forwarding: dial tcp {}:{}: {e}",
                    dest.host, dest.port
                )))
                .await;
            return;
        }
    };
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        tokio::select! {
            item = input.recv() => match item {
                None => break,
                Some(PortIn::Disconnect) => conn = None,
                Some(PortIn::Data(bytes)) => {
                    if conn.is_none() {
                        conn = dial(&dest).await.ok();
                    }
                    if let Some(c) = conn.as_mut() {
                        if c.write_all(&bytes).await.is_err() {
                            conn = None;
                        }
                    }
                }
            },
            read = read_conn(conn.as_mut(), &mut buf) => match read {
                // The destination closed: nothing is said; the next input redials.
                Ok(0) | Err(_) => conn = None,
                Ok(n) => {
                    if out.send(PortOut::Data(buf[..n].to_vec())).await.is_err() {
                        break;
                    }
                }
            },
        }
    }
}

async fn read_conn(conn: Option<&mut TcpStream>, buf: &mut [u8]) -> std::io::Result<usize> {
    match conn {
        Some(c) => c.read(buf).await,
        None => std::future::pending().await,
    }
}
