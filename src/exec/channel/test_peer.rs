//! Test-only stand-ins for the far side: a scripted WebSocket peer on
//! 127.0.0.1:0 that speaks the codec as the service/agent would, and a
//! [`SessionBackend`] that answers without AWS.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::http::HeaderMap;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::WebSocketStream;

use super::backend::{DataKey, SessionBackend};
use crate::protocol::codec::{ACKNOWLEDGE, FLAG_SYN, INPUT_STREAM_DATA, OUTPUT_STREAM_DATA};
use crate::protocol::payloads::{AcknowledgeContent, OpenDataChannelInput};
use crate::protocol::{decode, encode, Message, PayloadType};

/// A listening peer.
pub(crate) struct Peer {
    listener: TcpListener,
    pub(crate) url: String,
}

impl Peer {
    pub(crate) async fn bind() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let url = format!("ws://{addr}/v1/data-channel/sess-1?role=publish_subscribe");
        Self { listener, url }
    }

    /// Accepts one client: the upgrade (headers kept) and its opening text frame.
    pub(crate) async fn accept(&self) -> Conn {
        let (stream, _) = self.listener.accept().await.expect("accept");
        let seen = Arc::new(Mutex::new(HeaderMap::new()));
        let keep = Arc::clone(&seen);
        // The handshake callback's signature is tungstenite's.
        #[allow(clippy::result_large_err)]
        let callback = move |request: &Request, response: Response| {
            *keep.lock().expect("headers lock") = request.headers().clone();
            Ok(response)
        };
        let mut ws = tokio_tungstenite::accept_hdr_async(stream, callback)
            .await
            .expect("websocket handshake");
        let open = loop {
            match ws.next().await.expect("opening frame").expect("read") {
                WsMessage::Text(text) => {
                    break serde_json::from_str::<OpenDataChannelInput>(text.as_str())
                        .expect("opening frame JSON")
                }
                WsMessage::Ping(_) | WsMessage::Pong(_) => {}
                other => panic!("expected the opening text frame, got {other:?}"),
            }
        };
        let headers = seen.lock().expect("headers lock").clone();
        Conn {
            ws,
            open,
            headers,
            stash: VecDeque::new(),
        }
    }
}

/// One accepted connection.
pub(crate) struct Conn {
    ws: WebSocketStream<TcpStream>,
    pub(crate) open: OpenDataChannelInput,
    pub(crate) headers: HeaderMap,
    /// Messages read while looking for something else.
    stash: VecDeque<Message>,
}

impl Conn {
    /// The next raw WebSocket message; `None` once closed.
    pub(crate) async fn recv_ws(&mut self) -> Option<WsMessage> {
        match self.ws.next().await {
            Some(Ok(message)) => Some(message),
            _ => None,
        }
    }

    /// The next data-channel message; `None` once closed. Pings, pongs
    /// and text frames are skipped.
    pub(crate) async fn recv(&mut self) -> Option<Message> {
        if let Some(message) = self.stash.pop_front() {
            return Some(message);
        }
        self.read_one().await
    }

    /// The next data-channel message within `wait`.
    pub(crate) async fn recv_within(&mut self, wait: Duration) -> Option<Message> {
        tokio::time::timeout(wait, self.recv()).await.ok().flatten()
    }

    /// The next `input_stream_data`, stashing anything else.
    pub(crate) async fn recv_input(&mut self) -> Message {
        self.recv_kind(INPUT_STREAM_DATA).await
    }

    /// The next `acknowledge`, stashing anything else.
    pub(crate) async fn recv_ack(&mut self) -> AcknowledgeContent {
        let message = self.recv_kind(ACKNOWLEDGE).await;
        assert_eq!(message.flags, 3, "acks carry SYN|FIN");
        assert_eq!(message.payload_type, PayloadType::None);
        assert_eq!(message.sequence_number, 0);
        serde_json::from_slice(&message.payload).expect("ack JSON")
    }

    async fn recv_kind(&mut self, kind: &str) -> Message {
        if let Some(pos) = self.stash.iter().position(|m| m.message_type == kind) {
            return self.stash.remove(pos).expect("stashed message");
        }
        loop {
            let message = self.read_one().await.expect("connection open");
            if message.message_type == kind {
                return message;
            }
            self.stash.push_back(message);
        }
    }

    async fn read_one(&mut self) -> Option<Message> {
        loop {
            match self.recv_ws().await? {
                WsMessage::Binary(bytes) => return Some(decode(&bytes).expect("client frame")),
                WsMessage::Close(_) => return None,
                _ => {}
            }
        }
    }

    /// Every data-channel message that arrives within `wait`.
    pub(crate) async fn collect_for(&mut self, wait: Duration) -> Vec<Message> {
        let mut all: Vec<Message> = self.stash.drain(..).collect();
        let deadline = tokio::time::Instant::now() + wait;
        while let Ok(Some(message)) = tokio::time::timeout_at(deadline, self.read_one()).await {
            all.push(message);
        }
        all
    }

    pub(crate) async fn send(&mut self, message: &Message) {
        self.send_ws(WsMessage::Binary(encode(message).into()))
            .await;
    }

    pub(crate) async fn send_ws(&mut self, message: WsMessage) {
        self.ws.send(message).await.expect("peer send");
    }

    /// Sends an `output_stream_data` and returns it.
    pub(crate) async fn send_output(
        &mut self,
        seq: i64,
        payload_type: PayloadType,
        payload: &[u8],
    ) -> Message {
        let message = output(seq, payload_type, payload);
        self.send(&message).await;
        message
    }

    /// Acknowledges a client message.
    pub(crate) async fn ack(&mut self, message: &Message) {
        self.send(&AcknowledgeContent::for_message(message).to_message())
            .await;
    }

    /// A control message such as `pause_publication`.
    pub(crate) async fn send_control(&mut self, message_type: &str, payload: &[u8]) {
        let message = Message::new(
            message_type.to_owned(),
            0,
            0,
            PayloadType::None,
            payload.to_vec(),
        );
        self.send(&message).await;
    }
}

/// An agent `output_stream_data` (SYN on seq 0, as the agent does).
pub(crate) fn output(seq: i64, payload_type: PayloadType, payload: &[u8]) -> Message {
    let flags = if seq == 0 { FLAG_SYN } else { 0 };
    Message::new(
        OUTPUT_STREAM_DATA,
        seq,
        flags,
        payload_type,
        payload.to_vec(),
    )
}

/// A scripted [`SessionBackend`].
#[derive(Default)]
pub(crate) struct FakeBackend {
    /// Answers of ResumeSession, in order; an empty queue is an error.
    pub(crate) tokens: Mutex<VecDeque<Result<Option<String>, String>>>,
    /// Session ids passed to ResumeSession.
    pub(crate) resumed: Mutex<Vec<String>>,
    /// Session ids passed to TerminateSession.
    pub(crate) terminated: Mutex<Vec<String>>,
    /// What GenerateDataKey returns.
    pub(crate) data_key: Mutex<Option<DataKey>>,
    /// Arguments of GenerateDataKey.
    pub(crate) kms_calls: Mutex<Vec<(String, HashMap<String, String>)>>,
}

impl FakeBackend {
    pub(crate) fn with_tokens(tokens: Vec<Result<Option<String>, String>>) -> Self {
        Self {
            tokens: Mutex::new(tokens.into()),
            ..Self::default()
        }
    }
}

impl SessionBackend for FakeBackend {
    fn resume_session<'a>(
        &'a self,
        session_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, String>> {
        self.resumed
            .lock()
            .expect("lock")
            .push(session_id.to_owned());
        let answer = self
            .tokens
            .lock()
            .expect("lock")
            .pop_front()
            .unwrap_or_else(|| Err("no token scripted".to_owned()));
        Box::pin(async move { answer })
    }

    fn terminate_session<'a>(&'a self, session_id: &'a str) -> BoxFuture<'a, Result<(), String>> {
        self.terminated
            .lock()
            .expect("lock")
            .push(session_id.to_owned());
        Box::pin(async { Ok(()) })
    }

    fn generate_data_key<'a>(
        &'a self,
        key_id: &'a str,
        encryption_context: HashMap<String, String>,
    ) -> BoxFuture<'a, Result<DataKey, String>> {
        self.kms_calls
            .lock()
            .expect("lock")
            .push((key_id.to_owned(), encryption_context));
        let key = self
            .data_key
            .lock()
            .expect("lock")
            .clone()
            .ok_or_else(|| "AccessDeniedException: not allowed".to_owned());
        Box::pin(async move { key })
    }
}
