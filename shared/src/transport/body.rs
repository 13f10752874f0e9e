//! Reading a whole HTTP body into one buffer, within a size limit: backend answers in the client,
//! and client requests in the local server.

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Body;

/// First capacity of the buffer when the body announces no length.
const FIRST_CAPACITY: usize = 64 * 1024;

/// Why a body could not be read whole.
#[derive(Debug)]
pub enum CollectError<E> {
    /// It is (or announced that it is) larger than the limit.
    TooLarge,
    /// The body failed (I/O, framing, a deadline).
    Failed(E),
}

/// Reads a whole body, refusing it as soon as it passes `max` bytes or announces more
/// (`announced`: a `Content-Length` the caller trusts to size the buffer; `None` grows it by
/// doubling). Each frame a hyper connection hands over is a slice of one of its read buffers
/// (8 KiB or more), so keeping the frames, as http-body-util's `collect` does, would pin a whole
/// buffer per TCP segment that arrived: a body trickled a byte at a time would cost kilobytes
/// per byte, and a body near the limit its size twice once the frames are joined. Frames after
/// the first are copied into one buffer and released at once; a body that comes in one frame is
/// kept as it came.
pub async fn collect_capped<B>(mut body: B, max: usize, announced: Option<u64>) -> Result<Bytes, CollectError<B::Error>>
where
    B: Body<Data = Bytes> + Unpin,
{
    if announced.is_some_and(|n| n > max as u64) {
        return Err(CollectError::TooLarge);
    }
    let mut first: Option<Bytes> = None;
    let mut buf: Vec<u8> = Vec::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.map_err(CollectError::Failed)?.into_data() else {
            continue;
        };
        total += data.len();
        if total > max {
            return Err(CollectError::TooLarge);
        }
        if first.is_none() && buf.is_empty() {
            first = Some(data);
            continue;
        }
        if let Some(f) = first.take() {
            buf.reserve_exact(announced.map_or(FIRST_CAPACITY, |n| n as usize).max(total));
            buf.extend_from_slice(&f);
        }
        buf.extend_from_slice(&data);
    }
    Ok(first.unwrap_or_else(|| Bytes::from(buf)))
}
