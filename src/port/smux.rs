//! smux version 1, the multiplexer a port session carries inside its
//! PayloadType 1 bytes (shared docs, protocol.md §8; xtaci/smux v1).
//!
//! Pure: frame headers, an encoder and an incremental decoder, no I/O. Each
//! direction of a session is one byte stream cut into data-channel messages
//! at arbitrary points, so the decoder takes bytes in whatever pieces they
//! come and yields whole frames; "need more bytes" is not an error. It never
//! holds more than one frame (at most 8 + 65535 bytes) plus one piece.
//!
//! A frame is an 8-byte header, then its data:
//! byte 0 version (1), byte 1 command, bytes 2-3 data length (u16
//! little-endian), bytes 4-7 stream id (u32 little-endian).

use std::fmt;

/// The only version a port session speaks.
pub const VERSION: u8 = 1;
/// Bytes of a frame header.
pub const HEADER_LEN: usize = 8;
/// Most data bytes this side puts in one PSH (smux's default frame size,
/// what the agent sends too).
pub const MAX_FRAME_DATA: usize = 32 * 1024;
/// The first stream id a client opens (smux: the client starts at 1 and
/// adds 2 before each new stream).
pub const FIRST_CLIENT_STREAM: u32 = 3;

/// A frame's command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmd {
    /// Open a stream (no data).
    Syn,
    /// Close a stream (no data).
    Fin,
    /// Data for a stream.
    Psh,
    /// Keep-alive, stream 0 (no data).
    Nop,
    /// Window update (smux v2 only; a v1 peer ignores it).
    Upd,
}

impl Cmd {
    /// The wire value.
    pub fn byte(self) -> u8 {
        match self {
            Cmd::Syn => 0,
            Cmd::Fin => 1,
            Cmd::Psh => 2,
            Cmd::Nop => 3,
            Cmd::Upd => 4,
        }
    }

    fn from_byte(b: u8) -> Option<Cmd> {
        Some(match b {
            0 => Cmd::Syn,
            1 => Cmd::Fin,
            2 => Cmd::Psh,
            3 => Cmd::Nop,
            4 => Cmd::Upd,
            _ => return None,
        })
    }
}

/// One decoded frame.
#[derive(Clone, PartialEq, Eq)]
pub struct Frame {
    pub cmd: Cmd,
    pub stream: u32,
    pub data: Vec<u8>,
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} {} ({} B)", self.cmd, self.stream, self.data.len())
    }
}

/// The byte stream is not smux v1; the session cannot go on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmuxError {
    /// A header with another version.
    #[error("smux frame of version {0}, expected 1")]
    Version(u8),
    /// A command byte smux does not define.
    #[error("smux frame with unknown command {0}")]
    Command(u8),
}

/// The header of a frame with `len` data bytes.
pub fn header(cmd: Cmd, len: u16, stream: u32) -> [u8; HEADER_LEN] {
    let l = len.to_le_bytes();
    let s = stream.to_le_bytes();
    [VERSION, cmd.byte(), l[0], l[1], s[0], s[1], s[2], s[3]]
}

/// Appends a frame without data (SYN, FIN, NOP).
pub fn push_control(out: &mut Vec<u8>, cmd: Cmd, stream: u32) {
    out.extend_from_slice(&header(cmd, 0, stream));
}

/// Appends `data` as PSH frames of at most [`MAX_FRAME_DATA`] bytes
/// (nothing for empty data: an empty PSH says nothing).
pub fn push_data(out: &mut Vec<u8>, stream: u32, data: &[u8]) {
    for chunk in data.chunks(MAX_FRAME_DATA) {
        // MAX_FRAME_DATA fits a u16.
        let len = u16::try_from(chunk.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&header(Cmd::Psh, len, stream));
        out.extend_from_slice(chunk);
    }
}

/// Reassembles frames from pieces of the byte stream.
#[derive(Debug, Default)]
pub struct Decoder {
    buf: Vec<u8>,
    /// Bytes of `buf` already decoded.
    pos: usize,
}

impl Decoder {
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// Adds the next piece of the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.pos > 0 && self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        } else if self.pos >= 64 * 1024 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes held that are not yet a whole frame.
    pub fn pending(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The next whole frame, `Ok(None)` when more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, SmuxError> {
        let rest = &self.buf[self.pos..];
        if rest.len() < HEADER_LEN {
            return Ok(None);
        }
        if rest[0] != VERSION {
            return Err(SmuxError::Version(rest[0]));
        }
        let cmd = Cmd::from_byte(rest[1]).ok_or(SmuxError::Command(rest[1]))?;
        let len = usize::from(u16::from_le_bytes([rest[2], rest[3]]));
        let stream = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
        if rest.len() < HEADER_LEN + len {
            return Ok(None);
        }
        let data = rest[HEADER_LEN..HEADER_LEN + len].to_vec();
        self.pos += HEADER_LEN + len;
        Ok(Some(Frame { cmd, stream, data }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    fn frames(bytes: &[u8]) -> Vec<Frame> {
        let mut d = Decoder::new();
        d.push(bytes);
        let mut out = Vec::new();
        while let Some(f) = d.next_frame().unwrap() {
            out.push(f);
        }
        assert_eq!(d.pending(), 0, "bytes left over");
        out
    }

    fn b64(s: &str) -> Vec<u8> {
        base64::engine::general_purpose::STANDARD.decode(s).unwrap()
    }

    #[test]
    fn header_bytes_as_in_the_protocol_doc() {
        assert_eq!(
            header(Cmd::Psh, 185, 3),
            [0x01, 0x02, 0xb9, 0x00, 0x03, 0, 0, 0]
        );
        assert_eq!(
            header(Cmd::Psh, 32768, 7),
            [0x01, 0x02, 0x00, 0x80, 0x07, 0, 0, 0]
        );
        assert_eq!(header(Cmd::Fin, 0, 7), [1, 1, 0, 0, 7, 0, 0, 0]);
        assert_eq!(header(Cmd::Nop, 0, 0), [1, 3, 0, 0, 0, 0, 0, 0]);
    }

    /// port-mux.jsonl line 12: the client's seq 1 message, 200 bytes:
    /// SYN 3, SYN 5, PSH 5 (84 B), PSH 3 (84 B).
    #[test]
    fn transcript_two_requests_in_one_message() {
        let mut wire = Vec::new();
        push_control(&mut wire, Cmd::Syn, 3);
        push_control(&mut wire, Cmd::Syn, 5);
        let a = b"GET /a.txt HTTP/1.1\r\nHost: 127.0.0.1:18090\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n";
        let b = b"GET /b.txt HTTP/1.1\r\nHost: 127.0.0.1:18090\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n";
        push_data(&mut wire, 5, a);
        push_data(&mut wire, 3, b);
        assert_eq!(wire.len(), 8 + 8 + 8 + a.len() + 8 + b.len());
        let got = frames(&wire);
        let shape: Vec<(Cmd, u32, usize)> = got
            .iter()
            .map(|f| (f.cmd, f.stream, f.data.len()))
            .collect();
        assert_eq!(
            shape,
            vec![
                (Cmd::Syn, 3, 0),
                (Cmd::Syn, 5, 0),
                (Cmd::Psh, 5, a.len()),
                (Cmd::Psh, 3, b.len())
            ]
        );
    }

    /// port-remote-host.jsonl line 14 (agent seq 2, 207 B): PSH 3 with the
    /// response headers and `alpha\n`, then FIN 3; decoded from the recorded bytes.
    #[test]
    fn transcript_response_then_fin() {
        let line = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/testdata/port/remote-host-line14.b64"
        ))
        .unwrap();
        let wire = b64(line.trim());
        assert_eq!(wire.len(), 207);
        let got = frames(&wire);
        assert_eq!(got.len(), 2);
        assert_eq!(
            (got[0].cmd, got[0].stream, got[0].data.len()),
            (Cmd::Psh, 3, 191)
        );
        assert!(got[0].data.starts_with(b"HTTP/1.0 200 OK"));
        assert!(got[0].data.ends_with(b"alpha\n"));
        assert_eq!((got[1].cmd, got[1].stream), (Cmd::Fin, 3));
    }

    /// port-mux.jsonl line 12 and line 14 as recorded, cut at every
    /// possible point: the same frames whatever the pieces.
    #[test]
    fn transcript_bytes_in_any_pieces() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/testdata/port/mux-line12.b64"
        ))
        .unwrap();
        let wire = b64(text.trim());
        assert_eq!(wire.len(), 200);
        let whole = frames(&wire);
        assert_eq!(whole.len(), 4);
        assert_eq!(
            (whole[2].cmd, whole[2].stream, whole[2].data.len()),
            (Cmd::Psh, 5, 84)
        );
        assert!(whole[2].data.starts_with(b"GET /a.txt HTTP/1.1"));
        assert!(whole[3].data.starts_with(b"GET /b.txt HTTP/1.1"));
        for cut in 0..=wire.len() {
            let mut d = Decoder::new();
            let mut got = Vec::new();
            for piece in [&wire[..cut], &wire[cut..]] {
                d.push(piece);
                while let Some(f) = d.next_frame().unwrap() {
                    got.push(f);
                }
            }
            assert_eq!(got, whole, "cut at {cut}");
        }
    }

    /// port-mux.jsonl lines 58-80: the agent's output payloads joined, from
    /// the header at offset 246 of line 58: PSH 7 of 11264 bytes spread over
    /// twelve 1 KiB messages, then FIN 7, fed in the recorded message sizes.
    #[test]
    fn transcript_psh_spanning_messages() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/testdata/port/mux-lines58-80.b64"
        ))
        .unwrap();
        let wire = b64(text.trim());
        assert_eq!(wire.len(), 8 + 11264 + 8);
        let mut d = Decoder::new();
        let mut got = Vec::new();
        // Line 58 held 1024 - 246 bytes of it; the rest came 1024 at a time.
        let mut at = 0;
        let mut piece = 1024 - 246;
        while at < wire.len() {
            let end = (at + piece).min(wire.len());
            d.push(&wire[at..end]);
            at = end;
            piece = 1024;
            while let Some(f) = d.next_frame().unwrap() {
                got.push(f);
            }
        }
        assert_eq!(got.len(), 2);
        assert_eq!(
            (got[0].cmd, got[0].stream, got[0].data.len()),
            (Cmd::Psh, 7, 11264)
        );
        assert_eq!(
            (got[1].cmd, got[1].stream, got[1].data.len()),
            (Cmd::Fin, 7, 0)
        );
        assert_eq!(d.pending(), 0);
    }

    #[test]
    fn big_data_splits_into_frames_of_32_kib() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let mut wire = Vec::new();
        push_data(&mut wire, 7, &data);
        let got = frames(&wire);
        let sizes: Vec<usize> = got.iter().map(|f| f.data.len()).collect();
        assert_eq!(sizes, vec![32768, 32768, 32768, 1696]);
        let joined: Vec<u8> = got.into_iter().flat_map(|f| f.data).collect();
        assert_eq!(joined, data);
        let mut none = Vec::new();
        push_data(&mut none, 7, &[]);
        assert!(none.is_empty());
    }

    #[test]
    fn one_byte_at_a_time_and_bounded() {
        let mut wire = Vec::new();
        for i in 0..50u32 {
            push_control(&mut wire, Cmd::Syn, 3 + 2 * i);
            push_data(&mut wire, 3 + 2 * i, &vec![i as u8; 3000]);
            push_control(&mut wire, Cmd::Fin, 3 + 2 * i);
        }
        let mut d = Decoder::new();
        let mut n = 0;
        let mut most = 0;
        for b in &wire {
            d.push(std::slice::from_ref(b));
            while let Some(f) = d.next_frame().unwrap() {
                n += 1;
                if f.cmd == Cmd::Psh {
                    assert!(f.data.iter().all(|&x| x == f.data[0]));
                }
            }
            most = most.max(d.buf.capacity());
        }
        assert_eq!(n, 150);
        assert!(most < 256 * 1024, "decoder grew to {most}");
    }

    #[test]
    fn wrong_version_and_unknown_command_are_errors() {
        let mut d = Decoder::new();
        d.push(&[2, 2, 0, 0, 3, 0, 0, 0]);
        assert_eq!(d.next_frame(), Err(SmuxError::Version(2)));
        let mut d = Decoder::new();
        d.push(&[1, 9, 0, 0, 3, 0, 0, 0]);
        assert_eq!(d.next_frame(), Err(SmuxError::Command(9)));
        // UPD (v2) decodes; a v1 session ignores it.
        let mut d = Decoder::new();
        d.push(&[1, 4, 8, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
        let f = d.next_frame().unwrap().unwrap();
        assert_eq!((f.cmd, f.stream, f.data.len()), (Cmd::Upd, 3, 8));
        // A header alone is not yet a frame.
        let mut d = Decoder::new();
        d.push(&header(Cmd::Psh, 10, 3));
        assert_eq!(d.next_frame(), Ok(None));
    }
}
