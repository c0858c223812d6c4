//! Binary codec for the Session Manager data-channel message (the official
//! client's `ClientMessage`): a fixed 120-byte big-endian header followed by
//! the payload. [`encode`] produces exactly the bytes of the official Go
//! serializer; [`decode`] turns one WebSocket binary frame back into a
//! [`Message`], rejecting every malformed frame with a typed [`CodecError`]
//! and never panicking, whatever the input.

use std::borrow::Cow;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Value of the HeaderLength field: everything before the PayloadLength field.
pub const HEADER_LENGTH: u32 = 116;
/// Offset of the first payload byte (HeaderLength + the 4-byte PayloadLength).
pub const PAYLOAD_OFFSET: usize = 120;
/// Width of the space-padded MessageType field.
pub const MESSAGE_TYPE_LEN: usize = 32;
/// The only SchemaVersion in use.
pub const SCHEMA_VERSION: u32 = 1;
/// Largest payload the official client and agent put in one message.
pub const MAX_PAYLOAD_CHUNK: usize = 1024;

/// Stdin (and terminal size) from client to agent; sequenced.
pub const INPUT_STREAM_DATA: &str = "input_stream_data";
/// Output from agent to client; sequenced.
pub const OUTPUT_STREAM_DATA: &str = "output_stream_data";
/// Acknowledgement of a stream message; both directions, not sequenced.
pub const ACKNOWLEDGE: &str = "acknowledge";
/// The service closes the channel; the payload is a [`super::payloads::ChannelClosed`].
pub const CHANNEL_CLOSED: &str = "channel_closed";
/// The peer may resume sending stream messages.
pub const START_PUBLICATION: &str = "start_publication";
/// The peer must stop sending stream messages until `start_publication`.
pub const PAUSE_PUBLICATION: &str = "pause_publication";
/// Agent to service only; a client ignores it.
pub const AGENT_SESSION_STATE: &str = "agent_session_state";

/// Flags bit 0: this sequence number is the first of the stream.
pub const FLAG_SYN: u64 = 1;
/// Flags bit 1: this is the final message of the stream.
pub const FLAG_FIN: u64 = 2;

/// Value of a [`PayloadType::Flag`] payload (a big-endian u32).
pub const PAYLOAD_FLAG_DISCONNECT_TO_PORT: u32 = 1;
/// Value of a [`PayloadType::Flag`] payload (a big-endian u32).
pub const PAYLOAD_FLAG_TERMINATE_SESSION: u32 = 2;
/// Value of a [`PayloadType::Flag`] payload (a big-endian u32).
pub const PAYLOAD_FLAG_CONNECT_TO_PORT_ERROR: u32 = 3;

// Field offsets inside the header.
const OFF_HEADER_LENGTH: usize = 0;
const OFF_MESSAGE_TYPE: usize = 4;
const OFF_SCHEMA_VERSION: usize = 36;
const OFF_CREATED_DATE: usize = 40;
const OFF_SEQUENCE_NUMBER: usize = 48;
const OFF_FLAGS: usize = 56;
const OFF_MESSAGE_ID: usize = 64;
const OFF_PAYLOAD_DIGEST: usize = 80;
const OFF_PAYLOAD_TYPE: usize = 112;
const OFF_PAYLOAD_LENGTH: usize = 116;

/// The PayloadType field. Values 2 and 4 exist in the official sources but
/// ECS Exec does not use them. `Other` holds only values without a named arm,
/// so `PayloadType::from(u32)` is the one way to build it from a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PayloadType {
    /// 0: no typed payload (acknowledge, channel_closed).
    None,
    /// 1: raw stdin or output bytes.
    Output,
    /// 2: error output (unused by ECS Exec).
    Error,
    /// 3: terminal size JSON `{"cols":W,"rows":H}`.
    Size,
    /// 4: parameters (unused by ECS Exec).
    Parameter,
    /// 5: handshake request from the agent.
    HandshakeRequest,
    /// 6: handshake response from the client.
    HandshakeResponse,
    /// 7: handshake complete from the agent.
    HandshakeComplete,
    /// 8: encryption challenge from the agent.
    EncChallengeRequest,
    /// 9: encryption challenge answer from the client.
    EncChallengeResponse,
    /// 10: a big-endian u32 flag (`PAYLOAD_FLAG_*`).
    Flag,
    /// 11: standard error bytes (non-interactive commands only).
    StdErr,
    /// 12: exit code (non-interactive commands only; never sent for ECS Exec).
    ExitCode,
    /// Any value without a named arm.
    Other(u32),
}

impl From<u32> for PayloadType {
    fn from(value: u32) -> Self {
        match value {
            0 => Self::None,
            1 => Self::Output,
            2 => Self::Error,
            3 => Self::Size,
            4 => Self::Parameter,
            5 => Self::HandshakeRequest,
            6 => Self::HandshakeResponse,
            7 => Self::HandshakeComplete,
            8 => Self::EncChallengeRequest,
            9 => Self::EncChallengeResponse,
            10 => Self::Flag,
            11 => Self::StdErr,
            12 => Self::ExitCode,
            other => Self::Other(other),
        }
    }
}

impl From<PayloadType> for u32 {
    fn from(value: PayloadType) -> Self {
        match value {
            PayloadType::None => 0,
            PayloadType::Output => 1,
            PayloadType::Error => 2,
            PayloadType::Size => 3,
            PayloadType::Parameter => 4,
            PayloadType::HandshakeRequest => 5,
            PayloadType::HandshakeResponse => 6,
            PayloadType::HandshakeComplete => 7,
            PayloadType::EncChallengeRequest => 8,
            PayloadType::EncChallengeResponse => 9,
            PayloadType::Flag => 10,
            PayloadType::StdErr => 11,
            PayloadType::ExitCode => 12,
            PayloadType::Other(other) => other,
        }
    }
}

/// One data-channel message. HeaderLength, PayloadDigest and PayloadLength
/// are not stored: [`encode`] derives them and [`decode`] checks them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// e.g. [`INPUT_STREAM_DATA`]; at most 32 printable ASCII bytes, no spaces at either end.
    /// Decoding borrows the constants here for the types they name, so the
    /// hot path allocates no string per message.
    pub message_type: Cow<'static, str>,
    /// Always [`SCHEMA_VERSION`] in practice.
    pub schema_version: u32,
    /// Unix epoch milliseconds; never 0.
    pub created_date: u64,
    /// Per-direction stream counter for stream messages; 0 otherwise.
    pub sequence_number: i64,
    /// [`FLAG_SYN`] / [`FLAG_FIN`] bits.
    pub flags: u64,
    /// The message id, in ordinary UUID byte order (the wire swaps its halves).
    pub message_id: Uuid,
    /// What the payload holds.
    pub payload_type: PayloadType,
    /// The payload bytes; never empty when sending.
    pub payload: Vec<u8>,
}

impl Message {
    /// A message with schema version 1, a fresh v4 id and the current time.
    pub fn new(
        message_type: impl Into<Cow<'static, str>>,
        sequence_number: i64,
        flags: u64,
        payload_type: PayloadType,
        payload: Vec<u8>,
    ) -> Self {
        Self {
            message_type: message_type.into(),
            schema_version: SCHEMA_VERSION,
            created_date: created_now(),
            sequence_number,
            flags,
            message_id: Uuid::new_v4(),
            payload_type,
            payload,
        }
    }

    /// Checks what [`decode`] would reject after an [`encode`]: a message
    /// type that is empty, longer than 32 bytes or not printable ASCII, a zero
    /// created date (except for start/pause_publication), and a payload
    /// longer than `u32::MAX`. Empty payloads pass (the protocol says never
    /// to send one, but decoding accepts them).
    pub fn validate(&self) -> Result<(), CodecError> {
        let ty = self.message_type.as_bytes();
        if ty.is_empty() {
            return Err(CodecError::EmptyMessageType);
        }
        if ty.len() > MESSAGE_TYPE_LEN || !ty.iter().all(u8::is_ascii_graphic) {
            return Err(CodecError::InvalidMessageType {
                raw: self.message_type.escape_default().to_string(),
            });
        }
        if self.created_date == 0 && !is_unvalidated_type(&self.message_type) {
            return Err(CodecError::ZeroCreatedDate);
        }
        if u32::try_from(self.payload.len()).is_err() {
            return Err(CodecError::PayloadTooLarge {
                len: self.payload.len(),
            });
        }
        Ok(())
    }
}

/// Why a frame could not be decoded (or a message would not survive encoding).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// Fewer bytes than the 120-byte header.
    #[error("frame of {len} bytes is shorter than the 120-byte header")]
    TooShort {
        /// Length of the frame.
        len: usize,
    },
    /// HeaderLength is not 116.
    #[error("header length {0} is not 116")]
    BadHeaderLength(u32),
    /// MessageType is only spaces and NULs.
    #[error("message type is empty")]
    EmptyMessageType,
    /// MessageType holds a byte that is not printable ASCII (after trimming
    /// spaces and NULs at both ends), or is longer than 32 bytes (encoding side).
    #[error("message type {raw:?} is not printable ASCII")]
    InvalidMessageType {
        /// The offending type, escaped.
        raw: String,
    },
    /// CreatedDate is 0.
    #[error("created date is zero")]
    ZeroCreatedDate,
    /// PayloadDigest is not the SHA-256 of the non-empty payload.
    #[error("payload digest does not match the payload")]
    DigestMismatch,
    /// The frame does not hold exactly 120 + PayloadLength bytes.
    #[error("payload length field says {declared} bytes but the frame carries {actual}")]
    PayloadLengthMismatch {
        /// The PayloadLength field.
        declared: u32,
        /// Bytes present after the header.
        actual: usize,
    },
    /// A payload too long for the u32 PayloadLength field (encoding side).
    #[error("payload of {len} bytes does not fit a u32 length")]
    PayloadTooLarge {
        /// Length of the payload.
        len: usize,
    },
}

/// Serializes `message` into one binary frame: HeaderLength 116, the type
/// right-padded with spaces to 32 bytes, the id's halves swapped, SHA-256 of
/// the payload as digest. Infallible by design: call [`Message::validate`]
/// first if the message is not built from the constants here; a type longer
/// than 32 bytes is cut at 32, and a payload longer than `u32::MAX` gets a
/// wrong length field.
pub fn encode(message: &Message) -> Vec<u8> {
    encode_fields(
        &message.message_type,
        message.schema_version,
        message.created_date,
        message.sequence_number,
        message.flags,
        &message.message_id,
        message.payload_type,
        &message.payload,
        &super::sha::one(&message.payload),
    )
}

/// The frame [`Message::new`] followed by [`encode`] would give, built
/// straight from the parts: no message, and the payload copied once, into
/// the frame. (The hot paths make many at once with [`FrameBuf`].)
pub fn encode_new(
    message_type: &str,
    sequence_number: i64,
    flags: u64,
    payload_type: PayloadType,
    payload: &[u8],
) -> Vec<u8> {
    encode_fields(
        message_type,
        SCHEMA_VERSION,
        created_now(),
        sequence_number,
        flags,
        &Uuid::new_v4(),
        payload_type,
        payload,
        &super::sha::one(payload),
    )
}

/// Frames of new messages (as [`encode_new`] makes them, but with their
/// payloads' SHA-256 computed already, see [`super::sha::digests`], and the
/// CreatedDate given, read once for a batch) written one after another
/// into one buffer and handed out as slices of it: one allocation for a
/// batch instead of two for each frame (its own, and the shared handle made
/// when a copy is kept for resending).
#[derive(Default)]
pub struct FrameBuf {
    buf: Vec<u8>,
    /// Where each frame ends in `buf`.
    ends: Vec<usize>,
}

impl FrameBuf {
    /// Room for `frames` frames carrying `payload_bytes` in all.
    pub fn with_capacity(frames: usize, payload_bytes: usize) -> FrameBuf {
        FrameBuf {
            buf: Vec::with_capacity(frames * PAYLOAD_OFFSET + payload_bytes),
            ends: Vec::with_capacity(frames),
        }
    }

    /// Adds the frame [`encode_new`] would make, with this digest and date.
    #[allow(clippy::too_many_arguments)]
    pub fn push(
        &mut self,
        message_type: &str,
        sequence_number: i64,
        flags: u64,
        payload_type: PayloadType,
        payload: &[u8],
        digest: &[u8; 32],
        created_date: u64,
    ) {
        encode_fields_into(
            &mut self.buf,
            message_type,
            SCHEMA_VERSION,
            created_date,
            sequence_number,
            flags,
            &Uuid::new_v4(),
            payload_type,
            payload,
            digest,
        );
        self.ends.push(self.buf.len());
    }

    /// The frames, in the order added.
    pub fn finish(self) -> Vec<Bytes> {
        let all = Bytes::from(self.buf);
        let mut start = 0;
        self.ends
            .into_iter()
            .map(|end| {
                let frame = all.slice(start..end);
                start = end;
                frame
            })
            .collect()
    }
}

#[allow(clippy::too_many_arguments)]
fn encode_fields(
    message_type: &str,
    schema_version: u32,
    created_date: u64,
    sequence_number: i64,
    flags: u64,
    message_id: &Uuid,
    payload_type: PayloadType,
    payload: &[u8],
    digest: &[u8; 32],
) -> Vec<u8> {
    let mut out = Vec::new();
    encode_fields_into(
        &mut out,
        message_type,
        schema_version,
        created_date,
        sequence_number,
        flags,
        message_id,
        payload_type,
        payload,
        digest,
    );
    out
}

/// [`encode_fields`], appended to `out`.
#[allow(clippy::too_many_arguments)]
fn encode_fields_into(
    out: &mut Vec<u8>,
    message_type: &str,
    schema_version: u32,
    created_date: u64,
    sequence_number: i64,
    flags: u64,
    message_id: &Uuid,
    payload_type: PayloadType,
    payload: &[u8],
    digest: &[u8; 32],
) {
    out.reserve(PAYLOAD_OFFSET + payload.len());
    out.extend_from_slice(&HEADER_LENGTH.to_be_bytes());

    let mut ty = [b' '; MESSAGE_TYPE_LEN];
    let src = message_type.as_bytes();
    let n = src.len().min(MESSAGE_TYPE_LEN);
    ty[..n].copy_from_slice(&src[..n]);
    out.extend_from_slice(&ty);

    out.extend_from_slice(&schema_version.to_be_bytes());
    out.extend_from_slice(&created_date.to_be_bytes());
    out.extend_from_slice(&sequence_number.to_be_bytes());
    out.extend_from_slice(&flags.to_be_bytes());

    let id = message_id.as_bytes();
    out.extend_from_slice(&id[8..16]);
    out.extend_from_slice(&id[0..8]);

    out.extend_from_slice(digest);
    out.extend_from_slice(&u32::from(payload_type).to_be_bytes());
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(payload);
}

/// Parses one binary frame.
///
/// Checks, in order: at least 120 bytes; HeaderLength exactly 116; the frame
/// is exactly 120 + PayloadLength bytes long (trailing bytes are rejected
/// like missing ones: a WebSocket message carries exactly one data-channel
/// message, so extra bytes mean corruption); MessageType, once spaces and
/// NULs are trimmed from both ends, is non-empty printable ASCII. Then, as
/// the official client does, every type except `start_publication` and
/// `pause_publication` must have a non-zero CreatedDate and, when the
/// payload is non-empty, a matching SHA-256 digest.
pub fn decode(frame: &[u8]) -> Result<Message, CodecError> {
    let (message, check) = decode_undigested(frame)?;
    if check && Sha256::digest(&message.payload).as_slice() != stated_digest(frame) {
        return Err(CodecError::DigestMismatch);
    }
    Ok(message)
}

/// A frame decoded but for its digest check (which [`check_many`] does for
/// many at once, see [`FrameBatch`]): the frame itself can be let go meanwhile.
#[derive(Debug)]
struct Unchecked {
    message: Message,
    /// The digest the frame states, when it must match the payload's.
    stated: Option<[u8; 32]>,
}

/// Every check of [`decode`] but the digest's.
fn decode_unchecked(frame: &[u8]) -> Result<Unchecked, CodecError> {
    let (message, check) = decode_undigested(frame)?;
    let stated = check.then(|| {
        let mut digest = [0u8; 32];
        digest.copy_from_slice(stated_digest(frame));
        digest
    });
    Ok(Unchecked { message, stated })
}

/// The digest checks of [`decode_unchecked`]'s results, two at a time:
/// each becomes what [`decode`] would have given.
fn check_many(items: Vec<Result<Unchecked, CodecError>>) -> Vec<Result<Message, CodecError>> {
    let payloads: Vec<&[u8]> = items
        .iter()
        .filter_map(|item| match item {
            Ok(Unchecked {
                message,
                stated: Some(_),
            }) => Some(message.payload.as_slice()),
            _ => None,
        })
        .collect();
    let digests = super::sha::digests(&payloads);
    drop(payloads);
    let mut digests = digests.into_iter();
    items
        .into_iter()
        .map(|item| {
            let Unchecked { message, stated } = item?;
            match stated {
                None => Ok(message),
                Some(stated) if digests.next() == Some(stated) => Ok(message),
                Some(_) => Err(CodecError::DigestMismatch),
            }
        })
        .collect()
}

/// Frames read together: each binary one is decoded as it is added, so that
/// the reader can let its bytes go before the next read (tungstenite reuses
/// its read buffer only then, and otherwise reads a few KiB per system
/// call); the digests are checked for all of them at once ([`check_many`]).
/// Other frames (close, ping, errors) keep their place in the order.
pub struct FrameBatch<T> {
    unchecked: Vec<Result<Unchecked, CodecError>>,
    /// In arrival order: `None` where a binary frame was, else the other one.
    order: Vec<Option<T>>,
}

/// One frame of a [`FrameBatch`], in arrival order.
pub enum Batched<T> {
    /// A binary frame, as [`decode`] would have given it.
    Message(Result<Message, CodecError>),
    /// Any other frame, as it was added.
    Other(T),
}

impl<T> Default for FrameBatch<T> {
    fn default() -> Self {
        FrameBatch {
            unchecked: Vec::new(),
            order: Vec::new(),
        }
    }
}

impl<T> FrameBatch<T> {
    /// A binary frame: decoded now, its digest checked by [`FrameBatch::finish`].
    pub fn push_binary(&mut self, frame: &[u8]) {
        self.unchecked.push(decode_unchecked(frame));
        self.order.push(None);
    }

    /// Any other frame.
    pub fn push_other(&mut self, other: T) {
        self.order.push(Some(other));
    }

    /// Frames added.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether no frame was added.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Every frame in arrival order, the binary ones' digests checked two at
    /// a time.
    pub fn finish(self) -> impl Iterator<Item = Batched<T>> {
        let mut decoded = check_many(self.unchecked).into_iter();
        self.order.into_iter().filter_map(move |slot| match slot {
            // One decoded result per binary frame, in the same order.
            None => decoded.next().map(Batched::Message),
            Some(other) => Some(Batched::Other(other)),
        })
    }
}

/// The PayloadDigest field of a frame that has a whole header.
fn stated_digest(frame: &[u8]) -> &[u8] {
    &frame[OFF_PAYLOAD_DIGEST..OFF_PAYLOAD_TYPE]
}

/// Every check of [`decode`] but the digest's; with whether the digest must
/// be checked (a non-empty payload of a validated type).
fn decode_undigested(frame: &[u8]) -> Result<(Message, bool), CodecError> {
    if frame.len() < PAYLOAD_OFFSET {
        return Err(CodecError::TooShort { len: frame.len() });
    }
    let (header, payload) = frame.split_at(PAYLOAD_OFFSET);

    let header_length = be_u32(header, OFF_HEADER_LENGTH);
    if header_length != HEADER_LENGTH {
        return Err(CodecError::BadHeaderLength(header_length));
    }

    let declared = be_u32(header, OFF_PAYLOAD_LENGTH);
    if usize::try_from(declared).ok() != Some(payload.len()) {
        return Err(CodecError::PayloadLengthMismatch {
            declared,
            actual: payload.len(),
        });
    }

    let message_type = parse_message_type(&header[OFF_MESSAGE_TYPE..OFF_SCHEMA_VERSION])?;
    let created_date = be_u64(header, OFF_CREATED_DATE);
    let validated = !is_unvalidated_type(&message_type);
    if validated && created_date == 0 {
        return Err(CodecError::ZeroCreatedDate);
    }

    let mut id = [0u8; 16];
    id[8..16].copy_from_slice(&header[OFF_MESSAGE_ID..OFF_MESSAGE_ID + 8]);
    id[0..8].copy_from_slice(&header[OFF_MESSAGE_ID + 8..OFF_PAYLOAD_DIGEST]);

    let message = Message {
        message_type,
        schema_version: be_u32(header, OFF_SCHEMA_VERSION),
        created_date,
        sequence_number: be_u64(header, OFF_SEQUENCE_NUMBER) as i64,
        flags: be_u64(header, OFF_FLAGS),
        message_id: Uuid::from_bytes(id),
        payload_type: PayloadType::from(be_u32(header, OFF_PAYLOAD_TYPE)),
        payload: payload.to_vec(),
    };
    Ok((message, validated && !payload.is_empty()))
}

/// The payload of a [`PayloadType::Flag`] message.
pub fn flag_payload(flag: u32) -> Vec<u8> {
    flag.to_be_bytes().to_vec()
}

/// The types the official client accepts without checking date or digest.
fn is_unvalidated_type(message_type: &str) -> bool {
    message_type == START_PUBLICATION || message_type == PAUSE_PUBLICATION
}

/// The types decoding borrows instead of allocating.
const KNOWN_TYPES: [&str; 7] = [
    INPUT_STREAM_DATA,
    OUTPUT_STREAM_DATA,
    ACKNOWLEDGE,
    CHANNEL_CLOSED,
    START_PUBLICATION,
    PAUSE_PUBLICATION,
    AGENT_SESSION_STATE,
];

fn parse_message_type(field: &[u8]) -> Result<Cow<'static, str>, CodecError> {
    let pad = |b: &u8| *b == b' ' || *b == 0;
    let start = field.iter().position(|b| !pad(b));
    let end = field.iter().rposition(|b| !pad(b));
    let trimmed = match (start, end) {
        (Some(s), Some(e)) => &field[s..=e],
        _ => return Err(CodecError::EmptyMessageType),
    };
    if !trimmed.iter().all(u8::is_ascii_graphic) {
        return Err(CodecError::InvalidMessageType {
            raw: trimmed.escape_ascii().to_string(),
        });
    }
    if let Some(known) = KNOWN_TYPES.iter().find(|t| t.as_bytes() == trimmed) {
        return Ok(Cow::Borrowed(known));
    }
    // All bytes are ASCII, so this is valid UTF-8.
    Ok(Cow::Owned(trimmed.iter().map(|&b| char::from(b)).collect()))
}

// Callers guarantee `at + 4 <= buf.len()` (buf is the 120-byte header).
fn be_u32(buf: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&buf[at..at + 4]);
    u32::from_be_bytes(b)
}

// Callers guarantee `at + 8 <= buf.len()` (buf is the 120-byte header).
fn be_u64(buf: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&buf[at..at + 8]);
    u64::from_be_bytes(b)
}

/// The CreatedDate of a message sent now: Unix epoch milliseconds, never 0.
pub fn created_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(1)
        .max(1)
}
