//! Load-bench fixture: a keep-alive HTTP/1.1 server whose `GET /delay/<ms>` answers a fixed
//! JSON body after `<ms>` milliseconds, one thread per connection.
//!
//! `scripts/bench` runs it as the upstream of its 20 ms cases (`delay20`, `ssi3-delay20`,
//! `trib-slow3`): `delay_backend PORT BODYFILE`. Only its latency matters there, so it is built
//! to add as little of its own as it can to a 20 ms wait:
//! - each connection has its own thread, and each wait is that thread's own `nanosleep`: no
//!   event loop's timer tick (tokio rounds sleeps up to the next millisecond) and no queue of
//!   answers that fall due at the same moment behind one process's CPU, which is what the
//!   single-process Python fixture of the reference harness adds to a three-call fan-out;
//! - the request head is parsed by `httparse` (the parser under hyper), and the answer is one
//!   `write` of a prepared buffer. A hyper server would put every connection back on a shared
//!   runtime and its timer, which is what this fixture is written to avoid.
//!
//! Anything but `GET /delay/<ms>` gets a 404; a head over 16 KiB or a broken one closes the
//! connection. The process runs until it is killed.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

/// The longest request head read before the connection is closed.
const MAX_HEAD: usize = 16 * 1024;
/// The longest wait a request may ask for.
const MAX_DELAY_MS: u64 = 60_000;

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(port), Some(body_file), None) = (args.next(), args.next(), args.next()) else {
        eprintln!("usage: delay_backend PORT BODYFILE");
        std::process::exit(2);
    };
    let port: u16 = port.parse().unwrap_or_else(|e| {
        eprintln!("delay_backend: bad port {port:?}: {e}");
        std::process::exit(2);
    });
    let body = std::fs::read(&body_file).unwrap_or_else(|e| {
        eprintln!("delay_backend: cannot read {body_file}: {e}");
        std::process::exit(2);
    });
    let mut ok = format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n", body.len())
        .into_bytes();
    ok.extend_from_slice(&body);
    let answers = Arc::new(Answers { ok, missing: b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec() });

    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap_or_else(|e| {
        eprintln!("delay_backend: cannot listen on 127.0.0.1:{port}: {e}");
        std::process::exit(1);
    });
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let answers = Arc::clone(&answers);
        // A small stack: the thread holds one read buffer and nothing else.
        let spawned = std::thread::Builder::new().stack_size(64 * 1024).spawn(move || serve(stream, &answers));
        if let Err(e) = spawned {
            eprintln!("delay_backend: cannot start a connection thread: {e}");
        }
    }
}

struct Answers {
    ok: Vec<u8>,
    missing: Vec<u8>,
}

/// What one request head asks for.
enum Ask {
    /// `GET /delay/<ms>`: the body after that wait; `close` when the client said so.
    Delay { ms: u64, close: bool },
    /// Anything else that parsed: a 404.
    Other { close: bool },
}

fn serve(mut stream: TcpStream, answers: &Answers) {
    let _ = stream.set_nodelay(true);
    let mut buf = vec![0u8; MAX_HEAD];
    let mut filled = 0;
    loop {
        // Answer every complete head already read (clients may pipeline).
        while let Some((used, ask)) = parse(&buf[..filled]) {
            let (answer, close) = match ask {
                Ask::Delay { ms, close } => {
                    if ms > 0 {
                        std::thread::sleep(Duration::from_millis(ms));
                    }
                    (&answers.ok, close)
                }
                Ask::Other { close } => (&answers.missing, close),
            };
            if stream.write_all(answer).is_err() || close {
                return;
            }
            buf.copy_within(used..filled, 0);
            filled -= used;
        }
        if filled == buf.len() {
            return; // a head too long to be one of the bench's requests
        }
        match stream.read(&mut buf[filled..]) {
            Ok(0) | Err(_) => return,
            Ok(n) => filled += n,
        }
    }
}

/// The first complete request head in `bytes`, with its length; `None` while it is partial.
/// A head that cannot be parsed is answered as a 404 with the connection closed, by returning
/// `Other { close: true }` over all of `bytes`.
fn parse(bytes: &[u8]) -> Option<(usize, Ask)> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut req = httparse::Request::new(&mut headers);
    let used = match req.parse(bytes) {
        Ok(httparse::Status::Complete(used)) => used,
        Ok(httparse::Status::Partial) => return None,
        Err(_) => return Some((bytes.len(), Ask::Other { close: true })),
    };
    let header = |name: &str| req.headers.iter().find(|h| h.name.eq_ignore_ascii_case(name));
    // A request body is not read: a request that has one ends the connection after its answer.
    let has_body = header("transfer-encoding").is_some() || header("content-length").is_some_and(|h| h.value != b"0");
    let close = has_body
        || req.version == Some(0)
        || header("connection").is_some_and(|h| h.value.eq_ignore_ascii_case(b"close"));
    let ms = match (req.method, req.path) {
        (Some("GET"), Some(path)) => {
            path.strip_prefix("/delay/").and_then(|ms| ms.parse::<u64>().ok()).filter(|ms| *ms <= MAX_DELAY_MS)
        }
        _ => None,
    };
    Some((
        used,
        match ms {
            Some(ms) => Ask::Delay { ms, close },
            None => Ask::Other { close },
        },
    ))
}
