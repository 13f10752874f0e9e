//! Logs, read off real processes: the `tributary` binary's access-log and application lines on
//! its stdout and stderr (gin's `[GIN]` line field by field, `logger_skip_paths`,
//! `disable_access_log`, each `telemetry/logging` format, syslog to a socket the test binds,
//! GELF to UDP and TCP receivers on 127.0.0.1, receivers that are down or never read), and the
//! Lambda function's per-request JSON line in process and through the Runtime API emulator.

use flate2::read::GzDecoder;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tributary_e2e::chaos::{self, Backend, Outcome};
use tributary_e2e::doors::function_url_get;
use tributary_e2e::lambda::{answers_and_logs, emulator};
use tributary_e2e::process::{TempDir, free_port, tributary_bin};

/// Every request, start-up or line wait: a bound that only catches hangs.
const LIMIT: Duration = Duration::from_secs(20);

/// `tributary run` with piped output; its lines collected as they come.
struct Gateway {
    addr: SocketAddr,
    child: Child,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
    readers: Vec<std::thread::JoinHandle<()>>,
    _dir: TempDir,
}

fn collect(pipe: impl Read + Send + 'static, into: Arc<Mutex<Vec<String>>>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut line = Vec::new();
        while reader.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
            let text = String::from_utf8_lossy(&line).trim_end_matches('\n').to_owned();
            into.lock().expect("lines").push(text);
            line.clear();
        }
    })
}

impl Gateway {
    fn start(config: &Value, env: &[(&str, &str)]) -> Gateway {
        let dir = TempDir::new("logs");
        let path = dir.write("krakend.json", config.to_string());
        let port = free_port();
        let mut cmd = Command::new(tributary_bin());
        cmd.args(["run", "-c"]).arg(&path).args(["-p", &port.to_string()]);
        cmd.env_remove("RUST_LOG").env_remove("TRIBUTARY_SYSLOG_SOCKET").env("TZ", "UTC");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child =
            cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start tributary");
        let (stdout, stderr) = (Arc::new(Mutex::new(Vec::new())), Arc::new(Mutex::new(Vec::new())));
        let readers = vec![
            collect(child.stdout.take().expect("stdout"), stdout.clone()),
            collect(child.stderr.take().expect("stderr"), stderr.clone()),
        ];
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut gw = Gateway { addr, child, stdout, stderr, readers, _dir: dir };
        let deadline = Instant::now() + LIMIT;
        while std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Ok(Some(status)) = gw.child.try_wait() {
                panic!(
                    "tributary exited ({status}) before listening:\n{}",
                    gw.stderr.lock().expect("lines").join("\n")
                );
            }
            assert!(Instant::now() < deadline, "tributary did not listen within {LIMIT:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
        gw
    }

    /// Stops the process with SIGTERM (it drains and writes what it buffered; SIGKILL after
    /// [`LIMIT`]) and returns everything it wrote: (stdout lines, stderr lines).
    fn stop(mut self) -> (Vec<String>, Vec<String>) {
        let _ = Command::new("kill")
            .args(["-s", "TERM", &self.child.id().to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + LIMIT;
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        let out = std::mem::take(&mut *self.stdout.lock().expect("lines"));
        let err = std::mem::take(&mut *self.stderr.lock().expect("lines"));
        (out, err)
    }

    /// Waits (at most [`LIMIT`]) for a stdout line matching `pred`.
    async fn stdout_line(&self, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + LIMIT;
        loop {
            if let Some(l) = self.stdout.lock().expect("lines").iter().find(|l| pred(l)) {
                return l.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no such stdout line within {LIMIT:?}: {:?}",
                self.stdout.lock().expect("lines")
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn get(&self, target: &str) -> u16 {
        chaos::get(self.addr, target, LIMIT).await.status
    }

    async fn get_with(&self, target: &str, headers: &str) -> u16 {
        let request = format!("GET {target} HTTP/1.1\r\nHost: {}\r\n{headers}Connection: close\r\n\r\n", self.addr);
        match chaos::exchange(self.addr, request.as_bytes(), LIMIT).await {
            Some(Outcome::Reply(r)) => r.status,
            other => panic!("GET {target}: {other:?}"),
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A backend answering 500 (a failed backend for KrakenD).
async fn failing() -> Backend {
    Backend::fixed(chaos::response(
        "HTTP/1.1 500 Internal Server Error",
        &[("Content-Type", "application/json")],
        b"{}",
    ))
    .await
}

fn config(ok: &Backend, bad: &Backend, extra: Value) -> Value {
    json!({
        "version": 3,
        "extra_config": extra,
        "endpoints": [
            {"endpoint": "/users/{id}", "backend": [{"host": [ok.url()], "url_pattern": "/u"}]},
            {"endpoint": "/fail", "backend": [{"host": [bad.url()], "url_pattern": "/broken"}]},
            {"endpoint": "/half", "backend": [
                {"host": [ok.url()], "url_pattern": "/u", "group": "ok"},
                {"host": [bad.url()], "url_pattern": "/broken", "group": "bad"}]}
        ]
    })
}

/// Civil UTC time of `secs` since the epoch (Howard Hinnant's days-to-civil).
fn civil(secs: u64) -> (i64, u32, u32, u32, u32, u32) {
    let days = i64::try_from(secs / 86_400).expect("fits");
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).expect("day");
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).expect("month");
    let y = yoe + era * 400 + i64::from(m <= 2);
    let h = u32::try_from(rem / 3600).expect("hour");
    let mi = u32::try_from(rem / 60 % 60).expect("minute");
    (y, m, d, h, mi, u32::try_from(rem % 60).expect("second"))
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_secs()
}

/// `2006/01/02 - 15:04:05` for `secs` shifted by `offset` seconds.
fn gin_time(secs: u64, offset: u64) -> String {
    let (y, m, d, h, mi, s) = civil(secs + offset);
    format!("{y:04}/{m:02}/{d:02} - {h:02}:{mi:02}:{s:02}")
}

/// Whether `text` is Go's `time.Duration` text (`4.529µs`, `1.23ms`, `2s`).
fn is_go_duration(text: &str) -> bool {
    let number = ["ns", "µs", "ms", "s"].iter().find_map(|unit| text.strip_suffix(unit));
    number.is_some_and(|n| !n.is_empty() && n.parse::<f64>().is_ok_and(|v| v >= 0.0))
}

/// The fields of a `[GIN]` line: time, status, latency, client IP, method, path (as columns
/// with their padding).
fn gin_fields(line: &str) -> Vec<String> {
    let rest = line.strip_prefix("[GIN] ").unwrap_or_else(|| panic!("not a gin line: {line:?}"));
    rest.split('|').map(str::to_owned).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_gets_gins_access_line_on_stdout_field_by_field() {
    let (ok, bad) = (Backend::json(r#"{"a":1}"#).await, failing().await);
    // The line is in local time: a zone with a half-hour offset shows it is the zone's.
    let kolkata = std::path::Path::new("/usr/share/zoneinfo/Asia/Kolkata").exists();
    let (tz, offset) = if kolkata { ("Asia/Kolkata", 5 * 3600 + 1800) } else { ("UTC", 0) };
    let gw = Gateway::start(&config(&ok, &bad, json!({})), &[("TZ", tz)]);
    let before = now_secs();
    assert_eq!(gw.get_with("/users/7?x=1&y=a%20b", "X-Forwarded-For: 203.0.113.9, 10.0.0.1\r\n").await, 200);
    assert_eq!(gw.get("/fail").await, 500);
    assert_eq!(gw.get("/nope/caf%C3%A9%22").await, 404);
    let after = now_secs();
    let (out, err) = gw.stop();

    let gin: Vec<&String> = out.iter().filter(|l| l.starts_with("[GIN] ")).collect();
    assert_eq!(gin.len(), 3, "one line per request: {out:#?}");
    let expected = [
        (200, "203.0.113.9", "\"/users/7?x=1&y=a%20b\""),
        (500, "127.0.0.1", "\"/fail\""),
        (404, "127.0.0.1", "\"/nope/café\\\"\""),
    ];
    for (line, (status, ip, path)) in gin.iter().zip(expected) {
        let f = gin_fields(line);
        assert_eq!(f.len(), 5, "{line}");
        // `2006/01/02 - 15:04:05 ` in the process's local time.
        let time = f[0].trim_end();
        assert!((before..=after).any(|s| gin_time(s, offset) == time), "{time:?} is not now in {tz}: {line}");
        assert_eq!(f[1], format!(" {status:>3} "), "{line}");
        // ` %8v `: Go's duration text right-aligned in eight columns.
        let latency = &f[2];
        assert!(latency.starts_with(' ') && latency.ends_with(' '), "{line}");
        assert!(latency.chars().count() >= 10, "{line}");
        assert!(is_go_duration(latency.trim()), "{line}");
        assert_eq!(f[3], format!(" {ip:>15} "), "{line}");
        assert_eq!(f[4], format!(" {:<7}  {path}", "GET"), "{line}");
    }
    // gin's error lines follow the failed request's line; the error is logged at ERROR too.
    let fail_at = out.iter().position(|l| l.contains("\"/fail\"")).expect("the /fail line");
    let error = out[fail_at + 1].strip_prefix("Error #01: ").unwrap_or_else(|| panic!("{out:#?}"));
    assert!(error.starts_with("invalid status code 500"), "{error}");
    assert!(!out.iter().any(|l| l.starts_with("Error #02")), "{out:#?}");
    // Without telemetry/logging: lura's basic line on stderr.
    let app = err.iter().find(|l| l.contains("[ENDPOINT: /fail]")).unwrap_or_else(|| panic!("{err:#?}"));
    let (stamp, rest) = app.split_at(19);
    assert!((before..=after).any(|s| gin_time(s, offset).replace(" - ", " ") == stamp), "{app}");
    assert_eq!(rest, format!(" KRAKEND ERROR: [ENDPOINT: /fail] {error}"), "{app}");
    assert!(!out.iter().chain(&err).any(|l| l.contains('\u{1b}')), "no colour codes off a terminal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skipped_paths_and_a_disabled_access_log_write_no_line() {
    let (ok, bad) = (Backend::json(r#"{"a":1}"#).await, failing().await);
    let skip = json!({"router": {"logger_skip_paths": ["/__health", "/users/1"]}});
    let gw = Gateway::start(&config(&ok, &bad, skip), &[]);
    for target in ["/__health", "/users/1", "/users/1?x=1", "/users/2", "/__health/"] {
        gw.get(target).await;
    }
    let (out, _) = gw.stop();
    let paths: Vec<&str> =
        out.iter().filter(|l| l.starts_with("[GIN] ")).map(|l| l.rsplit(' ').next().unwrap_or("")).collect();
    // `/__health/` is not `/__health`: gin compares paths exactly (it answers a redirect).
    assert_eq!(paths, ["\"/users/2\"", "\"/__health/\""], "{out:#?}");

    let off = json!({"router": {"disable_access_log": true}});
    let gw = Gateway::start(&config(&ok, &bad, off), &[]);
    assert_eq!(gw.get("/users/1").await, 200);
    assert_eq!(gw.get("/fail").await, 500);
    let (out, err) = gw.stop();
    assert!(!out.iter().any(|l| l.starts_with("[GIN]") || l.starts_with("Error #")), "{out:#?}");
    // Failed backends are still logged: the access log is not the application log.
    assert!(err.iter().any(|l| l.contains("ERROR: [ENDPOINT: /fail]")), "{err:#?}");
}

/// Starts a gateway with `logging` as `telemetry/logging`, requests `/fail` and `/half`, and
/// returns its stdout lines that are not access-log lines.
async fn app_lines(logging: Value, extra: &[(&str, Value)]) -> (Vec<String>, u16) {
    let (ok, bad) = (Backend::json(r#"{"a":1}"#).await, failing().await);
    let mut ns = json!({"telemetry/logging": logging});
    for (k, v) in extra {
        ns[*k] = v.clone();
    }
    let gw = Gateway::start(&config(&ok, &bad, ns), &[]);
    let port = gw.addr.port();
    assert_eq!(gw.get("/fail").await, 500);
    assert_eq!(gw.get("/half").await, 200);
    let (out, _) = gw.stop();
    (out.into_iter().filter(|l| !l.starts_with("[GIN]") && !l.starts_with("Error #")).collect(), port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_format_is_krakend_gologgings_with_the_prefix() {
    let (lines, port) =
        app_lines(json!({"level": "DEBUG", "prefix": "[KRAKEND]", "stdout": true, "syslog": false}), &[]).await;
    let find = |needle: &str| {
        lines.iter().find(|l| l.contains(needle)).unwrap_or_else(|| panic!("no {needle:?} in {lines:#?}"))
    };
    let listening = find("Listening on port");
    // `[KRAKEND] 2026/12/07 - 11:15:00.123 ▶ INFO message`
    let rest = listening.strip_prefix("[KRAKEND] ").unwrap_or_else(|| panic!("{listening}"));
    let (stamp, rest) = rest.split_at("2006/01/02 - 15:04:05.000".len());
    // The process runs with TZ=UTC; the line was written within the last minute.
    let now = now_secs();
    assert!((now - 60..=now).any(|s| gin_time(s, 0) == stamp[..21]), "{listening}");
    assert!(stamp.as_bytes()[21] == b'.' && stamp[22..].bytes().all(|b| b.is_ascii_digit()), "{listening}");
    assert_eq!(rest, format!(" ▶ INFO [SERVICE: Tributary] Listening on port: {port}"), "{listening}");
    assert!(find("Improved logging started.").contains(" ▶ DEBUG [SERVICE: telemetry/logging]"));
    // One backend: lura's single error; a merge of several: one numbered line per failure.
    assert!(find("[ENDPOINT: /fail]").contains(" ▶ ERROR [ENDPOINT: /fail] invalid status code 500"));
    assert!(find("[ENDPOINT: /half]").contains(" ▶ ERROR [ENDPOINT: /half] Error #0: invalid status code 500"));
    assert!(!lines.iter().any(|l| l.contains('\u{1b}')), "no colour codes off a terminal: {lines:#?}");

    // WARNING hides INFO and DEBUG lines, keeps errors.
    let (lines, _) = app_lines(json!({"level": "WARNING", "prefix": "[KRAKEND]", "stdout": true}), &[]).await;
    assert!(!lines.iter().any(|l| l.contains("Listening") || l.contains("Improved")), "{lines:#?}");
    assert!(lines.iter().any(|l| l.contains(" ▶ ERROR [ENDPOINT: /fail]")), "{lines:#?}");
    // stdout false: nothing of the application log on stdout.
    let (lines, _) = app_lines(json!({"level": "DEBUG", "stdout": false}), &[]).await;
    assert!(lines.is_empty(), "{lines:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logstash_and_custom_formats_render_as_krakend() {
    // `format: logstash`: gologging's JSON-like pattern, the module always KRAKEND.
    let (lines, _) =
        app_lines(json!({"level": "INFO", "prefix": "[X]", "stdout": true, "format": "logstash"}), &[]).await;
    let line = lines.iter().find(|l| l.contains("[ENDPOINT: /fail]")).unwrap_or_else(|| panic!("{lines:#?}"));
    let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    assert_eq!(
        (v["@version"].clone(), v["level"].clone(), v["module"].clone()),
        (json!(1), json!("ERROR"), json!("KRAKEND"))
    );
    assert!(v["message"].as_str().is_some_and(|m| m.starts_with("[ENDPOINT: /fail] invalid status code 500")), "{v}");
    let stamp = v["@timestamp"].as_str().expect("a timestamp");
    assert!(stamp.len() == 29 && stamp.ends_with("+00:00") && stamp.as_bytes()[10] == b'T', "{stamp}");

    // `format: custom`: go-logging verbs with their fmt directives.
    let custom = "%{level:.4s}|%{module}|%{message}|%{id:04d}";
    let (lines, _) = app_lines(
        json!({"level": "INFO", "prefix": "[X]", "stdout": true, "format": "custom", "custom_format": custom}),
        &[],
    )
    .await;
    let line = lines.iter().find(|l| l.contains("[ENDPOINT: /fail]")).unwrap_or_else(|| panic!("{lines:#?}"));
    let f: Vec<&str> = line.split('|').collect();
    assert_eq!(&f[..2], ["ERRO", "KRAKEND"], "{line}");
    assert!(f[2].starts_with("[ENDPOINT: /fail] invalid status code 500"), "{line}");
    assert!(f[3].len() == 4 && f[3].bytes().all(|b| b.is_ascii_digit()), "{line}");

    // telemetry/logstash with `%{message}` (its documented pairing): one JSON object per line.
    let (lines, _) = app_lines(
        json!({"level": "INFO", "prefix": "[KRAKEND]", "stdout": true, "format": "custom", "custom_format": "%{message}"}),
        &[("telemetry/logstash", json!({"enabled": true}))],
    )
    .await;
    let objects: Vec<Value> =
        lines.iter().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    let fail =
        objects.iter().find(|v| v["message"].as_str().is_some_and(|m| m.contains("/fail"))).expect("the /fail line");
    assert_eq!(fail["@version"], 1);
    assert_eq!(fail["level"], "ERROR");
    assert_eq!(fail["module"], "[KRAKEND]");
    assert!(fail["host"].as_str().is_some_and(|h| !h.is_empty()), "{fail}");
    assert!(fail["@timestamp"].as_str().is_some_and(|t| t.len() == 32 && t.ends_with("+00:00")), "{fail}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_custom_format_stops_the_start() {
    let path = std::env::temp_dir().join(format!("tributary-logs-bad-{}.json", std::process::id()));
    let bad = json!({"version": 3, "extra_config": {"telemetry/logging": {"level": "INFO", "stdout": true, "format": "custom", "custom_format": "%{nope} %{message}"}}, "endpoints": []});
    std::fs::write(&path, bad.to_string()).expect("write");
    let out = Command::new(tributary_bin())
        .args(["run", "-c"])
        .arg(&path)
        .args(["-p", &free_port().to_string()])
        .stdin(Stdio::null())
        .output()
        .expect("run tributary");
    let _ = std::fs::remove_file(&path);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("telemetry/logging.custom_format") && err.contains("%{nope}"), "{err}");
    // `check` says so before any start.
    let path = std::env::temp_dir().join(format!("tributary-logs-check-{}.json", std::process::id()));
    std::fs::write(&path, bad.to_string()).expect("write");
    let out = Command::new(tributary_bin())
        .args(["check", "-c"])
        .arg(&path)
        .stdin(Stdio::null())
        .output()
        .expect("run check");
    let _ = std::fs::remove_file(&path);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("error: `extra_config.telemetry/logging.custom_format`") && text.contains("%{nope}"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syslog_lines_reach_the_local_socket_in_gos_form() {
    let dir = TempDir::new("logs-syslog");
    let socket_path = dir.path().join("log");
    let socket = std::os::unix::net::UnixDatagram::bind(&socket_path).expect("bind a syslog socket");
    socket.set_read_timeout(Some(LIMIT)).expect("a read timeout");
    let (ok, bad) = (Backend::json(r#"{"a":1}"#).await, failing().await);
    let logging = json!({"telemetry/logging": {"level": "INFO", "prefix": "[KRAKEND]", "stdout": false, "syslog": true, "syslog_facility": "local3"}});
    let gw = Gateway::start(
        &config(&ok, &bad, logging),
        &[("TRIBUTARY_SYSLOG_SOCKET", socket_path.to_str().expect("utf-8"))],
    );
    assert_eq!(gw.get("/fail").await, 500);
    let mut got = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    while !got.iter().any(|l: &String| l.contains("[ENDPOINT: /fail]")) {
        let n = socket.recv(&mut buf).unwrap_or_else(|e| panic!("no syslog line ({e}); got {got:#?}"));
        got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    let pid = gw.child.id();
    let (out, _) = gw.stop();
    // `<PRI>Jan _2 15:04:05 TAG[PID]: LEVEL > message\n`: local3 (19) * 8 + info (6) on every line.
    for line in &got {
        let rest = line.strip_prefix("<158>").unwrap_or_else(|| panic!("{line:?}"));
        let (stamp, rest) = rest.split_at(15);
        assert!(stamp.as_bytes()[3] == b' ' && stamp.as_bytes()[9] == b':' && stamp.as_bytes()[12] == b':', "{line:?}");
        assert!(rest.starts_with(&format!(" [KRAKEND][{pid}]: ")), "{line:?}");
        assert!(line.ends_with('\n'), "{line:?}");
    }
    let listening = got.iter().find(|l| l.contains("Listening on port")).unwrap_or_else(|| panic!("{got:#?}"));
    assert!(listening.contains("]: INFO > [SERVICE: Tributary] Listening on port: "), "{listening}");
    let failed = got.iter().find(|l| l.contains("[ENDPOINT: /fail]")).expect("the failure");
    assert!(failed.contains("]: ERROR > [ENDPOINT: /fail] invalid status code 500"), "{failed}");
    // The access log never goes to syslog: it stays on stdout.
    assert!(!got.iter().any(|l| l.contains("[GIN]")), "{got:#?}");
    assert!(out.iter().any(|l| l.starts_with("[GIN]") && l.contains("\"/fail\"")), "{out:#?}");
}

/// Checks one GELF message as Graylog's GELF 1.1 requires it; returns it.
fn valid_gelf(bytes: &[u8], facility: bool) -> Value {
    let m: Value =
        serde_json::from_slice(bytes).unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(bytes)));
    assert_eq!(m["version"], "1.1", "{m}");
    assert!(m["host"].as_str().is_some_and(|h| !h.is_empty()), "{m}");
    assert!(m["short_message"].as_str().is_some_and(|s| !s.is_empty() && !s.contains('\n')), "{m}");
    let ts = m["timestamp"].as_f64().unwrap_or_else(|| panic!("a number timestamp: {m}"));
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_secs_f64();
    assert!((now - 120.0..=now + 1.0).contains(&ts), "{m}");
    assert!(m["level"].as_u64().is_some_and(|l| l <= 7), "a syslog level: {m}");
    assert_eq!(m["facility"].is_string(), facility, "{m}");
    for (k, _) in m.as_object().expect("an object") {
        assert!(
            ["version", "host", "short_message", "full_message", "timestamp", "level", "facility"]
                .contains(&k.as_str())
                || k.starts_with('_'),
            "{k} in {m}"
        );
    }
    m
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    GzDecoder::new(bytes).read_to_end(&mut out).expect("a gzip datagram");
    out
}

/// A path of `n` characters that compresses badly.
fn noisy_path(n: usize) -> String {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let body: String = (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"[(x % 62) as usize])
        })
        .collect();
    format!("/n/{body}")
}

fn gelf_config(ok: &Backend, bad: &Backend, port: u16, tcp: bool) -> Value {
    config(
        ok,
        bad,
        json!({
            "telemetry/logging": {"level": "INFO", "prefix": "[KRAKEND]", "stdout": true},
            "telemetry/gelf": {"address": format!("127.0.0.1:{port}"), "enable_tcp": tcp}
        }),
    )
}

/// What both GELF tests check of the messages received.
fn check_gelf_messages(messages: &[Value], long: &str) {
    let short = |m: &Value| m["short_message"].as_str().unwrap_or("").to_owned();
    // The access log goes to GELF (KrakenD hands gin its GELF writer), at INFO.
    let users = messages
        .iter()
        .find(|m| short(m).starts_with("[GIN] ") && short(m).ends_with("\"/users/7\""))
        .unwrap_or_else(|| panic!("{messages:#?}"));
    assert_eq!(users["level"], 6, "{users}");
    // A failed request's line has gin's error lines: the first line short, the whole full.
    let fail = messages
        .iter()
        .find(|m| short(m).starts_with("[GIN] ") && short(m).ends_with("\"/fail\""))
        .expect("the /fail line");
    assert!(
        fail["full_message"].as_str().is_some_and(|f| f.contains("\nError #01: invalid status code 500")),
        "{fail}"
    );
    // Application lines: the prefix glued to the message, the line's own level.
    let error = messages
        .iter()
        .find(|m| short(m).starts_with("[KRAKEND][ENDPOINT: /fail] invalid status code 500"))
        .unwrap_or_else(|| panic!("{messages:#?}"));
    assert_eq!(error["level"], 3, "{error}");
    assert!(
        messages
            .iter()
            .any(|m| short(m).starts_with("[KRAKEND][SERVICE: Tributary] Listening on port") && m["level"] == 6)
    );
    assert!(messages.iter().any(|m| short(m).contains(long)), "the long line arrived whole");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gelf_over_udp_sends_valid_messages_chunking_large_ones() {
    let receiver = tokio::net::UdpSocket::bind("127.0.0.1:0").await.expect("a UDP receiver");
    let port = receiver.local_addr().expect("its address").port();
    let (ok, bad) = (Backend::json(r#"{"a":1}"#).await, failing().await);
    let gw = Gateway::start(&gelf_config(&ok, &bad, port, false), &[]);
    let long = noisy_path(6000);
    assert_eq!(gw.get("/users/7").await, 200);
    assert_eq!(gw.get("/fail").await, 500);
    assert_eq!(gw.get(&long).await, 404);
    let mut messages = Vec::new();
    let mut chunks: std::collections::HashMap<Vec<u8>, Vec<Option<Vec<u8>>>> = std::collections::HashMap::new();
    let mut chunked = 0;
    let mut buf = vec![0u8; 65_536];
    let deadline = Instant::now() + LIMIT;
    while !messages.iter().any(|m: &Value| m["short_message"].as_str().is_some_and(|s| s.contains(&long))) {
        let left = deadline.saturating_duration_since(Instant::now());
        let n = match tokio::time::timeout(left, receiver.recv(&mut buf)).await {
            Ok(Ok(n)) => n,
            _ => panic!("not every GELF message arrived within {LIMIT:?}: {messages:#?}"),
        };
        let d = &buf[..n];
        assert!(n <= 1420, "datagrams stay within go-gelf's chunk size: {n}");
        if d.starts_with(&[0x1e, 0x0f]) {
            let (id, seq, count) = (d[2..10].to_vec(), usize::from(d[10]), usize::from(d[11]));
            assert!(seq < count && count <= 128, "chunk {seq} of {count}");
            let parts = chunks.entry(id.clone()).or_insert_with(|| vec![None; count]);
            parts[seq] = Some(d[12..].to_vec());
            if parts.iter().all(Option::is_some) {
                let whole: Vec<u8> = chunks.remove(&id).expect("the chunks").into_iter().flatten().flatten().collect();
                messages.push(valid_gelf(&gunzip(&whole), true));
                chunked += 1;
            }
        } else {
            assert!(d.starts_with(&[0x1f, 0x8b]), "gzip");
            messages.push(valid_gelf(&gunzip(d), true));
        }
    }
    let (out, _) = gw.stop();
    check_gelf_messages(&messages, &long);
    assert!(chunked >= 1, "the long line came in chunks");
    // With GELF on, the access log goes there instead of stdout; application lines go to both.
    assert!(!out.iter().any(|l| l.starts_with("[GIN]")), "{out:#?}");
    assert!(out.iter().any(|l| l.contains(" ▶ ERROR [ENDPOINT: /fail]")), "{out:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gelf_over_tcp_sends_zero_terminated_messages() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a TCP receiver");
    let port = listener.local_addr().expect("its address").port();
    let (ok, bad) = (Backend::json(r#"{"a":1}"#).await, failing().await);
    let gw = Gateway::start(&gelf_config(&ok, &bad, port, true), &[]);
    let long = noisy_path(6000);
    assert_eq!(gw.get("/users/7").await, 200);
    assert_eq!(gw.get("/fail").await, 500);
    assert_eq!(gw.get(&long).await, 404);
    let (mut stream, _) =
        tokio::time::timeout(LIMIT, listener.accept()).await.expect("a connection in time").expect("accept");
    let mut messages = Vec::new();
    let mut pending = Vec::new();
    let mut buf = vec![0u8; 65_536];
    let deadline = Instant::now() + LIMIT;
    while !messages.iter().any(|m: &Value| m["short_message"].as_str().is_some_and(|s| s.contains(&long))) {
        use tokio::io::AsyncReadExt;
        let left = deadline.saturating_duration_since(Instant::now());
        let n = match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => n,
            _ => panic!("not every GELF message arrived within {LIMIT:?}: {messages:#?}"),
        };
        pending.extend_from_slice(&buf[..n]);
        while let Some(end) = pending.iter().position(|b| *b == 0) {
            let frame: Vec<u8> = pending.drain(..=end).collect();
            messages.push(valid_gelf(&frame[..frame.len() - 1], false));
        }
    }
    drop(gw);
    check_gelf_messages(&messages, &long);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gelf_receiver_that_never_reads_never_holds_up_a_request() {
    // Accepts connections and never reads: the gateway's writes stall once the buffers fill.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a TCP receiver");
    let port = listener.local_addr().expect("its address").port();
    let held = tokio::spawn(async move {
        let mut streams = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            streams.push(s);
        }
    });
    let (ok, bad) = (Backend::json(r#"{"a":1}"#).await, failing().await);
    let gw = Gateway::start(&gelf_config(&ok, &bad, port, true), &[]);
    // Lines of 30 KB: far more than the socket buffers and the sender's queue hold.
    let query = "q=".to_owned() + &"x".repeat(30_000);
    let started = Instant::now();
    for i in 0..1200 {
        let status = gw.get(&format!("/users/{i}?{query}")).await;
        assert_eq!(status, 200, "request {i}");
    }
    // Lines were dropped, and that was said once, not once per line.
    let warning = gw.stdout_line(|l| l.contains("log line(s) dropped")).await;
    assert!(warning.contains(" ▶ WARNING [SERVICE: Logging][GELF] "), "{warning}");
    let (out, _) = gw.stop();
    held.abort();
    let warnings = out.iter().filter(|l| l.contains("log line(s) dropped")).count();
    let intervals = usize::try_from(started.elapsed().as_secs() / 10).expect("fits") + 1;
    assert!(warnings <= intervals + 1, "{warnings} warnings in {intervals} interval(s): {out:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gelf_receiver_that_is_down_costs_requests_nothing() {
    let port = free_port();
    let (ok, bad) = (Backend::json(r#"{"a":1}"#).await, failing().await);
    for tcp in [false, true] {
        let gw = Gateway::start(&gelf_config(&ok, &bad, port, tcp), &[]);
        for i in 0..700 {
            assert_eq!(gw.get(&format!("/users/{i}")).await, 200, "request {i}, tcp {tcp}");
        }
        if tcp {
            // Nothing accepts: the queue fills while the sender retries, and lines drop.
            gw.stdout_line(|l| l.contains("log line(s) dropped")).await;
        }
        drop(gw);
    }
}

// ---------------------------------------------------------------------------------------------
// Lambda
// ---------------------------------------------------------------------------------------------

fn lambda_config(ok: &Backend, bad: &Backend) -> String {
    config(ok, bad, json!({})).to_string()
}

/// A writer the in-process subscriber appends to.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("captured").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The request lines of `/users/7`, `/fail`, `/half` handled in process, with the Lambda
/// function's subscriber at `aws_level`.
async fn in_process_lines(aws_level: Option<&str>) -> Vec<Value> {
    use tracing_subscriber::layer::SubscriberExt;
    let (ok, bad) = (Backend::json(r#"{"a":1}"#).await, failing().await);
    let gateway = tributary_core::Gateway::from_json(&lambda_config(&ok, &bad)).expect("config");
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .fmt_fields(tracing_subscriber::fmt::format::JsonFields::new())
                .event_format(tributary_functions::logs::FlatJson)
                .with_writer(move || writer.clone()),
        )
        .with(tributary_functions::logs::lambda_filter(aws_level, None));
    let _guard = tracing::subscriber::set_default(subscriber);
    for path in ["/users/7", "/fail", "/half"] {
        let request = lambda_http::request::from_str(&function_url_get(path)).expect("lambda_http reads the event");
        let Ok(_) = tributary_functions::lambda::handle(&gateway, request).await;
    }
    let text = String::from_utf8(captured.0.lock().expect("captured").clone()).expect("UTF-8");
    text.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("not one JSON object per line ({e}): {l}")))
        .filter(|v| v["target"] == "tributary::request")
        .collect()
}

/// The per-request fields every door's line must carry, checked one by one.
fn check_request_line(v: &Value, path: &str, endpoint: &str, status: u16, level: &str, completed: bool) {
    assert_eq!(v["level"], level, "{v}");
    assert_eq!(v["message"], format!("GET {path} {status}"), "{v}");
    assert_eq!(v["method"], "GET", "{v}");
    assert_eq!(v["path"], path, "{v}");
    assert_eq!(v["endpoint"], endpoint, "{v}");
    assert_eq!(v["status"], status, "{v}");
    assert!(v["latencyMs"].as_f64().is_some_and(|l| l >= 0.0), "{v}");
    assert_eq!(v["completed"], completed, "{v}");
    assert!(v["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')), "{v}");
}

#[tokio::test]
async fn in_lambda_each_request_is_one_flat_json_line() {
    let lines = in_process_lines(None).await;
    assert_eq!(lines.len(), 3, "{lines:#?}");
    check_request_line(&lines[0], "/users/7", "/users/{id}", 200, "INFO", true);
    assert!(lines[0].get("failedBackends").is_none(), "{}", lines[0]);
    check_request_line(&lines[1], "/fail", "/fail", 500, "ERROR", false);
    let failed = lines[1]["failedBackends"].as_array().unwrap_or_else(|| panic!("a list: {}", lines[1]));
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["backend"], "/broken");
    assert!(failed[0]["error"].as_str().is_some_and(|e| e.starts_with("invalid status code 500")), "{}", lines[1]);
    check_request_line(&lines[2], "/half", "/half", 200, "ERROR", false);
    assert_eq!(lines[2]["failedBackends"][0]["backend"], "/broken");
}

#[tokio::test]
async fn lambdas_log_level_keeps_only_failed_requests_at_warn() {
    let lines = in_process_lines(Some("WARN")).await;
    let paths: Vec<&str> = lines.iter().filter_map(|v| v["path"].as_str()).collect();
    assert_eq!(paths, ["/fail", "/half"], "{lines:#?}");
    assert!(in_process_lines(Some("FATAL")).await.iter().all(|v| v["level"] == "ERROR"));
}

/// Runs the `gateway` binary under the Runtime API emulator for `GET /users/7` then `GET /fail`,
/// with `aws_level` as `AWS_LAMBDA_LOG_LEVEL`: the answers and the request log lines.
fn emulated(aws_level: Option<&str>) -> (Vec<Value>, Vec<Value>) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("a runtime");
    let (ok, bad) = rt.block_on(async { (Backend::json(r#"{"a":1}"#).await, failing().await) });
    let dir = TempDir::new("logs-lambda");
    let config_path = dir.write("krakend.json", lambda_config(&ok, &bad));
    let events: Vec<PathBuf> = ["/users/7", "/fail"]
        .iter()
        .map(|path| {
            dir.write(&format!("{}.json", path.trim_start_matches('/').replace('/', "-")), function_url_get(path))
        })
        .collect();
    let mut cmd = emulator(&config_path, &["--timeout", "15"], &events);
    cmd.env_remove("AWS_LAMBDA_LOG_FORMAT").env_remove("RUST_LOG");
    match aws_level {
        Some(level) => cmd.env("AWS_LAMBDA_LOG_LEVEL", level),
        None => cmd.env_remove("AWS_LAMBDA_LOG_LEVEL"),
    };
    let out = cmd.output().expect("run the Runtime API emulator");
    drop(rt);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "emulator failed: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let (answers, logs) = answers_and_logs(&stdout);
    let lines: Vec<Value> = logs
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .filter(|v| v["target"] == "tributary::request")
        .collect();
    assert_eq!(answers.len(), 2, "{stdout}");
    (answers, lines)
}

#[test]
fn through_the_runtime_api_each_line_names_its_invocation() {
    let (answers, lines) = emulated(None);
    assert_eq!(lines.len(), 2, "{lines:#?}");
    check_request_line(&lines[0], "/users/7", "/users/{id}", 200, "INFO", true);
    check_request_line(&lines[1], "/fail", "/fail", 500, "ERROR", false);
    assert_eq!(lines[1]["failedBackends"][0]["backend"], "/broken");
    for (line, answer) in lines.iter().zip(&answers) {
        assert_eq!(line["requestId"], answer["request_id"], "{line}");
        assert!(line["xrayTraceId"].as_str().is_some_and(|t| t.starts_with("Root=")), "{line}");
    }
    // AWS_LAMBDA_LOG_LEVEL=WARN: only the request whose backend failed is logged.
    let (answers, lines) = emulated(Some("WARN"));
    assert_eq!(lines.len(), 1, "{lines:#?}");
    check_request_line(&lines[0], "/fail", "/fail", 500, "ERROR", false);
    assert_eq!(lines[0]["requestId"], answers[1]["request_id"]);
}
