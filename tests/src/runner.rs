//! Running cases through a door: mocks, config substitution, a fresh gateway per case, the
//! preceding requests and the request, the comparison; bounded parallelism and the failure report.

use crate::case::{Case, family};
use crate::client::OutRequest;
use crate::compare::compare;
use crate::doors::{Door, Running, panic_text};
use crate::json::{self, Json};
use crate::mock::{Mocks, Subst};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// At most this long for one case (mocks started, gateway built, requests, gateway stopped).
pub const CASE_TIMEOUT: Duration = Duration::from_secs(30);
/// How many cases run at the same time by default.
pub const PARALLELISM: usize = 8;

/// The result of one case. No problem means it passed.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub name: String,
    pub confidence: String,
    pub problems: Vec<String>,
    /// Unmatched mock requests (every mock request and the case notes when verbose).
    pub diagnostics: Vec<String>,
    pub elapsed: Duration,
}

impl Outcome {
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Whether `TRIBUTARY_VERBOSE` asks for every mock request and the notes of failing cases.
pub fn verbose() -> bool {
    std::env::var_os("TRIBUTARY_VERBOSE").is_some_and(|v| !v.is_empty() && v != "0")
}

/// The config of a case as JSON text with every `http://BACKEND_<name>` replaced and "port" set
/// (kept in place when present, added last otherwise).
pub fn gateway_config(config_text: &str, subst: &Subst, port: u16) -> Result<String, String> {
    let substituted = json::parse(&subst.apply(config_text))?;
    let Json::Object(mut members) = substituted else {
        return Err("the config is not a JSON object".to_owned());
    };
    let port_value = Json::Number(port.to_string());
    match members.iter_mut().find(|(k, _)| k == "port") {
        Some((_, value)) => *value = port_value,
        None => members.push(("port".to_owned(), port_value)),
    }
    Ok(Json::Object(members).to_compact())
}

/// Runs one case through `door`.
pub async fn run_case(door: Door, case: &Case) -> Outcome {
    let started = Instant::now();
    let mut problems = Vec::new();
    let mut diagnostics = Vec::new();
    let verbose = verbose();
    // The config as compact JSON text (like `json.dumps(case["config"])`), for the mock names.
    match json::parse(case.config.get()).map(|config| config.to_compact()) {
        Err(e) => problems.push(format!("error: malformed config in the case: {e}")),
        Ok(config_text) => match Mocks::start(case, &config_text).await {
            Err(e) => problems.push(format!("error: cannot start the mock backends: {e}")),
            Ok(mocks) => {
                let exercised =
                    tokio::time::timeout(CASE_TIMEOUT, exercise_fresh_gateway(door, case, &config_text, &mocks)).await;
                match exercised {
                    Ok((p, d)) => {
                        problems.extend(p);
                        diagnostics.extend(d);
                    }
                    Err(_) => {
                        problems.push(format!("error: the case did not finish within {}s", CASE_TIMEOUT.as_secs()))
                    }
                }
                diagnostics.extend(mocks.log_lines(verbose));
            }
        },
    }
    if verbose && !problems.is_empty() {
        for (key, value) in [("notes", &case.notes), ("source", &case.source)] {
            diagnostics.push(format!("{key}: {}", value.as_deref().unwrap_or("None")));
        }
    }
    Outcome {
        name: case.name.clone(),
        confidence: case.confidence.clone().unwrap_or_else(|| "high".to_owned()),
        problems,
        diagnostics,
        elapsed: started.elapsed(),
    }
}

async fn exercise_fresh_gateway(
    door: Door,
    case: &Case,
    config_text: &str,
    mocks: &Mocks,
) -> (Vec<String>, Vec<String>) {
    let slot = match door.reserve().await {
        Ok(slot) => slot,
        Err(e) => {
            return (vec![format!("error: cannot reserve a port: {e}")], Vec::new());
        }
    };
    let port = slot.port();
    let config = match gateway_config(config_text, &mocks.subst, port) {
        Ok(config) => config,
        Err(e) => {
            return (vec![format!("error: cannot prepare the config: {e}")], Vec::new());
        }
    };
    let running = match slot.start(&config) {
        Ok(running) => running,
        Err(e) => return (vec![e], Vec::new()),
    };
    let mut problems = exercise(&running, case, port).await;
    let (stop_problems, diagnostics) = running.stop().await;
    problems.extend(stop_problems);
    (problems, diagnostics)
}

/// Sends the preceding requests and then the request; returns the problems found.
pub async fn exercise(running: &Running, case: &Case, port: u16) -> Vec<String> {
    let mut problems = Vec::new();
    for (i, pre) in case.preceding_requests.iter().flatten().enumerate() {
        let label = format!("preceding request #{} ({} {})", i + 1, pre.method(), pre.path());
        let sent = match OutRequest::from_case(pre, port) {
            Ok(out) => running.send(&out).await,
            Err(e) => Err(e),
        };
        match sent {
            Err(e) => {
                problems.push(format!("error: {label}: {e}"));
                return problems;
            }
            Ok(response) => {
                if let Some(want) = pre.expect_status
                    && want != response.status
                {
                    problems.push(format!("{label}: expected status {want}, got {}", response.status));
                }
            }
        }
    }
    let sent = match OutRequest::from_case(&case.request, port) {
        Ok(out) => running.send(&out).await,
        Err(e) => Err(e),
    };
    match sent {
        Ok(response) => problems.extend(compare(&case.expect, &response)),
        Err(e) => problems.push(format!("error: request ({} {}): {e}", case.request.method(), case.request.path())),
    }
    problems
}

/// Runs `cases` through `door`, at most `parallelism` at a time; outcomes in the cases' order.
pub async fn run_cases(door: Door, cases: Vec<Case>, parallelism: usize) -> Vec<Outcome> {
    let mut pending = cases.into_iter().map(Arc::new).enumerate();
    let mut running = JoinSet::new();
    let mut names = BTreeMap::new();
    let mut outcomes: Vec<Option<Outcome>> = Vec::new();
    loop {
        while running.len() < parallelism.max(1) {
            let Some((index, case)) = pending.next() else {
                break;
            };
            outcomes.push(None);
            let shared = Arc::clone(&case);
            let id = running.spawn(async move { (index, run_case(door, &shared).await) }).id();
            names.insert(id, (index, case));
        }
        let Some(joined) = running.join_next_with_id().await else {
            break;
        };
        match joined {
            Ok((id, (index, outcome))) => {
                names.remove(&id);
                outcomes[index] = Some(outcome);
            }
            Err(e) => {
                let (index, case) = names.remove(&e.id()).expect("spawned case");
                let why = if e.is_panic() {
                    format!("error: the case panicked: {}", panic_text(&*e.into_panic()))
                } else {
                    format!("error: the case task failed: {e}")
                };
                outcomes[index] = Some(Outcome {
                    name: case.name.clone(),
                    confidence: case.confidence.clone().unwrap_or_else(|| "high".to_owned()),
                    problems: vec![why],
                    diagnostics: Vec::new(),
                    elapsed: Duration::ZERO,
                });
            }
        }
    }
    outcomes.into_iter().flatten().collect()
}

/// The report of a run: one block per failing case (problems, then diagnostics), a per-family
/// summary and, last, "N passed, M failed".
pub fn report(door: Door, outcomes: &[Outcome], elapsed: Duration) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "door: {} ({} case(s), {:.1}s)", door.name(), outcomes.len(), elapsed.as_secs_f64());
    for outcome in outcomes.iter().filter(|o| !o.passed()) {
        let note =
            if outcome.confidence == "high" { String::new() } else { format!(" [{} confidence]", outcome.confidence) };
        let _ = writeln!(out, "FAIL {}{note} ({:.1}s)", outcome.name, outcome.elapsed.as_secs_f64());
        for line in outcome.problems.iter().chain(&outcome.diagnostics) {
            let _ = writeln!(out, "    {line}");
        }
    }
    let mut families: BTreeMap<&str, (usize, Vec<&str>)> = BTreeMap::new();
    for outcome in outcomes {
        let entry = families.entry(family(&outcome.name)).or_default();
        if outcome.passed() {
            entry.0 += 1;
        } else {
            entry.1.push(&outcome.name);
        }
    }
    let width = families.keys().map(|f| f.len()).max().unwrap_or(0).max(6);
    let _ = writeln!(out, "\n{:<width$}  passed  failed", "family");
    for (name, (passed, failed)) in &families {
        let line = format!("{name:<width$}  {passed:>6}  {:>6}  {}", failed.len(), failed.join(", "));
        let _ = writeln!(out, "{}", line.trim_end());
    }
    let passed = outcomes.iter().filter(|o| o.passed()).count();
    let _ = write!(out, "{passed} passed, {} failed", outcomes.len() - passed);
    out
}

/// Runs `cases` through `door` and fails the calling test, after printing the report, unless
/// every case passed. The failure unwinds without the panic hook, so that the report is not
/// followed by a backtrace when `RUST_BACKTRACE` is set.
pub async fn assert_all_pass(door: Door, cases: Vec<Case>) {
    assert!(!cases.is_empty(), "no case selected");
    let started = Instant::now();
    let outcomes = run_cases(door, cases, PARALLELISM).await;
    let text = report(door, &outcomes, started.elapsed());
    let failed = outcomes.iter().filter(|o| !o.passed()).count();
    if failed > 0 {
        eprintln!("conformance cases failed through the {} door\n{text}\n", door.name());
        std::panic::resume_unwind(Box::new(format!(
            "{failed} conformance case(s) failed through the {} door",
            door.name()
        )));
    }
    println!("{text}");
}
