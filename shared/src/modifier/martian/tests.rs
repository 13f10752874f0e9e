//! Each modifier and filter on a backend request and response, as martian runs them.

use super::*;
use crate::config::martian::MartianConfig;

fn martian(json: &str) -> Martian {
    let c = MartianConfig::parse(&serde_json::from_str(json).unwrap());
    assert!(c.errors.is_empty(), "{:?}", c.errors);
    Martian::compile(c.root.as_ref().unwrap())
}

fn request(url: &str, headers: &[(&str, &str)]) -> Outgoing {
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        map.append(HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
    }
    Outgoing { url: url.to_owned(), headers: map, body: None }
}

fn response() -> RawResponse {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CONTENT_ENCODING, HeaderValue::from_static("identity"));
    RawResponse { status: StatusCode::NOT_FOUND, headers, body: Bytes::from_static(b"{}") }
}

fn get<'a>(h: &'a HeaderMap, name: &str) -> Vec<&'a str> {
    h.get_all(name).iter().map(|v| v.to_str().unwrap()).collect()
}

#[test]
fn a_fifo_group_of_header_modifiers_sets_appends_and_removes_in_order() {
    let m = martian(
        r#"{"fifo.Group": {"scope": ["request", "response"], "aggregateErrors": true, "modifiers": [
            {"header.Modifier": {"name": "x-set", "value": "new"}},
            {"header.Append": {"name": "X-Platform", "value": "b"}},
            {"header.Blacklist": {"names": ["X-Forwarded-Host"], "scope": ["request"]}},
            {"header.Copy": {"from": "X-Set", "to": "X-Copy"}},
            {"header.Copy": {"from": "X-Absent", "to": "X-Empty"}}]}}"#,
    );
    let mut req = request(
        "http://h:8080/a",
        &[("X-Set", "old"), ("X-Set", "older"), ("X-Platform", "a"), ("X-Forwarded-Host", "gw")],
    );
    m.modify_request(&mut req).unwrap();
    assert_eq!(get(&req.headers, "x-set"), ["new"]);
    assert_eq!(get(&req.headers, "x-platform"), ["a", "b"]);
    assert!(req.headers.get("x-forwarded-host").is_none());
    assert_eq!(get(&req.headers, "x-copy"), ["new"]);
    assert_eq!(get(&req.headers, "x-empty"), [""]);
    let mut res = response();
    m.modify_response(&req.url, &req.headers, &mut res).unwrap();
    assert_eq!(get(&res.headers, "x-set"), ["new"]);
    assert_eq!(get(&res.headers, "x-platform"), ["b"]);
}

#[test]
fn a_priority_group_runs_the_highest_first_and_the_later_of_equals_first() {
    let m = martian(
        r#"{"priority.Group": {"modifiers": [
            {"priority": 0, "modifier": {"header.Append": {"name": "X-Order", "value": "low"}}},
            {"priority": 5, "modifier": {"header.Append": {"name": "X-Order", "value": "first-five"}}},
            {"priority": 5, "modifier": {"header.Append": {"name": "X-Order", "value": "second-five"}}},
            {"priority": 9, "modifier": {"header.Append": {"name": "X-Order", "value": "high"}}}]}}"#,
    );
    let mut req = request("http://h/a", &[]);
    m.modify_request(&mut req).unwrap();
    assert_eq!(get(&req.headers, "x-order"), ["high", "second-five", "first-five", "low"]);
}

#[test]
fn errors_stop_a_group_unless_it_aggregates_them() {
    let group = |aggregate: bool| {
        martian(&format!(
            r#"{{"fifo.Group": {{"aggregateErrors": {aggregate}, "modifiers": [
                {{"header.Append": {{"name": "Host", "value": "other"}}}},
                {{"header.Modifier": {{"name": "Content-Length", "value": "ten"}}}},
                {{"header.Modifier": {{"name": "X-After", "value": "1"}}}}]}}}}"#
        ))
    };
    let mut req = request("http://h/a", &[]);
    let err = group(false).modify_request(&mut req).unwrap_err();
    assert_eq!(err.0, "proxyutil: illegal header multiple: Host");
    assert!(req.headers.get("x-after").is_none(), "the group stopped");
    let mut req = request("http://h/a", &[]);
    let err = group(true).modify_request(&mut req).unwrap_err();
    assert_eq!(err.0, "proxyutil: illegal header multiple: Host\nstrconv.ParseInt: parsing \"ten\": invalid syntax");
    assert_eq!(get(&req.headers, "x-after"), ["1"], "the rest ran");
}

#[test]
fn header_filters_run_their_modifier_or_else() {
    let m = martian(
        r#"{"header.Filter": {"name": "X-Tenant", "value": "a",
            "modifier": {"header.Modifier": {"name": "X-Tier", "value": "gold"}},
            "else": {"header.Modifier": {"name": "X-Tier", "value": "free"}}}}"#,
    );
    let mut req = request("http://h/a", &[("X-Tenant", "b"), ("X-Tenant", "a")]);
    m.modify_request(&mut req).unwrap();
    assert_eq!(get(&req.headers, "x-tier"), ["gold"]);
    let mut req = request("http://h/a", &[("X-Tenant", "A")]);
    m.modify_request(&mut req).unwrap();
    assert_eq!(get(&req.headers, "x-tier"), ["free"], "values compare exactly");
    // On the response, the response's own headers are tested.
    let mut res = response();
    res.headers.insert("x-tenant", HeaderValue::from_static("a"));
    m.modify_response("http://h/a", &HeaderMap::new(), &mut res).unwrap();
    assert_eq!(get(&res.headers, "x-tier"), ["gold"]);
}

#[test]
fn a_regex_filter_tests_the_request_header_in_both_phases() {
    let m = martian(
        r#"{"header.RegexFilter": {"header": "X-Neptunian", "regex": "no!",
            "modifier": {"header.Modifier": {"name": "X-Martian-New", "value": "some value"}}}}"#,
    );
    let mut req = request("http://h/a", &[("X-Neptunian", "oh no!!")]);
    m.modify_request(&mut req).unwrap();
    assert_eq!(get(&req.headers, "x-martian-new"), ["some value"]);
    assert!(m.keeps_request_headers());
    let mut res = response();
    m.modify_response(&req.url, &req.headers, &mut res).unwrap();
    assert_eq!(get(&res.headers, "x-martian-new"), ["some value"]);
    let mut req = request("http://h/a", &[("X-Neptunian", "yes")]);
    m.modify_request(&mut req).unwrap();
    assert!(req.headers.get("x-martian-new").is_none());
}

#[test]
fn query_filters_and_the_query_modifier_read_and_rewrite_the_url() {
    let m = martian(
        r#"{"fifo.Group": {"modifiers": [
            {"querystring.Filter": {"name": "debug", "value": "1",
                "modifier": {"header.Modifier": {"name": "X-Debug", "value": "on"}},
                "else": {"header.Modifier": {"name": "X-Debug", "value": "off"}}}},
            {"querystring.Modifier": {"name": "api_key", "value": "s3cr3t value"}}]}}"#,
    );
    let mut req = request("http://h:9/a?z=2&debug=1&a=x%2Fy", &[]);
    m.modify_request(&mut req).unwrap();
    assert_eq!(get(&req.headers, "x-debug"), ["on"]);
    assert_eq!(req.url, "http://h:9/a?a=x%2Fy&api_key=s3cr3t+value&debug=1&z=2");
    let mut req = request("http://h:9/a", &[]);
    m.modify_request(&mut req).unwrap();
    assert_eq!(get(&req.headers, "x-debug"), ["off"]);
    assert_eq!(req.url, "http://h:9/a?api_key=s3cr3t+value");
}

#[test]
fn url_and_port_filters_and_modifiers_rewrite_the_backend_url() {
    let m = martian(
        r#"{"fifo.Group": {"modifiers": [
            {"url.Filter": {"host": "*.example.com", "path": "/a b",
                "modifier": {"url.Modifier": {"path": "/v2/x y", "query": "q=1"}}}},
            {"port.Filter": {"port": 443, "modifier": {"port.Modifier": {"port": 8443}}}}]}}"#,
    );
    let mut req = request("https://api.example.com/a%20b?old=1", &[]);
    m.modify_request(&mut req).unwrap();
    assert_eq!(req.url, "https://api.example.com:8443/v2/x%20y?q=1");
    let mut req = request("https://other.org/a%20b", &[]);
    m.modify_request(&mut req).unwrap();
    assert_eq!(req.url, "https://other.org:8443/a%20b");
    let remove = martian(r#"{"port.Modifier": {"remove": true}}"#);
    let mut req = request("http://h:8080/p?x", &[]);
    remove.modify_request(&mut req).unwrap();
    assert_eq!(req.url, "http://h/p?x");
    let default = martian(r#"{"port.Modifier": {"defaultForScheme": true}}"#);
    default.modify_request(&mut req).unwrap();
    assert_eq!(req.url, "http://h:80/p?x");
}

#[test]
fn a_port_filter_on_a_host_without_port_and_another_port_fails_as_go_does() {
    let m = martian(r#"{"port.Filter": {"port": 8080, "modifier": {"header.Id": {}}}}"#);
    let mut req = request("http://backend/a", &[]);
    assert_eq!(m.modify_request(&mut req).unwrap_err().0, "address backend: missing port in address");
}

#[test]
fn the_body_modifier_replaces_request_and_response_bodies() {
    let m = martian(r#"{"body.Modifier": {"contentType": "text/xml; charset=utf-8", "body": "PGEvPg=="}}"#);
    let mut req = request("http://h/a", &[("Content-Encoding", "gzip")]);
    m.modify_request(&mut req).unwrap();
    assert_eq!(req.body.as_deref(), Some(&b"<a/>"[..]));
    assert_eq!(get(&req.headers, "content-type"), ["text/xml; charset=utf-8"]);
    assert!(req.headers.get("content-encoding").is_none());
    let mut res = response();
    m.modify_response(&req.url, &HeaderMap::new(), &mut res).unwrap();
    assert_eq!(&res.body[..], b"<a/>");
    assert!(res.headers.get("content-encoding").is_none());
}

#[test]
fn the_cookie_modifier_adds_a_cookie_and_a_set_cookie() {
    let m = martian(
        r#"{"cookie.Modifier": {"name": "n", "value": "v w", "path": "/", "domain": ".example.com",
            "expires": "2026-01-02T15:04:05Z", "secure": true, "httpOnly": true, "maxAge": 3600}}"#,
    );
    let mut req = request("http://h/a", &[("Cookie", "a=1")]);
    m.modify_request(&mut req).unwrap();
    assert_eq!(get(&req.headers, "cookie"), ["a=1; n=\"v w\""]);
    let mut res = response();
    m.modify_response(&req.url, &HeaderMap::new(), &mut res).unwrap();
    assert_eq!(
        get(&res.headers, "set-cookie"),
        [
            "n=\"v w\"; Path=/; Domain=example.com; Expires=Fri, 02 Jan 2026 15:04:05 GMT; Max-Age=3600; HttpOnly; Secure"
        ]
    );
    let filter = martian(
        r#"{"cookie.Filter": {"name": "n", "modifier": {"header.Modifier": {"name": "X-Has", "value": "1"}}}}"#,
    );
    let mut req = request("http://h/a", &[("Cookie", "a=1; n=2")]);
    filter.modify_request(&mut req).unwrap();
    assert_eq!(get(&req.headers, "x-has"), ["1"]);
}

#[test]
fn stash_status_and_id_modifiers() {
    let m = martian(
        r#"{"fifo.Group": {"modifiers": [
            {"stash.Modifier": {"headerName": "X-Stash"}},
            {"status.Modifier": {"statusCode": 200}},
            {"header.Id": {"header": "X-Request-Id"}}]}}"#,
    );
    let mut req = request("http://h:1/a?b=c", &[]);
    m.modify_request(&mut req).unwrap();
    assert_eq!(get(&req.headers, "x-stash"), ["http://h:1/a?b=c"]);
    let id = get(&req.headers, "x-request-id")[0].to_owned();
    assert_eq!(id.len(), 36);
    assert_eq!(&id[14..15], "4", "UUID version 4: {id}");
    let mut again = request("http://h/a", &[("X-Request-Id", "kept")]);
    m.modify_request(&mut again).unwrap();
    assert_eq!(get(&again.headers, "x-request-id"), ["kept"]);
    let mut res = response();
    m.modify_response(&req.url, &req.headers, &mut res).unwrap();
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(get(&res.headers, "x-stash"), ["http://h:1/a?b=c"]);
}

#[test]
fn a_scope_limits_the_phase_a_modifier_runs_in() {
    let m = martian(
        r#"{"fifo.Group": {"scope": ["request"], "modifiers": [
            {"header.Modifier": {"name": "X-Both", "value": "1"}}]}}"#,
    );
    assert!(!m.modifies_responses());
    let only_response = martian(r#"{"header.Modifier": {"name": "X-R", "value": "1", "scope": ["response"]}}"#);
    let mut req = request("http://h/a", &[]);
    only_response.modify_request(&mut req).unwrap();
    assert!(req.headers.get("x-r").is_none());
    let mut res = response();
    only_response.modify_response(&req.url, &req.headers, &mut res).unwrap();
    assert_eq!(get(&res.headers, "x-r"), ["1"]);
}

#[test]
fn http_dates_are_formatted_as_go_formats_them() {
    assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
    assert_eq!(http_date(1_767_366_245), "Fri, 02 Jan 2026 15:04:05 GMT");
    assert_eq!(http_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
}
