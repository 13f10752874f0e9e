//! The `gateway` Lambda function under the real emulator: `cargo lambda watch` (from PyPI:
//! `pip install cargo-lambda`) builds and runs the binary against the demo backend, every sample
//! event of `events/` goes through `cargo lambda invoke`, and plain HTTP requests go through the
//! emulator's function URL (`/lambda-url/gateway/...`). Everything listens on 127.0.0.1; the
//! watch process group (and every process it started) is stopped at the end, even on failure.

use base64::Engine;
use serde_json::Value;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tributary_e2e::client::{self, OutRequest};
use tributary_e2e::lambda::{EXPECTED, ORDER_BOOK, USER_1, demo_config, event_files, events_dir};
use tributary_e2e::process::{TempDir, free_port, workspace_root};
use tributary_e2e::run::run_bounded;

/// The function's name: the binary of `tributary-functions`.
const FUNCTION: &str = "gateway";
/// The first invocation builds the binary (debug) when it is not built yet.
const FIRST_INVOKE_TIMEOUT: Duration = Duration::from_secs(600);
/// Every other invocation or HTTP request.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the emulator may take to listen (it builds nothing before the first invocation).
const LISTEN_TIMEOUT: Duration = Duration::from_secs(120);
/// How long the watch process tree gets to stop after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// The parent pid of a process, from `/proc/<pid>/stat` (`None` when it is gone).
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    let after = &stat[stat.rfind(')')? + 1..];
    let mut fields = after.split_whitespace();
    let state = fields.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    fields.next()?.parse().ok()
}

fn alive(pid: u32) -> bool {
    parent_of(pid).is_some()
}

/// Every live descendant of `root` (children, grandchildren, ...).
fn descendants(root: u32) -> Vec<u32> {
    let all: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .map(|dir| {
            dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
                .filter_map(|pid| Some((pid, parent_of(pid)?)))
                .collect()
        })
        .unwrap_or_default();
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(all.iter().filter(|(_, ppid)| *ppid == parent).map(|(pid, _)| *pid));
        i += 1;
    }
    found.remove(0);
    found
}

fn signal(signal: &str, target: &str) {
    let _ = Command::new("kill")
        .args(["-s", signal, "--", target])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// `cargo lambda watch` in its own process group; stopped (group and every descendant, by id) by
/// [`Watch::stop`] or on drop.
pub(crate) struct Watch {
    pub(crate) child: Child,
    pub(crate) log: PathBuf,
    pub(crate) stopped: bool,
}

impl Watch {
    /// Starts `cargo lambda watch` on 127.0.0.1:`port` from the workspace root (with `env_file`
    /// when given), its output in `log`, and waits until it listens.
    pub(crate) fn start(port: u16, env_file: Option<&Path>, log: PathBuf) -> Watch {
        let log_file = std::fs::File::create(&log).expect("create the watch log");
        let mut command = Command::new("cargo");
        command.args(["lambda", "watch", "-A", "127.0.0.1", "-P"]).arg(port.to_string());
        if let Some(env_file) = env_file {
            command.arg("--env-file").arg(env_file);
        }
        // Files edited while a test runs must not rebuild and restart the function under it.
        let child = command
            .arg("--ignore-changes")
            .current_dir(workspace_root())
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("the watch log"))
            .stderr(log_file)
            .process_group(0)
            .spawn()
            .expect("start `cargo lambda watch`");
        let mut watch = Watch { child, log, stopped: false };
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let listen_deadline = Instant::now() + LISTEN_TIMEOUT;
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Ok(Some(status)) = watch.child.try_wait() {
                panic!("`cargo lambda watch` exited ({status}) before listening:\n{}", watch.log_text());
            }
            assert!(
                Instant::now() < listen_deadline,
                "`cargo lambda watch` is not listening on {addr} after {LISTEN_TIMEOUT:?}:\n{}",
                watch.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        watch
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM to the group (cargo-lambda then stops the function instances, which run in their
    /// own sessions), then SIGKILL to whatever is left. Returns the pids still alive afterwards.
    pub(crate) fn stop(&mut self) -> Vec<u32> {
        self.stopped = true;
        let pid = self.pid();
        let mut tree = descendants(pid);
        if let Ok(None) = self.child.try_wait() {
            signal("TERM", &format!("-{pid}"));
        }
        let deadline = Instant::now() + STOP_GRACE;
        loop {
            let exited = !matches!(self.child.try_wait(), Ok(None));
            tree.retain(|p| alive(*p));
            if exited && tree.is_empty() {
                return Vec::new();
            }
            if Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        signal("KILL", &format!("-{pid}"));
        for p in &tree {
            signal("KILL", &p.to_string());
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::thread::sleep(Duration::from_millis(200));
        tree.retain(|p| alive(*p));
        tree
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        if !self.stopped {
            let left = self.stop();
            if !left.is_empty() {
                eprintln!("processes of `cargo lambda watch` still alive: {left:?}");
            }
        }
    }
}

/// `cargo lambda invoke` of one event file; the answer as JSON.
fn invoke(port: u16, event: &Path, limit: Duration) -> Result<Value, String> {
    let mut command = Command::new("cargo");
    command
        .args(["lambda", "invoke", FUNCTION, "--invoke-address", "127.0.0.1", "--invoke-port"])
        .arg(port.to_string())
        .arg("--data-file")
        .arg(event)
        .current_dir(workspace_root());
    let ran = run_bounded(command, limit);
    let status = ran.status.ok_or_else(|| format!("cargo lambda invoke did not finish within {limit:?}"))?;
    if !status.success() {
        return Err(format!("cargo lambda invoke failed ({status}): {}{}", ran.stdout, ran.stderr));
    }
    serde_json::from_str(ran.stdout.trim()).map_err(|e| format!("the answer is not JSON ({e}): {}", ran.stdout))
}

/// The problems with an invocation's answer: status 200 and the expected body.
fn check_answer(answer: &Value, want: &str) -> Result<(), String> {
    let status = answer["statusCode"].as_u64();
    let body = answer["body"].as_str().unwrap_or("");
    let body = if answer["isBase64Encoded"].as_bool() == Some(true) {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|e| format!("the body is not base64 ({e}): {answer}"))?;
        String::from_utf8_lossy(&bytes).into_owned()
    } else {
        body.to_owned()
    };
    if status == Some(200) && body == want {
        Ok(())
    } else {
        Err(format!(
            "expected statusCode 200 and body {want}\n    observed statusCode {status:?}, body {body}\n    answer {answer}"
        ))
    }
}

/// The function's per-request log lines in the watch log: `want` flat JSON objects (one per
/// request), each answered 200 in full, field by field. Returns the problems found.
fn check_request_lines(log: &str, want: usize) -> Vec<String> {
    let lines: Vec<Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(&l[l.find('{')?..]).ok())
        .filter(|v| v["target"] == "tributary::request")
        .collect();
    let mut problems = Vec::new();
    if lines.len() != want {
        problems.push(format!("expected {want} request log lines, found {}: {lines:#?}", lines.len()));
    }
    for v in &lines {
        let request_id = v["requestId"].as_str().unwrap_or("");
        let fields_ok = v["level"] == "INFO"
            && v["status"] == 200
            && v["completed"] == true
            && v["latencyMs"].as_f64().is_some_and(|l| l >= 0.0)
            && v["endpoint"].as_str().is_some_and(|e| e.starts_with('/'))
            && v["path"].as_str().is_some_and(|p| p.starts_with('/'))
            && v["message"]
                == format!("{} {} 200", v["method"].as_str().unwrap_or("?"), v["path"].as_str().unwrap_or("?"))
            && !request_id.is_empty()
            && v["timestamp"].as_str().is_some_and(|t| t.ends_with('Z'));
        if !fields_ok {
            problems.push(format!("request log line: {v}"));
        }
    }
    // `GET /users/1` (furl-get.json and the plain request) names its endpoint pattern.
    let users = lines.iter().filter(|v| v["path"] == "/users/1" && v["endpoint"] == "/users/{id}").count();
    if users != 2 {
        problems.push(format!("expected 2 lines for GET /users/1 with endpoint /users/{{id}}, found {users}"));
    }
    problems
}

#[test]
fn the_gateway_answers_under_cargo_lambda_watch() {
    let started = Instant::now();

    // Every event has expectations (the same rule as lambda_events.rs).
    let files = event_files();
    let missing: Vec<&String> = files.iter().filter(|f| !EXPECTED.iter().any(|(name, ..)| name == f)).collect();
    assert!(missing.is_empty(), "events without expectations in EXPECTED: {missing:?}");

    // cargo-lambda must be installed: this test fails rather than skips without it.
    let mut version = Command::new("cargo");
    version.args(["lambda", "--version"]);
    let version = Some(run_bounded(version, Duration::from_secs(60))).filter(|ran| ran.code() == Some(0));
    let Some(version) = version else {
        panic!(
            "`cargo lambda` is not installed (or does not run): install it with `pip install cargo-lambda` \
             (PyPI, brings zig along); this test needs its `watch` and `invoke` subcommands"
        );
    };
    println!("using {}", version.stdout.trim());

    // The demo backend in process, and the function's config and environment in a scratch dir.
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a tokio runtime");
    let backend =
        runtime.block_on(tributary_functions::demo::start_backend(0)).expect("start the demo backend on 127.0.0.1");
    let scratch = TempDir::new("lambda-watch");
    let config_path = scratch.write("krakend.json", demo_config(&backend));
    let env_text = format!(
        "TRIBUTARY_CONFIG={}\nRUST_LOG=info\nAWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH=true\n",
        config_path.display()
    );
    let env_path = scratch.write("lambda.env", env_text);

    // `cargo lambda watch` in its own process group, its output in a log file.
    let port = free_port();
    let mut watch = Watch::start(port, Some(&env_path), scratch.path().join("watch.log"));
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    println!("watch listening on {addr} after {:.1}s", started.elapsed().as_secs_f64());

    // Every sample event through `cargo lambda invoke`; the first one waits for the build.
    let mut failures = Vec::new();
    for (i, file) in files.iter().enumerate() {
        let call_started = Instant::now();
        let limit = if i == 0 { FIRST_INVOKE_TIMEOUT } else { CALL_TIMEOUT };
        let want = EXPECTED.iter().find(|(name, ..)| name == file).map(|(.., body)| *body).unwrap_or_default();
        let result = invoke(port, &events_dir().join(file), limit).and_then(|answer| check_answer(&answer, want));
        println!("invoke events/{file}: {:.2}s", call_started.elapsed().as_secs_f64());
        if let Err(e) = result {
            failures.push(format!("cargo lambda invoke events/{file}:\n    {e}"));
        }
    }

    // Plain HTTP through the function URL emulation.
    let http = |method: &str, target: &str, body: Option<&str>| -> Result<tributary_e2e::Response, String> {
        let mut headers = vec![("Host".to_owned(), format!("127.0.0.1:{port}"))];
        if let Some(body) = body {
            headers.push(("Content-Type".to_owned(), "application/json".to_owned()));
            headers.push(("Content-Length".to_owned(), body.len().to_string()));
        }
        let request = OutRequest {
            method: method.to_owned(),
            target: target.to_owned(),
            headers,
            body: body.map(|b| b.as_bytes().to_vec()),
        };
        runtime
            .block_on(async { tokio::time::timeout(CALL_TIMEOUT, client::send(addr, &request)).await })
            .unwrap_or_else(|_| Err(format!("no answer within {CALL_TIMEOUT:?}")))
    };
    let plain = [
        ("GET", format!("/lambda-url/{FUNCTION}/users/1?tag=a"), None, USER_1),
        ("POST", format!("/lambda-url/{FUNCTION}/orders"), Some(r#"{"item":"book","qty":2}"#), ORDER_BOOK),
    ];
    let plain_count = plain.len();
    for (method, target, body, want) in plain {
        let call_started = Instant::now();
        match http(method, &target, body) {
            Ok(response) => {
                let got = String::from_utf8_lossy(&response.body).into_owned();
                let content_type = response.header_values("content-type").unwrap_or_default().join(", ");
                if response.status != 200 || got != want || content_type != "application/json; charset=utf-8" {
                    failures.push(format!(
                        "HTTP {method} {target}:\n    expected 200, application/json; charset=utf-8, body {want}\n    \
                         observed {}, {content_type:?}, body {got}",
                        response.status
                    ));
                }
            }
            Err(e) => failures.push(format!("HTTP {method} {target}: {e}")),
        }
        println!("HTTP {method} {target}: {:.2}s", call_started.elapsed().as_secs_f64());
    }

    let log_text = watch.log_text();
    failures.extend(check_request_lines(&log_text, files.len() + plain_count));
    let left = watch.stop();
    println!("the watch test took {:.1}s", started.elapsed().as_secs_f64());
    assert!(
        failures.is_empty(),
        "{} check(s) failed under `cargo lambda watch`:\n{}\n--- watch log ---\n{log_text}",
        failures.len(),
        failures.join("\n")
    );
    assert!(left.is_empty(), "processes of `cargo lambda watch` still alive after SIGKILL: {left:?}");
}
