//! Basic mode, for agents too old for smux: one local connection at a
//! time, its bytes raw in PayloadType 1; when it closes, flag 1
//! (DisconnectToPort) and the next connection is accepted. Output that
//! arrives with no connection open is dropped, as the official client does.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::session::{accept_any, PortError};
use crate::exec::channel::{Channel, ChannelError, Event, PortSignal};
use crate::protocol::codec::PAYLOAD_FLAG_DISCONNECT_TO_PORT;

/// Bytes read from the local connection at once.
const READ_CHUNK: usize = 32 * 1024;

/// Serves `listeners` one connection at a time until the channel closes
/// (`Ok`, with the service's text) or fails.
pub async fn serve(
    channel: &mut Channel,
    signals: &mut mpsc::Receiver<PortSignal>,
    listeners: &[TcpListener],
) -> Result<Option<String>, PortError> {
    let input = channel.input();
    let mut conn: Option<TcpStream> = None;
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        let open = conn.is_some();
        tokio::select! {
            Some(_) = signals.recv() => {}
            event = channel.next_event() => match event {
                Some(Ok(Event::Output(bytes))) => {
                    if let Some(c) = conn.as_mut() {
                        if c.write_all(&bytes).await.is_err() {
                            conn = None;
                            input.send_flag(PAYLOAD_FLAG_DISCONNECT_TO_PORT).await.map_err(PortError::Channel)?;
                        }
                    }
                }
                Some(Ok(Event::HandshakeComplete { .. })) => {}
                Some(Ok(Event::Closed { output })) => return Ok(output),
                Some(Err(e)) => return Err(PortError::Channel(e)),
                None => return Err(PortError::Channel(ChannelError::Closed)),
            },
            accepted = accept_any(listeners), if !open => {
                if let Ok(c) = accepted {
                    let _ = c.set_nodelay(true);
                    conn = Some(c);
                }
            }
            read = read_conn(conn.as_mut(), &mut buf), if open => match read {
                Ok(0) | Err(_) => {
                    conn = None;
                    input.send_flag(PAYLOAD_FLAG_DISCONNECT_TO_PORT).await.map_err(PortError::Channel)?;
                }
                Ok(n) => input.send_input(&buf[..n]).await.map_err(PortError::Channel)?,
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
