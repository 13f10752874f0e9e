//! The request-rule cases (`fixtures/rules/<namespace>.json`: martian modifiers, CEL, JSON
//! schema, bot detector, GraphQL), in the conformance cases' format, through every door of
//! Tributary: in process, over the local server and through the Lambda adapter.

use tributary_e2e::{Case, Door, assert_all_pass, load_cases_from, rules_fixture_path};

/// Runs the cases of one namespace's file through a door; with `TRIBUTARY_CASES` set, only those
/// it names (none of them here: nothing to run).
async fn run(door: Door, namespace: &str) {
    let all = load_cases_from(&rules_fixture_path(namespace));
    let cases: Vec<Case> = match std::env::var(tributary_e2e::CASES_ENV).ok().filter(|v| !v.trim().is_empty()) {
        None => all,
        Some(only) => {
            let wanted: Vec<&str> = only.split(',').map(str::trim).collect();
            let chosen: Vec<Case> = all.into_iter().filter(|c| wanted.contains(&c.name.as_str())).collect();
            if chosen.is_empty() {
                return;
            }
            chosen
        }
    };
    assert_all_pass(door, cases).await;
}

/// Checks that a namespace's file holds at least `min` uniquely named cases.
fn assert_holds(namespace: &str, min: usize) {
    let cases = load_cases_from(&rules_fixture_path(namespace));
    assert!(cases.len() >= min, "{namespace}: {} cases, at least {min} wanted", cases.len());
    let mut names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), cases.len(), "{namespace}: case names must be unique");
}

/// One module per namespace: its file, the least number of cases it must hold, and a test per door.
macro_rules! rule_cases {
    ($module:ident, $file:literal, $min:literal) => {
        mod $module {
            use super::*;

            #[test]
            fn the_fixture_holds_enough_uniquely_named_cases() {
                assert_holds($file, $min);
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn every_case_passes_in_process() {
                run(Door::InProcess, $file).await;
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn every_case_passes_over_the_local_server() {
                run(Door::LocalServer, $file).await;
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn every_case_passes_through_the_lambda_adapter() {
                run(Door::Lambda, $file).await;
            }
        }
    };
}

// One line per namespace (the file name without `.json`, the least number of cases).
rule_cases!(martian, "martian", 8);
rule_cases!(botdetector, "botdetector", 4);
rule_cases!(graphql, "graphql", 3);
rule_cases!(jsonschema, "jsonschema", 5);
rule_cases!(cel, "cel", 8);
rule_cases!(readme, "readme", 5);
