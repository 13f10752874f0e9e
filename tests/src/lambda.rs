//! The Lambda side of the tests: the sample events of `events/` with the answers the demo backend
//! gives to each, the demo config they go with, and the `gateway` binary under the Runtime API
//! emulator (`scripts/fake_runtime.py`).

use crate::process::{workspace_bin, workspace_root};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The demo backend's address in `events/krakend.json`, replaced by the one a test starts.
pub const DEMO_BACKEND: &str = "http://127.0.0.1:9001";

// The demo config's answers to the sample events, as the gateway renders them (JSON text).
pub const USER_1: &str = r#"{"posts":[{"id":1,"title":"Hello from 1","user_id":1},{"id":2,"title":"Second post","user_id":1}],"user":{"address":{"city":"Lisbon","zip":"1100"},"email":"user1@example.com","id":1,"name":"User 1"}}"#;
pub const USER_2: &str = r#"{"posts":[{"id":1,"title":"Hello from 2","user_id":2},{"id":2,"title":"Second post","user_id":2}],"user":{"address":{"city":"Lisbon","zip":"1100"},"email":"user2@example.com","id":2,"name":"User 2"}}"#;
pub const DASHBOARD_2: &str = r#"{"address":{"city":"Lisbon"},"name":"User 2","station":{"elevation_m":95,"id":"LIS-1"},"weather":{"conditions":"sunny","temperature_c":21.5}}"#;
pub const TITLES_3: &str = r#"[{"id":1,"title":"Hello from 3"},{"id":2,"title":"Second post"}]"#;
pub const ORDER_BOOK: &str = r#"{"order":{"item":"book","qty":2},"status":"created"}"#;

/// Where an event comes from, as `lambda_http` reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Payload 2.0: function URL or API Gateway HTTP API.
    V2,
    /// Payload 1.0: API Gateway REST API.
    Rest,
    Alb,
}

/// Every sample event (a file of `events/` ending in `.json`, except the config): its origin and
/// the body the gateway must answer with `200` (JSON, as text).
pub const EXPECTED: &[(&str, Origin, &str)] = &[
    ("furl-get.json", Origin::V2, USER_1),
    ("furl-post-json.json", Origin::V2, ORDER_BOOK),
    ("furl-post-base64.json", Origin::V2, r#"{"order":{"item":"pen","note":"gift wrap","qty":10},"status":"created"}"#),
    ("apigw-v2-get.json", Origin::V2, DASHBOARD_2),
    ("apigw-v1-get.json", Origin::Rest, USER_2),
    ("alb-get.json", Origin::Alb, TITLES_3),
];

/// `events/`: the sample events and their config, `krakend.json`.
pub fn events_dir() -> PathBuf {
    workspace_root().join("events")
}

/// The names of the sample events, sorted.
pub fn event_files() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(events_dir())
        .expect("read the events directory")
        .map(|entry| entry.expect("an events directory entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".json") && name != "krakend.json")
        .collect();
    names.sort();
    names
}

/// The text of the sample event `name`.
pub fn read_event(name: &str) -> String {
    std::fs::read_to_string(events_dir().join(name)).unwrap_or_else(|e| panic!("read events/{name}: {e}"))
}

/// `events/krakend.json` with the demo backend at `backend` (a base URL) instead of its own address.
pub fn demo_config(backend: &str) -> String {
    let config = std::fs::read_to_string(events_dir().join("krakend.json")).expect("read events/krakend.json");
    assert!(config.contains(DEMO_BACKEND), "events/krakend.json must name the demo backend {DEMO_BACKEND}");
    config.replace(DEMO_BACKEND, backend)
}

/// `python3 scripts/fake_runtime.py ARGS --event E... -- gateway`, with `TRIBUTARY_CONFIG=config`
/// and no stdin: the `gateway` binary under the Runtime API emulator, one invocation per event
/// file, in order. The caller adds its environment and runs it.
pub fn emulator(config: &Path, args: &[&str], events: &[PathBuf]) -> Command {
    let mut cmd = Command::new("python3");
    cmd.arg(workspace_root().join("scripts/fake_runtime.py")).args(args);
    for event in events {
        cmd.arg("--event").arg(event);
    }
    cmd.arg("--").arg(workspace_bin("gateway"));
    cmd.env("TRIBUTARY_CONFIG", config).stdin(Stdio::null());
    cmd
}

/// The emulator's stdout split into its answers (the lines of JSON objects starting with
/// `request_id`, one per invocation) and the other lines (the function's own output).
pub fn answers_and_logs(stdout: &str) -> (Vec<Value>, Vec<&str>) {
    let (answers, logs): (Vec<&str>, Vec<&str>) = stdout.lines().partition(|l| l.starts_with("{\"request_id\""));
    let answers = answers.iter().map(|l| serde_json::from_str(l).expect("an answer line")).collect();
    (answers, logs)
}
