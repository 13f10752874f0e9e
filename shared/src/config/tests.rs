//! Snapshot tests of the config's error and warning texts: each bad input names its JSON path.

use crate::Gateway;

/// Every problem (errors then warnings) the gateway reports for `text`, one per line.
fn report(text: &str) -> String {
    match Gateway::from_json(text) {
        Ok(g) => g.warnings().iter().map(|w| w.to_string()).collect::<Vec<_>>().join("\n"),
        Err(e) => e.errors.iter().chain(&e.warnings).map(|p| p.to_string()).collect::<Vec<_>>().join("\n"),
    }
}

fn endpoint(extra: &str) -> String {
    format!(r#"{{"version": 3, "endpoints": [{extra}]}}"#)
}

const OK_BACKEND: &str = r#"{"host": ["http://127.0.0.1:8000"], "url_pattern": "/x"}"#;

#[test]
fn a_syntax_error_names_line_and_column() {
    let text = "{\n  \"version\": 3,\n  \"endpoints\": [\n    {\"endpoint\": \"/a\" \"backend\": []}\n  ]\n}";
    insta::assert_snapshot!(report(text));
}

#[test]
fn a_type_error_names_path_endpoint_line_and_column() {
    let text = format!(
        "{{\n  \"version\": 3,\n  \"endpoints\": [\n    {{\"endpoint\": \"/ok\", \"backend\": [{OK_BACKEND}]}},\n    {{\"endpoint\": \"/users/{{id}}\",\n     \"timeout\": \"3 s\",\n     \"backend\": [{OK_BACKEND}]}}\n  ]\n}}"
    );
    insta::assert_snapshot!(report(&text));
}

#[test]
fn type_errors_in_several_endpoints_are_all_reported() {
    let text = endpoint(&format!(
        r#"{{"endpoint": "/a", "concurrent_calls": true, "backend": [{OK_BACKEND}]}},
           {{"endpoint": "/b", "method": "POST", "backend": [{{"host": ["http://h:80"], "url_pattern": "/b", "is_collection": "yes"}}]}}"#
    ));
    insta::assert_snapshot!(report(&text));
}

#[test]
fn the_version_must_be_3() {
    insta::assert_snapshot!(report(r#"{"version": 2, "endpoints": []}"#));
    insta::assert_snapshot!("missing_version", report(r#"{"endpoints": []}"#));
}

#[test]
fn reserved_and_wildcard_paths_are_refused() {
    let text = endpoint(&format!(
        r#"{{"endpoint": "/__health", "backend": [{OK_BACKEND}]}},
           {{"endpoint": "/a/*/b", "backend": [{OK_BACKEND}]}},
           {{"endpoint": "/files/*", "backend": [{OK_BACKEND}]}}"#
    ));
    insta::assert_snapshot!(report(&text));
}

#[test]
fn an_endpoint_needs_a_backend() {
    insta::assert_snapshot!(report(&endpoint(r#"{"endpoint": "/empty", "backend": []}"#)));
}

#[test]
fn no_op_allows_one_backend_only() {
    let text = endpoint(&format!(
        r#"{{"endpoint": "/p", "output_encoding": "no-op", "backend": [{OK_BACKEND}, {OK_BACKEND}]}}"#
    ));
    insta::assert_snapshot!(report(&text));
}

#[test]
fn backend_placeholders_must_be_endpoint_params() {
    let text = endpoint(
        r#"{"endpoint": "/users/{id}", "backend": [{"host": ["http://h:80"], "url_pattern": "/u/{user}"}]},
           {"endpoint": "/plain", "backend": [{"host": ["http://h:80"], "url_pattern": "/u/{a}/{b}"}]}"#,
    );
    insta::assert_snapshot!(report(&text));
}

#[test]
fn hosts_and_listen_ip_are_checked() {
    let text = r#"{"version": 3, "listen_ip": "not-an-ip", "host": ["http://a/base"],
        "endpoints": [{"endpoint": "/a", "backend": [{"host": ["ftp://x y"], "url_pattern": "/a"}]}]}"#;
    insta::assert_snapshot!(report(text));
}

#[test]
fn router_conflicts_are_refused() {
    let text = endpoint(&format!(
        r#"{{"endpoint": "/dup", "backend": [{OK_BACKEND}]}},
           {{"endpoint": "/dup", "backend": [{OK_BACKEND}]}},
           {{"endpoint": "/user/{{a}}", "backend": [{OK_BACKEND}]}},
           {{"endpoint": "/user/{{b}}/x", "backend": [{OK_BACKEND}]}}"#
    ));
    insta::assert_snapshot!(report(&text));
}

#[test]
fn unknown_keys_and_namespaces_are_warnings_with_their_path() {
    let text = endpoint(&format!(
        r#"{{"endpoint": "/a", "headers_to_pass": ["X"], "extra_config": {{"auth/api-keys": {{}}}},
            "backend": [{{"host": ["http://h:80"], "url_pattern": "/a", "whitelist": ["a"], "timeout": "1s"}}]}},
           {{"endpoint": "/b", "method": "GET,POST", "backend": [{OK_BACKEND}]}}"#
    ));
    let g = Gateway::from_json(&text).expect("warnings do not stop the config");
    assert_eq!(g.warnings().len(), 5);
    insta::assert_snapshot!(report(&text));
}

#[test]
fn valid_configs_have_no_problems() {
    let text = endpoint(&format!(r#"{{"endpoint": "/a/{{id}}", "timeout": "1m30s", "backend": [{OK_BACKEND}]}}"#));
    assert_eq!(report(&text), "");
}
