//! Socket I/O shared by the client's streams ([`super::mux`]) and the
//! sandbox's agent: fewer, larger system calls. On loopback each write
//! wakes the reader and each read may wake the writer, and at hundreds of
//! MB/s those wake-ups cost as much as the copies.

use std::io::IoSlice;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use super::smux;
use crate::exec::channel::INPUT_COMMAND_MAX;

/// Bytes read from a connection at once: two smux frames' worth, so that
/// with their headers they fill, and do not pass, the largest input the
/// data channel takes without a copy.
pub const READ_SIZE: usize = INPUT_COMMAND_MAX - 2 * smux::HEADER_LEN;
/// Most bytes gathered into one write.
const GATHER_BYTES: usize = 256 * 1024;
/// Most chunks gathered into one write (well under IOV_MAX).
const GATHER_CHUNKS: usize = 64;

/// One read from `conn` into `buf` (its length is the most read at once:
/// [`READ_SIZE`] for ecsx's streams), returned as PSH frames of stream `id`, at most
/// [`smux::MAX_FRAME_DATA`] each, one after another in one buffer: `None`
/// at the end of the stream or on an error.
pub async fn read_frames<R: AsyncRead + Unpin>(
    conn: &mut R,
    buf: &mut [u8],
    id: u32,
) -> Option<Vec<u8>> {
    match conn.read(buf).await {
        Ok(0) | Err(_) => None,
        Ok(n) => {
            let data = &buf[..n];
            let pieces = data.len().div_ceil(smux::MAX_FRAME_DATA);
            let mut frames = Vec::with_capacity(n + pieces * smux::HEADER_LEN);
            for piece in data.chunks(smux::MAX_FRAME_DATA) {
                smux::push_data(&mut frames, id, piece);
            }
            Some(frames)
        }
    }
}

/// Writes everything `queue` delivers to `conn` until the queue closes,
/// each write carrying the chunk received and those already queued behind
/// it (vectored, no copy). Fails on the first write error.
pub async fn write_queue<W: AsyncWrite + Unpin>(
    conn: &mut W,
    queue: &mut mpsc::Receiver<Vec<u8>>,
) -> std::io::Result<()> {
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    while let Some(first) = queue.recv().await {
        let mut total = first.len();
        chunks.push(first);
        while total < GATHER_BYTES && chunks.len() < GATHER_CHUNKS {
            match queue.try_recv() {
                Ok(more) => {
                    total += more.len();
                    chunks.push(more);
                }
                Err(_) => break,
            }
        }
        write_all_chunks(conn, &chunks).await?;
        chunks.clear();
    }
    Ok(())
}

/// Writes `chunks` in order, as few system calls as the socket allows.
async fn write_all_chunks<W: AsyncWrite + Unpin>(
    conn: &mut W,
    chunks: &[Vec<u8>],
) -> std::io::Result<()> {
    // The first chunk not wholly written, and how much of it was.
    let (mut index, mut done) = (0, 0);
    loop {
        while index < chunks.len() && done == chunks[index].len() {
            index += 1;
            done = 0;
        }
        if index == chunks.len() {
            return Ok(());
        }
        let slices: Vec<IoSlice<'_>> = std::iter::once(IoSlice::new(&chunks[index][done..]))
            .chain(chunks[index + 1..].iter().map(|c| IoSlice::new(c)))
            .collect();
        let mut n = conn.write_vectored(&slices).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        while n > 0 {
            let left = chunks[index].len() - done;
            if n < left {
                done += n;
                n = 0;
            } else {
                n -= left;
                index += 1;
                done = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    /// Takes at most `max` bytes per write, to exercise partial writes.
    struct Trickle {
        got: Vec<u8>,
        max: usize,
        calls: usize,
    }

    impl AsyncWrite for Trickle {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<std::io::Result<usize>> {
            let n = buf.len().min(self.max);
            self.got.extend_from_slice(&buf[..n]);
            self.calls += 1;
            Poll::Ready(Ok(n))
        }

        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<std::io::Result<usize>> {
            let mut n = 0;
            for b in bufs {
                let take = b.len().min(self.max - n);
                self.got.extend_from_slice(&b[..take]);
                n += take;
                if n == self.max {
                    break;
                }
            }
            self.calls += 1;
            Poll::Ready(Ok(n))
        }

        fn is_write_vectored(&self) -> bool {
            true
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn queued_chunks_are_written_whole_and_in_order_across_partial_writes() {
        let chunks: Vec<Vec<u8>> = vec![
            (0..10).collect(),
            vec![],
            (10..13).collect(),
            (13..40).collect(),
            vec![40],
        ];
        let want: Vec<u8> = chunks.concat();
        for max in [1, 3, 7, 64] {
            let (tx, mut rx) = mpsc::channel(16);
            for c in &chunks {
                tx.send(c.clone()).await.unwrap();
            }
            drop(tx);
            let mut sink = Trickle {
                got: Vec::new(),
                max,
                calls: 0,
            };
            write_queue(&mut sink, &mut rx).await.unwrap();
            assert_eq!(sink.got, want, "max {max}");
            if max == 64 {
                assert_eq!(sink.calls, 1, "one write for all that was queued");
            }
        }
    }

    #[tokio::test]
    async fn a_big_read_becomes_frames_of_at_most_the_smux_maximum() {
        assert!(
            READ_SIZE.div_ceil(smux::MAX_FRAME_DATA) * smux::HEADER_LEN + READ_SIZE
                <= INPUT_COMMAND_MAX
        );
        let data: Vec<u8> = (0..READ_SIZE + 5).map(|i| (i % 251) as u8).collect();
        let mut conn: &[u8] = &data;
        let mut buf = vec![0u8; READ_SIZE];
        let frames = read_frames(&mut conn, &mut buf, 7).await.expect("data");
        let mut decoder = smux::Decoder::new();
        decoder.push(&frames);
        let mut got = Vec::new();
        while let Some(f) = decoder.next_frame().unwrap() {
            assert!(f.cmd == smux::Cmd::Psh && f.stream == 7);
            assert!(!f.data.is_empty() && f.data.len() <= smux::MAX_FRAME_DATA);
            got.extend_from_slice(&f.data);
        }
        assert_eq!(got, data[..READ_SIZE]);
        assert_eq!(
            frames.len(),
            INPUT_COMMAND_MAX,
            "a full read fills one input request"
        );
        let rest = read_frames(&mut conn, &mut buf, 7).await.expect("the rest");
        assert_eq!(rest.len(), smux::HEADER_LEN + 5);
        assert!(read_frames(&mut conn, &mut buf, 7).await.is_none());
    }
}
