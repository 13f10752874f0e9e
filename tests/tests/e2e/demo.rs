//! Owns the `tributary demo` test: start the demo on a free port, run every `curl` command it
//! prints exactly as printed, and check that each answers the JSON the demo promises.
//!
//! Needs the `tributary` binary of the same profile (`cargo build -p tributary-functions`) and
//! `curl`.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tributary_e2e::process::{free_port, tributary_bin};
use tributary_e2e::run::{drain, run_to_end, stop};

/// Time for the demo to print its curl commands.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// After the last curl line, this long without a new line means the list is complete.
const QUIET: Duration = Duration::from_secs(1);
const CURL_TIMEOUT: Duration = Duration::from_secs(15);
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// The demo process; killed on drop if a check panicked before it was stopped.
struct Demo {
    child: Child,
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl Demo {
    /// SIGTERM (via `kill`) and wait; SIGKILL if it does not stop in time.
    fn stop(&mut self) -> Result<ExitStatus, String> {
        stop(&mut self.child, STOP_TIMEOUT).map_err(|e| format!("the demo {e}"))
    }

    fn stderr(&mut self) -> String {
        self.stderr.take().map(|h| h.join().unwrap_or_default()).unwrap_or_default()
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs one printed command with `sh -c`, bounded in time: (exit code, stdout, stderr).
fn run_printed(line: &str) -> (Option<i32>, String, String) {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", line])
        // The demo is on 127.0.0.1: a proxy from the environment must not intercept it.
        .env_remove("http_proxy")
        .env_remove("HTTP_PROXY")
        .env_remove("all_proxy")
        .env_remove("ALL_PROXY");
    let ran = run_to_end(cmd, CURL_TIMEOUT);
    (ran.code(), ran.stdout, ran.stderr)
}

fn assert_curl_installed() {
    match Command::new("curl").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status() {
        Ok(s) if s.success() => {}
        Ok(s) => panic!("`curl --version` failed ({s}): this test runs the demo's curl commands and needs curl"),
        Err(e) => panic!("curl is not installed ({e}): this test runs the demo's curl commands and needs curl"),
    }
}

/// The path of the URL in a printed curl command (`curl -s http://127.0.0.1:PORT/users/1`).
fn url_path(line: &str, port: u16) -> Option<String> {
    let prefix = format!("http://127.0.0.1:{port}");
    line.split_whitespace().find_map(|w| w.trim_matches(['"', '\'']).strip_prefix(&prefix).map(str::to_owned))
}

fn obj<'a>(v: &'a Value, key: &str, ctx: &str) -> &'a Value {
    v.get(key).unwrap_or_else(|| panic!("{ctx}: no `{key}` in {v}"))
}

/// What the demo promises for each path it prints.
fn check_answer(path: &str, v: &Value) -> bool {
    match path {
        "/users/1" => {
            let user = obj(v, "user", path);
            assert_eq!(user["id"], 1, "{path}: {v}");
            assert_eq!(user["name"], "User 1", "{path}: {v}");
            assert!(user.get("password_hash").is_none(), "{path}: `deny` must drop password_hash: {v}");
            let posts =
                obj(v, "posts", path).as_array().unwrap_or_else(|| panic!("{path}: posts is not an array: {v}"));
            assert_eq!(posts.len(), 2, "{path}: {v}");
            assert!(posts.iter().all(|p| p["user_id"] == 1 && p.get("title").is_some()), "{path}: {v}");
        }
        "/dashboard/2" => {
            assert_eq!(obj(v, "name", path), "User 2", "{path}: {v}");
            assert_eq!(obj(v, "address", path), &serde_json::json!({"city": "Lisbon"}), "{path}: `allow`: {v}");
            assert!(v.get("email").is_none(), "{path}: `allow` must drop email: {v}");
            assert_eq!(obj(v, "station", path)["id"], "LIS-1", "{path}: {v}");
            let weather = obj(v, "weather", path);
            assert_eq!(weather["conditions"], "sunny", "{path}: {v}");
            assert!(weather.get("temperature_c").is_some() && weather.get("city").is_none(), "{path}: {v}");
        }
        "/users/3/titles" => {
            let items = v.as_array().unwrap_or_else(|| panic!("{path}: json-collection must give an array: {v}"));
            assert_eq!(items.len(), 2, "{path}: {v}");
            assert!(items.iter().all(|p| p.get("title").is_some() && p.get("user_id").is_none()), "{path}: {v}");
        }
        "/orders" => {
            // The POST body the command sends comes back as the created order.
            assert_eq!(obj(v, "status", path), "created", "{path}: {v}");
            assert_eq!(obj(v, "order", path), &serde_json::json!({"item": "book", "qty": 2}), "{path}: {v}");
        }
        "/__health" => assert_eq!(obj(v, "status", path), "ok", "{path}: {v}"),
        _ => return false,
    }
    true
}

#[test]
fn demo_curl_commands_answer_what_the_demo_promises() {
    assert_curl_installed();
    let bin = tributary_bin();
    let port = free_port();
    let mut child = Command::new(&bin)
        .args(["demo", "-p", &port.to_string()])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
    let stdout = child.stdout.take().expect("piped stdout");
    let stderr = child.stderr.take().expect("piped stderr");
    let mut demo = Demo { child, stderr: Some(drain(stderr)) };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });

    // Read until the curl lines are printed: the first one, then a quiet second.
    let deadline = Instant::now() + START_TIMEOUT;
    let mut printed = Vec::new();
    let mut curls: Vec<String> = Vec::new();
    loop {
        let wait = if curls.is_empty() { deadline.saturating_duration_since(Instant::now()) } else { QUIET };
        match rx.recv_timeout(wait) {
            Ok(line) => {
                if line.starts_with("curl ") {
                    curls.push(line.clone());
                }
                printed.push(line);
            }
            Err(mpsc::RecvTimeoutError::Timeout) if !curls.is_empty() => break,
            Err(_) => {
                let stopped = demo.stop();
                panic!(
                    "the demo printed no `curl ` line within {START_TIMEOUT:?} ({stopped:?}).\nstdout:\n{}\nstderr:\n{}",
                    printed.join("\n"),
                    demo.stderr()
                );
            }
        }
    }

    let mut seen = Vec::new();
    for line in &curls {
        let path = url_path(line, port).unwrap_or_else(|| panic!("no http://127.0.0.1:{port} URL in `{line}`"));
        let (code, out, err) = run_printed(line);
        assert_eq!(code, Some(0), "`{line}` exited {code:?}\nstdout: {out}\nstderr: {err}");
        let v: Value =
            serde_json::from_str(&out).unwrap_or_else(|e| panic!("`{line}` did not print JSON ({e}): {out}"));
        if check_answer(&path, &v) {
            seen.push(path);
        }
    }
    for promised in ["/users/1", "/dashboard/2", "/users/3/titles", "/orders", "/__health"] {
        assert!(
            seen.iter().any(|p| p == promised),
            "the demo did not print a curl command for {promised}:\n{}",
            curls.join("\n")
        );
    }

    let stopped = demo.stop();
    let stderr = demo.stderr();
    match stopped {
        Ok(s) => assert!(s.success(), "the demo exited with {s} after SIGTERM:\n{stderr}"),
        Err(e) => panic!("{e}\n{stderr}"),
    }
}
