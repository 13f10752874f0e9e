//! `telemetry/gelf`: log lines sent to a Graylog (GELF) input over UDP (gzip, chunked when
//! large) or TCP (uncompressed, each message ended by a zero byte), as KrakenD's go-gelf writer
//! sends them. Unlike KrakenD, which writes on the request's own goroutine, lines are handed to
//! a background task through a bounded queue: a receiver that is down, slow or never reads makes
//! lines drop (counted, one warning per interval), never a request wait.

use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::{Map, Value};
use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::{Notify, mpsc};

/// Syslog severities, GELF's `level`.
pub const CRITICAL: u8 = 2;
pub const ERROR: u8 = 3;
pub const WARNING: u8 = 4;
pub const INFO: u8 = 6;
pub const DEBUG: u8 = 7;

/// Lines waiting for the sender; past this, new lines are dropped.
pub const QUEUE: usize = 512;
/// Longest line text sent; longer ones are cut (the queue's memory stays bounded).
pub const MAX_TEXT: usize = 32 * 1024;
/// At most one warning about dropped lines per this interval.
pub const WARN_INTERVAL: Duration = Duration::from_secs(10);
/// A TCP write that takes longer gives up the connection (a receiver that stopped reading).
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Wait before connecting (or resolving) again after a failure.
const RETRY: Duration = Duration::from_secs(1);
/// go-gelf's chunking: datagrams of at most 1420 bytes, 12 of them the chunk header.
pub const CHUNK_SIZE: usize = 1420;
const CHUNK_DATA: usize = CHUNK_SIZE - 12;
/// GELF allows at most 128 chunks per message.
const MAX_CHUNKS: usize = 128;

/// The target of the sender's own warnings: never sent to GELF (a full queue would swallow them).
pub const TARGET: &str = "tributary::gelf";

struct Line {
    text: String,
    level: u8,
    time: f64,
}

/// The handle lines are sent through; cheap to clone.
#[derive(Clone)]
pub struct GelfSender {
    tx: mpsc::Sender<Line>,
    drops: Arc<Drops>,
}

impl std::fmt::Debug for GelfSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GelfSender").finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Drops {
    count: AtomicU64,
    notify: Notify,
}

impl Drops {
    fn add(&self, n: u64) {
        if self.count.fetch_add(n, Ordering::Relaxed) == 0 {
            self.notify.notify_one();
        }
    }
}

impl GelfSender {
    /// Queues one line (`level` a syslog severity); drops it when the queue is full.
    pub fn send(&self, mut text: String, level: u8) {
        if text.len() > MAX_TEXT {
            let mut cut = MAX_TEXT;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
        }
        let time = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
        if self.tx.try_send(Line { text, level, time }).is_err() {
            self.drops.add(1);
        }
    }
}

/// Starts the sender for `address` (`host:port`) on the current tokio runtime.
pub fn start(address: &str, tcp: bool) -> GelfSender {
    let (tx, rx) = mpsc::channel(QUEUE);
    let drops = Arc::new(Drops::default());
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    let address = address.to_owned();
    if tcp {
        tokio::spawn(send_tcp(address, host, rx, drops.clone()));
    } else {
        // go-gelf's UDP writer names the program as the facility; its TCP writer sends none.
        let facility = std::env::args()
            .next()
            .map(|a| a.rsplit('/').next().unwrap_or(&a).to_owned())
            .unwrap_or_else(|| "tributary".to_owned());
        tokio::spawn(send_udp(address, host, facility, rx, drops.clone()));
    }
    tokio::spawn(warn_drops(drops.clone()));
    GelfSender { tx, drops }
}

async fn warn_drops(drops: Arc<Drops>) {
    loop {
        drops.notify.notified().await;
        let n = drops.count.swap(0, Ordering::Relaxed);
        if n > 0 {
            tracing::warn!(target: TARGET, "[SERVICE: Logging][GELF] {n} log line(s) dropped: the GELF receiver is down or slow");
        }
        tokio::time::sleep(WARN_INTERVAL).await;
    }
}

/// The GELF 1.1 JSON of one line, as go-gelf builds it: the text trimmed, its first line as
/// `short_message` and the whole as `full_message` when it has several.
pub fn message(host: &str, text: &str, level: u8, time: f64, facility: Option<&str>) -> Vec<u8> {
    let text = text.trim();
    let mut m = Map::new();
    m.insert("version".into(), Value::from("1.1"));
    m.insert("host".into(), Value::from(host));
    match text.find('\n') {
        Some(i) if i > 0 => {
            m.insert("short_message".into(), Value::from(&text[..i]));
            m.insert("full_message".into(), Value::from(text));
        }
        _ => {
            m.insert("short_message".into(), Value::from(text));
        }
    }
    m.insert("timestamp".into(), serde_json::Number::from_f64(time).map_or(Value::Null, Value::Number));
    m.insert("level".into(), Value::from(level));
    if let Some(f) = facility {
        m.insert("facility".into(), Value::from(f));
    }
    serde_json::to_vec(&Value::Object(m)).unwrap_or_default()
}

/// The UDP datagrams of one message: gzip-compressed, chunked past [`CHUNK_SIZE`] bytes (magic
/// `0x1e 0x0f`, the 8-byte message `id`, sequence number, count, data). `None` when it would need
/// more than 128 chunks.
pub fn datagrams(json: &[u8], id: [u8; 8]) -> Option<Vec<Vec<u8>>> {
    let mut gz = GzEncoder::new(Vec::with_capacity(json.len() / 2 + 32), Compression::fast());
    gz.write_all(json).ok()?;
    let zipped = gz.finish().ok()?;
    if zipped.len() <= CHUNK_SIZE {
        return Some(vec![zipped]);
    }
    let count = zipped.len().div_ceil(CHUNK_DATA);
    if count > MAX_CHUNKS {
        return None;
    }
    let count_byte = u8::try_from(count).ok()?;
    Some(
        zipped
            .chunks(CHUNK_DATA)
            .enumerate()
            .map(|(i, data)| {
                let mut d = Vec::with_capacity(12 + data.len());
                d.extend_from_slice(&[0x1e, 0x0f]);
                d.extend_from_slice(&id);
                d.push(u8::try_from(i).unwrap_or(u8::MAX));
                d.push(count_byte);
                d.extend_from_slice(data);
                d
            })
            .collect(),
    )
}

/// A message id unique within this process and unlikely to repeat across processes.
fn message_id() -> [u8; 8] {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let mixed = (nanos as u64) ^ n.rotate_left(40) ^ u64::from(std::process::id()).rotate_left(20);
    mixed.to_be_bytes()
}

async fn resolve(address: &str) -> Option<std::net::SocketAddr> {
    tokio::net::lookup_host(address).await.ok()?.next()
}

async fn send_udp(address: String, host: String, facility: String, mut rx: mpsc::Receiver<Line>, drops: Arc<Drops>) {
    let socket = loop {
        if let Some(addr) = resolve(&address).await {
            let local = if addr.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
            if let Ok(s) = UdpSocket::bind(local).await
                && s.connect(addr).await.is_ok()
            {
                break s;
            }
        }
        tokio::time::sleep(RETRY).await;
    };
    while let Some(line) = rx.recv().await {
        let json = message(&host, &line.text, line.level, line.time, Some(&facility));
        let Some(datagrams) = datagrams(&json, message_id()) else {
            drops.add(1);
            continue;
        };
        for d in datagrams {
            // A refused datagram (nobody listening) is lost, as UDP loses it anyway.
            let _ = socket.send(&d).await;
        }
    }
}

async fn send_tcp(address: String, host: String, mut rx: mpsc::Receiver<Line>, drops: Arc<Drops>) {
    let mut stream: Option<TcpStream> = None;
    while let Some(line) = rx.recv().await {
        let mut frame = message(&host, &line.text, line.level, line.time, None);
        frame.push(0);
        loop {
            if stream.is_none() {
                stream = connect(&address).await;
                if stream.is_none() {
                    // Down: wait (the queue fills meanwhile, and new lines drop there).
                    tokio::time::sleep(RETRY).await;
                    continue;
                }
            }
            let Some(s) = stream.as_mut() else { continue };
            match tokio::time::timeout(WRITE_TIMEOUT, s.write_all(&frame)).await {
                Ok(Ok(())) => {}
                // Closed, reset, or not read from: this line is lost, the next one reconnects.
                Ok(Err(_)) | Err(_) => {
                    stream = None;
                    drops.add(1);
                }
            }
            break;
        }
    }
}

async fn connect(address: &str) -> Option<TcpStream> {
    let addr = resolve(address).await?;
    let s = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await.ok()?.ok()?;
    let _ = s.set_nodelay(true);
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::GzDecoder;
    use std::io::Read as _;

    #[test]
    fn a_message_is_gelf_1_1_with_the_first_line_short() {
        let m: Value = serde_json::from_slice(&message("h", "  one\ntwo\n", ERROR, 1.5, Some("tributary"))).unwrap();
        assert_eq!(m["version"], "1.1");
        assert_eq!(m["host"], "h");
        assert_eq!(m["short_message"], "one");
        assert_eq!(m["full_message"], "one\ntwo");
        assert_eq!(m["timestamp"], 1.5);
        assert_eq!(m["level"], 3);
        assert_eq!(m["facility"], "tributary");
        let single: Value = serde_json::from_slice(&message("h", "one", INFO, 2.0, None)).unwrap();
        assert!(single.get("full_message").is_none() && single.get("facility").is_none(), "{single}");
    }

    fn gunzip(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        GzDecoder::new(bytes).read_to_end(&mut out).expect("gzip");
        out
    }

    #[test]
    fn a_small_message_is_one_gzip_datagram() {
        let d = datagrams(b"{\"a\":1}", [1; 8]).unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(&d[0][..2], &[0x1f, 0x8b]);
        assert_eq!(gunzip(&d[0]), b"{\"a\":1}");
    }

    #[test]
    fn a_large_message_is_chunked_with_gelfs_header() {
        // Incompressible text: a simple generator's digits.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let text: String = (0..20_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                char::from(b'a' + (x % 26) as u8)
            })
            .collect();
        let d = datagrams(text.as_bytes(), [7; 8]).unwrap();
        assert!(d.len() > 1);
        let mut joined = Vec::new();
        for (i, chunk) in d.iter().enumerate() {
            assert!(chunk.len() <= CHUNK_SIZE);
            assert_eq!(&chunk[..2], &[0x1e, 0x0f]);
            assert_eq!(&chunk[2..10], &[7; 8]);
            assert_eq!(usize::from(chunk[10]), i);
            assert_eq!(usize::from(chunk[11]), d.len());
            joined.extend_from_slice(&chunk[12..]);
        }
        assert_eq!(gunzip(&joined), text.as_bytes());
    }

    #[tokio::test]
    async fn a_full_queue_drops_and_counts_instead_of_waiting() {
        let (tx, _rx) = mpsc::channel(2);
        let sender = GelfSender { tx, drops: Arc::new(Drops::default()) };
        for _ in 0..5 {
            sender.send("x".to_owned(), INFO);
        }
        assert_eq!(sender.drops.count.load(Ordering::Relaxed), 3);
    }
}
