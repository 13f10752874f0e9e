//! Lambda event conversion: arbitrary function URL / HTTP API (v2), REST API (v1) and ALB events
//! read by `lambda_http::request::from_str`, then `into_core`. The request the core gets has the
//! event's method, its raw path (less an HTTP API's named stage), its query and its body (base64
//! decoded when flagged). Arbitrary text as an event must not panic either.
//!
//! lambda_http itself panics (`Url::parse(..).unwrap()`, `.expect("failed to build request")`)
//! on a `Host` header or path that makes no URL, and on a query `http::Uri` refuses; those events
//! are skipped here (a dependency's behaviour, reported apart), with the same checks it makes.

use arbitrary::{Arbitrary, Unstructured};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use tributary_functions::lambda::into_core;

const PATHS: &[&str] =
    &["/", "/users/1", "/prod/users", "/prod", "/a%20b", "/ü", "/a/../b", "//x", "/users/{id}", "/%2F"];
const METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];

#[derive(Debug, Arbitrary)]
enum Kind {
    V2,
    V1,
    Alb,
}

#[derive(Debug)]
pub struct Event {
    kind: Kind,
    method: String,
    path: String,
    stage: Option<String>,
    query: Vec<(String, String)>,
    raw_query: String,
    host: Option<String>,
    body: Option<Vec<u8>>,
    base64: bool,
    text: Option<String>,
}

fn text(u: &mut Unstructured<'_>, palette: &[&str]) -> arbitrary::Result<String> {
    Ok(if u.ratio(1, 4)? { u.arbitrary()? } else { (*u.choose(palette)?).to_owned() })
}

impl<'a> Arbitrary<'a> for Event {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(Event {
            kind: u.arbitrary()?,
            method: text(u, METHODS)?,
            path: text(u, PATHS)?,
            stage: match u.int_in_range(0..=3)? {
                0 => None,
                1 => Some("$default".to_owned()),
                2 => Some("prod".to_owned()),
                _ => Some(u.arbitrary()?),
            },
            query: (0..u.int_in_range(0..=2)?)
                .map(|_| Ok((text(u, &["a", "q", "a b"])?, text(u, &["1", "", "x&y", "ü"])?)))
                .collect::<arbitrary::Result<_>>()?,
            raw_query: text(u, &["", "a=1", "a=1&a=2", "q=%20x", "x"])?,
            host: if u.arbitrary()? {
                Some(text(u, &["example.com", "127.0.0.1:9", "a.lambda-url.eu-west-1.on.aws"])?)
            } else {
                None
            },
            body: if u.arbitrary()? { Some(u.arbitrary()?) } else { None },
            base64: u.arbitrary()?,
            text: if u.ratio(1, 16)? { Some(u.arbitrary()?) } else { None },
        })
    }
}

impl Event {
    /// The event JSON and the body the core must get.
    fn json(&self) -> (Value, Vec<u8>) {
        let (body, want) = match &self.body {
            None => (Value::Null, Vec::new()),
            Some(b) if self.base64 => (Value::String(STANDARD.encode(b)), b.clone()),
            Some(b) => {
                let s = String::from_utf8_lossy(b).into_owned();
                (Value::String(s.clone()), s.into_bytes())
            }
        };
        let mut headers = json!({"user-agent": "fuzz"});
        if let Some(h) = &self.host {
            headers["host"] = json!(h);
        }
        let params: serde_json::Map<String, Value> = self.query.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        let event = match self.kind {
            Kind::V2 => json!({
                "version": "2.0", "routeKey": "$default", "rawPath": self.path, "rawQueryString": self.raw_query,
                "headers": headers, "isBase64Encoded": self.base64, "body": body,
                "requestContext": {
                    "accountId": "1", "apiId": "x", "domainName": "x.example", "requestId": "r", "stage": self.stage,
                    "time": "07/Dec/2026:08:00:00 +0000", "timeEpoch": 0,
                    "http": {"method": self.method, "path": self.path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "fuzz"}
                }
            }),
            Kind::V1 => json!({
                "resource": "/{proxy+}", "path": self.path, "httpMethod": self.method, "headers": headers,
                "multiValueHeaders": {}, "queryStringParameters": params, "multiValueQueryStringParameters": {},
                "isBase64Encoded": self.base64, "body": body,
                "requestContext": {"accountId": "1", "resourceId": "r", "stage": self.stage, "requestId": "r",
                    "identity": {"sourceIp": "127.0.0.1"}, "resourcePath": "/{proxy+}", "httpMethod": self.method, "apiId": "x"}
            }),
            Kind::Alb => json!({
                "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/t/1"}},
                "httpMethod": self.method, "path": self.path, "queryStringParameters": params, "headers": headers,
                "isBase64Encoded": self.base64, "body": body
            }),
        };
        (event, want)
    }

    /// What AWS never sends: a stage name outside `[A-Za-z0-9_-]` (or `$default`), a path
    /// holding `?` or `#`, a query holding `#` (a request target has no fragment), a `Host` that
    /// is not a host name or address with a port to a function URL or API Gateway (they set it
    /// themselves). lambda_http pastes host, stage, path and query into a URI, where any of
    /// these would move part of one into another.
    fn impossible(&self) -> bool {
        let stage_ok = self
            .stage
            .as_deref()
            .is_none_or(|s| s == "$default" || s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
        // An ALB passes the client's `Host` on; `into_core` reads those queries from the event.
        let host_ok = matches!(self.kind, Kind::Alb)
            || self
                .host
                .as_deref()
                .is_none_or(|h| h.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b)));
        !stage_ok || !host_ok || self.path.contains(['?', '#']) || self.raw_query.contains('#')
    }

    /// What lambda_http 1.3 would panic on (see the file's notes).
    fn lambda_http_panics(&self) -> bool {
        let path = match (&self.kind, self.stage.as_deref()) {
            (Kind::Alb, _) | (_, None | Some("$default")) => self.path.clone(),
            (_, Some(stage)) if self.path.starts_with(&format!("/{stage}/")) => self.path.clone(),
            (_, Some(stage)) => format!("/{stage}{}", self.path),
        };
        // lambda_http takes the `Host` only when it reads as visible ASCII (`to_str`).
        let host = match (
            self.host.as_ref().filter(|h| http::HeaderValue::from_str(h).is_ok_and(|v| v.to_str().is_ok())),
            &self.kind,
        ) {
            (Some(h), _) => Some(h.clone()),
            (None, Kind::V2) => Some("x.example".to_owned()),
            (None, _) => None,
        };
        let url = match &host {
            Some(h) => url::Url::parse(&format!("https://{h}{path}")).map(|u| u.to_string()),
            None => url::Url::parse(&format!("http://localhost{path}")).map(|u| u.path().to_owned()),
        };
        let Ok(mut uri) = url else { return true };
        if matches!(self.kind, Kind::V2) && !self.raw_query.is_empty() {
            uri.push('?');
            uri.push_str(&self.raw_query);
        }
        http::Uri::try_from(uri).is_err()
    }
}

pub fn check(event: Event) {
    if let Some(text) = &event.text
        && let Ok(req) = lambda_http::request::from_str(text)
    {
        let _ = into_core(req);
    }
    let Ok(method) = http::Method::from_bytes(event.method.as_bytes()) else { return };
    if event.impossible() || event.lambda_http_panics() || method.as_str() != event.method {
        return;
    }
    let (json, body) = event.json();
    let Ok(req) = lambda_http::request::from_str(&json.to_string()) else { return };
    let core = into_core(req);
    assert_eq!(core.method, method);
    assert_eq!(core.body.as_ref(), body.as_slice(), "body of {json}");
    let want_path = match (&event.kind, event.stage.as_deref()) {
        (Kind::V2, Some(stage)) if stage != "$default" && !stage.is_empty() => {
            match event.path.strip_prefix(&format!("/{stage}")) {
                Some("") => "/".to_owned(),
                Some(rest) if rest.starts_with('/') => rest.to_owned(),
                _ => event.path.clone(),
            }
        }
        _ => event.path.clone(),
    };
    if !event.path.is_empty() {
        assert_eq!(core.path, want_path, "path of {json}");
    }
    if matches!(event.kind, Kind::V2) {
        assert_eq!(core.query, event.raw_query, "query of {json}");
    } else if matches!(event.kind, Kind::V1)
        || event.query.iter().all(|(k, v)| !k.contains(['%', '+', '&', '=']) && !v.contains(['%', '+', '&', '=']))
    {
        // The parameters, in any order (lambda_http keeps them in a hash map). An ALB passes
        // them on as the client encoded them, and lambda_http decodes them: only plain ones
        // are compared.
        let mut got: Vec<(String, String)> = url::form_urlencoded::parse(core.query.as_bytes()).into_owned().collect();
        let mut want: Vec<(String, String)> =
            event.query.iter().cloned().collect::<std::collections::BTreeMap<_, _>>().into_iter().collect();
        got.sort();
        want.sort();
        assert_eq!(got, want, "query of {json}");
    }
}
