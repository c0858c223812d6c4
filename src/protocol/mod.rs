//! The Session Manager data-channel protocol as pure data: the binary frame
//! codec ([`codec`]) and the JSON payloads it carries ([`payloads`]). No I/O
//! here; the session layer feeds WebSocket frames in and takes frames out.
//! Wire format: `docs/protocol.md` (shared docs), section 2.

pub mod codec;
pub mod payloads;
pub mod sha;

pub use codec::{decode, encode, CodecError, Message, PayloadType};

#[cfg(test)]
mod tests;
