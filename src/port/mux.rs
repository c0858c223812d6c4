//! The client side of smux v1 over a port session's data channel: one
//! stream per accepted local connection (ids 3, 5, 7, ...).
//!
//! Tasks and queues, all bounded:
//! - per connection, a reader (local socket to PSH frames, FIN at its end)
//!   and a writer (this stream's data to the local socket);
//! - one sender that joins frames from every reader and hands them to the
//!   channel, so frames never interleave mid-frame;
//! - the loop here: accepts, reads the channel's output, decodes frames and
//!   routes them. When a local reader is slow, routing waits for it (smux
//!   v1 has no per-stream window), the channel stops reading, and the agent
//!   is held back by the data channel's window: memory stays bounded.

use std::collections::HashMap;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::io;
use super::session::{accept_any, Notice, Notify, PortError};
use super::smux::{self, Cmd, Decoder, FIRST_CLIENT_STREAM};
use crate::exec::channel::{Channel, ChannelError, Event, InputHandle, PortSignal};
use crate::protocol::codec::PAYLOAD_FLAG_CONNECT_TO_PORT_ERROR;

/// Chunks queued towards one local connection.
const STREAM_QUEUE: usize = 8;
/// Reads (up to [`io::READ_SIZE`] each, as PSH frames) queued towards the channel.
const FRAME_QUEUE: usize = 16;
/// Most bytes handed to the channel in one call.
const SEND_BATCH: usize = 64 * 1024;
/// smux keep-alive (only with agents at or below 3.1.1511.0).
const KEEPALIVE_EVERY: Duration = Duration::from_secs(10);
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(30);

struct Stream {
    to_local: mpsc::Sender<Vec<u8>>,
    tasks: [JoinHandle<()>; 2],
}

impl Drop for Stream {
    fn drop(&mut self) {
        // The writer first drains what is queued (it ends when the sender
        // goes); the reader has nothing more to say.
        self.tasks[0].abort();
    }
}

/// Serves `listeners` over the channel until it closes (`Ok`, with the
/// service's text) or fails.
pub async fn serve(
    channel: &mut Channel,
    signals: &mut mpsc::Receiver<PortSignal>,
    listeners: &[TcpListener],
    keepalive: bool,
    notify: Notify,
) -> Result<Option<String>, PortError> {
    let (frames_tx, frames_rx) = mpsc::channel::<Vec<u8>>(FRAME_QUEUE);
    let sender = tokio::spawn(send_frames(channel.input(), frames_rx));
    let _sender = AbortOnDrop(sender);
    let mut decoder = Decoder::new();
    let mut streams: HashMap<u32, Stream> = HashMap::new();
    let mut next_id = FIRST_CLIENT_STREAM;
    let mut heard = Instant::now();
    let mut nop = tokio::time::interval_at(Instant::now() + KEEPALIVE_EVERY, KEEPALIVE_EVERY);

    loop {
        tokio::select! {
            biased;
            Some(signal) = signals.recv() => {
                if signal == PortSignal::Flag(PAYLOAD_FLAG_CONNECT_TO_PORT_ERROR) {
                    notify(Notice::ConnectToPortError);
                }
            }
            event = channel.next_event() => match event {
                Some(Ok(Event::Output(bytes))) => {
                    heard = Instant::now();
                    decoder.push(&bytes);
                    while let Some(frame) = decoder
                        .next_frame()
                        .map_err(|e| PortError::Protocol(e.to_string()))?
                    {
                        route(frame, &mut streams, &frames_tx).await;
                    }
                }
                Some(Ok(Event::HandshakeComplete { .. })) => {}
                Some(Ok(Event::Closed { output })) => return Ok(output),
                Some(Err(e)) => return Err(PortError::Channel(e)),
                None => return Err(PortError::Channel(ChannelError::Closed)),
            },
            accepted = accept_any(listeners) => {
                let Ok(conn) = accepted else { continue };
                let id = next_id;
                next_id = next_id.wrapping_add(2);
                let mut syn = Vec::with_capacity(smux::HEADER_LEN);
                smux::push_control(&mut syn, Cmd::Syn, id);
                if frames_tx.send(syn).await.is_err() {
                    return Err(PortError::Channel(ChannelError::Closed));
                }
                streams.retain(|_, s| !s.tasks[1].is_finished());
                streams.insert(id, open_stream(id, conn, frames_tx.clone()));
            }
            _ = nop.tick(), if keepalive => {
                if heard.elapsed() >= KEEPALIVE_TIMEOUT {
                    return Err(PortError::Protocol(
                        "the agent sent nothing for 30 s (smux keep-alive)".to_string(),
                    ));
                }
                let mut frame = Vec::new();
                smux::push_control(&mut frame, Cmd::Nop, 0);
                let _ = frames_tx.send(frame).await;
            }
        }
    }
}

/// One frame from the agent.
async fn route(
    frame: smux::Frame,
    streams: &mut HashMap<u32, Stream>,
    frames: &mpsc::Sender<Vec<u8>>,
) {
    match frame.cmd {
        Cmd::Psh => {
            if let Some(stream) = streams.get(&frame.stream) {
                // Waits while that local reader is slow (see the module docs).
                if stream.to_local.send(frame.data).await.is_err() {
                    streams.remove(&frame.stream);
                }
            }
        }
        Cmd::Fin => {
            // The destination ended: close the local connection once what
            // is queued is written; say FIN back as smux does on close.
            if let Some(stream) = streams.remove(&frame.stream) {
                let mut fin = Vec::with_capacity(smux::HEADER_LEN);
                smux::push_control(&mut fin, Cmd::Fin, frame.stream);
                if !stream.tasks[0].is_finished() {
                    let _ = frames.send(fin).await;
                }
            }
        }
        // Only the client opens streams; keep-alives and v2 window updates
        // carry nothing for a v1 client.
        Cmd::Syn | Cmd::Nop | Cmd::Upd => {}
    }
}

fn open_stream(id: u32, conn: TcpStream, frames: mpsc::Sender<Vec<u8>>) -> Stream {
    let _ = conn.set_nodelay(true);
    let (mut reader, mut writer) = conn.into_split();
    let (to_local, mut from_agent) = mpsc::channel::<Vec<u8>>(STREAM_QUEUE);
    let read_task = tokio::spawn(async move {
        let mut buf = vec![0u8; io::READ_SIZE];
        while let Some(psh) = io::read_frames(&mut reader, &mut buf, id).await {
            if frames.send(psh).await.is_err() {
                return;
            }
        }
        let mut fin = Vec::with_capacity(smux::HEADER_LEN);
        smux::push_control(&mut fin, Cmd::Fin, id);
        let _ = frames.send(fin).await;
    });
    let write_task = tokio::spawn(async move {
        let _ = io::write_queue(&mut writer, &mut from_agent).await;
        let _ = writer.shutdown().await;
    });
    Stream {
        to_local,
        tasks: [read_task, write_task],
    }
}

/// Joins frames from every stream into the channel's input, a batch at a time.
async fn send_frames(input: InputHandle, mut frames: mpsc::Receiver<Vec<u8>>) {
    while let Some(first) = frames.recv().await {
        // A big frame goes as it is; small ones are joined (a copy each).
        let mut batch = first;
        while batch.len() < SEND_BATCH / 2 {
            match frames.try_recv() {
                Ok(more) => {
                    if batch.capacity() < SEND_BATCH {
                        batch.reserve(SEND_BATCH - batch.len());
                    }
                    batch.extend_from_slice(&more);
                }
                Err(_) => break,
            }
        }
        if input.send_input_owned(batch).await.is_err() {
            return;
        }
    }
}

/// Aborts a task when dropped.
pub(crate) struct AbortOnDrop(pub JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
