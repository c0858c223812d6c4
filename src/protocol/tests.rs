//! Tests for the protocol module: the byte vectors from the official Go
//! serializer (docs/protocol.md section 2), one test per decode error, the
//! exact JSON of the payloads, and property tests for round-trips and for
//! decode never panicking.

use proptest::prelude::*;
use uuid::Uuid;

use super::codec::*;
use super::payloads::*;
use super::sha;

const CREATED: u64 = 1_503_434_274_948;

const V_INPUT_LS: &str = "00000074696e7075745f73747265616d5f64617461202020202020202020202020202020000000010000015e0baa788400000000000000000000000000000000a508b5f073f31b16dd01e56bff48483e1d887ce0f8672e4914d9000e801cd74ecd805dd9366c0bc42dc16adc0197dc2f00000001000000036c730d";
const V_ACK: &str = "0000007461636b6e6f776c65646765202020202020202020202020202020202020202020000000010000015e0baa788400000000000000000000000000000003a8b9cadbecfd0e1f0f1e2d3c4b5a4697d4d7f1747897c70548c2e255036137f7af22bfac869648df21a5ce811997f81800000000000000b07b2241636b6e6f776c65646765644d65737361676554797065223a226f75747075745f73747265616d5f64617461222c2241636b6e6f776c65646765644d6573736167654964223a2232613862336334642d356536662d343731312d383839392d616162626363646465656666222c2241636b6e6f776c65646765644d65737361676553657175656e63654e756d626572223a352c22497353657175656e7469616c4d657373616765223a747275657d";
const V_OUTPUT_SYN: &str = "000000746f75747075745f73747265616d5f646174612020202020202020202020202020000000010000015e0baa78840000000000000000000000000000000184445555555555551111111122224333cd2eca3535741f27a8ae40c31b0c41d4057a7a7b912b33b9aed86485d1c84676000000010000000768656c6c6f0d0a";
const V_SIZE: &str = "00000074696e7075745f73747265616d5f64617461202020202020202020202020202020000000010000015e0baa7884000000000000000100000000000000009999aaaaaaaaaaaa6666666677774888d53ca1ea7dce87c11432052a8550ed2615cf715ca843c89710ed83325b691cba00000003000000157b22636f6c73223a38302c22726f7773223a32347d";

const ACK_JSON: &str = r#"{"AcknowledgedMessageType":"output_stream_data","AcknowledgedMessageId":"2a8b3c4d-5e6f-4711-8899-aabbccddeeff","AcknowledgedMessageSequenceNumber":5,"IsSequentialMessage":true}"#;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("test hex"))
        .collect()
}

fn id(s: &str) -> Uuid {
    Uuid::parse_str(s).expect("test uuid")
}

fn msg(ty: &str, mid: &str, seq: i64, flags: u64, pt: PayloadType, payload: &[u8]) -> Message {
    Message {
        message_type: ty.to_owned().into(),
        schema_version: SCHEMA_VERSION,
        created_date: CREATED,
        sequence_number: seq,
        flags,
        message_id: id(mid),
        payload_type: pt,
        payload: payload.to_vec(),
    }
}

fn vectors() -> Vec<(&'static str, Message)> {
    vec![
        (
            V_INPUT_LS,
            msg(
                INPUT_STREAM_DATA,
                "dd01e56b-ff48-483e-a508-b5f073f31b16",
                0,
                0,
                PayloadType::Output,
                b"ls\r",
            ),
        ),
        (
            V_ACK,
            msg(
                ACKNOWLEDGE,
                "0f1e2d3c-4b5a-4697-a8b9-cadbecfd0e1f",
                0,
                3,
                PayloadType::None,
                ACK_JSON.as_bytes(),
            ),
        ),
        (
            V_OUTPUT_SYN,
            msg(
                OUTPUT_STREAM_DATA,
                "11111111-2222-4333-8444-555555555555",
                0,
                FLAG_SYN,
                PayloadType::Output,
                b"hello\r\n",
            ),
        ),
        (
            V_SIZE,
            msg(
                INPUT_STREAM_DATA,
                "66666666-7777-4888-9999-aaaaaaaaaaaa",
                1,
                0,
                PayloadType::Size,
                br#"{"cols":80,"rows":24}"#,
            ),
        ),
    ]
}

/// A valid frame to corrupt in the error tests.
fn valid_frame() -> Vec<u8> {
    hex(V_OUTPUT_SYN)
}

/// Recomputes the digest after a test edits the payload.
fn fix_digest(frame: &mut [u8]) {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(&frame[120..]);
    frame[80..112].copy_from_slice(&d);
}

// ---- vectors ----

#[test]
fn encode_matches_go_vectors() {
    for (h, m) in vectors() {
        assert_eq!(encode(&m), hex(h), "encoding {}", m.message_type);
    }
}

#[test]
fn vector_lengths_match_doc() {
    let lens: Vec<usize> = vectors().iter().map(|(h, _)| hex(h).len()).collect();
    assert_eq!(lens, [123, 296, 127, 141]);
}

#[test]
fn decode_go_vectors_every_field() {
    for (h, want) in vectors() {
        let got = decode(&hex(h)).expect("vector decodes");
        assert_eq!(got.message_type, want.message_type);
        assert_eq!(got.schema_version, 1);
        assert_eq!(got.created_date, CREATED);
        assert_eq!(got.sequence_number, want.sequence_number);
        assert_eq!(got.flags, want.flags);
        assert_eq!(got.message_id, want.message_id);
        assert_eq!(got.payload_type, want.payload_type);
        assert_eq!(got.payload, want.payload);
        assert_eq!(got, want);
    }
}

#[test]
fn message_id_halves_are_swapped_on_the_wire() {
    let f = hex(V_OUTPUT_SYN);
    assert_eq!(&f[64..72], &hex("8444555555555555")[..]);
    assert_eq!(&f[72..80], &hex("1111111122224333")[..]);
}

// ---- decode errors ----

#[test]
fn err_too_short() {
    assert_eq!(decode(&[]), Err(CodecError::TooShort { len: 0 }));
    let f = valid_frame();
    assert_eq!(decode(&f[..119]), Err(CodecError::TooShort { len: 119 }));
}

#[test]
fn err_bad_header_length() {
    for hl in [0u32, 115, 117, u32::MAX] {
        let mut f = valid_frame();
        f[0..4].copy_from_slice(&hl.to_be_bytes());
        assert_eq!(decode(&f), Err(CodecError::BadHeaderLength(hl)));
    }
}

#[test]
fn err_empty_message_type() {
    for fill in [b' ', 0u8] {
        let mut f = valid_frame();
        f[4..36].fill(fill);
        assert_eq!(decode(&f), Err(CodecError::EmptyMessageType));
    }
}

#[test]
fn err_invalid_message_type() {
    let mut f = valid_frame();
    f[5] = 0xff;
    assert!(matches!(
        decode(&f),
        Err(CodecError::InvalidMessageType { .. })
    ));
    let mut f = valid_frame();
    f[10] = b' '; // "output stream_data": interior space
    assert!(matches!(
        decode(&f),
        Err(CodecError::InvalidMessageType { .. })
    ));
}

#[test]
fn message_type_trims_nuls_and_spaces() {
    let mut f = valid_frame();
    f[4..36].fill(0);
    f[4] = b' ';
    f[5..15].copy_from_slice(b"acknowledg");
    f[15] = b'e';
    assert_eq!(decode(&f).expect("decodes").message_type, "acknowledge");
}

#[test]
fn known_types_decode_borrowed_others_owned() {
    use std::borrow::Cow;
    for ty in [
        INPUT_STREAM_DATA,
        OUTPUT_STREAM_DATA,
        ACKNOWLEDGE,
        CHANNEL_CLOSED,
    ] {
        let m = Message::new(ty, 1, 0, PayloadType::Output, b"x".to_vec());
        let got = decode(&encode(&m)).expect("decodes");
        assert!(
            matches!(got.message_type, Cow::Borrowed(t) if t == ty),
            "{ty}"
        );
    }
    let m = Message::new("interactive_data", 1, 0, PayloadType::Output, b"x".to_vec());
    let got = decode(&encode(&m)).expect("decodes");
    assert!(matches!(got.message_type, Cow::Owned(ref t) if t == "interactive_data"));
}

#[test]
fn err_zero_created_date() {
    let mut f = valid_frame();
    f[40..48].fill(0);
    assert_eq!(decode(&f), Err(CodecError::ZeroCreatedDate));
}

#[test]
fn err_digest_mismatch() {
    let mut f = valid_frame();
    f[80] ^= 1;
    assert_eq!(decode(&f), Err(CodecError::DigestMismatch));
    let mut f = valid_frame();
    let last = f.len() - 1;
    f[last] ^= 1;
    assert_eq!(decode(&f), Err(CodecError::DigestMismatch));
}

#[test]
fn err_payload_length_mismatch_short_frame() {
    let f = valid_frame();
    assert_eq!(
        decode(&f[..f.len() - 1]),
        Err(CodecError::PayloadLengthMismatch {
            declared: 7,
            actual: 6
        })
    );
    let mut f = valid_frame();
    f[116..120].copy_from_slice(&u32::MAX.to_be_bytes());
    assert_eq!(
        decode(&f),
        Err(CodecError::PayloadLengthMismatch {
            declared: u32::MAX,
            actual: 7
        })
    );
}

#[test]
fn err_payload_length_mismatch_trailing_bytes() {
    let mut f = valid_frame();
    f.push(b'!');
    fix_digest(&mut f);
    assert_eq!(
        decode(&f),
        Err(CodecError::PayloadLengthMismatch {
            declared: 7,
            actual: 8
        })
    );
}

#[test]
fn publication_messages_skip_date_and_digest_checks() {
    for ty in [START_PUBLICATION, PAUSE_PUBLICATION] {
        let mut m = Message::new(ty, 0, 0, PayloadType::None, b"x".to_vec());
        m.created_date = 0;
        let mut f = encode(&m);
        f[80..112].fill(0);
        assert_eq!(decode(&f), Ok(m));
    }
    // The same frame with another type is rejected.
    let mut m = Message::new(ACKNOWLEDGE, 0, 0, PayloadType::None, b"x".to_vec());
    m.created_date = 7;
    let mut f = encode(&m);
    f[80..112].fill(0);
    assert_eq!(decode(&f), Err(CodecError::DigestMismatch));
}

#[test]
fn empty_payload_is_not_digest_checked() {
    let m = Message::new(CHANNEL_CLOSED, 0, 0, PayloadType::None, Vec::new());
    let mut f = encode(&m);
    assert_eq!(f.len(), 120);
    f[80..112].fill(0xab);
    assert_eq!(decode(&f), Ok(m));
}

// ---- encode side ----

#[test]
fn validate_rejects_what_decode_would() {
    let ok = Message::new(INPUT_STREAM_DATA, 0, 0, PayloadType::Output, b"a".to_vec());
    assert_eq!(ok.validate(), Ok(()));
    let mut m = ok.clone();
    m.message_type = String::new().into();
    assert_eq!(m.validate(), Err(CodecError::EmptyMessageType));
    for bad in ["x".repeat(33), "a b".to_owned(), "é".to_owned()] {
        let mut m = ok.clone();
        m.message_type = bad.into();
        assert!(matches!(
            m.validate(),
            Err(CodecError::InvalidMessageType { .. })
        ));
    }
    let mut m = ok.clone();
    m.created_date = 0;
    assert_eq!(m.validate(), Err(CodecError::ZeroCreatedDate));
}

#[test]
fn message_new_fills_defaults() {
    let a = Message::new(
        INPUT_STREAM_DATA,
        4,
        FLAG_FIN,
        PayloadType::Size,
        b"{}".to_vec(),
    );
    let b = Message::new(
        INPUT_STREAM_DATA,
        4,
        FLAG_FIN,
        PayloadType::Size,
        b"{}".to_vec(),
    );
    assert_eq!(a.schema_version, 1);
    assert!(a.created_date > CREATED);
    assert_eq!(a.message_id.get_version_num(), 4);
    assert_ne!(a.message_id, b.message_id);
    assert_eq!((a.sequence_number, a.flags), (4, FLAG_FIN));
}

#[test]
fn payload_type_numbers() {
    for n in 0u32..=20 {
        assert_eq!(u32::from(PayloadType::from(n)), n);
    }
    assert_eq!(PayloadType::from(0), PayloadType::None);
    assert_eq!(PayloadType::from(1), PayloadType::Output);
    assert_eq!(PayloadType::from(3), PayloadType::Size);
    assert_eq!(PayloadType::from(5), PayloadType::HandshakeRequest);
    assert_eq!(PayloadType::from(9), PayloadType::EncChallengeResponse);
    assert_eq!(PayloadType::from(10), PayloadType::Flag);
    assert_eq!(PayloadType::from(12), PayloadType::ExitCode);
    assert_eq!(PayloadType::from(13), PayloadType::Other(13));
}

#[test]
fn flag_payload_is_big_endian() {
    assert_eq!(flag_payload(PAYLOAD_FLAG_TERMINATE_SESSION), [0, 0, 0, 2]);
}

// ---- payload JSON ----

#[test]
fn acknowledge_json_is_byte_exact() {
    let ack = AcknowledgeContent {
        acknowledged_message_type: OUTPUT_STREAM_DATA.to_owned(),
        acknowledged_message_id: "2a8b3c4d-5e6f-4711-8899-aabbccddeeff".to_owned(),
        acknowledged_message_sequence_number: 5,
        is_sequential_message: true,
    };
    assert_eq!(serde_json::to_string(&ack).expect("json"), ACK_JSON);
    let back: AcknowledgeContent = serde_json::from_str(ACK_JSON).expect("parse");
    assert_eq!(back, ack);
}

#[test]
fn acknowledge_message_for_received() {
    let received = msg(
        OUTPUT_STREAM_DATA,
        "2a8b3c4d-5e6f-4711-8899-aabbccddeeff",
        5,
        0,
        PayloadType::Output,
        b"x",
    );
    let ack = AcknowledgeContent::for_message(&received).to_message();
    assert_eq!(ack.message_type, ACKNOWLEDGE);
    assert_eq!((ack.sequence_number, ack.flags), (0, 3));
    assert_eq!(ack.payload_type, PayloadType::None);
    assert_eq!(ack.payload, ACK_JSON.as_bytes());
    assert_eq!(decode(&encode(&ack)), Ok(ack));
}

#[test]
fn size_json_is_byte_exact() {
    let s = SizeData { cols: 80, rows: 24 };
    assert_eq!(
        serde_json::to_string(&s).expect("json"),
        r#"{"cols":80,"rows":24}"#
    );
}

#[test]
fn open_data_channel_json_field_order() {
    let cid = id("11111111-2222-4333-8444-555555555555");
    let mut o = OpenDataChannelInput::new("tok", cid);
    assert_eq!(
        Uuid::parse_str(&o.request_id).map(|u| u.get_version_num()),
        Ok(4)
    );
    o.request_id = "66666666-7777-4888-9999-aaaaaaaaaaaa".to_owned();
    assert_eq!(
        serde_json::to_string(&o).expect("json"),
        r#"{"MessageSchemaVersion":"1.0","RequestId":"66666666-7777-4888-9999-aaaaaaaaaaaa","TokenValue":"tok","ClientId":"11111111-2222-4333-8444-555555555555","ClientVersion":"1.2.707.0"}"#
    );
}

#[test]
fn channel_closed_parses_with_and_without_output() {
    let full = r#"{"MessageId":"m","CreatedDate":"1503434274948","DestinationId":"d","SessionId":"s","MessageType":"channel_closed","SchemaVersion":1,"Output":"bye"}"#;
    let c: ChannelClosed = serde_json::from_str(full).expect("parse");
    assert_eq!(c.output, "bye");
    assert_eq!(c.created_date, "1503434274948");
    assert_eq!(c.schema_version, 1);
    let c: ChannelClosed = serde_json::from_str(r#"{"SessionId":"s"}"#).expect("parse");
    assert_eq!((c.session_id.as_str(), c.output.as_str()), ("s", ""));
}

#[test]
fn handshake_request_parses_doc_example() {
    let j = r#"{"AgentVersion":"3.3.0.0","RequestedClientActions":[{"ActionType":"SessionType","ActionParameters":{"SessionType":"InteractiveCommands","Properties":null}},{"ActionType":"KMSEncryption","ActionParameters":{"KMSKeyId":"arn:aws:kms:k","Challenge":"AAE="}}]}"#;
    let r: HandshakeRequestPayload = serde_json::from_str(j).expect("parse");
    assert_eq!(r.agent_version, "3.3.0.0");
    assert_eq!(
        r.requested_client_actions[0].action_type,
        ACTION_SESSION_TYPE
    );
    let st: SessionTypeRequest =
        serde_json::from_value(r.requested_client_actions[0].action_parameters.clone())
            .expect("session type");
    assert_eq!(st.session_type, "InteractiveCommands");
    assert_eq!(
        r.requested_client_actions[1].action_type,
        ACTION_KMS_ENCRYPTION
    );
    let k: KmsEncryptionRequest =
        serde_json::from_value(r.requested_client_actions[1].action_parameters.clone())
            .expect("kms");
    assert_eq!(k.kms_key_id, "arn:aws:kms:k");
}

#[test]
fn handshake_response_json_is_byte_exact() {
    let kms = KmsEncryptionResponse {
        kms_cipher_text_key: vec![0, 1, 2, 0xff],
        kms_cipher_text_hash: None,
    };
    let r = HandshakeResponsePayload {
        client_version: DEFAULT_CLIENT_VERSION.to_owned(),
        processed_client_actions: vec![
            ProcessedClientAction {
                action_type: ACTION_SESSION_TYPE.to_owned(),
                action_status: ACTION_STATUS_SUCCESS,
                action_result: serde_json::Value::Null,
                error: String::new(),
            },
            ProcessedClientAction {
                action_type: ACTION_KMS_ENCRYPTION.to_owned(),
                action_status: ACTION_STATUS_SUCCESS,
                action_result: serde_json::to_value(&kms).expect("value"),
                error: String::new(),
            },
        ],
        errors: None,
    };
    assert_eq!(
        serde_json::to_string(&r).expect("json"),
        r#"{"ClientVersion":"1.2.707.0","ProcessedClientActions":[{"ActionType":"SessionType","ActionStatus":1,"ActionResult":null,"Error":""},{"ActionType":"KMSEncryption","ActionStatus":1,"ActionResult":{"KMSCipherTextKey":"AAEC/w==","KMSCipherTextHash":null},"Error":""}],"Errors":null}"#
    );
}

#[test]
fn handshake_complete_and_challenge() {
    let c: HandshakeCompletePayload =
        serde_json::from_str(r#"{"HandshakeTimeToComplete":123456789,"CustomerMessage":"hi"}"#)
            .expect("parse");
    assert_eq!(c.handshake_time_to_complete, 123_456_789);
    assert_eq!(c.customer_message, "hi");

    let req: EncryptionChallengeRequest =
        serde_json::from_str(r#"{"Challenge":"AAEC/w=="}"#).expect("parse");
    assert_eq!(req.challenge, [0, 1, 2, 0xff]);
    let resp = EncryptionChallengeResponse {
        challenge: req.challenge,
    };
    assert_eq!(
        serde_json::to_string(&resp).expect("json"),
        r#"{"Challenge":"AAEC/w=="}"#
    );
    assert!(serde_json::from_str::<EncryptionChallengeRequest>(r#"{"Challenge":"!!"}"#).is_err());
}

// ---- properties ----

fn arb_message() -> impl Strategy<Value = Message> {
    (
        "[!-~]{1,32}",
        any::<u32>(),
        1..=u64::MAX,
        any::<i64>(),
        any::<u64>(),
        any::<u128>(),
        any::<u32>(),
        proptest::collection::vec(any::<u8>(), 1..2048),
    )
        .prop_map(|(ty, sv, cd, seq, flags, id, pt, payload)| Message {
            message_type: ty.into(),
            schema_version: sv,
            created_date: cd,
            sequence_number: seq,
            flags,
            message_id: Uuid::from_u128(id),
            payload_type: PayloadType::from(pt),
            payload,
        })
}

/// Ways to damage a valid frame.
#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Truncate(usize),
    Append(Vec<u8>),
    SetU32(usize, u32),
}

fn arb_mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1..=u8::MAX).prop_map(|(i, b)| Mutation::Flip(i, b)),
        any::<usize>().prop_map(Mutation::Truncate),
        proptest::collection::vec(any::<u8>(), 1..64).prop_map(Mutation::Append),
        (
            prop::sample::select(vec![0usize, 36, 112, 116]),
            prop_oneof![Just(0u32), Just(116), Just(u32::MAX), any::<u32>()]
        )
            .prop_map(|(at, v)| Mutation::SetU32(at, v)),
    ]
}

fn apply(frame: &mut Vec<u8>, m: &Mutation) {
    match m {
        Mutation::Flip(i, b) => {
            let n = frame.len();
            if n > 0 {
                frame[i % n] ^= b;
            }
        }
        Mutation::Truncate(i) => frame.truncate(i % (frame.len() + 1)),
        Mutation::Append(extra) => frame.extend_from_slice(extra),
        Mutation::SetU32(at, v) => {
            if frame.len() >= at + 4 {
                frame[*at..at + 4].copy_from_slice(&v.to_be_bytes());
            }
        }
    }
}

proptest! {
    #[test]
    fn prop_roundtrip(m in arb_message()) {
        prop_assert_eq!(m.validate(), Ok(()));
        let f = encode(&m);
        prop_assert_eq!(f.len(), 120 + m.payload.len());
        prop_assert_eq!(decode(&f), Ok(m));
    }

    #[test]
    fn prop_decode_arbitrary_bytes_never_panics(
        bytes in proptest::collection::vec(any::<u8>(), 0..400)
    ) {
        let _ = decode(&bytes);
    }

    #[test]
    fn prop_decode_mutated_frames_never_panics(
        m in arb_message(),
        muts in proptest::collection::vec(arb_mutation(), 1..4),
    ) {
        let mut f = encode(&m);
        for mu in &muts {
            apply(&mut f, mu);
        }
        if let Ok(d) = decode(&f) {
            // Whatever decodes must survive a re-encode.
            prop_assert_eq!(decode(&encode(&d)), Ok(d));
        }
    }
}

/// The parts of a decoded frame that do not change from one encoding to
/// the next (the id and the date are fresh each time).
fn fixed_parts(frame: &[u8]) -> (String, u32, i64, u64, PayloadType, Vec<u8>) {
    let m = decode(frame).expect("decodes");
    (
        m.message_type.into_owned(),
        m.schema_version,
        m.sequence_number,
        m.flags,
        m.payload_type,
        m.payload,
    )
}

proptest! {
    /// `ack_frame` writes the acknowledgement's JSON itself: it must be the
    /// serializer's bytes, for any type (quotes and backslashes included),
    /// id and sequence number.
    #[test]
    fn ack_frame_is_what_the_serializer_gives(
        ty in "[!-~]{1,32}",
        seq in any::<i64>(),
        id_bytes in any::<[u8; 16]>(),
    ) {
        let mut received = Message::new(ty, seq, 0, PayloadType::Output, b"x".to_vec());
        received.message_id = Uuid::from_bytes(id_bytes);
        let fast = ack_frame(&received);
        let slow = encode(&AcknowledgeContent::for_message(&received).to_message());
        prop_assert_eq!(fixed_parts(&fast), fixed_parts(&slow));
        let mut acks = Acks::default();
        acks.push(&received);
        acks.push(&received);
        acks.push(&received);
        acks.pop();
        prop_assert_eq!(acks.len(), 2);
        let batch = acks.take_frames();
        prop_assert!(acks.is_empty());
        prop_assert_eq!(batch.len(), 2);
        prop_assert_eq!(fixed_parts(&batch[0]), fixed_parts(&slow));
        prop_assert_eq!(fixed_parts(&batch[1]), fixed_parts(&slow));
        let payload = decode(&fast).unwrap().payload;
        let read: AckRef = serde_json::from_slice(&payload).unwrap();
        prop_assert_eq!(read.acknowledged_message_type.as_ref(), &*received.message_type);
        prop_assert_eq!(read.acknowledged_message_sequence_number, seq);
    }

    /// `encode_new` is `Message::new` then `encode`.
    #[test]
    fn encode_new_is_new_then_encode(
        seq in any::<i64>(),
        flags in any::<u64>(),
        payload in proptest::collection::vec(any::<u8>(), 1..1100),
    ) {
        let direct = encode_new(OUTPUT_STREAM_DATA, seq, flags, PayloadType::Output, &payload);
        let built = encode(&Message::new(OUTPUT_STREAM_DATA, seq, flags, PayloadType::Output, payload.clone()));
        prop_assert_eq!(fixed_parts(&direct), fixed_parts(&built));
        prop_assert_eq!(direct.len(), built.len());
        // And in a batch, each frame a slice of one buffer.
        let digest = sha::one(&payload);
        let mut frames = FrameBuf::with_capacity(2, 0);
        for _ in 0..2 {
            frames.push(OUTPUT_STREAM_DATA, seq, flags, PayloadType::Output, &payload, &digest, created_now());
        }
        for frame in frames.finish() {
            prop_assert_eq!(fixed_parts(&frame), fixed_parts(&direct));
            prop_assert_eq!(frame.len(), direct.len());
        }
    }
}

proptest! {
    /// A `FrameBatch` gives `decode` of each frame, whatever the frames: valid,
    /// with a flipped byte (a digest that no longer matches, a broken
    /// header), or cut short.
    #[test]
    fn a_frame_batch_is_decode_of_each(
        frames in proptest::collection::vec(
            (
                proptest::collection::vec(any::<u8>(), 0..1100),
                proptest::option::of((any::<prop::sample::Index>(), any::<u8>())),
                proptest::option::of(any::<prop::sample::Index>()),
            ),
            0..6,
        )
    ) {
        let frames: Vec<Vec<u8>> = frames
            .into_iter()
            .map(|(payload, flip, cut)| {
                let mut frame =
                    encode(&Message::new(OUTPUT_STREAM_DATA, 3, 0, PayloadType::Output, payload));
                if let Some((at, x)) = flip {
                    let i = at.index(frame.len());
                    frame[i] ^= x;
                }
                if let Some(at) = cut {
                    frame.truncate(at.index(frame.len() + 1));
                }
                frame
            })
            .collect();
        let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
        let each: Vec<Result<Message, CodecError>> = refs.iter().map(|f| decode(f)).collect();
        let mut batch: FrameBatch<()> = FrameBatch::default();
        for frame in &refs {
            batch.push_binary(frame);
        }
        let batched: Vec<Result<Message, CodecError>> = batch
            .finish()
            .filter_map(|b| match b {
                Batched::Message(m) => Some(m),
                Batched::Other(()) => None,
            })
            .collect();
        prop_assert_eq!(batched, each);
    }
}

/// `read_ack` as serde alone would answer it.
fn read_ack_by_serde(payload: &[u8]) -> Option<(String, i64)> {
    let ack: AckRef = serde_json::from_slice(payload).ok()?;
    Some((
        ack.acknowledged_message_type.into_owned(),
        ack.acknowledged_message_sequence_number,
    ))
}

#[test]
fn read_ack_reads_the_official_json_and_anything_serde_takes() {
    assert_eq!(
        read_ack(ACK_JSON.as_bytes()).map(|(t, n)| (t.into_owned(), n)),
        Some(("output_stream_data".to_string(), 5))
    );
    // Other spacing and order: not the exact form, still an ack.
    let spaced = r#"{ "AcknowledgedMessageSequenceNumber": 7, "AcknowledgedMessageType": "x" }"#;
    assert_eq!(
        read_ack(spaced.as_bytes()).map(|(t, n)| (t.into_owned(), n)),
        Some(("x".to_string(), 7))
    );
    for bad in [
        &br#"{"AcknowledgedMessageType":"a","AcknowledgedMessageId":"i","AcknowledgedMessageSequenceNumber":05,"IsSequentialMessage":true}"#[..],
        br#"{"AcknowledgedMessageType":"a","AcknowledgedMessageId":"i","AcknowledgedMessageSequenceNumber":5,"IsSequentialMessage":true}x"#,
        br#"{"AcknowledgedMessageType":"a","AcknowledgedMessageId":"i","AcknowledgedMessageSequenceNumber":99999999999999999999,"IsSequentialMessage":true}"#,
        b"",
    ] {
        assert_eq!(read_ack(bad), None, "{}", String::from_utf8_lossy(bad));
    }
}

proptest! {
    /// Whatever the bytes (an ack with one byte changed, cut or grown),
    /// `read_ack` answers as serde does.
    #[test]
    fn read_ack_answers_as_serde_does(
        seq in any::<i64>(),
        ty in "[ -~]{0,20}",
        edit in proptest::option::of((any::<prop::sample::Index>(), any::<u8>())),
        cut in proptest::option::of(any::<prop::sample::Index>()),
    ) {
        let received = Message::new(ty, seq, 0, PayloadType::Output, b"x".to_vec());
        let mut payload = decode(&ack_frame(&received)).unwrap().payload;
        if let Some((at, byte)) = edit {
            let i = at.index(payload.len());
            payload[i] = byte;
        }
        if let Some(at) = cut {
            payload.truncate(at.index(payload.len() + 1));
        }
        let fast = read_ack(&payload).map(|(t, n)| (t.into_owned(), n));
        prop_assert_eq!(fast, read_ack_by_serde(&payload));
    }
}

#[test]
fn a_frame_batch_keeps_arrival_order_and_checks_every_digest() {
    let good = |seq| {
        encode(&Message::new(
            OUTPUT_STREAM_DATA,
            seq,
            0,
            PayloadType::Output,
            vec![seq as u8; 700],
        ))
    };
    let mut bad = good(2);
    let last = bad.len() - 1;
    bad[last] ^= 1;
    let mut batch = FrameBatch::default();
    batch.push_other("ping");
    batch.push_binary(&good(0));
    batch.push_binary(&good(1));
    batch.push_other("pong");
    batch.push_binary(&bad);
    batch.push_binary(&good(3));
    batch.push_other("close");
    assert_eq!(batch.len(), 7);
    let got: Vec<String> = batch
        .finish()
        .map(|b| match b {
            Batched::Message(Ok(m)) => format!("seq {}", m.sequence_number),
            Batched::Message(Err(e)) => format!("error {e:?}"),
            Batched::Other(o) => o.to_string(),
        })
        .collect();
    assert_eq!(
        got,
        [
            "ping",
            "seq 0",
            "seq 1",
            "pong",
            "error DigestMismatch",
            "seq 3",
            "close"
        ]
    );
}
