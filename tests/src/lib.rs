//! Tributary's end-to-end conformance harness: the KrakenD case table (`fixtures/cases.json`,
//! its format in [`case`], a port of `scripts/run_cases.py`) run through every door of the
//! gateway against real HTTP mock backends on 127.0.0.1.
//!
//! * [`case`]: the case model, loading and selection;
//! * [`json`]: order-preserving JSON and the deep comparison;
//! * [`mock`]: the mock backends and the `http://BACKEND_<name>` substitution;
//! * [`client`]: the wire form of a request and the raw HTTP/1.1 client;
//! * [`compare`](mod@compare): a received response against a case's expectations;
//! * [`doors`]: in process and over the local server;
//! * [`lambda`]: the sample events of `events/`, and the `gateway` binary under the Runtime API
//!   emulator;
//! * [`process`]: the `tributary` binary as a child process, and its memory; temporary
//!   directories; a test of the running binary re-run in a child process;
//! * [`record`]: a backend that records the requests it gets;
//! * [`run`]: child processes bounded in time, their output collected;
//! * [`runner`]: one case, many cases in parallel, the report.
//!
//! Environment: `TRIBUTARY_CASES=a,b` runs only those cases (skipped families included);
//! `TRIBUTARY_VERBOSE=1` adds every mock request and the notes of failing cases to the report.

pub mod case;
pub mod chaos;
pub mod client;
pub mod compare;
pub mod doors;
pub mod json;
pub mod lambda;
pub mod lambda_probe;
pub mod mock;
pub mod moto;
pub mod process;
pub mod record;
pub mod run;
pub mod runner;

pub use case::{Case, family, load_cases, load_cases_from, rules_fixture_path, select};
pub use compare::{Response, compare};
pub use doors::Door;
pub use runner::{Outcome, assert_all_pass, run_case, run_cases};

/// The environment variable naming the only cases to run (comma-separated).
pub const CASES_ENV: &str = "TRIBUTARY_CASES";

/// The cases of the fixture to run: those named in `TRIBUTARY_CASES` when it is set, otherwise
/// every case outside `skip_families`. Panics on an unknown name.
pub fn selected_cases(skip_families: &[&str]) -> Vec<Case> {
    let only = std::env::var(CASES_ENV).ok().filter(|v| !v.trim().is_empty());
    select(load_cases(), skip_families, only.as_deref()).unwrap_or_else(|e| panic!("{CASES_ENV}: {e}"))
}
