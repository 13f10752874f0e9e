//! Owns the real-world config corpus check: every config of `fixtures/real-configs/` that KrakenD
//! accepts must pass `tributary check` and serve `/__health` under `tributary run`, and the two
//! KrakenD refuses must be refused with their JSON path. The gateway runs inside a user+network
//! namespace that holds only loopback (`unshare`), so the public hosts these configs name can
//! never be contacted: each test re-executes itself there.
//!
//! Needs the `tributary` binary of the same profile (`cargo build -p tributary-functions`),
//! `unshare` (util-linux) and `ip` (iproute2).

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tributary_e2e::process::{OneTest, free_port, tributary_bin};
use tributary_e2e::run::{Running, run_to_end};

/// Set in the re-executed test process that runs inside the namespace.
const INNER_ENV: &str = "TRIBUTARY_E2E_IN_LOOPBACK_NETNS";
/// The configs KrakenD refuses at start-up (INDEX.md: #4 and #23).
const REFUSED_ENTERPRISE: &str = "krakend__playground-enterprise__config_krakend_krakend.json";
const REFUSED_LUA: &str = "Velmuruganmp1210__krakend_lua__krakend.json";
const CORPUS_SIZE: usize = 30;
/// The request-rule namespaces (issue 19): a config using them must pass `check` without a
/// "not supported" warning for any of them.
const REQUEST_RULES: &[&str] =
    &["modifier/martian", "validation/cel", "validation/json-schema", "security/bot-detector", "backend/graphql"];

const CHECK_TIMEOUT: Duration = Duration::from_secs(60);
const START_TIMEOUT: Duration = Duration::from_secs(20);
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
const INNER_RUN_TIMEOUT: Duration = Duration::from_secs(600);

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join("real-configs")
}

/// Every `*.json` of the corpus, sorted by name.
fn corpus() -> Vec<PathBuf> {
    let dir = fixtures_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.expect("a readable directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------------

/// The last `n` lines of a text (logs can be long).
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

// ---------------------------------------------------------------------------------------------
// The loopback-only namespace
// ---------------------------------------------------------------------------------------------

/// Inside the namespace: bring `lo` up, then exec the given command.
const NETNS_SCRIPT: &str = r#"PATH="$PATH:/usr/sbin:/sbin"
command -v ip >/dev/null 2>&1 || { echo "the \`ip\` command (iproute2) is needed to bring lo up in the namespace" >&2; exit 97; }
ip link set lo up || exit 98
exec "$@""#;

/// The `unshare` flags that give a new network namespace here: `-rn` (user + net, works
/// unprivileged), else `-n` (root without user namespaces).
fn unshare_flags() -> &'static str {
    let mut tried = Vec::new();
    for flags in ["-rn", "-n"] {
        match Command::new("unshare").args([flags, "true"]).stdin(Stdio::null()).output() {
            Ok(out) if out.status.success() => return flags,
            Ok(out) => tried.push(format!(
                "`unshare {flags} true`: {} {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )),
            Err(e) => panic!(
                "`unshare` (util-linux) cannot be run ({e}): these tests need it to isolate the gateway from the network; \
                 install util-linux rather than skipping them"
            ),
        }
    }
    panic!(
        "cannot create a network namespace, so the real configs (which name public hosts) are not run:\n{}",
        tried.join("\n")
    );
}

/// Inside the namespace, the only interface is `lo`.
fn assert_only_loopback() {
    let dev = std::fs::read_to_string("/proc/self/net/dev").expect("/proc/self/net/dev");
    let names: Vec<&str> = dev.lines().skip(2).filter_map(|l| l.split(':').next()).map(str::trim).collect();
    assert_eq!(names, ["lo"], "the namespace must hold only loopback");
}

/// Returns true in the inner run, which must then do the work. Otherwise runs `test` (a test
/// function of this module) again in a loopback-only namespace, asserts that it passed, and
/// returns false.
fn in_loopback_namespace(test: &str) -> bool {
    if std::env::var_os(INNER_ENV).is_some() {
        assert_only_loopback();
        return true;
    }
    let flags = unshare_flags();
    let one = OneTest::new(module_path!(), test);
    let test = one.name.as_str();
    let mut cmd = Command::new("unshare");
    cmd.args([flags, "sh", "-c", NETNS_SCRIPT, "sh"]).arg(&one.exe).args(one.args()).env(INNER_ENV, "1");
    let ran = run_to_end(cmd, INNER_RUN_TIMEOUT);
    let (code, out, err) = (ran.code(), ran.stdout, ran.stderr);
    let ran = out.contains("test result: ok. 1 passed");
    assert!(
        code == Some(0) && ran,
        "`{test}` failed inside the loopback-only namespace (exit {code:?}):\n--- stdout ---\n{out}\n--- stderr ---\n{err}"
    );
    // Show what the inner run printed (visible with --nocapture).
    print!("{out}");
    false
}

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

/// `GET path` over a fresh connection: `Ok((status, body))`, `Err` when not reachable.
/// `host` replaces the default `Host`; `extra` are more header lines (`Name: value\r\n`).
fn http_get(port: u16, path: &str, host: Option<&str>, extra: &str) -> std::io::Result<(u16, Vec<u8>)> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.set_write_timeout(Some(Duration::from_secs(5)))?;
    let host = host.map_or_else(|| format!("127.0.0.1:{port}"), str::to_owned);
    write!(s, "GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n")?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_owned());
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or_else(|| bad("no end of headers"))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let body = raw[split + 4..].to_vec();
    let status: u16 =
        head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).ok_or_else(|| bad("no status code"))?;
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase().starts_with("transfer-encoding:") && l.to_ascii_lowercase().contains("chunked")
    });
    Ok((status, if chunked { dechunk(&body).ok_or_else(|| bad("bad chunked body"))? } else { body }))
}

fn dechunk(mut body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&body[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(body.get(..size)?);
        body = body.get(size + 2..)?;
    }
}

// ---------------------------------------------------------------------------------------------
// The checks
// ---------------------------------------------------------------------------------------------

/// How a client reaches the gateway where the config is deployed: a config with
/// `security/http` `allowed_hosts` only answers its own host names, and with `ssl_proxy_headers`
/// it expects the TLS terminator's headers (otherwise `ssl_redirect` sends clients to https).
fn request_as_deployed(config: &Path) -> (Option<String>, String) {
    let text = std::fs::read_to_string(config).unwrap_or_default();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    let Some(sec) = json.get("extra_config").and_then(|e| e.get("security/http")) else {
        return (None, String::new());
    };
    let host = sec.get("allowed_hosts").and_then(|h| h.get(0)).and_then(|h| h.as_str()).map(str::to_owned);
    let mut extra = String::new();
    if let Some(headers) = sec.get("ssl_proxy_headers").and_then(|h| h.as_object()) {
        for (k, v) in headers {
            extra.push_str(&format!("{k}: {}\r\n", v.as_str().unwrap_or("")));
        }
    }
    (host, extra)
}

fn check(bin: &Path, config: &Path) -> (Option<i32>, String) {
    let mut cmd = Command::new(bin);
    cmd.arg("check").arg("-c").arg(config);
    let ran = run_to_end(cmd, CHECK_TIMEOUT);
    let (code, out, err) = (ran.code(), ran.stdout, ran.stderr);
    (code, format!("{out}{err}"))
}

/// `tributary run -c CONFIG -p PORT`, `/__health` answers 200 `{"status":"ok",...}`, SIGTERM
/// stops it with exit 0. `Err` describes the first thing that went wrong.
fn serve_health(bin: &Path, config: &Path) -> Result<(), String> {
    let port = free_port();
    let (host, extra) = request_as_deployed(config);
    let mut cmd = Command::new(bin);
    cmd.arg("run").arg("-c").arg(config).arg("-p").arg(port.to_string()).env("RUST_LOG", "warn");
    let mut server = Running::spawn(cmd);
    let deadline = Instant::now() + START_TIMEOUT;
    let health = loop {
        if let Ok(Some(status)) = server.child.try_wait() {
            let (_, err) = server.output();
            return Err(format!("`tributary run -p {port}` exited early ({status}):\n{}", tail(&err, 20)));
        }
        match http_get(port, "/__health", host.as_deref(), &extra) {
            Ok(answer) => break answer,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => {
                let _ = server.stop(STOP_TIMEOUT);
                let (_, err) = server.output();
                return Err(format!(
                    "/__health on port {port} not reachable within {START_TIMEOUT:?}: {e}\n{}",
                    tail(&err, 20)
                ));
            }
        }
    };
    let stopped = server.stop(STOP_TIMEOUT);
    let (_, err) = server.output();
    let (status, body) = health;
    let body_text = String::from_utf8_lossy(&body).into_owned();
    if status != 200 {
        return Err(format!("GET /__health answered {status}: {body_text}"));
    }
    let json: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| format!("GET /__health body is not JSON ({e}): {body_text}"))?;
    if json.get("status").and_then(serde_json::Value::as_str) != Some("ok") {
        return Err(format!("GET /__health body has no `\"status\": \"ok\"`: {body_text}"));
    }
    match stopped {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(format!("after SIGTERM the gateway exited with {s}:\n{}", tail(&err, 20))),
        Err(e) => Err(e),
    }
}

/// The index's file names, sizes and KrakenD verdicts agree with the fixtures (copied byte for
/// byte, so the sizes match exactly).
#[test]
fn fixtures_match_the_index() {
    let index = std::fs::read_to_string(fixtures_dir().join("INDEX.md")).expect("fixtures/real-configs/INDEX.md");
    let section = index.split("## Index").nth(1).and_then(|s| s.split("\n## ").next()).expect("an `## Index` section");
    let mut rows = Vec::new();
    for line in section.lines().filter(|l| l.starts_with("| ") && l.contains("| `")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // | # | file | repo | path | commit | size | endpoints | features | hosts | Lura |
        let name = cells[2].trim_matches('`').to_owned();
        let size: u64 = cells[6].parse().unwrap_or_else(|_| panic!("size cell `{}` of {name}", cells[6]));
        let refused = cells.last().is_some_and(|c| c.is_empty()) && cells[cells.len() - 2].starts_with("REFUSED");
        rows.push((name, size, refused));
    }
    assert_eq!(rows.len(), CORPUS_SIZE, "rows in the index");
    let files: Vec<String> = corpus().iter().map(|p| file_name(p)).collect();
    assert_eq!(files.len(), CORPUS_SIZE, "configs in fixtures/real-configs: {files:?}");
    for (name, size, refused) in &rows {
        let path = fixtures_dir().join(name);
        let actual =
            std::fs::metadata(&path).unwrap_or_else(|e| panic!("{name} is listed in INDEX.md but missing: {e}")).len();
        assert_eq!(actual, *size, "{name}: size differs from INDEX.md (the copy must be byte for byte)");
        let expected_refused = name == REFUSED_ENTERPRISE || name == REFUSED_LUA;
        assert_eq!(*refused, expected_refused, "{name}: KrakenD's verdict in INDEX.md");
    }
}

/// The corpus uses every request-rule namespace, so the check on their warnings has something
/// to find.
#[test]
fn the_corpus_uses_every_request_rule_namespace() {
    let texts: Vec<String> = corpus().iter().map(|p| std::fs::read_to_string(p).expect("a readable config")).collect();
    for ns in REQUEST_RULES {
        let users = texts.iter().filter(|t| t.contains(&format!("\"{ns}\""))).count();
        assert!(users > 0, "no config of the corpus uses `{ns}`");
    }
}

/// Every config KrakenD accepts: `check` exits 0 with no "not supported" warning for a request
/// rule, and `run` serves `/__health`.
#[test]
fn accepted_configs_pass_check_and_serve_health() {
    if !in_loopback_namespace("accepted_configs_pass_check_and_serve_health") {
        return;
    }
    let bin = tributary_bin();
    let accepted: Vec<PathBuf> = corpus()
        .into_iter()
        .filter(|p| {
            let n = file_name(p);
            n != REFUSED_ENTERPRISE && n != REFUSED_LUA
        })
        .collect();
    assert_eq!(accepted.len(), CORPUS_SIZE - 2, "accepted configs");
    let mut failures = Vec::new();
    for config in &accepted {
        let name = file_name(config);
        let (code, output) = check(&bin, config);
        if code != Some(0) {
            let errors: Vec<&str> = output.lines().filter(|l| !l.contains(": warning: ")).collect();
            failures.push(format!("{name}: `tributary check` exited {code:?} (expected 0):\n{}", errors.join("\n")));
            continue;
        }
        let unsupported_rules: Vec<&str> = output
            .lines()
            .filter(|l| l.contains("not supported") && REQUEST_RULES.iter().any(|ns| l.contains(ns)))
            .collect();
        if !unsupported_rules.is_empty() {
            failures
                .push(format!("{name}: request rules reported as not supported:\n{}", unsupported_rules.join("\n")));
        }
        match serve_health(&bin, config) {
            Ok(()) => println!("ok: {name}"),
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} configs accepted by KrakenD failed:\n\n{}",
        failures.len(),
        accepted.len(),
        failures.join("\n\n")
    );
}

/// The line of `output` that is an error about `path` and holds every one of `parts`.
fn error_line<'a>(output: &'a str, path: &str, parts: &[&str]) -> Option<&'a str> {
    let quoted = format!("error: `{path}`");
    output.lines().find(|l| l.contains(&quoted) && parts.iter().all(|p| l.contains(p)))
}

fn assert_refused(bin: &Path, name: &str, expected: &[(&str, &[&str])]) {
    let config = fixtures_dir().join(name);
    let (code, output) = check(bin, &config);
    assert_eq!(code, Some(1), "`tributary check` of {name} must exit 1:\n{output}");
    for (path, parts) in expected {
        assert!(
            error_line(&output, path, parts).is_some(),
            "`tributary check` of {name} must print an error at `{path}` mentioning {parts:?}:\n{output}"
        );
    }
    // `run` refuses it too, before listening.
    let mut cmd = Command::new(bin);
    cmd.arg("run").arg("-c").arg(&config).arg("-p").arg(free_port().to_string());
    let ran = run_to_end(cmd, CHECK_TIMEOUT);
    let (code, out, err) = (ran.code(), ran.stdout, ran.stderr);
    assert_eq!(code, Some(1), "`tributary run` of {name} must exit 1:\n{out}{err}");
}

/// KrakenD refuses #4 (EE dynamic routing in a `url_pattern`) and #23 (`concurrent_calls: true`).
#[test]
fn refused_configs_fail_check_naming_the_json_path() {
    if !in_loopback_namespace("refused_configs_fail_check_naming_the_json_path") {
        return;
    }
    let bin = tributary_bin();
    assert_refused(
        &bin,
        REFUSED_ENTERPRISE,
        &[("endpoints[28].backend[0].url_pattern", &["GET /dynamic/header", "input_headers.x-route"])],
    );
    assert_refused(
        &bin,
        REFUSED_LUA,
        &[
            ("endpoints[7].concurrent_calls", &["line 156, column 30"]),
            ("endpoints[9].concurrent_calls", &["line 203, column 30"]),
        ],
    );
}
