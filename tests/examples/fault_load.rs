//! Faults-under-load benchmark (`scripts/faultload` builds and runs it): a `tributary run` child
//! process over three misbehaving raw-TCP backends on 127.0.0.1, driven by closed-loop keep-alive
//! clients while other connections trickle request bodies; every answer is classified against
//! KrakenD's rules, and latency, resident memory and panics are printed with one PASS/FAIL line
//! per criterion.
//!
//! `fault_load --tributary BIN [--seconds 120] [--connections 64] [--tricklers 500]
//! [--trickle-ms 1000] [--timeout-ms 1000] [--seed 16] [--dir DIR]`
//!
//! The backends (each request decided at random by a seeded generator, keep-alive otherwise):
//! - `flaky` resets connections (`SO_LINGER` 0): at once, inside the head, or inside the body;
//! - `garbled` sends non-JSON, JSON cut short, a `Content-Length` longer or shorter than the
//!   body, or bytes that are not HTTP at all;
//! - `sluggish` sometimes answers after the endpoint timeout, or trickles its body past it.
//!
//! Their good answer is `{"<name>": {...}}`, so a merged body says which parts arrived.
//! The gateway serves `/agg` (the three merged), `/one` (`garbled` alone) and `POST /upload`
//! (the tricklers' target, never completed). The exit status is 0 whenever the measurement ran:
//! whether a criterion is met is printed, not signalled.

use clap::Parser;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep, sleep_until, timeout};
use tributary_e2e::chaos::{self, Backend, Outcome, Reply};

#[derive(Parser, Debug)]
#[command(about = "Faults under load: a tributary child process over misbehaving backends")]
struct Args {
    /// The `tributary` binary to run.
    #[arg(long)]
    tributary: PathBuf,
    /// Length of the load, in seconds.
    #[arg(long, default_value_t = 120)]
    seconds: u64,
    /// Keep-alive connections of closed-loop GETs (`/agg` and `/one`).
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Connections trickling a `POST /upload` body, one byte about every second.
    #[arg(long, default_value_t = 500)]
    tricklers: usize,
    /// Mean pause between two trickled body bytes, in milliseconds (each pause is drawn within
    /// 20% of it).
    #[arg(long, default_value_t = 1000)]
    trickle_ms: u64,
    /// The endpoints' `timeout`, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    timeout_ms: u64,
    /// Seed of every random choice (backends, clients, tricklers).
    #[arg(long, default_value_t = 16)]
    seed: u64,
    /// Where the config and the gateway's stderr go (default: a new directory under the system
    /// temporary directory, kept after the run).
    #[arg(long)]
    dir: Option<PathBuf>,
}

/// The three backend names, which are also the keys of their good answers.
const PARTS: [&str; 3] = ["flaky", "garbled", "sluggish"];
/// How far above the endpoint timeout the load requests' p99 may be.
const P99_SLACK_MS: f64 = 50.0;
/// The resident-memory criterion: the end value within this fraction of the early one.
const RSS_TOLERANCE: f64 = 0.10;
/// When the early resident-memory value is taken (seconds into the load).
const RSS_EARLY_S: f64 = 20.0;
/// The `Content-Length` a trickler announces: under the server's body limit, never reached.
const TRICKLE_LENGTH: u64 = 1_000_000;

fn main() {
    let args = Args::parse();
    // Two workers: the load, the tricklers and the backends are I/O-bound; the gateway gets the
    // rest of the machine.
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build();
    let runtime = runtime.unwrap_or_else(|e| fail(&format!("cannot start the runtime: {e}")));
    runtime.block_on(run(args));
    // Connection tasks of the backends may still be sleeping: do not wait for them.
    runtime.shutdown_timeout(Duration::from_secs(1));
}

fn fail(msg: &str) -> ! {
    eprintln!("fault_load: {msg}");
    std::process::exit(1);
}

async fn run(args: Args) {
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join(format!("tributary-faultload-{}", std::process::id())));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| fail(&format!("cannot create {}: {e}", dir.display())));
    let endpoint_timeout = Duration::from_millis(args.timeout_ms);

    let tallies: Arc<Tallies> = Arc::default();
    let mut backends = Vec::new();
    for (k, name) in PARTS.iter().enumerate() {
        backends.push(start_backend(name, args.seed.wrapping_add(k as u64 + 1), endpoint_timeout, &tallies).await);
    }

    let port = tributary_e2e::process::free_port();
    let config = config(port, &backends, args.timeout_ms);
    let config_path = dir.join("faultload.json");
    std::fs::write(&config_path, serde_json::to_vec_pretty(&config).expect("config serialises"))
        .unwrap_or_else(|e| fail(&format!("cannot write {}: {e}", config_path.display())));
    let stderr_path = dir.join("tributary.stderr");
    let mut gateway = Gateway::start(&args.tributary, &config_path, port, &stderr_path);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    gateway.wait_ready(addr).await;

    println!(
        "# faults under load: {} s, {} load connections, {} tricklers, endpoint timeout {} ms, seed {}, \
         {} CPUs; gateway pid {}",
        args.seconds,
        args.connections,
        args.tricklers,
        args.timeout_ms,
        args.seed,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        gateway.pid()
    );
    println!("# config {}, gateway stderr {}", config_path.display(), stderr_path.display());

    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.seconds);
    let trickle: Arc<TrickleStats> = Arc::default();
    let mut trickle_tasks = Vec::new();
    for i in 0..args.tricklers {
        // Spread the first connections over the first two seconds.
        let delay = Duration::from_millis((i as u64 * 2000) / args.tricklers.max(1) as u64);
        let trickle = trickle.clone();
        let seed = args.seed ^ (0x7431_0000 + i as u64);
        let pause = args.trickle_ms.max(1);
        trickle_tasks.push(tokio::spawn(async move {
            sleep(delay).await;
            trickler(addr, deadline, seed, pause, &trickle).await;
        }));
    }
    let request_limit = endpoint_timeout + Duration::from_secs(5);
    // Set when the gateway dies: the clients stop at once instead of failing to connect until
    // the deadline.
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for i in 0..args.connections {
        let seed = args.seed ^ (0x1c00_0000 + i as u64);
        clients.push(tokio::spawn(load_client(addr, deadline, request_limit, seed, stop.clone())));
    }

    // One resident-memory sample a second while the load runs (with the body bytes trickled so
    // far, to relate a growth to them); the last one is the end value.
    let mut rss: Vec<Sample> = Vec::new();
    let mut died = None;
    while Instant::now() < deadline {
        sleep_until((Instant::now() + Duration::from_secs(1)).min(deadline)).await;
        if let Some(status) = gateway.exited() {
            died = Some(status);
            stop.store(true, Ordering::Relaxed);
            break;
        }
        if let Some(kib) = gateway.rss_kib() {
            let t = started.elapsed().as_secs_f64();
            if rss.last().is_none_or(|last| (t / 10.0).floor() > (last.t / 10.0).floor()) {
                eprintln!("  {t:5.1} s  RSS {:.1} MiB", kib as f64 / 1024.0);
            }
            rss.push(Sample { t, kib, trickled: trickle.bytes.load(Ordering::Relaxed) });
        }
    }
    let ran_for = started.elapsed().as_secs_f64();

    let mut load = LoadResult::default();
    for client in clients {
        // Each request is bounded by `request_limit`; the extra bound only catches a hang here.
        match timeout(request_limit + Duration::from_secs(5), client).await {
            Ok(Ok(result)) => load.merge(result),
            Ok(Err(e)) => load.violation("a load client task failed", e.to_string()),
            Err(_) => load.violation("a load client did not stop", String::new()),
        }
    }
    for task in &trickle_tasks {
        task.abort();
    }
    for task in trickle_tasks {
        let _ = task.await;
    }
    let exit = match &died {
        Some(status) => format!("died during the run ({status})"),
        None => gateway.stop().await,
    };
    drop(backends);

    let stderr_text = std::fs::read(&stderr_path).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
    report(&args, ran_for, &load, &trickle, &tallies, &rss, &stderr_text, died.is_none(), &exit);
}

/// One resident-memory sample of the gateway.
#[derive(Clone, Copy)]
struct Sample {
    /// Seconds since the load started.
    t: f64,
    /// `VmRSS`, KiB.
    kib: u64,
    /// Body bytes the tricklers had sent by then.
    trickled: u64,
}

// ---------------------------------------------------------------------------------------------
// the gateway child process

struct Gateway {
    child: Child,
}

impl Gateway {
    fn start(binary: &Path, config: &Path, port: u16, stderr_path: &Path) -> Gateway {
        let stderr = std::fs::File::create(stderr_path)
            .unwrap_or_else(|e| fail(&format!("cannot create {}: {e}", stderr_path.display())));
        let child = Command::new(binary)
            .arg("run")
            .arg("-c")
            .arg(config)
            .arg("-p")
            .arg(port.to_string())
            .env("RUST_LOG", "warn")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| fail(&format!("cannot start {}: {e}", binary.display())));
        Gateway { child }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits (at most 30 s) until `/__health` answers 200.
    async fn wait_ready(&mut self, addr: SocketAddr) {
        let until = Instant::now() + Duration::from_secs(30);
        let request = format!("GET /__health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        while Instant::now() < until {
            if let Some(status) = self.exited() {
                fail(&format!("the gateway exited before it was ready ({status})"));
            }
            if let Some(Outcome::Reply(r)) = chaos::exchange(addr, request.as_bytes(), Duration::from_secs(2)).await
                && r.status == 200
            {
                return;
            }
            sleep(Duration::from_millis(100)).await;
        }
        let _ = self.child.kill();
        fail("the gateway was not ready after 30 s");
    }

    fn exited(&mut self) -> Option<String> {
        self.child.try_wait().ok().flatten().map(|s| s.to_string())
    }

    /// `VmRSS` of the child, from `/proc/<pid>/status`.
    fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// SIGTERM (through `kill(1)`: the workspace forbids the `unsafe` a direct call needs), 10 s
    /// for the graceful exit, then SIGKILL. Returns how it ended.
    async fn stop(&mut self) -> String {
        let _ = Command::new("kill").arg("-TERM").arg(self.pid().to_string()).status();
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            if let Some(status) = self.exited() {
                return format!("exited after SIGTERM ({status})");
            }
            sleep(Duration::from_millis(50)).await;
        }
        let _ = self.child.kill();
        let status = self.child.wait().map(|s| s.to_string()).unwrap_or_else(|e| e.to_string());
        format!("still running 10 s after SIGTERM, killed ({status})")
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn config(port: u16, backends: &[Backend], timeout_ms: u64) -> Value {
    let backend = |k: usize, method: &str| json!({"host": [backends[k].url()], "url_pattern": format!("/{}", PARTS[k]), "method": method});
    json!({
        "version": 3,
        "name": "tributary-faultload",
        "listen_ip": "127.0.0.1",
        "port": port,
        "timeout": format!("{timeout_ms}ms"),
        "read_timeout": "5s",
        "endpoints": [
            {"endpoint": "/agg", "backend": [backend(0, "GET"), backend(1, "GET"), backend(2, "GET")]},
            {"endpoint": "/one", "backend": [backend(1, "GET")]},
            {"endpoint": "/upload", "method": "POST", "backend": [backend(2, "POST")]}
        ]
    })
}

// ---------------------------------------------------------------------------------------------
// the misbehaving backends

/// What the backends did, per backend and behaviour.
#[derive(Default)]
struct Tallies {
    counts: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
}

impl Tallies {
    fn add(&self, backend: &'static str, behaviour: &'static str) {
        *self.counts.lock().expect("tallies lock").entry((backend, behaviour)).or_default() += 1;
    }
}

/// The good answer of backend `name`: a 1 KB object under the key `name`.
fn good_body(name: &str) -> Vec<u8> {
    let items: Vec<Value> = (0..12)
        .map(|i| json!({"id": i, "name": format!("{name}-item-{i:02}"), "price": 10 + i * 3, "tags": ["a", "b"], "ok": i % 3 != 0}))
        .collect();
    serde_json::to_vec(&json!({ name: {"backend": name, "count": items.len(), "items": items} }))
        .expect("body serialises")
}

fn head(length: usize, close: bool) -> Vec<u8> {
    let connection = if close { "Connection: close\r\n" } else { "" };
    format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n{connection}\r\n")
        .into_bytes()
}

async fn start_backend(name: &'static str, seed: u64, endpoint_timeout: Duration, tallies: &Arc<Tallies>) -> Backend {
    let body: Arc<Vec<u8>> = Arc::new(good_body(name));
    let rng = Arc::new(Mutex::new(fastrand::Rng::with_seed(seed)));
    let tallies = tallies.clone();
    Backend::start(move |stream, first| {
        let body = body.clone();
        let tallies = tallies.clone();
        // One generator per connection, forked from the backend's seeded one.
        let rng = rng.lock().expect("rng lock").fork();
        async move { serve_backend(name, stream, first, rng, body, endpoint_timeout, tallies).await }
    })
    .await
}

/// Serves one backend connection: answers each request head as the backend decides, keeping the
/// connection alive after a good answer and closing or resetting it after the others.
async fn serve_backend(
    name: &'static str,
    mut stream: TcpStream,
    mut request: Vec<u8>,
    mut rng: fastrand::Rng,
    body: Arc<Vec<u8>>,
    endpoint_timeout: Duration,
    tallies: Arc<Tallies>,
) {
    loop {
        // A request with a body (the tricklers' POST, should one ever complete) is answered and
        // the connection closed, since the body is not read.
        let with_body = has_body(&request);
        let roll = rng.u32(0..100);
        let after = match name {
            "flaky" => flaky(&mut stream, roll, &body, &mut rng, &tallies).await,
            "garbled" => garbled(&mut stream, roll, &body, &mut rng, &tallies).await,
            _ => sluggish(&mut stream, roll, &body, &mut rng, endpoint_timeout, &tallies).await,
        };
        match after {
            After::Reset => {
                let _ = stream.set_zero_linger();
                return;
            }
            After::Close => return chaos::finish(stream).await,
            After::Keep if with_body => return chaos::finish(stream).await,
            After::Keep => {}
        }
        match chaos::read_head(&mut stream).await {
            Some(next) => request = next,
            None => return,
        }
    }
}

/// Writes the good answer, keep-alive.
async fn good(stream: &mut TcpStream, body: &[u8]) -> After {
    let mut answer = head(body.len(), false);
    answer.extend_from_slice(body);
    kept(stream.write_all(&answer).await)
}

/// What a backend does with the connection after an answer.
#[derive(PartialEq, Eq)]
enum After {
    /// Reads the next request.
    Keep,
    /// Closes it cleanly (FIN, then waits for the gateway's side).
    Close,
    /// Resets it: `SO_LINGER` 0 then close, so the gateway sees `ECONNRESET`.
    Reset,
}

/// `Keep` when the write went through, else `Close`.
fn kept(written: std::io::Result<()>) -> After {
    if written.is_ok() { After::Keep } else { After::Close }
}

/// Whether a request head announces a body (which the backends do not read).
fn has_body(request: &[u8]) -> bool {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Request::new(&mut headers);
    if parsed.parse(request).is_err() {
        return true;
    }
    parsed.headers.iter().any(|h| {
        h.name.eq_ignore_ascii_case("transfer-encoding")
            || (h.name.eq_ignore_ascii_case("content-length") && h.value.trim_ascii() != b"0")
    })
}

async fn flaky(stream: &mut TcpStream, roll: u32, body: &[u8], rng: &mut fastrand::Rng, tallies: &Tallies) -> After {
    let answer = {
        let mut a = head(body.len(), false);
        a.extend_from_slice(body);
        a
    };
    let head_len = answer.len() - body.len();
    match roll {
        0..60 => {
            tallies.add("flaky", "good");
            good(stream, body).await
        }
        60..75 => {
            tallies.add("flaky", "reset at once");
            After::Reset
        }
        75..85 => {
            tallies.add("flaky", "reset inside the head");
            let _ = stream.write_all(&answer[..rng.usize(1..head_len)]).await;
            After::Reset
        }
        _ => {
            tallies.add("flaky", "reset inside the body");
            let _ = stream.write_all(&answer[..head_len + rng.usize(0..body.len())]).await;
            After::Reset
        }
    }
}

async fn garbled(stream: &mut TcpStream, roll: u32, body: &[u8], rng: &mut fastrand::Rng, tallies: &Tallies) -> After {
    // A cut inside the object: a prefix of a JSON object that leaves out its closing brace is
    // never valid JSON.
    let cut = rng.usize(1..body.len() - 1);
    match roll {
        0..55 => {
            tallies.add("garbled", "good");
            good(stream, body).await
        }
        55..65 => {
            tallies.add("garbled", "not JSON, true length");
            let mut junk = b"<html>".to_vec();
            junk.extend((0..rng.usize(10..2000)).map(|_| rng.u8(..)));
            let mut answer = head(junk.len(), false);
            answer.extend_from_slice(&junk);
            kept(stream.write_all(&answer).await)
        }
        65..75 => {
            tallies.add("garbled", "JSON cut short, true length");
            let mut answer = head(cut, false);
            answer.extend_from_slice(&body[..cut]);
            kept(stream.write_all(&answer).await)
        }
        75..85 => {
            tallies.add("garbled", "JSON cut short, length too long, then close");
            let mut answer = head(body.len(), true);
            answer.extend_from_slice(&body[..cut]);
            let _ = stream.write_all(&answer).await;
            After::Close
        }
        85..95 => {
            tallies.add("garbled", "length too short, whole body, then close");
            let mut answer = head(cut, true);
            answer.extend_from_slice(body);
            let _ = stream.write_all(&answer).await;
            After::Close
        }
        _ => {
            tallies.add("garbled", "not HTTP, then close");
            let junk: Vec<u8> = (0..rng.usize(1..512)).map(|_| rng.u8(..)).collect();
            let _ = stream.write_all(&junk).await;
            After::Close
        }
    }
}

async fn sluggish(
    stream: &mut TcpStream,
    roll: u32,
    body: &[u8],
    rng: &mut fastrand::Rng,
    endpoint_timeout: Duration,
    tallies: &Tallies,
) -> After {
    let late = endpoint_timeout + Duration::from_millis(500);
    match roll {
        0..94 => {
            tallies.add("sluggish", "good");
            good(stream, body).await
        }
        94..98 => {
            tallies.add("sluggish", "good, after the endpoint timeout");
            sleep(late).await;
            good(stream, body).await
        }
        _ => {
            tallies.add("sluggish", "body trickled past the endpoint timeout");
            if stream.write_all(&head(body.len(), true)).await.is_err() {
                return After::Close;
            }
            let until = Instant::now() + late;
            for byte in body.iter().take(body.len() - 1) {
                if Instant::now() >= until {
                    break;
                }
                sleep(Duration::from_millis(rng.u64(80..120))).await;
                if stream.write_all(std::slice::from_ref(byte)).await.is_err() {
                    break;
                }
            }
            After::Close
        }
    }
}

// ---------------------------------------------------------------------------------------------
// the tricklers

#[derive(Default)]
struct TrickleStats {
    connections: AtomicU64,
    connect_failures: AtomicU64,
    bytes: AtomicU64,
    /// How each connection the gateway ended ended: `answered <status>`, `closed`, `reset`...
    ends: Mutex<BTreeMap<String, u64>>,
    /// How long the gateway held each connection it ended, in milliseconds.
    held_ms: Mutex<Vec<u64>>,
}

impl TrickleStats {
    fn ended(&self, how: String, held: Duration) {
        *self.ends.lock().expect("ends lock").entry(how).or_default() += 1;
        self.held_ms.lock().expect("held lock").push(held.as_millis() as u64);
    }
}

/// Sends `POST /upload` heads announcing a large body, then one body byte every `pause_ms` or so,
/// reconnecting whenever the gateway answers or closes, until `deadline`.
async fn trickler(addr: SocketAddr, deadline: Instant, seed: u64, pause_ms: u64, stats: &TrickleStats) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let request_head = format!(
        "POST /upload HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {TRICKLE_LENGTH}\r\n\r\n"
    );
    while Instant::now() < deadline {
        let mut stream = match timeout(Duration::from_secs(5), TcpStream::connect(addr)).await {
            Ok(Ok(s)) => s,
            _ => {
                stats.connect_failures.fetch_add(1, Ordering::Relaxed);
                sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        stats.connections.fetch_add(1, Ordering::Relaxed);
        let opened = Instant::now();
        if stream.write_all(request_head.as_bytes()).await.is_err() {
            stats.ended("write of the head failed".to_owned(), opened.elapsed());
            continue;
        }
        let mut buf = vec![0u8; 4096];
        let mut sent = 0u64;
        let how = loop {
            let next =
                (Instant::now() + Duration::from_millis(rng.u64(pause_ms * 4 / 5..=pause_ms * 6 / 5))).min(deadline);
            tokio::select! {
                read = stream.read(&mut buf) => break match read {
                    Ok(0) => "closed without an answer".to_owned(),
                    Ok(n) => {
                        let mut headers = [httparse::EMPTY_HEADER; 32];
                        let mut response = httparse::Response::new(&mut headers);
                        match response.parse(&buf[..n]) {
                            Ok(_) if response.code.is_some() => format!("answered {}", response.code.unwrap_or(0)),
                            _ => "answered something that is not HTTP".to_owned(),
                        }
                    }
                    Err(e) => format!("read error ({})", e.kind()),
                },
                () = sleep_until(next) => {
                    if Instant::now() >= deadline {
                        return;
                    }
                    if sent + 1 >= TRICKLE_LENGTH {
                        break "the whole body was sent".to_owned();
                    }
                    if let Err(e) = stream.write_all(b" ").await {
                        break format!("write error ({})", e.kind());
                    }
                    sent += 1;
                    stats.bytes.fetch_add(1, Ordering::Relaxed);
                }
            }
        };
        stats.ended(how, opened.elapsed());
        sleep(Duration::from_millis(100)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// the load clients

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Route {
    Agg,
    One,
}

impl Route {
    fn path(self) -> &'static str {
        match self {
            Route::Agg => "/agg",
            Route::One => "/one",
        }
    }
}

/// What one load client saw.
#[derive(Default)]
struct LoadResult {
    /// Answers within the rules, by endpoint and class.
    classes: BTreeMap<(Route, &'static str), u64>,
    /// Answers outside the rules, by reason.
    violations: BTreeMap<String, u64>,
    /// A few examples of each violation reason.
    examples: Vec<String>,
    /// Latency of every load request, in microseconds, by endpoint.
    latency_us: BTreeMap<Route, Vec<u64>>,
    reconnects: u64,
}

impl LoadResult {
    fn violation(&mut self, reason: &str, example: String) {
        let n = self.violations.entry(reason.to_owned()).or_default();
        *n += 1;
        if *n <= 3 {
            self.examples.push(format!("{reason}: {example}"));
        }
    }

    fn merge(&mut self, other: LoadResult) {
        for (k, v) in other.classes {
            *self.classes.entry(k).or_default() += v;
        }
        for (k, v) in other.violations {
            *self.violations.entry(k).or_default() += v;
        }
        self.examples.extend(other.examples);
        for (k, mut v) in other.latency_us {
            self.latency_us.entry(k).or_default().append(&mut v);
        }
        self.reconnects += other.reconnects;
    }
}

/// One keep-alive connection of closed-loop GETs, `/agg` or `/one` at random, until `deadline`.
async fn load_client(
    addr: SocketAddr,
    deadline: Instant,
    limit: Duration,
    seed: u64,
    stop: Arc<AtomicBool>,
) -> LoadResult {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut result = LoadResult::default();
    let mut stream: Option<TcpStream> = None;
    while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
        let path = if rng.bool() { Route::Agg } else { Route::One };
        let request = format!("GET {} HTTP/1.1\r\nHost: {addr}\r\n\r\n", path.path());
        let sent = Instant::now();
        let outcome = timeout(limit, async {
            if stream.is_none() {
                stream = Some(TcpStream::connect(addr).await.map_err(|e| format!("connect: {e}"))?);
            }
            let s = stream.as_mut().expect("connected above");
            s.write_all(request.as_bytes()).await.map_err(|e| format!("write: {e}"))?;
            match chaos::read_response(s).await {
                Outcome::Reply(reply) => Ok(reply),
                Outcome::Closed => Err("the gateway closed the connection without an answer".to_owned()),
                Outcome::Broken(e) => Err(e),
            }
        })
        .await;
        let took = sent.elapsed();
        result.latency_us.entry(path).or_default().push(took.as_micros() as u64);
        let reply = match outcome {
            Ok(Ok(reply)) => reply,
            Ok(Err(e)) => {
                result.violation("no complete answer", format!("{} after {took:?}: {e}", path.path()));
                stream = None;
                result.reconnects += 1;
                // A refused connect fails at once: do not spin on it.
                sleep(Duration::from_millis(10)).await;
                continue;
            }
            Err(_) => {
                result.violation("no answer within the client's limit", format!("{} after {took:?}", path.path()));
                stream = None;
                result.reconnects += 1;
                continue;
            }
        };
        match classify(path, &reply) {
            Ok(class) => *result.classes.entry((path, class)).or_default() += 1,
            Err(reason) => result.violation(
                reason,
                format!(
                    "{} -> {} completed={:?} body {}",
                    path.path(),
                    reply.status,
                    reply.completed(),
                    chaos::short(&reply.body)
                ),
            ),
        }
        if reply.header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close")) {
            stream = None;
            result.reconnects += 1;
        }
    }
    result
}

/// The class of an answer within KrakenD's rules, or why it is outside them.
fn classify(path: Route, reply: &Reply) -> Result<&'static str, &'static str> {
    let completed = reply.completed();
    match (reply.status, completed) {
        (500, Some("false")) if reply.body.is_empty() => Ok("500/false (failed)"),
        (500, Some("false")) => Err("500 with a body (return_error_msg is off)"),
        (500, _) => Err("500 without X-KrakenD-Completed: false"),
        (200, Some("true" | "false")) => {
            let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&reply.body) else {
                return Err("200 whose body is not a JSON object");
            };
            let expected: &[&str] = match path {
                Route::Agg => &PARTS,
                Route::One => &PARTS[1..2],
            };
            if body.keys().any(|k| !expected.contains(&k.as_str())) {
                return Err("200 with a key no backend sent");
            }
            for (key, value) in &body {
                let good: Value = serde_json::from_slice(&good_body(key)).expect("good body parses");
                if Some(value) != good.get(key.as_str()) {
                    return Err("200 with a part that differs from the backend's good answer");
                }
            }
            let all = body.len() == expected.len();
            match (completed, all, path) {
                (Some("true"), true, _) => Ok("200/true (complete)"),
                (Some("true"), false, _) => Err("200/true with a part missing"),
                (_, true, _) => Err("200/false with every part present"),
                (_, false, Route::One) => Err("200/false from a single backend"),
                (_, false, Route::Agg) if body.is_empty() => Err("200/false with no part at all"),
                (_, false, Route::Agg) => Ok("200/false (partial)"),
            }
        }
        (200, _) => Err("200 without X-KrakenD-Completed true or false"),
        _ => Err("a status other than 200 or 500"),
    }
}

// ---------------------------------------------------------------------------------------------
// the report

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1000.0
}

#[allow(clippy::too_many_arguments)]
fn report(
    args: &Args,
    ran_for: f64,
    load: &LoadResult,
    trickle: &TrickleStats,
    tallies: &Tallies,
    rss: &[Sample],
    stderr_text: &str,
    survived: bool,
    exit: &str,
) {
    let within: u64 = load.classes.values().sum();
    let violations: u64 = load.violations.values().sum();
    let requests = within + violations;
    println!();
    println!(
        "load requests: {requests} in {ran_for:.1} s ({:.0} req/s), {} reconnects",
        requests as f64 / ran_for,
        load.reconnects
    );
    for ((path, class), n) in &load.classes {
        println!("  {:4} {class:22} {n}", path.path());
    }
    println!("  violations: {violations}");
    for (reason, n) in &load.violations {
        println!("    {n:8}  {reason}");
    }
    for example in load.examples.iter().take(10) {
        println!("    e.g. {example}");
    }

    let mut all: Vec<u64> = load.latency_us.values().flatten().copied().collect();
    all.sort_unstable();
    let line = |name: &str, v: &[u64]| {
        println!(
            "latency {name:5} ms: p50 {:.2}  p99 {:.2}  max {:.2}  ({} requests)",
            percentile(v, 50.0),
            percentile(v, 99.0),
            percentile(v, 100.0),
            v.len()
        )
    };
    line("all", &all);
    for (path, v) in &load.latency_us {
        let mut v = v.clone();
        v.sort_unstable();
        line(path.path(), &v);
    }
    let p99 = percentile(&all, 99.0);
    let bound = args.timeout_ms as f64 + P99_SLACK_MS;
    println!("endpoint timeout: {} ms; p99 {p99:.2} ms <= {bound:.0} ms: {}", args.timeout_ms, yes(p99 <= bound));

    let held = {
        let mut h = trickle.held_ms.lock().expect("held lock").clone();
        h.sort_unstable();
        h
    };
    let connections = trickle.connections.load(Ordering::Relaxed);
    println!(
        "tricklers: {connections} connections, {} connect failures, {} body bytes trickled",
        trickle.connect_failures.load(Ordering::Relaxed),
        trickle.bytes.load(Ordering::Relaxed),
    );
    let open = connections.saturating_sub(held.len() as u64);
    if held.is_empty() {
        println!("  the gateway ended none of them: {open} still open at the end");
    } else {
        println!(
            "  the gateway ended {} of them, after p50 {:.1} s, max {:.1} s; {open} still open at the end",
            held.len(),
            percentile(&held, 50.0),
            percentile(&held, 100.0),
        );
    }
    for (how, n) in trickle.ends.lock().expect("ends lock").iter() {
        println!("  {n:8}  {how}");
    }
    println!("backends (what each request got):");
    for ((backend, behaviour), n) in tallies.counts.lock().expect("tallies lock").iter() {
        println!("  {backend:8} {n:8}  {behaviour}");
    }

    let early_at = RSS_EARLY_S.min(ran_for / 2.0);
    let early = rss.iter().find(|s| s.t >= early_at).copied();
    let end = rss.last().copied();
    let rss_ok = match (early, end) {
        (Some(e), Some(l)) => {
            let ratio = l.kib as f64 / e.kib as f64;
            println!(
                "RSS: {:.1} MiB at {:.0} s, {:.1} MiB at the end ({:.0} s), ratio {ratio:.3} (max over the run {:.1} MiB)",
                e.kib as f64 / 1024.0,
                e.t,
                l.kib as f64 / 1024.0,
                l.t,
                rss.iter().map(|s| s.kib).max().unwrap_or(0) as f64 / 1024.0
            );
            let trickled = l.trickled.saturating_sub(e.trickled);
            if trickled > 0 {
                println!(
                    "  in between the tricklers sent {trickled} body bytes: {:+.2} KiB of RSS per byte",
                    (l.kib as f64 - e.kib as f64) / trickled as f64
                );
            }
            (ratio - 1.0).abs() <= RSS_TOLERANCE
        }
        _ => {
            println!("RSS: too few samples");
            false
        }
    };
    let panics = stderr_text.matches("panicked").count();
    println!("gateway: {exit}; stderr {} bytes, {panics} `panicked` lines", stderr_text.len());
    for line in stderr_text.lines().filter(|l| l.contains("panicked")).take(5) {
        println!("  {line}");
    }

    println!();
    let verdict = |ok: bool, what: &str| println!("{} {what}", if ok { "PASS" } else { "FAIL" });
    verdict(panics == 0 && survived, "no panic (and the gateway ran to the end)");
    verdict(violations == 0 && requests > 0, "every answer within KrakenD's rules");
    verdict(p99 <= bound, &format!("p99 of the load requests <= endpoint timeout + {P99_SLACK_MS:.0} ms"));
    verdict(
        rss_ok,
        &format!("resident memory at the end within {:.0}% of its value at {early_at:.0} s", RSS_TOLERANCE * 100.0),
    );
}

fn yes(ok: bool) -> &'static str {
    if ok { "yes" } else { "NO" }
}
