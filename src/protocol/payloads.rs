//! Serde types for the JSON that travels on the data channel: the opening
//! text frame, acknowledgements, `channel_closed`, terminal size, and the
//! KMS handshake payloads. Field names and field order match the official
//! Go client, so serializing gives the same bytes it would send. Byte
//! fields (`[]byte` in Go) are standard padded base64 strings; a Go nil
//! slice is `null`.

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::codec::{
    created_now, encode_new, FrameBuf, Message, PayloadType, ACKNOWLEDGE, FLAG_FIN, FLAG_SYN,
};

/// `MessageSchemaVersion` of the opening text frame.
pub const OPEN_DATA_CHANNEL_SCHEMA_VERSION: &str = "1.0";
/// The official client version ecsx presents itself as.
pub const DEFAULT_CLIENT_VERSION: &str = "1.2.707.0";

/// Handshake `ActionType`: KMS encryption.
pub const ACTION_KMS_ENCRYPTION: &str = "KMSEncryption";
/// Handshake `ActionType`: session type.
pub const ACTION_SESSION_TYPE: &str = "SessionType";
/// Handshake `ActionStatus`: success.
pub const ACTION_STATUS_SUCCESS: i32 = 1;
/// Handshake `ActionStatus`: failed.
pub const ACTION_STATUS_FAILED: i32 = 2;
/// Handshake `ActionStatus`: unsupported.
pub const ACTION_STATUS_UNSUPPORTED: i32 = 3;

/// The first (text) WebSocket frame, which authenticates the connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenDataChannelInput {
    /// Always [`OPEN_DATA_CHANNEL_SCHEMA_VERSION`].
    #[serde(rename = "MessageSchemaVersion")]
    pub message_schema_version: String,
    /// A fresh UUID per connection attempt.
    #[serde(rename = "RequestId")]
    pub request_id: String,
    /// The session token (from ExecuteCommand or ResumeSession).
    #[serde(rename = "TokenValue")]
    pub token_value: String,
    /// A UUID fixed for the process.
    #[serde(rename = "ClientId")]
    pub client_id: String,
    /// The client version string.
    #[serde(rename = "ClientVersion")]
    pub client_version: String,
}

impl OpenDataChannelInput {
    /// The frame for `token_value`, with a fresh request id and
    /// [`DEFAULT_CLIENT_VERSION`].
    pub fn new(token_value: impl Into<String>, client_id: Uuid) -> Self {
        Self {
            message_schema_version: OPEN_DATA_CHANNEL_SCHEMA_VERSION.to_owned(),
            request_id: Uuid::new_v4().to_string(),
            token_value: token_value.into(),
            client_id: client_id.to_string(),
            client_version: DEFAULT_CLIENT_VERSION.to_owned(),
        }
    }
}

/// Payload of an `acknowledge` message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcknowledgeContent {
    /// Type of the acknowledged message.
    #[serde(rename = "AcknowledgedMessageType")]
    pub acknowledged_message_type: String,
    /// Id of the acknowledged message, hyphenated lowercase.
    #[serde(rename = "AcknowledgedMessageId")]
    pub acknowledged_message_id: String,
    /// Sequence number of the acknowledged message.
    #[serde(rename = "AcknowledgedMessageSequenceNumber")]
    pub acknowledged_message_sequence_number: i64,
    /// Always true for stream messages.
    #[serde(rename = "IsSequentialMessage")]
    pub is_sequential_message: bool,
}

impl AcknowledgeContent {
    /// The content acknowledging `received`.
    pub fn for_message(received: &Message) -> Self {
        Self {
            acknowledged_message_type: received.message_type.to_string(),
            acknowledged_message_id: received.message_id.to_string(),
            acknowledged_message_sequence_number: received.sequence_number,
            is_sequential_message: true,
        }
    }

    /// The `acknowledge` message carrying this content: seq 0, flags
    /// SYN|FIN, PayloadType 0, fresh id and date.
    pub fn to_message(&self) -> Message {
        Message::new(
            ACKNOWLEDGE,
            0,
            FLAG_SYN | FLAG_FIN,
            PayloadType::None,
            to_json(self),
        )
    }
}

/// The `acknowledge` frame for `received`: the bytes of
/// `encode(&AcknowledgeContent::for_message(received).to_message())`.
pub fn ack_frame(received: &Message) -> Vec<u8> {
    encode_new(
        ACKNOWLEDGE,
        0,
        FLAG_SYN | FLAG_FIN,
        PayloadType::None,
        &ack_payload(received),
    )
}

/// Acknowledgements waiting to be sent: their payloads written one after
/// another into one buffer, kept for reuse, so that acknowledging a message
/// allocates nothing of its own.
#[derive(Debug, Default)]
pub struct Acks {
    json: Vec<u8>,
    /// Where each payload ends in `json`.
    ends: Vec<usize>,
}

impl Acks {
    /// Adds the acknowledgement of `received` ([`ack_payload`]).
    pub fn push(&mut self, received: &Message) {
        write_ack_payload(&mut self.json, received);
        self.ends.push(self.json.len());
    }

    /// Whether none is waiting.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// How many are waiting.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Takes back the last one added.
    pub fn pop(&mut self) {
        self.ends.pop();
        self.json.truncate(self.ends.last().copied().unwrap_or(0));
    }

    /// Drops those waiting.
    pub fn clear(&mut self) {
        self.json.clear();
        self.ends.clear();
    }

    /// The `acknowledge` frames of those waiting, in order (their digests
    /// computed two at a time, the frames in one buffer); none waits after.
    pub fn take_frames(&mut self) -> Vec<Bytes> {
        let mut start = 0;
        let payloads: Vec<&[u8]> = self
            .ends
            .iter()
            .map(|&end| {
                let payload = &self.json[start..end];
                start = end;
                payload
            })
            .collect();
        let digests = super::sha::digests(&payloads);
        let created = created_now();
        let mut frames = FrameBuf::with_capacity(payloads.len(), self.json.len());
        for (payload, digest) in payloads.iter().zip(&digests) {
            frames.push(
                ACKNOWLEDGE,
                0,
                FLAG_SYN | FLAG_FIN,
                PayloadType::None,
                payload,
                digest,
                created,
            );
        }
        self.clear();
        frames.finish()
    }
}

/// The JSON acknowledging `received`, as the serializer writes
/// [`AcknowledgeContent::for_message`]; written directly (no strings
/// allocated, no serializer) when the message type needs no escaping, as
/// every type on the wire does.
pub fn ack_payload(received: &Message) -> Vec<u8> {
    let mut json = Vec::new();
    write_ack_payload(&mut json, received);
    json
}

/// [`ack_payload`], appended to `json`.
fn write_ack_payload(json: &mut Vec<u8>, received: &Message) {
    let ty: &str = &received.message_type;
    if ty.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        json.extend_from_slice(&to_json(&AcknowledgeContent::for_message(received)));
        return;
    }
    let mut id = [0u8; uuid::fmt::Hyphenated::LENGTH];
    let id = received.message_id.hyphenated().encode_lower(&mut id);
    let mut seq = itoa::Buffer::new();
    let seq = seq.format(received.sequence_number);
    json.reserve(160 + ty.len());
    json.extend_from_slice(b"{\"AcknowledgedMessageType\":\"");
    json.extend_from_slice(ty.as_bytes());
    json.extend_from_slice(b"\",\"AcknowledgedMessageId\":\"");
    json.extend_from_slice(id.as_bytes());
    json.extend_from_slice(b"\",\"AcknowledgedMessageSequenceNumber\":");
    json.extend_from_slice(seq.as_bytes());
    json.extend_from_slice(b",\"IsSequentialMessage\":true}");
}

/// What a receiver needs of an `acknowledge` payload: the acknowledged
/// type and sequence number, read without allocating.
#[derive(Debug, Deserialize)]
pub struct AckRef<'a> {
    /// Type of the acknowledged message.
    #[serde(rename = "AcknowledgedMessageType", borrow)]
    pub acknowledged_message_type: std::borrow::Cow<'a, str>,
    /// Sequence number of the acknowledged message.
    #[serde(rename = "AcknowledgedMessageSequenceNumber")]
    pub acknowledged_message_sequence_number: i64,
}

/// The acknowledged type and sequence number of an `acknowledge` payload,
/// `None` when it is not one. The exact JSON the official client and agent
/// write (and [`ack_frame`]) is read by hand, without a parser; anything else
/// goes through serde, so the answer is always serde's.
pub fn read_ack(payload: &[u8]) -> Option<(std::borrow::Cow<'_, str>, i64)> {
    if let Some(fast) = read_ack_exact(payload) {
        return Some(fast);
    }
    let ack: AckRef = serde_json::from_slice(payload).ok()?;
    Some((
        ack.acknowledged_message_type,
        ack.acknowledged_message_sequence_number,
    ))
}

/// `{"AcknowledgedMessageType":"T","AcknowledgedMessageId":"I",
/// "AcknowledgedMessageSequenceNumber":N,"IsSequentialMessage":B}` with no
/// spaces and no escapes in T and I; `None` for anything else.
fn read_ack_exact(payload: &[u8]) -> Option<(std::borrow::Cow<'_, str>, i64)> {
    // A JSON string's content without escapes: no quote, backslash or control byte.
    fn plain_string(rest: &[u8]) -> Option<(&str, &[u8])> {
        let end = rest.iter().position(|&b| b == b'"')?;
        let text = &rest[..end];
        if text.iter().any(|&b| b == b'\\' || b < 0x20) {
            return None;
        }
        Some((std::str::from_utf8(text).ok()?, &rest[end + 1..]))
    }
    let rest = payload.strip_prefix(b"{\"AcknowledgedMessageType\":\"")?;
    let (ty, rest) = plain_string(rest)?;
    let rest = rest.strip_prefix(b",\"AcknowledgedMessageId\":\"")?;
    let (_id, rest) = plain_string(rest)?;
    let rest = rest.strip_prefix(b",\"AcknowledgedMessageSequenceNumber\":")?;
    let digits_start = usize::from(rest.first() == Some(&b'-'));
    let digits = rest[digits_start..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    // JSON numbers have no leading zeros.
    if digits == 0 || (digits > 1 && rest[digits_start] == b'0') {
        return None;
    }
    let (number, rest) = rest.split_at(digits_start + digits);
    let seq: i64 = std::str::from_utf8(number).ok()?.parse().ok()?;
    let rest = rest.strip_prefix(b",\"IsSequentialMessage\":")?;
    let rest = rest
        .strip_prefix(b"true")
        .or_else(|| rest.strip_prefix(b"false"))?;
    if rest != b"}" {
        return None;
    }
    Some((std::borrow::Cow::Borrowed(ty), seq))
}

/// Payload of a `channel_closed` message. Every field defaults when absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChannelClosed {
    /// Id of this message.
    #[serde(rename = "MessageId")]
    pub message_id: String,
    /// Epoch milliseconds, as a string.
    #[serde(rename = "CreatedDate")]
    pub created_date: String,
    /// The session target.
    #[serde(rename = "DestinationId")]
    pub destination_id: String,
    /// The session being closed.
    #[serde(rename = "SessionId")]
    pub session_id: String,
    /// `channel_closed`.
    #[serde(rename = "MessageType")]
    pub message_type: String,
    /// Schema version.
    #[serde(rename = "SchemaVersion")]
    pub schema_version: i64,
    /// Text to show the user, possibly empty.
    #[serde(rename = "Output")]
    pub output: String,
}

/// Terminal size, PayloadType 3: `{"cols":W,"rows":H}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SizeData {
    /// Columns.
    pub cols: u32,
    /// Rows.
    pub rows: u32,
}

/// PayloadType 5, from the agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandshakeRequestPayload {
    /// The agent's version.
    #[serde(rename = "AgentVersion", default)]
    pub agent_version: String,
    /// What the agent asks the client to do.
    #[serde(rename = "RequestedClientActions", default)]
    pub requested_client_actions: Vec<RequestedClientAction>,
}

/// One action of a [`HandshakeRequestPayload`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestedClientAction {
    /// [`ACTION_KMS_ENCRYPTION`], [`ACTION_SESSION_TYPE`] or unknown.
    #[serde(rename = "ActionType")]
    pub action_type: String,
    /// Parameters; parse as [`KmsEncryptionRequest`] or [`SessionTypeRequest`].
    #[serde(rename = "ActionParameters", default)]
    pub action_parameters: serde_json::Value,
}

/// `ActionParameters` of a `KMSEncryption` action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KmsEncryptionRequest {
    /// The KMS key to call GenerateDataKey with.
    #[serde(rename = "KMSKeyId")]
    pub kms_key_id: String,
}

/// `ActionParameters` of a `SessionType` action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionTypeRequest {
    /// e.g. `InteractiveCommands`.
    #[serde(rename = "SessionType")]
    pub session_type: String,
    /// Plugin properties, often null.
    #[serde(rename = "Properties", default)]
    pub properties: serde_json::Value,
}

/// PayloadType 6, from the client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandshakeResponsePayload {
    /// The client version.
    #[serde(rename = "ClientVersion")]
    pub client_version: String,
    /// One entry per requested action.
    #[serde(rename = "ProcessedClientActions")]
    pub processed_client_actions: Vec<ProcessedClientAction>,
    /// Errors, `null` when none.
    #[serde(rename = "Errors")]
    pub errors: Option<Vec<String>>,
}

/// One entry of a [`HandshakeResponsePayload`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessedClientAction {
    /// The action's type, echoed.
    #[serde(rename = "ActionType")]
    pub action_type: String,
    /// `ACTION_STATUS_*`.
    #[serde(rename = "ActionStatus")]
    pub action_status: i32,
    /// A [`KmsEncryptionResponse`] for KMS, `null` otherwise (absent reads
    /// as `null`: the agent's Go decoder takes a response without it).
    #[serde(rename = "ActionResult", default)]
    pub action_result: serde_json::Value,
    /// Error text, empty on success (absent reads as empty).
    #[serde(rename = "Error", default)]
    pub error: String,
}

/// `ActionResult` of a successful `KMSEncryption` action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KmsEncryptionResponse {
    /// The CiphertextBlob from GenerateDataKey (base64 on the wire).
    #[serde(rename = "KMSCipherTextKey", with = "b64")]
    pub kms_cipher_text_key: Vec<u8>,
    /// Unused by the official client: `null`.
    #[serde(rename = "KMSCipherTextHash", with = "b64_opt", default)]
    pub kms_cipher_text_hash: Option<Vec<u8>>,
}

/// PayloadType 7, from the agent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HandshakeCompletePayload {
    /// Nanoseconds the handshake took (a Go `time.Duration`).
    #[serde(rename = "HandshakeTimeToComplete")]
    pub handshake_time_to_complete: i64,
    /// Text to show the user, possibly empty.
    #[serde(rename = "CustomerMessage")]
    pub customer_message: String,
}

/// PayloadType 8, from the agent: data encrypted with the agent's key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptionChallengeRequest {
    /// The challenge (base64 on the wire).
    #[serde(rename = "Challenge", with = "b64")]
    pub challenge: Vec<u8>,
}

/// PayloadType 9, from the client: the challenge re-encrypted with the client's key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptionChallengeResponse {
    /// The re-encrypted challenge (base64 on the wire).
    #[serde(rename = "Challenge", with = "b64")]
    pub challenge: Vec<u8>,
}

/// JSON bytes of a struct whose fields are only strings, integers and bools,
/// for which serialization cannot fail.
fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

/// `Vec<u8>` as a standard base64 string; `null` reads as empty.
mod b64 {
    use base64::{engine::general_purpose::STANDARD, Engine};
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        match Option::<String>::deserialize(d)? {
            Some(s) => STANDARD.decode(s).map_err(D::Error::custom),
            None => Ok(Vec::new()),
        }
    }
}

/// `Option<Vec<u8>>` as a standard base64 string or `null`.
mod b64_opt {
    use base64::{engine::general_purpose::STANDARD, Engine};
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(b) => s.serialize_str(&STANDARD.encode(b)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|s| STANDARD.decode(s).map_err(D::Error::custom))
            .transpose()
    }
}
