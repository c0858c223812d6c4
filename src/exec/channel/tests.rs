//! Tests of the session layer: the pure pieces (estimator, windows, cipher,
//! signing) directly, and the I/O task against a scripted WebSocket peer on
//! 127.0.0.1 (see `test_peer`). Every async test is bounded by a timeout.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_types::SdkConfig;
use base64::{engine::general_purpose::STANDARD, Engine as _};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::{Bytes, Message as WsMessage};
use uuid::Uuid;

use super::backend::DataKey;
use super::crypto::{CryptoError, SessionCipher};
use super::outgoing::{Outgoing, Resend};
use super::reorder::{Arrival, Reorder};
use super::rto::RttEstimator;
use super::test_peer::{output, Conn, FakeBackend, Peer};
use super::*;
use crate::protocol::codec::{
    CHANNEL_CLOSED, INPUT_STREAM_DATA, OUTPUT_STREAM_DATA, PAUSE_PUBLICATION, START_PUBLICATION,
};
use crate::protocol::payloads::{
    AcknowledgeContent, EncryptionChallengeResponse, HandshakeResponsePayload,
    ACTION_STATUS_SUCCESS, ACTION_STATUS_UNSUPPORTED, DEFAULT_CLIENT_VERSION,
};
use crate::protocol::{Message, PayloadType};

const TOKEN: &str = "tok-secret-1";

/// Runs `f`, failing the test instead of hanging.
async fn bounded<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(30), f)
        .await
        .expect("test exceeded its time bound")
}

fn info(url: &str) -> SessionInfo {
    SessionInfo {
        session_id: "sess-1".to_owned(),
        stream_url: url.to_owned(),
        token_value: TOKEN.to_owned(),
        target: "ecs:demo_0123abcd_0123abcd-1234".to_owned(),
    }
}

/// Test config: no AWS, input ready at once, fast reconnects.
fn config(backend: &Arc<FakeBackend>) -> ChannelConfig {
    let mut config = ChannelConfig::new(SdkConfig::builder().build());
    config.backend = Some(Arc::clone(backend) as Arc<dyn SessionBackend>);
    config.input_hold = Duration::ZERO;
    config.reconnect_backoff = Duration::from_millis(10);
    config.connect_timeout = Duration::from_secs(5);
    config
}

async fn open(peer: &Peer, config: ChannelConfig) -> (Channel, Conn) {
    let (channel, conn) = tokio::join!(Channel::open(info(&peer.url), config), peer.accept());
    (channel.expect("channel opens"), conn)
}

async fn next(channel: &mut Channel) -> Event {
    channel
        .next_event()
        .await
        .expect("an event")
        .expect("not an error")
}

/// Output events until `want.len()` bytes have come (consecutive messages
/// may arrive as one event); they must be exactly `want`.
async fn expect_output(channel: &mut Channel, want: &[u8]) {
    let mut got = Vec::new();
    while got.len() < want.len() {
        match next(channel).await {
            Event::Output(bytes) => got.extend(bytes),
            other => panic!("expected output {want:?} (got {got:?} so far), then {other:?}"),
        }
    }
    assert_eq!(got, want);
}

async fn next_error(channel: &mut Channel) -> ChannelError {
    match channel.next_event().await {
        Some(Err(error)) => error,
        other => panic!("expected an error, got {other:?}"),
    }
}

fn closed_payload(output: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "MessageId": Uuid::new_v4().to_string(),
        "CreatedDate": "1700000000000",
        "DestinationId": "ecs:demo",
        "SessionId": "sess-1",
        "MessageType": "channel_closed",
        "SchemaVersion": 1,
        "Output": output,
    }))
    .expect("json")
}

fn assert_acks(ack: &AcknowledgeContent, sent: &Message) {
    assert_eq!(ack.acknowledged_message_type, OUTPUT_STREAM_DATA);
    assert_eq!(ack.acknowledged_message_id, sent.message_id.to_string());
    assert_eq!(
        ack.acknowledged_message_sequence_number,
        sent.sequence_number
    );
    assert!(ack.is_sequential_message);
}

// ---------------------------------------------------------------- pure parts

#[test]
fn rto_estimator_follows_the_formula() {
    let mut rtt = RttEstimator::default();
    assert_eq!(rtt.rto(), Duration::from_millis(200));

    // R = SRTT: no variation, so RTO = 100 ms + the 10 ms floor.
    rtt.on_sample(Duration::from_millis(100));
    assert_eq!(rtt.rttvar(), Duration::ZERO);
    assert_eq!(rtt.srtt(), Duration::from_millis(100));
    assert_eq!(rtt.rto(), Duration::from_millis(110));

    // R = 300 ms: RTTVAR = 0 + 200/4 = 50; SRTT = 87.5 + 37.5 = 125; RTO = 125 + 200.
    rtt.on_sample(Duration::from_millis(300));
    assert_eq!(rtt.rttvar(), Duration::from_millis(50));
    assert_eq!(rtt.srtt(), Duration::from_millis(125));
    assert_eq!(rtt.rto(), Duration::from_millis(325));

    // A huge round trip is capped at 1 s.
    rtt.on_sample(Duration::from_secs(20));
    assert_eq!(rtt.rto(), Duration::from_secs(1));

    // Fast, steady samples converge towards SRTT + 10 ms.
    let mut fast = RttEstimator::default();
    for _ in 0..200 {
        fast.on_sample(Duration::from_millis(2));
    }
    let rto = fast.rto().as_secs_f64();
    assert!((rto - 0.012).abs() < 0.0005, "rto {rto}");
}

#[test]
fn outgoing_resends_only_the_oldest_after_the_timeout_and_gives_up() {
    let start = Instant::now();
    let mut out = Outgoing::default();
    for _ in 0..3 {
        let seq = out.allocate_seq();
        out.push(seq, Bytes::from(vec![seq as u8]), Some(start));
    }
    assert_eq!(out.in_flight(), 3);
    // Not yet: exactly the RTO has passed.
    assert_eq!(
        out.check_resend(start + Duration::from_millis(200), 2),
        Resend::Nothing
    );
    let t1 = start + Duration::from_millis(201);
    assert_eq!(out.check_resend(t1, 2), Resend::Oldest);
    assert_eq!(out.oldest_frame().as_deref(), Some(&[0u8][..]));
    // The resend restarted its clock.
    assert_eq!(
        out.check_resend(t1 + Duration::from_millis(100), 2),
        Resend::Nothing
    );
    let t2 = t1 + Duration::from_millis(201);
    assert_eq!(out.check_resend(t2, 2), Resend::Oldest);
    assert_eq!(
        out.check_resend(t2 + Duration::from_millis(201), 2),
        Resend::GiveUp
    );

    // Acks remove by sequence, in any order, and feed the estimator.
    assert!(out.ack(1, start + Duration::from_millis(300)));
    assert!(!out.ack(1, start + Duration::from_millis(300)));
    assert!(out.ack(0, t2 + Duration::from_millis(100)));
    assert_eq!(out.in_flight(), 1);
    assert_eq!(out.oldest_frame().as_deref(), Some(&[2u8][..]));
    assert_ne!(out.rto(), Duration::from_millis(200));

    // A queued (unsent) message is never "due".
    let mut queued = Outgoing::default();
    queued.push(0, Bytes::from_static(b"q"), None);
    assert_eq!(
        queued.check_resend(start + Duration::from_secs(60), 0),
        Resend::Nothing
    );
}

#[test]
fn reorder_buffer_accepts_duplicates_and_bounds_what_is_ahead() {
    let msg = |seq| output(seq, PayloadType::Output, b"x");
    let mut reorder = Reorder::new(2);
    assert_eq!(reorder.offer(msg(1)), Arrival::Accepted);
    assert_eq!(reorder.offer(msg(1)), Arrival::Duplicate);
    assert_eq!(reorder.offer(msg(2)), Arrival::Accepted);
    // Full: what is ahead is dropped, but the expected one always fits.
    assert_eq!(reorder.offer(msg(3)), Arrival::Dropped);
    assert!(reorder.peek_expected().is_none());
    assert_eq!(reorder.offer(msg(0)), Arrival::Accepted);
    assert_eq!(reorder.len(), 3);
    for seq in 0..3 {
        assert_eq!(reorder.pop_expected().map(|m| m.sequence_number), Some(seq));
    }
    assert!(reorder.pop_expected().is_none());
    assert_eq!(reorder.offer(msg(1)), Arrival::Duplicate);
    assert_eq!(reorder.offer(msg(3)), Arrival::Accepted);
    // Expecting 3 now: 6 is further ahead than the bound, though there is room.
    assert_eq!(reorder.offer(msg(6)), Arrival::Dropped);
    assert_eq!(reorder.offer(msg(5)), Arrival::Accepted);
    assert_eq!(reorder.pop_expected().map(|m| m.sequence_number), Some(3));
    assert!(reorder.pop_expected().is_none());
    assert_eq!(reorder.offer(msg(4)), Arrival::Accepted);
    assert_eq!(reorder.pop_expected().map(|m| m.sequence_number), Some(4));
    assert_eq!(reorder.pop_expected().map(|m| m.sequence_number), Some(5));
    assert_eq!(reorder.len(), 0);
}

#[test]
fn kms_framing_round_trips_between_client_and_agent_keys() {
    let mut key = [0u8; 64];
    for (i, b) in key.iter_mut().enumerate() {
        *b = i as u8;
    }
    let client = SessionCipher::from_data_key(&key).expect("client cipher");
    // The agent encrypts with bytes 0..32 and decrypts with 32..64.
    let agent = SessionCipher::from_keys(&key[..32], &key[32..]).expect("agent cipher");

    let wire = client.encrypt(b"ls -la\r").expect("encrypt");
    assert_eq!(wire.len(), 12 + 7 + 16, "nonce ‖ ciphertext ‖ tag");
    assert_eq!(agent.decrypt(&wire).expect("agent decrypts"), b"ls -la\r");
    assert_ne!(
        client.encrypt(b"ls -la\r").expect("encrypt")[..12],
        wire[..12],
        "fresh nonce"
    );

    let back = agent.encrypt(b"total 0\r\n").expect("agent encrypts");
    assert_eq!(
        client.decrypt(&back).expect("client decrypts"),
        b"total 0\r\n"
    );
    // Our own ciphertext is not readable with our decrypt key.
    assert_eq!(client.decrypt(&wire), Err(CryptoError::Open));

    let mut tampered = back.clone();
    tampered[20] ^= 1;
    assert_eq!(client.decrypt(&tampered), Err(CryptoError::Open));
    assert_eq!(client.decrypt(&back[..20]), Err(CryptoError::TooShort(20)));
    assert!(matches!(
        SessionCipher::from_data_key(&key[..32]),
        Err(CryptoError::KeyLength(32))
    ));
    assert!(!format!("{client:?}").contains('1'));
}

#[test]
fn kms_framing_matches_the_gcm_reference_vector() {
    // AES-256-GCM test case 14 of the GCM specification: zero key, zero
    // 96-bit IV, one zero block.
    let hex = |s: &str| -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
            .collect()
    };
    let mut wire = vec![0u8; 12];
    wire.extend(hex("cea7403d4d606b6e074ec5d3baf39d18"));
    wire.extend(hex("d0d1c8a799996bf0265b98b5d48ab919"));
    let cipher = SessionCipher::from_keys(&[0u8; 32], &[0u8; 32]).expect("cipher");
    assert_eq!(cipher.decrypt(&wire).expect("decrypts"), vec![0u8; 16]);
}

#[test]
fn upgrade_is_signed_for_ssmmessages_with_only_host() {
    let url = "wss://ssmmessages.eu-west-1.amazonaws.com/v1/data-channel/sess-1?role=publish_subscribe&cell-number=AAAA";
    let creds = Credentials::new(
        "AKIDEXAMPLE",
        "secret-key",
        Some("session-tok".to_owned()),
        None,
        "test",
    );
    let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let request =
        dial::upgrade_request(url, Some(&creds), Some("us-east-1"), time).expect("signed");
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .map(|v| v.to_str().expect("ascii").to_owned())
    };
    let auth = header("authorization").expect("authorization header");
    assert!(
        auth.starts_with(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20231114/eu-west-1/ssmmessages/aws4_request, SignedHeaders=host;x-amz-date;x-amz-security-token, Signature="
        ),
        "{auth}"
    );
    assert_eq!(header("x-amz-date").as_deref(), Some("20231114T221320Z"));
    assert_eq!(
        header("x-amz-security-token").as_deref(),
        Some("session-tok")
    );
    assert_eq!(
        header("host").as_deref(),
        Some("ssmmessages.eu-west-1.amazonaws.com")
    );
    assert!(request.headers().get("x-amz-content-sha256").is_none());
    assert_eq!(request.uri().to_string(), url, "the URL is dialed as given");

    // Another host signs with the SDK region; no credentials, no signature.
    let local = dial::upgrade_request("ws://127.0.0.1:9/x", Some(&creds), Some("us-east-1"), time)
        .expect("signed");
    let auth = local
        .headers()
        .get("authorization")
        .expect("signed")
        .to_str()
        .expect("ascii");
    assert!(
        auth.contains("/us-east-1/ssmmessages/aws4_request"),
        "{auth}"
    );
    let unsigned = dial::upgrade_request(url, None, None, time).expect("request");
    assert!(unsigned.headers().get("authorization").is_none());
    let no_region =
        dial::upgrade_request("ws://127.0.0.1:9/x", Some(&creds), None, time).expect("request");
    assert!(no_region.headers().get("authorization").is_none());
}

#[test]
fn debug_output_never_shows_secrets() {
    let info = info(
        "wss://ssmmessages.eu-west-1.amazonaws.com/v1/data-channel/sess-1?role=publish_subscribe",
    );
    let shown = format!("{info:?}");
    assert!(!shown.contains(TOKEN), "{shown}");
    assert!(shown.contains("sess-1"));
    let key = DataKey {
        ciphertext_blob: b"blob".to_vec(),
        plaintext: vec![0x5a; 64],
    };
    assert!(!format!("{key:?}").contains("90"), "plaintext bytes hidden");
    let config = ChannelConfig::new(SdkConfig::builder().build());
    assert!(format!("{config:?}").contains("window: 1024"));
}

#[test]
fn errors_are_one_line_with_a_hint() {
    let errors = [
        ChannelError::Connect {
            url: "wss://h/p".into(),
            message: "refused".into(),
        },
        ChannelError::Handshake {
            action: "X".into(),
            message: "the agent asked for X, which ecsx cannot do".into(),
        },
        ChannelError::Protocol("bad".into()),
        ChannelError::Resume {
            message: "denied".into(),
        },
        ChannelError::Kms {
            message: "denied".into(),
        },
        ChannelError::TooManyResends,
        ChannelError::Closed,
    ];
    for error in errors {
        let text = error.to_string();
        assert!(!text.contains('\n'), "{text}");
        assert!(text.len() > 30, "{text}");
    }
}

// ------------------------------------------------------- against the peer

#[tokio::test]
async fn opening_frame_carries_the_token_and_a_fresh_request_id() {
    bounded(async {
        let peer = Peer::bind().await;
        let backend = Arc::new(FakeBackend::default());
        let config = config(&backend);
        let client_id = config.client_id;
        let (_a, first) = open(&peer, config.clone()).await;
        let (_b, second) = open(&peer, config).await;
        for conn in [&first, &second] {
            assert_eq!(conn.open.token_value, TOKEN);
            assert_eq!(conn.open.message_schema_version, "1.0");
            assert_eq!(conn.open.client_id, client_id.to_string());
            assert_eq!(conn.open.client_version, DEFAULT_CLIENT_VERSION);
            let id = Uuid::parse_str(&conn.open.request_id).expect("request id is a UUID");
            assert_eq!(id.get_version_num(), 4);
            assert!(
                conn.headers.get("authorization").is_none(),
                "no credentials, no signature"
            );
        }
        assert_ne!(first.open.request_id, second.open.request_id);
    })
    .await;
}

#[tokio::test]
async fn in_order_output_is_acked_and_delivered_exactly() {
    bounded(async {
        let peer = Peer::bind().await;
        let backend = Arc::new(FakeBackend::default());
        let (mut channel, mut conn) = open(&peer, config(&backend)).await;
        let m0 = conn.send_output(0, PayloadType::Output, b"hello").await;
        let m1 = conn
            .send_output(1, PayloadType::Output, b" world\r\n")
            .await;
        assert_acks(&conn.recv_ack().await, &m0);
        assert_acks(&conn.recv_ack().await, &m1);
        expect_output(&mut channel, b"hello world\r\n").await;
        // Unknown types and undecodable frames are ignored.
        conn.send_control("some_future_type", b"{}").await;
        conn.send_ws(WsMessage::Binary(Bytes::from_static(b"garbage")))
            .await;
        conn.send_output(2, PayloadType::Output, b"!").await;
        assert_eq!(next(&mut channel).await, Event::Output(b"!".to_vec()));
    })
    .await;
}

#[tokio::test]
async fn duplicates_are_acked_again_and_not_delivered() {
    bounded(async {
        let peer = Peer::bind().await;
        let backend = Arc::new(FakeBackend::default());
        let (mut channel, mut conn) = open(&peer, config(&backend)).await;
        let m0 = output(0, PayloadType::Output, b"a");
        conn.send(&m0).await;
        conn.send(&m0).await;
        let m1 = conn.send_output(1, PayloadType::Output, b"b").await;
        conn.send(&m0).await;
        for expected in [&m0, &m0, &m1, &m0] {
            assert_acks(&conn.recv_ack().await, expected);
        }
        conn.send_control(CHANNEL_CLOSED, &closed_payload("")).await;
        expect_output(&mut channel, b"ab").await;
        assert_eq!(next(&mut channel).await, Event::Closed { output: None });
        assert!(channel.next_event().await.is_none());
    })
    .await;
}

#[tokio::test]
async fn reordered_output_is_delivered_in_order() {
    bounded(async {
        let peer = Peer::bind().await;
        let backend = Arc::new(FakeBackend::default());
        let (mut channel, mut conn) = open(&peer, config(&backend)).await;
        let m2 = conn.send_output(2, PayloadType::Output, b"2").await;
        let m1 = conn.send_output(1, PayloadType::Output, b"1").await;
        assert_acks(&conn.recv_ack().await, &m2);
        assert_acks(&conn.recv_ack().await, &m1);
        let m0 = conn.send_output(0, PayloadType::Output, b"0").await;
        assert_acks(&conn.recv_ack().await, &m0);
        expect_output(&mut channel, b"012").await;
        // StdErr (11) is output too.
        conn.send_output(3, PayloadType::StdErr, b"err").await;
        assert_eq!(next(&mut channel).await, Event::Output(b"err".to_vec()));
    })
    .await;
}

#[tokio::test]
async fn output_beyond_the_reorder_bound_goes_unacked_until_resent() {
    bounded(async {
        let peer = Peer::bind().await;
        let backend = Arc::new(FakeBackend::default());
        let mut config = config(&backend);
        config.reorder_bound = 2;
        let (mut channel, mut conn) = open(&peer, config).await;
        let m1 = conn.send_output(1, PayloadType::Output, b"1").await;
        let m2 = conn.send_output(2, PayloadType::Output, b"2").await;
        let m3 = conn.send_output(3, PayloadType::Output, b"3").await;
        let m0 = conn.send_output(0, PayloadType::Output, b"0").await;
        assert_acks(&conn.recv_ack().await, &m1);
        assert_acks(&conn.recv_ack().await, &m2);
        // Nothing for seq 3: the next ack is seq 0's.
        assert_acks(&conn.recv_ack().await, &m0);
        expect_output(&mut channel, b"012").await;
        conn.send(&m3).await;
        assert_acks(&conn.recv_ack().await, &m3);
        assert_eq!(next(&mut channel).await, Event::Output(b"3".to_vec()));
    })
    .await;
}

#[tokio::test]
async fn a_slow_consumer_holds_the_socket_back_instead_of_dropping_output() {
    bounded(async {
        let peer = Peer::bind().await;
        let backend = Arc::new(FakeBackend::default());
        let mut config = config(&backend);
        config.event_buffer = 1;
        config.reorder_bound = 4;
        let (mut channel, mut conn) = open(&peer, config).await;
        // Far more than the reorder bound, sent once each: the peer never
        // resends, so a message dropped unacked would never arrive.
        let total = 64u8;
        for seq in 0..total {
            conn.send_output(i64::from(seq), PayloadType::Output, &[seq])
                .await;
        }
        // Nobody reads: a queued event and a full buffer are acked, in
        // order; the rest wait in the socket, unread and unacked.
        let acked = |messages: Vec<Message>| -> Vec<i64> {
            messages
                .iter()
                .map(|m| serde_json::from_slice::<AcknowledgeContent>(&m.payload).expect("ack"))
                .map(|a| a.acknowledged_message_sequence_number)
                .collect()
        };
        let mut all = acked(conn.collect_for(Duration::from_millis(300)).await);
        assert!(
            all.len() < 16 && all.iter().copied().eq(0..all.len() as i64),
            "{all:?}"
        );
        // Reading lets everything through, in order, each acked once.
        let want: Vec<u8> = (0..total).collect();
        expect_output(&mut channel, &want).await;
        all.extend(acked(conn.collect_for(Duration::from_millis(300)).await));
        assert_eq!(all, (0..i64::from(total)).collect::<Vec<_>>());
    })
    .await;
}

#[tokio::test]
async fn input_is_chunked_sequenced_and_sizes_count() {
    bounded(async {
        let peer = Peer::bind().await;
        let backend = Arc::new(FakeBackend::default());
        let (channel, mut conn) = open(&peer, config(&backend)).await;
        channel.send_size(80, 24).await.expect("size");
        channel.send_input(&[]).await.expect("empty input is fine");
        let data: Vec<u8> = (0..2500u32).map(|i| (i % 251) as u8).collect();
        channel.input().send_input(&data).await.expect("input");

        let size = conn.recv_input().await;
        assert_eq!(size.sequence_number, 0);
        assert_eq!(size.flags, 0);
        assert_eq!(size.payload_type, PayloadType::Size);
        assert_eq!(size.payload, br#"{"cols":80,"rows":24}"#);
        let mut got = Vec::new();
        for (seq, len) in [(1, 1024), (2, 1024), (3, 452)] {
            let m = conn.recv_input().await;
            assert_eq!((m.sequence_number, m.payload.len()), (seq, len));
            assert_eq!(m.payload_type, PayloadType::Output);
            got.extend(m.payload.clone());
            conn.ack(&m).await;
        }
        assert_eq!(got, data);
    })
    .await;
}

#[tokio::test]
async fn input_waits_for_the_first_output_when_no_handshake_begins() {
    bounded(async {
        let peer = Peer::bind().await;
        let backend = Arc::new(FakeBackend::default());
        let mut config = config(&backend);
        config.input_hold = Duration::from_secs(60);
        let (mut channel, mut conn) = open(&peer, config).await;
        channel.send_input(b"x").await.expect("queued");
        assert!(conn
            .collect_for(Duration::from_millis(300))
            .await
            .is_empty());
        conn.send_output(0, PayloadType::Output, b"$ ").await;
        let input = conn.recv_input().await;
        assert_eq!(
            (input.sequence_number, input.payload.as_slice()),
            (0, &b"x"[..])
        );
        assert_eq!(next(&mut channel).await, Event::Output(b"$ ".to_vec()));
    })
    .await;
}

#[tokio::test]
async fn unacked_input_is_resent_identically_until_acked() {
    bounded(async {
        let peer = Peer::bind().await;
        let backend = Arc::new(FakeBackend::default());
        let (channel, mut conn) = open(&peer, config(&backend)).await;
        channel.send_input(b"ls\r").await.expect("input");
        let first = conn.recv_input().await;
        let sent_at = Instant::now();
        let again = conn.recv_input().await;
        let waited = sent_at.elapsed();
        assert_eq!(again, first, "a resend carries the identical message");
        assert!(
            waited >= Duration::from_millis(190),
            "resent after {waited:?}, before the 200 ms RTO"
        );
        let third = conn.recv_input().await;
        assert_eq!(third, first);
        conn.ack(&first).await;
        let later = conn.collect_for(Duration::from_millis(700)).await;
        assert!(
            later.iter().all(|m| m.message_type != INPUT_STREAM_DATA),
            "no resend after the ack"
        );
    })
    .await;
}

#[tokio::test]
async fn gives_up_after_the_maximum_number_of_resends() {
    bounded(async {
        let peer = Peer::bind().await;
        let backend = Arc::new(FakeBackend::default());
        let mut config = config(&backend);
        config.max_resends = 2;
        let (mut channel, mut conn) = open(&peer, config).await;
        channel.send_input(b"x").await.expect("input");
        let error = next_error(&mut channel).await;
        assert_eq!(error, ChannelError::TooManyResends);
        let copies = conn
            .collect_for(Duration::from_millis(200))
            .await
            .into_iter()
            .filter(|m| m.message_type == INPUT_STREAM_DATA)
            .count();
        assert_eq!(copies, 3, "the original and two resends");
        assert!(channel.next_event().await.is_none());
        assert_eq!(channel.send_input(b"y").await, Err(ChannelError::Closed));
    })
    .await;
}

#[tokio::test]
async fn pause_publication_queues_input_until_start_publication() {
    bounded(async {
        let peer = Peer::bind().await;
        let backend = Arc::new(FakeBackend::default());
        let (channel, mut conn) = open(&peer, config(&backend)).await;
        conn.send_control(PAUSE_PUBLICATION, b"").await;
        // The ack of this output proves the pause was read first.
        let m0 = conn.send_output(0, PayloadType::Output, b"$ ").await;
        assert_acks(&conn.recv_ack().await, &m0);
        channel.send_input(b"during pause").await.expect("queued");
        let quiet = conn.collect_for(Duration::from_millis(500)).await;
        assert!(
            quiet.is_empty(),
            "nothing sent or resent while paused: {quiet:?}"
        );
        conn.send_control(START_PUBLICATION, b"").await;
        let input = conn.recv_input().await;
        assert_eq!(input.sequence_number, 0);
        assert_eq!(input.payload, b"during pause");
    })
    .await;
}

#[tokio::test]
async fn channel_closed_surfaces_its_output_after_pending_output() {
    bounded(async {
        let peer = Peer::bind().await;
        let backend = Arc::new(FakeBackend::default());
        let (mut channel, mut conn) = open(&peer, config(&backend)).await;
        conn.send_output(0, PayloadType::Output, b"bye\r\n").await;
        conn.send_control(
            CHANNEL_CLOSED,
            &closed_payload("Exiting session with sessionId: sess-1."),
        )
        .await;
        assert_eq!(next(&mut channel).await, Event::Output(b"bye\r\n".to_vec()));
        assert_eq!(
            next(&mut channel).await,
            Event::Closed {
                output: Some("Exiting session with sessionId: sess-1.".to_owned())
            }
        );
        assert!(channel.next_event().await.is_none());
        // The client closes the socket.
        let _ = conn.recv_ack().await;
        assert!(conn.recv_within(Duration::from_secs(3)).await.is_none());
        assert!(
            backend.resumed.lock().expect("lock").is_empty(),
            "no resume after channel_closed"
        );
    })
    .await;
}

#[tokio::test]
async fn large_input_streams_in_a_bounded_window() {
    bounded(async {
        const WINDOW: i64 = 16;
        const TOTAL: usize = 4 * 1024 * 1024;
        let peer = Peer::bind().await;
        let backend = Arc::new(FakeBackend::default());
        let mut config = config(&backend);
        config.window = WINDOW as usize;
        let (channel, mut conn) = open(&peer, config).await;
        let data: Arc<Vec<u8>> = Arc::new((0..TOTAL).map(|i| (i % 253) as u8).collect());
        let input = channel.input();
        let to_send = Arc::clone(&data);
        let sender = tokio::spawn(async move { input.send_input(&to_send).await });

        // Without acks, exactly one window goes out.
        let mut received: Vec<Message> = Vec::new();
        while received.len() < WINDOW as usize {
            let m = conn.recv_input().await;
            if m.sequence_number == received.len() as i64 {
                received.push(m);
            }
        }
        let extra = conn.collect_for(Duration::from_millis(300)).await;
        assert!(
            extra.iter().all(|m| m.sequence_number < WINDOW),
            "nothing beyond the window without acks"
        );
        for m in &received {
            conn.ack(m).await;
        }
        let mut acked = WINDOW;
        let mut got: Vec<u8> = received.iter().flat_map(|m| m.payload.clone()).collect();
        while got.len() < TOTAL {
            let m = conn.recv_input().await;
            if m.sequence_number < acked {
                continue; // a resend
            }
            assert_eq!(m.sequence_number, acked, "in order");
            assert!(m.sequence_number < acked + WINDOW);
            assert!(!m.payload.is_empty() && m.payload.len() <= 1024);
            got.extend_from_slice(&m.payload);
            conn.ack(&m).await;
            acked += 1;
        }
        sender.await.expect("join").expect("send_input completes");
        assert!(got == *data, "every byte, in order");
    })
    .await;
}

#[tokio::test]
async fn resumes_after_a_dropped_socket_keeping_sequence_state() {
    bounded(async {
        let peer = Peer::bind().await;
        let backend = Arc::new(FakeBackend::with_tokens(vec![Ok(Some("tok-2".to_owned()))]));
        let (mut channel, mut conn) = open(&peer, config(&backend)).await;
        let m0 = conn.send_output(0, PayloadType::Output, b"a").await;
        assert_acks(&conn.recv_ack().await, &m0);
        assert_eq!(next(&mut channel).await, Event::Output(b"a".to_vec()));
        channel.send_input(b"x").await.expect("input");
        let unacked = conn.recv_input().await;
        let first_request = conn.open.request_id.clone();
        drop(conn); // the socket drops without channel_closed

        let mut conn = peer.accept().await;
        assert_eq!(conn.open.token_value, "tok-2");
        assert_ne!(conn.open.request_id, first_request);
        assert_eq!(
            *backend.resumed.lock().expect("lock"),
            vec!["sess-1".to_owned()]
        );
        assert_eq!(
            conn.recv_input().await,
            unacked,
            "unacked input resent as is"
        );
        conn.ack(&unacked).await;
        conn.send(&m0).await; // a duplicate from before the drop
        let m1 = conn.send_output(1, PayloadType::Output, b"b").await;
        assert_acks(&conn.recv_ack().await, &m0);
        assert_acks(&conn.recv_ack().await, &m1);
        assert_eq!(next(&mut channel).await, Event::Output(b"b".to_vec()));
        channel.send_input(b"y").await.expect("input");
        assert_eq!(conn.recv_input().await.sequence_number, 1);
    })
    .await;
}

#[tokio::test]
async fn resume_gives_up_after_bounded_attempts() {
    bounded(async {
        let peer = Peer::bind().await;
        let backend = Arc::new(FakeBackend::with_tokens(vec![
            Err("AccessDeniedException: no".to_owned()),
            Err("AccessDeniedException: no".to_owned()),
            Err("AccessDeniedException: no".to_owned()),
        ]));
        let mut config = config(&backend);
        config.reconnect_attempts = 3;
        let (mut channel, conn) = open(&peer, config).await;
        drop(conn);
        let error = next_error(&mut channel).await;
        assert!(
            matches!(&error, ChannelError::Resume { message } if message.contains("AccessDenied")),
            "{error}"
        );
        assert_eq!(backend.resumed.lock().expect("lock").len(), 3);
    })
    .await;
}

#[tokio::test]
async fn resume_without_a_token_means_the_session_ended() {
    bounded(async {
        let peer = Peer::bind().await;
        let backend = Arc::new(FakeBackend::with_tokens(vec![Ok(None)]));
        let (mut channel, conn) = open(&peer, config(&backend)).await;
        drop(conn);
        let error = next_error(&mut channel).await;
        assert!(
            matches!(&error, ChannelError::Resume { message } if message.contains("ended")),
            "{error}"
        );
    })
    .await;
}

#[tokio::test]
async fn keepalive_pings_and_peer_pings_are_answered() {
    bounded(async {
        let peer = Peer::bind().await;
        let backend = Arc::new(FakeBackend::default());
        let mut config = config(&backend);
        config.keepalive = Duration::from_millis(50);
        let (_channel, mut conn) = open(&peer, config).await;
        loop {
            if let Some(WsMessage::Ping(payload)) = conn.recv_ws().await {
                assert_eq!(&payload[..], b"keepalive");
                break;
            }
        }
        conn.send_ws(WsMessage::Ping(Bytes::from_static(b"agent")))
            .await;
        loop {
            if let Some(WsMessage::Pong(payload)) = conn.recv_ws().await {
                assert_eq!(&payload[..], b"agent");
                break;
            }
        }
    })
    .await;
}

#[tokio::test]
async fn terminate_ends_the_session_and_closes_the_socket() {
    bounded(async {
        let peer = Peer::bind().await;
        let backend = Arc::new(FakeBackend::default());
        let (channel, mut conn) = open(&peer, config(&backend)).await;
        let input = channel.input();
        channel.terminate().await;
        assert_eq!(
            *backend.terminated.lock().expect("lock"),
            vec!["sess-1".to_owned()]
        );
        assert!(conn.recv_within(Duration::from_secs(3)).await.is_none());
        assert_eq!(input.send_input(b"x").await, Err(ChannelError::Closed));
    })
    .await;
}

#[tokio::test]
async fn connect_failure_is_reported_without_the_query() {
    bounded(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        drop(listener);
        let backend = Arc::new(FakeBackend::default());
        let url = format!("ws://{addr}/v1/data-channel/sess-1?role=publish_subscribe&secret=1");
        let error = Channel::open(info(&url), config(&backend))
            .await
            .expect_err("refused");
        let ChannelError::Connect { url: shown, .. } = &error else {
            panic!("{error}");
        };
        assert_eq!(shown, &format!("ws://{addr}/v1/data-channel/sess-1"));
        assert!(!error.to_string().contains(TOKEN));
    })
    .await;
}

#[tokio::test]
async fn wss_without_a_tls_peer_fails_cleanly() {
    bounded(async {
        // A plain TCP listener that hangs up: the TLS client (rustls, native
        // roots) must report an error, not panic.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let hang_up = tokio::spawn(async move {
            let (socket, _) = listener.accept().await.expect("accept");
            drop(socket);
        });
        let backend = Arc::new(FakeBackend::default());
        let url = format!("wss://{addr}/v1/data-channel/sess-1");
        let error = Channel::open(info(&url), config(&backend))
            .await
            .expect_err("no TLS");
        assert!(matches!(error, ChannelError::Connect { .. }), "{error}");
        hang_up.await.expect("join");
    })
    .await;
}

// ---------------------------------------------------------------- handshake

fn handshake_request(actions: serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "AgentVersion": "3.3.0.0",
        "RequestedClientActions": actions,
    }))
    .expect("json")
}

fn session_type_action() -> serde_json::Value {
    serde_json::json!({
        "ActionType": "SessionType",
        "ActionParameters": {"SessionType": "InteractiveCommands", "Properties": null}
    })
}

#[tokio::test]
async fn session_type_handshake_completes() {
    bounded(async {
        let peer = Peer::bind().await;
        let backend = Arc::new(FakeBackend::default());
        let (mut channel, mut conn) = open(&peer, config(&backend)).await;
        let request = handshake_request(serde_json::json!([session_type_action()]));
        conn.send_output(0, PayloadType::HandshakeRequest, &request)
            .await;
        let response = conn.recv_input().await;
        assert_eq!(
            (response.sequence_number, response.payload_type),
            (0, PayloadType::HandshakeResponse)
        );
        let response: HandshakeResponsePayload =
            serde_json::from_slice(&response.payload).expect("json");
        assert_eq!(response.client_version, DEFAULT_CLIENT_VERSION);
        assert_eq!(response.errors, None);
        assert_eq!(response.processed_client_actions.len(), 1);
        assert_eq!(
            response.processed_client_actions[0].action_status,
            ACTION_STATUS_SUCCESS
        );
        conn.send_output(
            1,
            PayloadType::HandshakeComplete,
            br#"{"HandshakeTimeToComplete":1000,"CustomerMessage":""}"#,
        )
        .await;
        assert_eq!(
            next(&mut channel).await,
            Event::HandshakeComplete {
                customer_message: None
            }
        );
    })
    .await;
}

#[tokio::test]
async fn unsupported_handshake_action_is_refused_clearly() {
    bounded(async {
        let peer = Peer::bind().await;
        let backend = Arc::new(FakeBackend::default());
        let (mut channel, mut conn) = open(&peer, config(&backend)).await;
        let request = handshake_request(serde_json::json!([
            session_type_action(),
            {"ActionType": "TeleportUser", "ActionParameters": {}}
        ]));
        conn.send_output(0, PayloadType::HandshakeRequest, &request)
            .await;
        let response = conn.recv_input().await;
        let response: HandshakeResponsePayload =
            serde_json::from_slice(&response.payload).expect("json");
        let statuses: Vec<(String, i32)> = response
            .processed_client_actions
            .iter()
            .map(|a| (a.action_type.clone(), a.action_status))
            .collect();
        assert_eq!(
            statuses,
            vec![
                ("SessionType".to_owned(), ACTION_STATUS_SUCCESS),
                ("TeleportUser".to_owned(), ACTION_STATUS_UNSUPPORTED)
            ]
        );
        assert_eq!(
            response.errors,
            Some(vec!["Unsupported action TeleportUser".to_owned()])
        );
        let error = next_error(&mut channel).await;
        assert!(
            matches!(&error, ChannelError::Handshake { action, .. } if action == "TeleportUser")
        );
        assert!(
            error
                .to_string()
                .contains("the agent asked for TeleportUser, which ecsx cannot do"),
            "{error}"
        );
    })
    .await;
}

#[tokio::test]
async fn kms_handshake_encrypts_input_and_decrypts_output() {
    bounded(async {
        let peer = Peer::bind().await;
        let plaintext: Vec<u8> = (0..64u8).map(|b| b.wrapping_mul(7)).collect();
        let backend = Arc::new(FakeBackend::default());
        *backend.data_key.lock().expect("lock") = Some(DataKey {
            ciphertext_blob: b"encrypted-data-key".to_vec(),
            plaintext: plaintext.clone(),
        });
        let agent = SessionCipher::from_keys(&plaintext[..32], &plaintext[32..]).expect("agent");
        let mut config = config(&backend);
        config.input_hold = Duration::from_secs(60);
        let (mut channel, mut conn) = open(&peer, config).await;
        channel.send_input(b"secret\r").await.expect("queued before the handshake");

        let request = handshake_request(serde_json::json!([
            session_type_action(),
            {"ActionType": "KMSEncryption", "ActionParameters": {"KMSKeyId": "arn:aws:kms:eu-west-1:1:key/k", "Challenge": "AAAA"}}
        ]));
        conn.send_output(0, PayloadType::HandshakeRequest, &request).await;
        let response = conn.recv_input().await;
        assert_eq!((response.sequence_number, response.payload_type), (0, PayloadType::HandshakeResponse));
        let response: HandshakeResponsePayload = serde_json::from_slice(&response.payload).expect("json");
        let kms = &response.processed_client_actions[1];
        assert_eq!((kms.action_type.as_str(), kms.action_status), ("KMSEncryption", ACTION_STATUS_SUCCESS));
        assert_eq!(kms.action_result["KMSCipherTextKey"], STANDARD.encode(b"encrypted-data-key"));
        assert_eq!(kms.action_result["KMSCipherTextHash"], serde_json::Value::Null);
        {
            let calls = backend.kms_calls.lock().expect("lock");
            assert_eq!(calls[0].0, "arn:aws:kms:eu-west-1:1:key/k");
            assert_eq!(calls[0].1["aws:ssm:SessionId"], "sess-1");
            assert_eq!(calls[0].1["aws:ssm:TargetId"], "ecs:demo_0123abcd_0123abcd-1234");
        }

        let challenge = b"sixty-four random bytes, more or less".to_vec();
        let challenge_json = serde_json::json!({"Challenge": STANDARD.encode(agent.encrypt(&challenge).expect("enc"))});
        conn.send_output(1, PayloadType::EncChallengeRequest, challenge_json.to_string().as_bytes())
            .await;
        let answer = conn.recv_input().await;
        assert_eq!((answer.sequence_number, answer.payload_type), (1, PayloadType::EncChallengeResponse));
        let answer: EncryptionChallengeResponse = serde_json::from_slice(&answer.payload).expect("json");
        assert_eq!(agent.decrypt(&answer.challenge).expect("agent decrypts"), challenge);

        conn.send_output(2, PayloadType::HandshakeComplete, br#"{"HandshakeTimeToComplete":5,"CustomerMessage":"This session is encrypted using AWS KMS."}"#)
            .await;
        assert_eq!(
            next(&mut channel).await,
            Event::HandshakeComplete {
                customer_message: Some("This session is encrypted using AWS KMS.".to_owned())
            }
        );
        // The input queued before the handshake goes out now, encrypted.
        let input = conn.recv_input().await;
        assert_eq!((input.sequence_number, input.payload_type), (2, PayloadType::Output));
        assert_eq!(agent.decrypt(&input.payload).expect("agent decrypts"), b"secret\r");
        // Sizes are not encrypted.
        channel.send_size(120, 40).await.expect("size");
        let size = conn.recv_input().await;
        assert_eq!(size.payload, br#"{"cols":120,"rows":40}"#);

        conn.send_output(3, PayloadType::Output, &agent.encrypt(b"hi\r\n").expect("enc")).await;
        assert_eq!(next(&mut channel).await, Event::Output(b"hi\r\n".to_vec()));
    })
    .await;
}

#[tokio::test]
async fn kms_failure_is_answered_and_reported() {
    bounded(async {
        let peer = Peer::bind().await;
        let backend = Arc::new(FakeBackend::default()); // no data key: GenerateDataKey fails
        let (mut channel, mut conn) = open(&peer, config(&backend)).await;
        let request = handshake_request(serde_json::json!([
            {"ActionType": "KMSEncryption", "ActionParameters": {"KMSKeyId": "alias/k"}}
        ]));
        conn.send_output(0, PayloadType::HandshakeRequest, &request)
            .await;
        let response = conn.recv_input().await;
        let response: HandshakeResponsePayload =
            serde_json::from_slice(&response.payload).expect("json");
        assert_eq!(response.processed_client_actions[0].action_status, 2);
        assert!(response.processed_client_actions[0]
            .error
            .contains("AccessDenied"));
        let error = next_error(&mut channel).await;
        assert!(
            matches!(&error, ChannelError::Kms { message } if message.contains("AccessDenied")),
            "{error}"
        );
    })
    .await;
}

/// port-mux.jsonl lines 6, 8, 10: the agent's Port handshake; nothing may go
/// out before HandshakeComplete (the real agent acks and drops it), however
/// long the input hold.
#[tokio::test]
async fn a_port_channel_sends_nothing_before_handshake_complete() {
    bounded(async {
        let peer = Peer::bind().await;
        let backend = Arc::new(FakeBackend::default());
        let mut config = config(&backend);
        config.kind = SessionKind::Port;
        config.input_hold = Duration::from_millis(50);
        let (mut channel, mut conn) = open(&peer, config).await;
        let mut signals = channel.take_port_signals().expect("signals");
        assert!(channel.take_port_signals().is_none(), "taken once");
        channel.send_input(b"early").await.expect("queued");
        assert!(
            conn.collect_for(Duration::from_millis(200)).await.is_empty(),
            "no input before the handshake"
        );
        let request = br#"{"AgentVersion":"3.3.0.0","RequestedClientActions":[{"ActionType":"SessionType","ActionParameters":{"SessionType":"Port","Properties":{"localPortNumber":"18090","portNumber":"18080","type":"LocalPortForwarding"}}}]}"#;
        conn.send_output(0, PayloadType::HandshakeRequest, request)
            .await;
        let response = conn.recv_input().await;
        assert_eq!(
            (response.sequence_number, response.payload_type),
            (0, PayloadType::HandshakeResponse)
        );
        let response: HandshakeResponsePayload =
            serde_json::from_slice(&response.payload).expect("json");
        assert_eq!(
            response.processed_client_actions[0].action_status,
            ACTION_STATUS_SUCCESS
        );
        assert!(
            conn.collect_for(Duration::from_millis(200))
                .await
                .iter()
                .all(|m| m.message_type != INPUT_STREAM_DATA || m.sequence_number == 0),
            "nothing but resends of the response: the handshake is not complete"
        );
        conn.send_output(
            1,
            PayloadType::HandshakeComplete,
            br#"{"HandshakeTimeToComplete":3032028,"CustomerMessage":""}"#,
        )
        .await;
        assert_eq!(
            next(&mut channel).await,
            Event::HandshakeComplete {
                customer_message: None
            }
        );
        match signals.try_recv().expect("handshake signal") {
            PortSignal::Handshake {
                agent_version,
                properties,
            } => {
                assert_eq!(agent_version, "3.3.0.0");
                assert_eq!(properties["type"], "LocalPortForwarding");
                assert_eq!(properties["portNumber"], "18080");
            }
            other => panic!("{other:?}"),
        }
        // (Resends of the unacknowledged response may come first.)
        let input = loop {
            let m = conn.recv_input().await;
            if m.sequence_number != 0 {
                break m;
            }
        };
        assert_eq!(
            (input.sequence_number, input.payload_type, input.payload.as_slice()),
            (1, PayloadType::Output, &b"early"[..])
        );
        // ConnectToPortError arrives as a signal, in order.
        conn.send_output(2, PayloadType::Flag, &3u32.to_be_bytes())
            .await;
        conn.send_output(3, PayloadType::Output, b"\x01\x01\x00\x00\x03\x00\x00\x00")
            .await;
        assert_eq!(
            next(&mut channel).await,
            Event::Output(b"\x01\x01\x00\x00\x03\x00\x00\x00".to_vec())
        );
        assert_eq!(signals.try_recv().expect("flag"), PortSignal::Flag(3));
        // Flags out: TerminateSession is PayloadType 10, sequenced.
        channel.input().send_flag(2).await.expect("flag");
        let flag = loop {
            let m = conn.recv_input().await;
            if m.sequence_number == 2 {
                break m;
            }
        };
        assert_eq!(
            (flag.payload_type, flag.payload.as_slice()),
            (PayloadType::Flag, &[0u8, 0, 0, 2][..])
        );
    })
    .await;
}

/// A port channel never sets up KMS: no GenerateDataKey, the action unsupported.
#[tokio::test]
async fn a_port_channel_refuses_kms() {
    bounded(async {
        let peer = Peer::bind().await;
        let backend = Arc::new(FakeBackend::default());
        let mut config = config(&backend);
        config.kind = SessionKind::Port;
        let (mut channel, mut conn) = open(&peer, config).await;
        let request = handshake_request(serde_json::json!([
            {"ActionType": "SessionType", "ActionParameters": {"SessionType": "Port", "Properties": {"type": "LocalPortForwarding"}}},
            {"ActionType": "KMSEncryption", "ActionParameters": {"KMSKeyId": "arn:aws:kms:us-east-1:1:key/k", "Challenge": "AAAA"}}
        ]));
        conn.send_output(0, PayloadType::HandshakeRequest, &request)
            .await;
        let response = conn.recv_input().await;
        let response: HandshakeResponsePayload =
            serde_json::from_slice(&response.payload).expect("json");
        assert_eq!(
            response.processed_client_actions[1].action_status,
            ACTION_STATUS_UNSUPPORTED
        );
        assert!(matches!(
            channel.next_event().await,
            Some(Err(ChannelError::Handshake { .. }))
        ));
        assert!(backend.kms_calls.lock().expect("lock").is_empty(), "no GenerateDataKey");
    })
    .await;
}

/// An exec channel refuses a Port session, and a port channel an exec one.
#[tokio::test]
async fn session_kinds_take_only_their_session_type() {
    bounded(async {
        for (kind, session_type) in [
            (SessionKind::Exec, "Port"),
            (SessionKind::Port, "InteractiveCommands"),
        ] {
            let peer = Peer::bind().await;
            let backend = Arc::new(FakeBackend::default());
            let mut config = config(&backend);
            config.kind = kind;
            let (mut channel, mut conn) = open(&peer, config).await;
            let request = handshake_request(serde_json::json!([{
                "ActionType": "SessionType",
                "ActionParameters": {"SessionType": session_type, "Properties": null}
            }]));
            conn.send_output(0, PayloadType::HandshakeRequest, &request)
                .await;
            let response = conn.recv_input().await;
            let response: HandshakeResponsePayload =
                serde_json::from_slice(&response.payload).expect("json");
            assert_eq!(
                response.processed_client_actions[0].action_status,
                crate::protocol::payloads::ACTION_STATUS_FAILED,
                "{kind:?} given {session_type}"
            );
            match channel.next_event().await {
                Some(Err(ChannelError::Handshake { .. })) => {}
                other => panic!("{kind:?}: {other:?}"),
            }
        }
    })
    .await;
}
