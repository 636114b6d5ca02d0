//! A `{"data":[…]}` body written item by item while it is being sent.
//!
//! The producer (a task reading database rows) serializes each item into a
//! buffer and hands the connection a chunk whenever the buffer fills. The
//! channel between them holds one chunk: a client that reads the head and
//! stops cannot make the server hold more than that chunk, the one being
//! filled and what hyper has taken (about 1 MiB in all, whatever the list's
//! size). A producer that waits longer than the stall timeout for the
//! client to take a chunk gives up: it stops reading rows (its caller then
//! frees the database connection) and the transfer ends broken, never
//! cleanly truncated. A fast client keeps only a chunk or two in flight.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use dropshot::Body;
use hyper::body::Frame;
use serde::Serialize;
use tokio::sync::mpsc;

/// Bytes buffered before a chunk goes to the connection. Each write ends in
/// a segment shorter than the MSS, which Nagle's algorithm holds back while
/// the previous short one is unacknowledged (dropshot does not set
/// `TCP_NODELAY`); a write spanning several full segments gets that earlier
/// tail acknowledged on its way. Loopback's MSS is 64 KiB: with 64 KiB
/// chunks a 2.5 MB list took p50 20 ms but p90 63 ms (a 40 ms delayed-ACK
/// stall), with 256 KiB p90 20 ms (wrk, one connection).
const CHUNK_BYTES: usize = 256 * 1024;

/// The first buffer's starting capacity, about 30 entries; it grows as needed.
const FIRST_BUFFER_BYTES: usize = 16 * 1024;

/// Ends a body that could not be completed. hyper then drops the connection
/// without the final chunk, so the client sees a broken transfer, not a
/// truncated document that parses.
#[derive(Debug, thiserror::Error)]
#[error("the response body was cut short because producing it failed")]
pub struct Aborted;

/// Chunks waiting for the connection beyond the one being filled.
const CHANNEL_CHUNKS: usize = 1;

/// Why an item could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Nobody reads the rest of the body: stop producing it.
    #[error("the client closed the connection before the body was complete")]
    ClientGone,
    /// The client took nothing for the whole stall timeout.
    #[error("the client read nothing for {0:?}; the transfer was cut")]
    Stalled(std::time::Duration),
    #[error("serializing an item: {0}")]
    Serialize(#[from] serde_json::Error),
}

enum Chunk {
    More(Bytes),
    Last(Bytes),
    Abort,
}

/// Writes the `{"data":[…]}` envelope shared by every list response.
/// Dropping it before [`DataArray::close`] aborts the body.
pub struct DataArray {
    sender: mpsc::Sender<Chunk>,
    buffer: Vec<u8>,
    items: usize,
    closed: bool,
    stall: std::time::Duration,
}

impl DataArray {
    /// The writer and the response body it feeds; a client that takes no
    /// chunk for `stall` gets its transfer cut.
    pub fn open(stall: std::time::Duration) -> (DataArray, Body) {
        let (sender, receiver) = mpsc::channel(CHANNEL_CHUNKS);
        let mut writer = DataArray {
            sender,
            stall,
            // Most lists are far smaller than a chunk: start small and let
            // the first chunk grow; later chunks get their full size at once.
            buffer: Vec::with_capacity(FIRST_BUFFER_BYTES),
            items: 0,
            closed: false,
        };
        writer.buffer.extend_from_slice(b"{\"data\":[");
        let body = ChunkBody {
            receiver,
            ended: false,
        };
        (writer, Body::wrap(body))
    }

    /// Appends one item; waits (up to the stall timeout) when a full
    /// chunk is ready and the client has not taken the previous one.
    pub async fn push<T: Serialize>(&mut self, item: &T) -> Result<(), WriteError> {
        if self.items > 0 {
            self.buffer.push(b',');
        }
        serde_json::to_writer(&mut self.buffer, item)?;
        self.items += 1;
        if self.buffer.len() >= CHUNK_BYTES {
            let chunk = std::mem::replace(&mut self.buffer, new_buffer());
            self.send(Chunk::More(chunk.into())).await?;
        }
        Ok(())
    }

    /// Ends the document and the body.
    pub async fn close(mut self) -> Result<(), WriteError> {
        self.buffer.extend_from_slice(b"]}");
        let chunk = std::mem::take(&mut self.buffer);
        self.send(Chunk::Last(chunk.into())).await?;
        self.closed = true;
        Ok(())
    }

    async fn send(&self, chunk: Chunk) -> Result<(), WriteError> {
        match tokio::time::timeout(self.stall, self.sender.send(chunk)).await {
            Ok(sent) => sent.map_err(|_| WriteError::ClientGone),
            Err(_) => Err(WriteError::Stalled(self.stall)),
        }
    }
}

fn new_buffer() -> Vec<u8> {
    // Room for the item that crosses the threshold, so it rarely reallocates.
    Vec::with_capacity(CHUNK_BYTES + CHUNK_BYTES / 8)
}

impl Drop for DataArray {
    fn drop(&mut self) {
        if !self.closed {
            // When the channel is full (a stalled client) or the receiver is
            // gone, this cannot be sent; the body then finds the channel
            // closed after the chunk it holds, which ends it in an error too.
            let _ = self.sender.try_send(Chunk::Abort);
        }
    }
}

/// The receiving end, as an HTTP body. Written by hand rather than with
/// `http_body_util::StreamBody` for one reason: it reports the end of the
/// stream together with the last chunk (`is_end_stream`), so hyper sends
/// the last data and the chunked terminator in one write. A separate small
/// terminator write would wait for the client's delayed ACK under Nagle's
/// algorithm (dropshot does not set `TCP_NODELAY`): 40 ms on Linux.
struct ChunkBody {
    receiver: mpsc::Receiver<Chunk>,
    ended: bool,
}

impl hyper::body::Body for ChunkBody {
    type Data = Bytes;
    type Error = Aborted;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Aborted>>> {
        if self.ended {
            return Poll::Ready(None);
        }
        let chunk = match self.receiver.poll_recv(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(chunk) => chunk,
        };
        Poll::Ready(Some(match chunk {
            Some(Chunk::More(data)) => Ok(Frame::data(data)),
            Some(Chunk::Last(data)) => {
                self.ended = true;
                Ok(Frame::data(data))
            }
            // A writer that vanished without closing is an abort too.
            Some(Chunk::Abort) | None => {
                self.ended = true;
                Err(Aborted)
            }
        }))
    }

    fn is_end_stream(&self) -> bool {
        self.ended
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use http_body_util::BodyExt as _;
    use hyper::body::Body as _;

    use super::*;

    #[derive(Serialize)]
    struct Item {
        id: usize,
        text: String,
    }

    #[derive(Serialize)]
    struct Envelope {
        data: Vec<Item>,
    }

    fn items(n: usize) -> Vec<Item> {
        (0..n)
            .map(|id| Item {
                id,
                text: format!("item \"{id}\" with an escape \u{1}"),
            })
            .collect()
    }

    const STALL: Duration = Duration::from_secs(10);

    /// Writes `n` items from a task of its own, as the server does.
    fn produce(n: usize) -> Body {
        let (mut array, body) = DataArray::open(STALL);
        tokio::spawn(async move {
            for item in items(n) {
                array.push(&item).await.unwrap();
            }
            array.close().await.unwrap();
        });
        body
    }

    async fn written(n: usize) -> Result<Vec<u8>, String> {
        let collected = produce(n).collect().await.map_err(|e| e.to_string())?;
        Ok(collected.to_bytes().to_vec())
    }

    #[tokio::test]
    async fn writes_exactly_what_the_buffered_envelope_serializes_to() {
        // 0, 1 and enough items to span several chunks.
        for n in [0, 1, 2, 30_000] {
            let expected = serde_json::to_vec(&Envelope { data: items(n) }).unwrap();
            assert_eq!(written(n).await.unwrap(), expected, "{n} items");
        }
    }

    #[tokio::test]
    async fn large_bodies_leave_in_several_chunks() {
        let mut body = produce(30_000);
        let mut chunks = 0;
        while let Some(frame) = body.frame().await {
            let data = frame.unwrap().into_data().unwrap();
            assert!(data.len() <= CHUNK_BYTES + CHUNK_BYTES / 8);
            chunks += 1;
        }
        assert!(chunks > 2, "{chunks} chunks");
    }

    #[tokio::test]
    async fn the_last_chunk_carries_the_end_of_the_stream() {
        let (mut array, mut body) = DataArray::open(STALL);
        array
            .push(&Item {
                id: 1,
                text: "x".into(),
            })
            .await
            .unwrap();
        array.close().await.unwrap();
        assert!(!body.is_end_stream());
        let frame = body.frame().await.unwrap().unwrap();
        assert_eq!(
            frame.into_data().unwrap(),
            &br#"{"data":[{"id":1,"text":"x"}]}"#[..]
        );
        assert!(
            body.is_end_stream(),
            "hyper must see the end with the last data"
        );
    }

    #[tokio::test]
    async fn an_unfinished_body_ends_in_an_error_not_a_clean_end() {
        let (mut array, body) = DataArray::open(STALL);
        array
            .push(&Item {
                id: 1,
                text: "x".into(),
            })
            .await
            .unwrap();
        drop(array);
        assert!(body.collect().await.is_err());
    }

    #[tokio::test]
    async fn a_client_that_left_stops_the_writer() {
        let (mut array, body) = DataArray::open(STALL);
        drop(body);
        let item = Item {
            id: 1,
            text: "x".repeat(CHUNK_BYTES),
        };
        assert!(matches!(
            array.push(&item).await,
            Err(WriteError::ClientGone)
        ));
    }

    fn big_item() -> Item {
        Item {
            id: 1,
            text: "x".repeat(CHUNK_BYTES),
        }
    }

    #[tokio::test]
    async fn a_stalled_client_holds_one_chunk_and_is_cut_after_the_stall_timeout() {
        let stall = Duration::from_millis(200);
        let (mut array, body) = DataArray::open(stall);
        // The channel takes one full chunk without a reader...
        array.push(&big_item()).await.unwrap();
        // ...and the next waits for the client, then gives up.
        let started = std::time::Instant::now();
        let second = array.push(&big_item()).await;
        assert!(matches!(second, Err(WriteError::Stalled(_))), "{second:?}");
        assert!(started.elapsed() >= stall);
        drop(array);
        // A client that comes back gets the chunk that was waiting, then a
        // broken transfer, never a clean end.
        assert!(body.collect().await.is_err());
    }

    #[tokio::test]
    async fn a_slow_client_that_keeps_reading_is_not_cut() {
        let stall = Duration::from_millis(300);
        let (mut array, mut body) = DataArray::open(stall);
        let reader = tokio::spawn(async move {
            let mut bytes = 0;
            while let Some(frame) = body.frame().await {
                bytes += frame.unwrap().into_data().unwrap().len();
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            bytes
        });
        for _ in 0..8 {
            array.push(&big_item()).await.unwrap();
        }
        array.close().await.unwrap();
        assert!(reader.await.unwrap() > 8 * CHUNK_BYTES);
    }
}
