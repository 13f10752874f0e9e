//! The local server's access log: gin's default line per request (KrakenD CE's `[GIN]` line),
//! written to stdout (in batches, within [`FLUSH_DELAY`]), or to GELF when `telemetry/gelf` is
//! set (KrakenD hands gin its GELF writer then). `router.disable_access_log` turns it off, `router.logger_skip_paths` skips paths.
//!
//! The line, from gin v1.12's `defaultLogFormatter`:
//! `[GIN] 2026/12/07 - 11:15:00 | 200 |  4.529µs |       127.0.0.1 | GET      "/users/1?x=1"`
//! then one `Error #01: <error>` line per failed backend (lura hands gin each backend error).

use crate::gelf::GelfSender;
use crate::golike;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use std::cell::RefCell;
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use tributary_core::TelemetrySettings;

/// One request, as the access log needs it.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    pub status: u16,
    pub latency: Duration,
    pub client_ip: &'a str,
    pub method: &'a str,
    /// The request path as sent (percent-encoded); the line shows it decoded, as Go's `URL.Path`.
    pub path: &'a str,
    /// The raw query, without `?`.
    pub query: &'a str,
    /// The errors gin is handed for this request (each failed backend's).
    pub errors: &'a [String],
}

/// Where the lines go.
#[derive(Debug, Clone)]
enum Out {
    Stdout { color: bool, buffer: Arc<Batch> },
    Gelf(GelfSender),
}

/// Lines are written to stdout at most [`FLUSH_DELAY`] after they are made, in batches: one
/// write per line (what gin does) costs a system call per request, a large share of a small
/// request's CPU when stdout is a file or a pipe.
pub const FLUSH_DELAY: Duration = Duration::from_millis(10);
/// A batch this large is written at once.
const FLUSH_BYTES: usize = 64 * 1024;

#[derive(Debug, Default)]
struct Batch {
    lines: Mutex<String>,
    pending: Notify,
}

impl Batch {
    /// Appends what `write` writes (a line) to the batch, without a buffer of its own.
    fn push_with(&self, write: impl FnOnce(&mut String)) {
        let mut lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        let first = lines.is_empty();
        write(&mut lines);
        let full = lines.len() >= FLUSH_BYTES;
        drop(lines);
        if full {
            self.flush();
        } else if first {
            self.pending.notify_one();
        }
    }

    /// Writes what is buffered. The stdout lock is taken first, so batches go out in order.
    fn flush(&self) {
        let mut out = std::io::stdout().lock();
        let lines = std::mem::take(&mut *self.lines.lock().unwrap_or_else(|e| e.into_inner()));
        if !lines.is_empty() {
            // A closed stdout loses the lines, nothing else.
            let _ = out.write_all(lines.as_bytes());
            let _ = out.flush();
        }
    }
}

/// Writes a batch [`FLUSH_DELAY`] after its first line, for as long as the runtime runs.
async fn flush_batches(batch: Arc<Batch>) {
    loop {
        batch.pending.notified().await;
        tokio::time::sleep(FLUSH_DELAY).await;
        batch.flush();
    }
}

/// The access log of one server.
#[derive(Debug, Clone)]
pub struct AccessLog {
    skip: Vec<String>,
    out: Out,
}

impl AccessLog {
    /// The access log `settings` ask for (`None` with `disable_access_log`); to `gelf` when given.
    /// Writing to stdout starts a task on the current tokio runtime.
    pub fn new(settings: &TelemetrySettings, gelf: Option<GelfSender>) -> Option<AccessLog> {
        if !settings.access_log {
            return None;
        }
        let out = match gelf {
            Some(g) => Out::Gelf(g),
            None => {
                let buffer = Arc::new(Batch::default());
                tokio::spawn(flush_batches(buffer.clone()));
                Out::Stdout { color: stdout_is_terminal(), buffer }
            }
        };
        Some(AccessLog { skip: settings.logger_skip_paths.clone(), out })
    }

    /// Whether a request to `path` (as sent) is left out: gin compares `URL.Path`, the decoded
    /// path, with each skipped path exactly.
    pub fn skips(&self, path: &str) -> bool {
        if self.skip.is_empty() {
            return false;
        }
        let decoded = decode(path);
        self.skip.iter().any(|s| s.as_bytes() == &*decoded)
    }

    /// Writes the line of `entry` (unless its path is skipped).
    pub fn write(&self, entry: &Entry<'_>) {
        if self.skips(entry.path) {
            return;
        }
        match &self.out {
            Out::Stdout { color, buffer } => buffer.push_with(|out| push_line(out, &timestamp(), entry, *color)),
            Out::Gelf(gelf) => gelf.send(line(&timestamp(), entry, false), crate::gelf::INFO),
        }
    }
}

impl AccessLog {
    /// Writes the lines still buffered (at shutdown).
    pub fn flush(&self) {
        if let Out::Stdout { buffer, .. } = &self.out {
            buffer.flush();
        }
    }
}

fn stdout_is_terminal() -> bool {
    use std::io::IsTerminal as _;
    std::io::stdout().is_terminal() && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
}

fn decode(path: &str) -> std::borrow::Cow<'_, [u8]> {
    percent_encoding::percent_decode_str(path).into()
}

/// Now in the local time zone as `2006/01/02 - 15:04:05`, rendered once per second per thread.
fn timestamp() -> String {
    thread_local! {
        static CACHE: RefCell<(i64, String)> = const { RefCell::new((i64::MIN, String::new())) };
    }
    let now = Timestamp::now();
    let second = now.as_second();
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.0 != second {
            let zoned = now.to_zoned_datetime(TimeZone::system());
            *cache = (second, golike::format_time("2006/01/02 - 15:04:05", &zoned));
        }
        cache.1.clone()
    })
}

const GREEN: &str = "\x1b[97;42m";
const WHITE: &str = "\x1b[90;47m";
const YELLOW: &str = "\x1b[90;43m";
const RED: &str = "\x1b[97;41m";
const BLUE: &str = "\x1b[97;44m";
const MAGENTA: &str = "\x1b[97;45m";
const CYAN: &str = "\x1b[97;46m";
const RESET: &str = "\x1b[0m";

/// gin's line for `entry` at `time`; `color` adds gin's ANSI colours (for a terminal only).
pub fn line(time: &str, entry: &Entry<'_>, color: bool) -> String {
    let mut out = String::with_capacity(112 + entry.path.len() + entry.query.len());
    push_line(&mut out, time, entry, color);
    out
}

/// [`line`], appended to `out`: written piece by piece (gin's `%3d`, `%8v`, `%15s`, `%-7s`
/// paddings by hand), since `format!` with paddings costs several times more per request.
fn push_line(out: &mut String, time: &str, entry: &Entry<'_>, color: bool) {
    let (status_color, latency_color, method_color, reset) = if color {
        (status_color(entry.status), latency_color(entry.latency), method_color(entry.method), RESET)
    } else {
        ("", "", "", "")
    };
    out.push_str("[GIN] ");
    out.push_str(time);
    out.push_str(" |");
    out.push_str(status_color);
    out.push(' ');
    let at = out.len();
    let _ = write!(out, "{}", entry.status);
    pad_left(out, at, 3);
    out.push(' ');
    out.push_str(reset);
    out.push('|');
    out.push_str(latency_color);
    out.push(' ');
    let at = out.len();
    golike::push_duration(out, truncate(entry.latency));
    pad_left(out, at, 8);
    out.push(' ');
    out.push_str(reset);
    out.push_str("| ");
    for _ in entry.client_ip.chars().count()..15 {
        out.push(' ');
    }
    out.push_str(entry.client_ip);
    out.push_str(" |");
    out.push_str(method_color);
    out.push(' ');
    out.push_str(entry.method);
    for _ in entry.method.chars().count()..7 {
        out.push(' ');
    }
    out.push(' ');
    out.push_str(reset);
    out.push(' ');
    if entry.query.is_empty() {
        golike::push_quoted(out, &decode(entry.path));
    } else {
        // gin appends `?` and the raw query to the decoded path.
        let mut bytes = decode(entry.path).into_owned();
        bytes.push(b'?');
        bytes.extend_from_slice(entry.query.as_bytes());
        golike::push_quoted(out, &bytes);
    }
    out.push('\n');
    for (i, e) in entry.errors.iter().enumerate() {
        let _ = writeln!(out, "Error #{:02}: {e}", i + 1);
    }
}

/// Right-aligns what was written to `out` since `at` in `width` characters, as Go's `%Nv` does.
fn pad_left(out: &mut String, at: usize, width: usize) {
    let written = out[at..].chars().count();
    for _ in written..width {
        out.insert(at, ' ');
    }
}

/// gin rounds long latencies down: to 10 s past a minute, 10 ms past a second, 10 µs past a
/// millisecond.
fn truncate(d: Duration) -> Duration {
    let step = if d > Duration::from_secs(60) {
        Duration::from_secs(10)
    } else if d > Duration::from_secs(1) {
        Duration::from_millis(10)
    } else if d > Duration::from_millis(1) {
        Duration::from_micros(10)
    } else {
        return d;
    };
    let step_ns = step.as_nanos();
    Duration::from_nanos(u64::try_from(d.as_nanos() / step_ns * step_ns).unwrap_or(u64::MAX))
}

fn status_color(status: u16) -> &'static str {
    match status {
        200..=299 => GREEN,
        300..=399 => WHITE,
        400..=499 => YELLOW,
        _ => RED,
    }
}

fn latency_color(d: Duration) -> &'static str {
    let ms = d.as_millis();
    match ms {
        0..100 => WHITE,
        100..200 => GREEN,
        200..300 => CYAN,
        300..500 => BLUE,
        500..1000 => YELLOW,
        1000..2000 => MAGENTA,
        _ => RED,
    }
}

fn method_color(method: &str) -> &'static str {
    match method {
        "GET" => BLUE,
        "POST" => CYAN,
        "PUT" => YELLOW,
        "DELETE" => RED,
        "PATCH" => GREEN,
        "HEAD" => MAGENTA,
        "OPTIONS" => WHITE,
        _ => RESET,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry<'a>(path: &'a str, query: &'a str, errors: &'a [String]) -> Entry<'a> {
        Entry {
            status: 200,
            latency: Duration::from_nanos(4_529),
            client_ip: "172.17.0.1",
            method: "GET",
            path,
            query,
            errors,
        }
    }

    #[test]
    fn the_line_is_gins_column_for_column() {
        let l = line("2026/12/07 - 11:15:00", &entry("/user/foo", "", &[]), false);
        assert_eq!(l, "[GIN] 2026/12/07 - 11:15:00 | 200 |  4.529µs |      172.17.0.1 | GET      \"/user/foo\"\n");
    }

    #[test]
    fn the_path_is_decoded_and_the_query_kept_raw() {
        let l = line("t", &entry("/a%20b/%22c%22", "x=1%202&y=%22", &[]), false);
        assert!(l.ends_with(" GET      \"/a b/\\\"c\\\"?x=1%202&y=%22\"\n"), "{l}");
    }

    #[test]
    fn failed_backends_follow_as_gins_error_lines() {
        let errors = ["invalid status code".to_owned(), "context deadline exceeded".to_owned()];
        let l = line("t", &entry("/x", "", &errors), false);
        assert!(l.ends_with("\"/x\"\nError #01: invalid status code\nError #02: context deadline exceeded\n"), "{l}");
    }

    #[test]
    fn latencies_are_rounded_as_gin_rounds_them() {
        assert_eq!(golike::duration(truncate(Duration::from_nanos(1_234_567))), "1.23ms");
        assert_eq!(golike::duration(truncate(Duration::from_nanos(1_234_567_890))), "1.23s");
        assert_eq!(golike::duration(truncate(Duration::from_secs(75))), "1m10s");
        assert_eq!(golike::duration(truncate(Duration::from_nanos(999_999))), "999.999µs");
    }

    #[test]
    fn colours_wrap_the_status_latency_and_method_for_a_terminal() {
        let l = line("t", &entry("/x", "", &[]), true);
        assert_eq!(
            l,
            format!(
                "[GIN] t |{GREEN} 200 {RESET}|{WHITE}  4.529µs {RESET}|      172.17.0.1 |{BLUE} GET     {RESET} \"/x\"\n"
            )
        );
    }
}
