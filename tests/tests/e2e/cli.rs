//! The `tributary` command line as KrakenD users' scripts call it: `check -tlc FILE` (and its
//! `validate` name), `version`, and KrakenD's `KRAKEND_<KEY>` overrides of root-level settings for
//! `check` and `run`. Runs the binary; every wait is bounded.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tributary_e2e::process::{TempDir, free_port, tributary_bin};
use tributary_e2e::run::run_to_end;

/// A config file in a fresh temporary directory (removed on drop).
struct ConfigFile {
    _dir: TempDir,
    path: String,
}

impl ConfigFile {
    fn new(name: &str, text: &str) -> ConfigFile {
        let dir = TempDir::new(&format!("cli-{name}"));
        let path = dir.write("krakend.json", text).to_str().expect("a UTF-8 path").to_owned();
        ConfigFile { _dir: dir, path }
    }

    fn path(&self) -> &str {
        &self.path
    }
}

const GOOD: &str = r#"{"version": 3, "port": 8080, "timeout": "3s", "name": "a",
  "endpoints": [{"endpoint": "/x", "backend": [{"host": ["http://127.0.0.1:8081"], "url_pattern": "/"}]}]}"#;

/// Runs `tributary ARGS` with `env` to completion (at most 20 s): exit code, stdout, stderr.
fn tributary(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(tributary_bin());
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let ran = run_to_end(cmd, Duration::from_secs(20));
    (ran.code().unwrap_or(-1), ran.stdout, ran.stderr)
}

#[test]
fn check_takes_krakends_tlc_flag_cluster_and_its_validate_name() {
    let good = ConfigFile::new("good", GOOD);
    let (code, out, _) = tributary(&["check", "-tlc", good.path()], &[]);
    assert_eq!(code, 0, "{out}");
    let (code, out, _) = tributary(&["validate", "-c", good.path()], &[]);
    assert_eq!(code, 0, "{out}");

    // `-l` (lint) makes an unsupported key an error.
    let unknown = ConfigFile::new("unknown", &GOOD.replace("\"name\": \"a\"", "\"name\": \"a\", \"plugin\": {}"));
    let (code, out, _) = tributary(&["check", "-c", unknown.path()], &[]);
    assert_eq!(code, 0, "a warning only: {out}");
    let (code, out, _) = tributary(&["check", "-tlc", unknown.path()], &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("plugin"), "{out}");
}

#[test]
fn version_prints_tributarys_version() {
    let (code, out, _) = tributary(&["version"], &[]);
    assert_eq!(code, 0);
    assert!(out.contains(&format!("Tributary Version: {}", env!("CARGO_PKG_VERSION"))), "{out}");
}

#[test]
fn krakend_env_overrides_replace_root_settings_for_check() {
    let good = ConfigFile::new("env-check", GOOD);
    let env = [("KRAKEND_TIMEOUT", "500ms"), ("KRAKEND_NAME", "Build ABC0123"), ("KRAKEND_CACHE_TTL", "1m")];
    let (code, out, _) = tributary(&["check", "-d", "-i", "  ", "-c", good.path()], &env);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("\"timeout\": \"500ms\""), "{out}");
    assert!(out.contains("\"name\": \"Build ABC0123\""), "{out}");
    // `cache_ttl` is not in the config: KrakenD ignores its variable, and so do we.
    assert!(!out.contains("cache_ttl"), "{out}");
    let (code, _, err) = tributary(&["check", "-c", good.path()], &[("KRAKEND_PORT", "eighty")]);
    assert_eq!(code, 1);
    assert!(err.contains("KRAKEND_PORT"), "{err}");
}

#[test]
fn krakend_port_moves_the_port_tributary_run_listens_on() {
    let good = ConfigFile::new("env-run", GOOD);
    let port = free_port();
    let mut child = Command::new(tributary_bin())
        .args(["run", "-c", good.path()])
        .env("KRAKEND_PORT", port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start tributary run");
    let deadline = Instant::now() + Duration::from_secs(20);
    let answer = loop {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            s.set_read_timeout(Some(Duration::from_secs(5))).expect("a read timeout");
            s.write_all(b"GET /__health HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").expect("write");
            let mut answer = String::new();
            let _ = s.read_to_string(&mut answer);
            break answer;
        }
        assert!(Instant::now() < deadline, "nothing listened on KRAKEND_PORT {port} within 20 s");
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[test]
fn check_lambda_names_what_the_function_cannot_honour() {
    let config = ConfigFile::new(
        "lambda",
        r#"{"version": 3, "port": 8080, "timeout": "3s",
            "endpoints": [{"endpoint": "/slow", "timeout": "40s",
              "extra_config": {"qos/ratelimit/router": {"max_rate": 10}},
              "backend": [{"host": ["http://127.0.0.1:8081"], "url_pattern": "/"}]}]}"#,
    );
    let (code, out, _) = tributary(&["check", "--lambda", "--reserved-concurrency", "5", "-c", config.path()], &[]);
    assert_eq!(code, 0, "warnings only: {out}");
    for needle in [
        "warning: `port`",
        "warning: `endpoints[0].timeout` (endpoint `GET /slow`): 40s does not fit the function's timeout (30s)",
        "`endpoints[0].extra_config.qos/ratelimit/router.max_rate`",
        "5 (the reserved concurrency)",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in\n{out}");
    }
    // A longer function timeout fits the endpoint; without --lambda none of it is said.
    let (_, out, _) = tributary(&["check", "--lambda", "--function-timeout", "60", "-c", config.path()], &[]);
    assert!(!out.contains("endpoints[0].timeout"), "{out}");
    let (_, out, _) = tributary(&["check", "-c", config.path()], &[]);
    assert!(!out.contains("Lambda"), "{out}");
}
