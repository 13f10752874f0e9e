//! `validation/cel`: compiling (config errors with their JSON path, the substring sorting) and
//! evaluating (each variable family, refusals, never a panic).

use super::values::now_string;
use super::*;
use crate::config::Severity;
use http::HeaderValue;
use serde_json::json;
use std::time::Duration;

const AT: &str = "endpoints[0].extra_config.validation/cel";

fn list(exprs: &[&str]) -> Vec<CelCheckConfig> {
    exprs.iter().map(|e| CelCheckConfig { check_expr: Some((*e).to_owned()), ..Default::default() }).collect()
}

fn compile_at(exprs: &[&str], level: Level, params: &[&str], headers: &[&str]) -> (Option<CelRules>, Vec<Problem>) {
    let mut problems = Vec::new();
    let params: Vec<String> = params.iter().map(|p| (*p).to_owned()).collect();
    let headers: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
    let names: [&[String]; 1] = [&headers];
    let rules = CelRules::compile(&list(exprs), AT, Some("GET /x"), level, &params, &names, &mut problems);
    (rules, problems)
}

fn endpoint_rules(exprs: &[&str]) -> CelRules {
    let (rules, problems) = compile_at(exprs, Level::Endpoint { with_token: true }, &["id"], &["X-Header", "x-user"]);
    assert!(problems.is_empty(), "{problems:?}");
    rules.expect("compiles")
}

fn errors(problems: &[Problem]) -> Vec<(String, String)> {
    problems.iter().filter(|p| p.severity == Severity::Error).map(|p| (p.path.clone(), p.message.clone())).collect()
}

struct Req {
    params: Vec<String>,
    headers: HeaderMap,
    query: Vec<(String, String)>,
}

impl Req {
    fn new(id: &str) -> Req {
        let mut headers = HeaderMap::new();
        headers.insert("x-header", HeaderValue::from_static("something"));
        headers.append("x-header", HeaderValue::from_static("else"));
        headers.insert("x-user", HeaderValue::from_static("ana"));
        headers.insert("x-forwarded-for", HeaderValue::from_static("10.0.0.1"));
        let query =
            vec![("a".to_owned(), "1".to_owned()), ("b".to_owned(), "2".to_owned()), ("a".to_owned(), "3".to_owned())];
        Req { params: vec![id.to_owned()], headers, query }
    }

    fn check(&self, rules: &CelRules) -> Result<(), Refusal> {
        let keep = |k: &str| k != "b";
        let view = RequestView {
            method: "GET",
            path: "/x/42",
            params: &self.params,
            headers: &self.headers,
            query: &self.query,
            keep_query: &keep,
        };
        rules.check_request(&view)
    }
}

fn respond(rules: &CelRules, data: Value) -> Result<(), Refusal> {
    let map = data.as_object().cloned().expect("an object");
    rules.check_response(&ResponseView { data: Some(&map), complete: true, status: 0, headers: None })
}

fn index(result: Result<(), Refusal>) -> Option<usize> {
    result.err().map(|r| r.index)
}

#[test]
fn every_expression_of_the_real_configs_compiles() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/real-configs");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("the real configs") {
        let path = entry.expect("an entry").path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("readable");
        if !text.contains("validation/cel") {
            continue;
        }
        let v: Value = serde_json::from_str(&text).expect("JSON");
        collect(&v, &mut found);
    }
    // 39 expressions in 31 lists, over three files.
    assert_eq!(found.len(), 39, "the fixtures' CEL expressions: {found:?}");
    for src in &found {
        if let Err(e) = compile::parse(src) {
            panic!("`{src}` does not compile: {e}");
        }
    }
}

fn collect(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::Array(items)) = m.get("validation/cel") {
                out.extend(items.iter().filter_map(|i| i.get("check_expr")?.as_str().map(str::to_owned)));
            }
            m.values().for_each(|x| collect(x, out));
        }
        Value::Array(items) => items.iter().for_each(|x| collect(x, out)),
        _ => {}
    }
}

#[test]
fn a_syntax_error_is_a_config_error_naming_the_expression() {
    let (rules, problems) = compile_at(&["req_method == 'GET'", "req_method == "], Level::Backend, &[], &[]);
    assert!(rules.is_none());
    let errs = errors(&problems);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].0, format!("{AT}[1].check_expr"));
    assert!(errs[0].1.starts_with("syntax error"), "{}", errs[0].1);
}

#[test]
fn undeclared_names_unknown_functions_and_time_functions_are_config_errors() {
    let (rules, problems) = compile_at(
        &[
            "req_parms.Id == '1'",
            "req_method.lowerAscii() == 'get'",
            "timestamp(now) > timestamp('2020-01-01T00:00:00Z') && req_method == ''",
            "''.matches('(') || req_path == ''",
            "req_method == '' && ''",
        ],
        Level::Backend,
        &[],
        &[],
    );
    assert!(rules.is_none());
    let errs = errors(&problems);
    let paths: Vec<&str> = errs.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        [
            &format!("{AT}[0].check_expr")[..],
            &format!("{AT}[1].check_expr"),
            &format!("{AT}[2].check_expr"),
            &format!("{AT}[3].check_expr")
        ]
    );
    assert!(errs[0].1.contains("undeclared reference to `req_parms`"), "{}", errs[0].1);
    assert!(errs[1].1.contains("undeclared function `lowerAscii`"), "{}", errs[1].1);
    assert!(errs[2].1.contains("no timestamp or duration functions"), "{}", errs[2].1);
    assert!(errs[3].1.contains("does not compile"), "{}", errs[3].1);
}

#[test]
fn macro_variables_and_type_names_are_not_undeclared() {
    let rules =
        endpoint_rules(&["JWT.roles.exists(r, r == 'b') && [1, 2].all(x, x > 0)", "type(req_method) == string"]);
    assert_eq!(rules.token.checks.len(), 1);
    assert_eq!(rules.request.checks.len(), 1);
}

#[test]
fn expressions_are_sorted_by_krakends_substring_test() {
    let (rules, problems) = compile_at(
        &["now != ''", "has(JWT.requested)", "resp_completed", "size(JWT.roles) > 1"],
        Level::Endpoint { with_token: true },
        &[],
        &[],
    );
    let rules = rules.expect("compiles");
    // `now != ''` names none of `req`, `resp`, `JWT`: never evaluated, with a warning.
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].severity, Severity::Warning);
    assert_eq!(problems[0].path, format!("{AT}[0].check_expr"));
    // `has(JWT.requested)` contains `req`: a request check (where `JWT` is unbound) and a token one.
    assert_eq!(rules.request.checks.len(), 1);
    assert_eq!(rules.response.checks.len(), 1);
    assert_eq!(rules.token.checks.len(), 2);
    assert_eq!(index(Req::new("1").check(&rules)), Some(0), "JWT is unbound on the request");
}

#[test]
fn jwt_expressions_without_a_token_validator_never_run_and_are_warned_about() {
    let (rules, problems) = compile_at(&["size(JWT.roles) > 1"], Level::Endpoint { with_token: false }, &[], &[]);
    let rules = rules.expect("compiles");
    assert!(!rules.checks_tokens() && !rules.checks_requests());
    assert_eq!(problems.len(), 1);
    assert!(problems[0].message.contains("auth/validator"), "{}", problems[0].message);
}

#[test]
fn params_are_keyed_with_their_first_letter_uppercased() {
    let rules = endpoint_rules(&["int(req_params.Id) % 2 == 0"]);
    assert_eq!(Req::new("4").check(&rules), Ok(()));
    let refusal = Req::new("3").check(&rules).unwrap_err();
    assert_eq!(refusal.index, 0);
    assert_eq!(refusal.to_string(), "request aborted by evaluator #0");
}

#[test]
fn the_first_failing_expression_names_the_refusal() {
    let rules = endpoint_rules(&["req_method == 'GET'", "req_path == '/x/42'", "req_path == '/other'"]);
    assert_eq!(index(Req::new("1").check(&rules)), Some(2));
}

#[test]
fn headers_are_lists_keyed_as_input_headers_writes_them() {
    let rules = endpoint_rules(&[
        "'something' in req_headers['X-Header'] && req_headers['X-Header'][1] == 'else'",
        "req_headers['x-user'] == ['ana']",
        "req_headers['X-Forwarded-For'][0] == '10.0.0.1'",
        "!('x-header' in req_headers)",
    ]);
    assert_eq!(Req::new("1").check(&rules), Ok(()));
}

#[test]
fn querystring_holds_the_kept_keys_with_every_value() {
    let rules = endpoint_rules(&["req_querystring.a == ['1', '3'] && !has(req_querystring.b)"]);
    assert_eq!(Req::new("1").check(&rules), Ok(()));
}

#[test]
fn a_missing_key_a_type_mismatch_and_a_division_by_zero_refuse_without_panicking() {
    for expr in [
        "'something' in req_headers['X-Missing']",
        "req_params.Id > 5",
        "int(req_params.Id) / 0 == 1",
        "int(req_params.Id) % 0 == 1",
        "int(req_method) == 1",
        "req_params.Id",
        "req_headers['X-Header'][5] == ''",
        "9223372036854775807 + int(req_params.Id) > 0",
    ] {
        let rules = endpoint_rules(&[expr]);
        assert_eq!(index(Req::new("1").check(&rules)), Some(0), "{expr}");
    }
}

#[test]
fn matches_uses_literal_patterns_compiled_at_start_and_others_at_run_time() {
    let rules = endpoint_rules(&[
        "req_headers['x-user'][0].matches('^a.a$')",
        "matches(req_path, '/x/[0-9]+')",
        "req_path.matches('/x/' + req_params.Id)",
    ]);
    assert_eq!(rules.request.patterns.as_ref().map(|p| p.len()), Some(2));
    assert_eq!(Req::new("42").check(&rules), Ok(()));
    assert_eq!(index(Req::new("7").check(&rules)), Some(2));
    // A pattern built at run time that does not compile refuses.
    let rules = endpoint_rules(&["req_path.matches('(' + req_params.Id)"]);
    assert_eq!(index(Req::new("1").check(&rules)), Some(0));
}

#[test]
fn response_numbers_are_real_numbers() {
    let rules = endpoint_rules(&[
        "resp_data.count > 2 && resp_data.count == 3 && type(resp_data.count) == int",
        "resp_data.ratio > 0.5 && type(resp_data.ratio) == double",
        "resp_data.big == 18446744073709551615u",
        "resp_data.user.name == 'ana' && resp_data.tags[1] == 'b' && resp_data.none == null",
    ]);
    let data = json!({"count": 3, "ratio": 0.75, "big": 18446744073709551615u64, "user": {"name": "ana"}, "tags": ["a", "b"], "none": null});
    assert_eq!(respond(&rules, data), Ok(()));
    assert_eq!(index(respond(&rules, json!({"count": 1}))), Some(0));
}

#[test]
fn response_metadata_and_completeness() {
    let rules = endpoint_rules(&[
        "resp_completed && resp_metadata_status == 204 && resp_metadata_headers['X-Backend'] == ['b1']",
    ]);
    let mut headers = HeaderMap::new();
    headers.insert("x-backend", HeaderValue::from_static("b1"));
    let view = ResponseView { data: None, complete: true, status: 204, headers: Some(&headers) };
    assert_eq!(rules.check_response(&view), Ok(()));
    let view = ResponseView { data: None, complete: false, status: 204, headers: Some(&headers) };
    assert_eq!(index(rules.check_response(&view)), Some(0));
}

#[test]
fn claims_are_read_as_go_decodes_them() {
    let rules = endpoint_rules(&[
        "has(JWT.userId) && JWT.type in ['ACCESS', 'API']",
        "type(JWT.iat) == double && JWT.iat > 1.0",
        "size(JWT.roles) > 1",
    ]);
    let claims = json!({"userId": "u1", "type": "API", "iat": 1700000000, "roles": ["a", "b"]});
    assert_eq!(rules.check_claims(claims.as_object().unwrap()), Ok(()));
    let claims = json!({"userId": "u1", "type": "REFRESH", "iat": 1700000000, "roles": ["a", "b"]});
    assert_eq!(index(rules.check_claims(claims.as_object().unwrap())), Some(0));
    let claims = json!({"userId": "u1", "type": "API", "iat": 1700000000});
    assert_eq!(index(rules.check_claims(claims.as_object().unwrap())), Some(2), "a missing claim refuses");
}

#[test]
fn now_is_a_string_in_gos_layout() {
    assert_eq!(now_string(Duration::from_secs(0)), "1970-01-01T00:00:00Z");
    assert_eq!(now_string(Duration::from_millis(1_765_118_700_120)), "2025-12-07T14:45:00.12Z");
    assert_eq!(now_string(Duration::from_millis(951_782_400_005)), "2000-02-29T00:00:00.005Z");
    let rules = endpoint_rules(&["now > '2020' && req_method == 'GET'"]);
    assert_eq!(Req::new("1").check(&rules), Ok(()));
}

#[test]
fn maps_read_by_literal_keys_only_convert_those_keys_and_keep_their_meaning() {
    let only = endpoint_rules(&["JWT.sub == 'u1' && !has(JWT.missing) && JWT['type'] == 'API'"]);
    assert_eq!(only.token.fields_of(Vars::JWT), &Fields::Only(vec!["sub".into(), "missing".into(), "type".into()]));
    let whole = endpoint_rules(&["size(JWT) == 3 && 'sub' in JWT", "JWT.roles.exists(r, r == 'b')"]);
    assert_eq!(whole.token.fields_of(Vars::JWT), &Fields::All);
    let claims = json!({"sub": "u1", "type": "API", "roles": ["a", "b"]});
    assert_eq!(only.check_claims(claims.as_object().unwrap()), Ok(()));
    assert_eq!(whole.check_claims(claims.as_object().unwrap()), Ok(()));
    // A macro variable named like a map variable is not that variable.
    let shadowed = endpoint_rules(&["[{'a': 1}].all(JWT, JWT.a == 1) && JWT.sub == 'u1'"]);
    assert_eq!(shadowed.token.fields_of(Vars::JWT), &Fields::Only(vec!["sub".into()]));
    assert_eq!(shadowed.check_claims(claims.as_object().unwrap()), Ok(()));
    let headers = endpoint_rules(&["size(req_headers) == 3 && req_headers['x-user'] == ['ana']"]);
    assert_eq!(Req::new("1").check(&headers), Ok(()));
}

#[test]
fn check_reports_every_bad_expression_of_endpoints_and_backends_by_path() {
    let config = json!({
        "version": 3,
        "extra_config": {"validation/cel": [{"check_expr": "req_method == 'GET'"}]},
        "endpoints": [
            {"endpoint": "/a", "extra_config": {"validation/cel": [{"check_expr": "req_method =="}]},
             "backend": [{"host": ["http://backend:8080"], "url_pattern": "/a"}]},
            {"endpoint": "/b/{id}", "backend": [
                {"host": ["http://backend:8080"], "url_pattern": "/b"},
                {"host": ["http://backend:8080"], "url_pattern": "/c",
                 "extra_config": {"validation/cel": [{"check_expr": "req_params.Id == '1'"}, {"check_expr": "resp_dat.x == 1"}]}}]}
        ]
    });
    let err = crate::Gateway::from_json(&config.to_string()).expect_err("bad expressions refuse the config");
    let paths: Vec<&str> = err.errors.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "endpoints[0].extra_config.validation/cel[0].check_expr",
            "endpoints[1].backend[1].extra_config.validation/cel[1].check_expr"
        ]
    );
    assert_eq!(err.errors[1].endpoint.as_deref(), Some("GET /b/{id}"));
}

#[test]
fn a_service_level_list_is_a_warning_and_endpoints_without_cel_carry_none() {
    let config = json!({
        "version": 3,
        "extra_config": {"validation/cel": [{"check_expr": "req_method == 'GET'"}]},
        "endpoints": [{"endpoint": "/a", "backend": [{"host": ["http://backend:8080"], "url_pattern": "/a"}]}]
    });
    let text = config.to_string();
    let gateway = crate::Gateway::from_json(&text).expect("compiles");
    assert!(gateway.warnings().iter().any(|w| w.path == "extra_config.validation/cel"), "{:?}", gateway.warnings());
    let parsed = crate::config::parse_and_validate(&text).expect("valid");
    let compiled = crate::gateway::compile::compile(&parsed).expect("compiles");
    assert!(compiled.endpoints[0].cel.is_none());
    assert!(compiled.endpoints[0].backends[0].cel.is_none());
}
