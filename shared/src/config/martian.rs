//! The `modifier/martian` namespace as the user wrote it (KrakenD CE's krakend-martian over
//! google/martian's modifiers): the recursive modifier JSON parsed into a typed tree, each
//! problem naming its JSON path inside the namespace.
//!
//! Keys are read as Go's `encoding/json` reads them into martian's structs: names match
//! case-insensitively (an exact match first), a `null` is the zero value, a wrong type is an
//! error, and an unknown key is ignored (reported here as a warning).

use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// The names `modifier/martian` goes by: the v3 name, then krakend-martian's original namespace.
pub const MARTIAN_NAMES: &[&str] = &["modifier/martian", "github.com/devopsfaith/krakend-martian"];

/// Largest compiled regular expression of a filter (`regex-lite`'s size limit): a pattern
/// that needs more is a config error, never a slow match.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// The namespace's value: its modifier tree when it parsed cleanly, and every problem found,
/// each with its path relative to the namespace (such as `fifo.Group.modifiers[1].header.Modifier.name`).
#[derive(Debug)]
pub struct MartianConfig {
    /// `None` when there is an error.
    pub root: Option<Modifier>,
    pub errors: Vec<(String, String)>,
    pub warnings: Vec<(String, String)>,
}

impl<'de> Deserialize<'de> for MartianConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Taken as raw text and parsed on its own: the config loader's path-tracking
        // deserializer would otherwise follow every key of the tree (the tree's own problems
        // carry their paths).
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        let value: Value = serde_json::from_str(raw.get()).map_err(serde::de::Error::custom)?;
        Ok(MartianConfig::parse(&value))
    }
}

impl MartianConfig {
    /// Parses one modifier object (`{"fifo.Group": {...}}`).
    pub fn parse(value: &Value) -> MartianConfig {
        let mut p = Parser::default();
        let root = p.modifier(value, "");
        MartianConfig { root: root.filter(|_| p.errors.is_empty()), errors: p.errors, warnings: p.warnings }
    }
}

/// Whether a modifier runs on the backend request, on its response, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Phases {
    pub request: bool,
    pub response: bool,
}

impl Phases {
    pub const BOTH: Phases = Phases { request: true, response: true };
    pub const REQUEST: Phases = Phases { request: true, response: false };
    pub const RESPONSE: Phases = Phases { request: false, response: true };
}

/// One modifier or filter, with the phases its `scope` installs it in.
#[derive(Debug, Clone)]
pub struct Modifier {
    pub phases: Phases,
    pub kind: Kind,
}

/// `port.Modifier`'s one change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortChange {
    To(u16),
    DefaultForScheme,
    Remove,
}

/// `cookie.Modifier`'s cookie.
#[derive(Debug, Clone, Default)]
pub struct Cookie {
    pub name: String,
    pub value: String,
    pub path: String,
    pub domain: String,
    /// Seconds since the Unix epoch, from the RFC 3339 `expires`.
    pub expires: Option<i64>,
    pub secure: bool,
    pub http_only: bool,
    pub max_age: i64,
}

/// What a modifier does; filters hold their `modifier` (`then`) and `else` (`otherwise`).
#[derive(Debug, Clone)]
pub enum Kind {
    /// `fifo.Group`: children in list order.
    Fifo { aggregate_errors: bool, modifiers: Vec<Modifier> },
    /// `priority.Group`: children with their priority, as listed.
    Priority { modifiers: Vec<(i64, Modifier)> },
    /// `header.Modifier`: sets a header (replacing its values).
    HeaderSet { name: String, value: String },
    /// `header.Append`: adds one more value.
    HeaderAppend { name: String, value: String },
    /// `header.Blacklist`: removes headers.
    HeaderBlacklist { names: Vec<String> },
    /// `header.Copy`: the first value of `from` into `to` (empty when `from` is absent).
    HeaderCopy { from: String, to: String },
    /// `header.Id` (KrakenD's): a UUID v4 in `header` unless the request has one.
    HeaderId { header: String },
    /// `header.Filter`: the header has the value exactly.
    HeaderFilter { name: String, value: String, then: Box<Modifier>, otherwise: Option<Box<Modifier>> },
    /// `header.RegexFilter`: the request header's first value matches (no `else`).
    HeaderRegexFilter { header: String, regex: regex_lite::Regex, then: Box<Modifier> },
    /// `querystring.Filter`: the request URL has the parameter (with the value, when given).
    QueryFilter { name: String, value: String, then: Box<Modifier>, otherwise: Option<Box<Modifier>> },
    /// `querystring.Modifier`: sets a query parameter (the query re-encoded, keys sorted).
    QueryModifier { name: String, value: String },
    /// `url.Filter`: every non-empty part matches the request URL.
    UrlFilter {
        scheme: String,
        host: String,
        path: String,
        query: String,
        then: Box<Modifier>,
        otherwise: Option<Box<Modifier>>,
    },
    /// `url.RegexFilter`: the whole request URL matches.
    UrlRegexFilter { regex: regex_lite::Regex, then: Box<Modifier>, otherwise: Option<Box<Modifier>> },
    /// `url.Modifier`: each non-empty part replaces that part of the URL.
    UrlModifier { scheme: String, host: String, path: String, query: String },
    /// `port.Filter`: the URL's port (or its scheme's default) is `port` (no `else`).
    PortFilter { port: i64, then: Box<Modifier> },
    /// `port.Modifier`.
    PortModifier(PortChange),
    /// `body.Modifier`: the body (decoded from base64) and its `Content-Type`.
    Body { content_type: String, body: Vec<u8> },
    /// `cookie.Modifier`: a request cookie, or a response `Set-Cookie`.
    CookieModifier(Cookie),
    /// `cookie.Filter`: a request cookie / response `Set-Cookie` with that name (and value).
    CookieFilter { name: String, value: String, then: Box<Modifier>, otherwise: Option<Box<Modifier>> },
    /// `stash.Modifier`: the backend URL in a request header, copied onto the response.
    Stash { header: String },
    /// `status.Modifier`: the backend's status replaced before its status check.
    Status { code: u16 },
    /// `header.Verifier`, `querystring.Verifier`, `url.Verifier`, `status.Verifier`: they only
    /// record in martian, and KrakenD never reads the record.
    Verifier,
}

/// What martian's packages register that KrakenD CE does not link (an unknown modifier there).
const NOT_IN_CE: &[&str] = &[
    "header.Forwarded",
    "header.Via",
    "header.HopByHop",
    "method.Modifier",
    "method.Filter",
    "skip.RoundTrip",
    "servemux.Filter",
    "log.Logger",
    "har.Logger",
    "martianlog.Logger",
];

#[derive(Default)]
struct Parser {
    errors: Vec<(String, String)>,
    warnings: Vec<(String, String)>,
}

fn join(at: &str, key: &str) -> String {
    if at.is_empty() { key.to_owned() } else { format!("{at}.{key}") }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

impl Parser {
    fn error(&mut self, at: &str, message: impl Into<String>) {
        self.errors.push((at.to_owned(), message.into()));
    }

    /// One `{"name": {...}}` object.
    fn modifier(&mut self, value: &Value, at: &str) -> Option<Modifier> {
        let Value::Object(map) = value else {
            self.error(
                at,
                format!(
                    "expected an object naming one modifier (such as `{{\"header.Modifier\": {{...}}}}`), found {}",
                    type_name(value)
                ),
            );
            return None;
        };
        if map.len() != 1 {
            let keys: Vec<String> = map.keys().map(|k| format!("`{k}`")).collect();
            self.error(
                at,
                format!(
                    "expected one modifier, received {}{}{}",
                    map.len(),
                    if keys.is_empty() { "" } else { ": " },
                    keys.join(", ")
                ),
            );
            return None;
        }
        let (name, body) = map.iter().next()?;
        let at = join(at, name);
        let empty = Map::new();
        let fields = match body {
            Value::Object(m) => m,
            // Go unmarshals `null` into a struct as its zero value.
            Value::Null => &empty,
            other => {
                self.error(&at, format!("expected an object, found {}", type_name(other)));
                return None;
            }
        };
        let mut f = Fields { map: fields, at: &at, used: Vec::new() };
        let parsed = self.kind(name, &mut f);
        // A modifier that failed may have left keys unread: they are not reported as unknown.
        if parsed.is_some() {
            f.finish(self);
        }
        parsed
    }

    fn kind(&mut self, name: &str, f: &mut Fields<'_>) -> Option<Modifier> {
        use Kind as K;
        let (implements, kind) = match name {
            "fifo.Group" => {
                let aggregate_errors = f.bool(self, "aggregateErrors");
                let mut modifiers = Vec::new();
                for (i, item) in f.list(self, "modifiers").into_iter().enumerate() {
                    let at = format!("{}.modifiers[{i}]", f.at);
                    modifiers.extend(self.modifier(item, &at));
                }
                (Phases::BOTH, K::Fifo { aggregate_errors, modifiers })
            }
            "priority.Group" => {
                let mut modifiers = Vec::new();
                for (i, item) in f.list(self, "modifiers").into_iter().enumerate() {
                    let at = format!("{}.modifiers[{i}]", f.at);
                    let Value::Object(entry) = item else {
                        self.error(
                            &at,
                            format!("expected an object with `priority` and `modifier`, found {}", type_name(item)),
                        );
                        continue;
                    };
                    let mut e = Fields { map: entry, at: &at, used: Vec::new() };
                    let priority = e.int(self, "priority", i64::MIN, i64::MAX).unwrap_or(0);
                    let child = e.required_modifier(self, "modifier");
                    e.finish(self);
                    modifiers.extend(child.map(|m| (priority, m)));
                }
                (Phases::BOTH, K::Priority { modifiers })
            }
            "header.Modifier" | "header.Append" => {
                let name_ = f.header_name(self, "name", true);
                let value = f.header_value(self, "value");
                let kind = if name == "header.Modifier" {
                    K::HeaderSet { name: name_, value }
                } else {
                    K::HeaderAppend { name: name_, value }
                };
                (Phases::BOTH, kind)
            }
            "header.Blacklist" => {
                let mut names = Vec::new();
                for (i, item) in f.list(self, "names").into_iter().enumerate() {
                    match item {
                        Value::String(s) if http::HeaderName::from_bytes(s.as_bytes()).is_ok() => names.push(s.clone()),
                        Value::String(s) => {
                            self.error(&format!("{}.names[{i}]", f.at), format!("`{s}` is not a header name"))
                        }
                        other => self.error(
                            &format!("{}.names[{i}]", f.at),
                            format!("expected a string, found {}", type_name(other)),
                        ),
                    }
                }
                (Phases::BOTH, K::HeaderBlacklist { names })
            }
            "header.Copy" => {
                let from = f.header_name(self, "from", true);
                let to = f.header_name(self, "to", true);
                (Phases::BOTH, K::HeaderCopy { from, to })
            }
            "header.Id" => {
                let header = f.header_name(self, "header", false);
                let header = if header.is_empty() { "X-Krakend-Id".to_owned() } else { header };
                (Phases::REQUEST, K::HeaderId { header })
            }
            "header.Filter" => {
                let name = f.header_name(self, "name", true);
                let value = f.string(self, "value");
                let then = Box::new(f.required_modifier(self, "modifier")?);
                let otherwise = f.optional_modifier(self, "else").map(Box::new);
                (Phases::BOTH, K::HeaderFilter { name, value, then, otherwise })
            }
            "header.RegexFilter" => {
                let header = f.header_name(self, "header", true);
                let regex = f.regex(self, "regex");
                let then = Box::new(f.required_modifier(self, "modifier")?);
                (Phases::BOTH, K::HeaderRegexFilter { header, regex: regex?, then })
            }
            "querystring.Filter" => {
                let name = f.required_string(self, "name");
                let value = f.string(self, "value");
                let then = Box::new(f.required_modifier(self, "modifier")?);
                let otherwise = f.optional_modifier(self, "else").map(Box::new);
                (Phases::BOTH, K::QueryFilter { name, value, then, otherwise })
            }
            "querystring.Modifier" => {
                let name = f.required_string(self, "name");
                let value = f.string(self, "value");
                (Phases::REQUEST, K::QueryModifier { name, value })
            }
            "url.Filter" => {
                let scheme = f.string(self, "scheme");
                let host = f.string(self, "host");
                let path = f.string(self, "path");
                let query = f.string(self, "query");
                let then = Box::new(f.required_modifier(self, "modifier")?);
                let otherwise = f.optional_modifier(self, "else").map(Box::new);
                (Phases::BOTH, K::UrlFilter { scheme, host, path, query, then, otherwise })
            }
            "url.RegexFilter" => {
                let regex = f.regex(self, "regex");
                let then = Box::new(f.required_modifier(self, "modifier")?);
                let otherwise = f.optional_modifier(self, "else").map(Box::new);
                (Phases::BOTH, K::UrlRegexFilter { regex: regex?, then, otherwise })
            }
            "url.Modifier" => {
                let scheme = f.string(self, "scheme");
                if !matches!(scheme.as_str(), "" | "http" | "https") {
                    self.error(
                        &join(f.at, "scheme"),
                        format!("`{scheme}` is not a scheme a backend is called with (`http` or `https`)"),
                    );
                }
                let host = f.string(self, "host");
                let path = f.string(self, "path");
                let query = f.string(self, "query");
                (Phases::REQUEST, K::UrlModifier { scheme, host, path, query })
            }
            "port.Filter" => {
                let port = f.int(self, "port", i64::MIN, i64::MAX).unwrap_or(0);
                let then = Box::new(f.required_modifier(self, "modifier")?);
                (Phases::BOTH, K::PortFilter { port, then })
            }
            "port.Modifier" => {
                let port = f.int(self, "port", 0, 65535).unwrap_or(0);
                let default = f.bool(self, "defaultForScheme");
                let remove = f.bool(self, "remove");
                let change = match (port != 0, default, remove) {
                    (true, false, false) => PortChange::To(port as u16),
                    (false, true, false) => PortChange::DefaultForScheme,
                    (false, false, true) => PortChange::Remove,
                    _ => {
                        self.error(f.at, "Must specify only one of port, defaultForScheme or remove");
                        return None;
                    }
                };
                (Phases::REQUEST, K::PortModifier(change))
            }
            "body.Modifier" => {
                let content_type = f.header_value(self, "contentType");
                let body = f.base64(self, "body");
                (Phases::BOTH, K::Body { content_type, body })
            }
            "cookie.Modifier" => {
                let cookie = Cookie {
                    name: f.cookie_name(self, "name"),
                    value: f.string(self, "value"),
                    path: f.string(self, "path"),
                    domain: f.string(self, "domain"),
                    expires: f.time(self, "expires"),
                    secure: f.bool(self, "secure"),
                    http_only: f.bool(self, "httpOnly"),
                    max_age: f.int(self, "maxAge", i64::MIN, i64::MAX).unwrap_or(0),
                };
                (Phases::BOTH, K::CookieModifier(cookie))
            }
            "cookie.Filter" => {
                let name = f.cookie_name(self, "name");
                let value = f.string(self, "value");
                let then = Box::new(f.required_modifier(self, "modifier")?);
                let otherwise = f.optional_modifier(self, "else").map(Box::new);
                (Phases::BOTH, K::CookieFilter { name, value, then, otherwise })
            }
            "stash.Modifier" => {
                let header = f.header_name(self, "headerName", true);
                (Phases::BOTH, K::Stash { header })
            }
            "status.Modifier" => {
                let code = f.int(self, "statusCode", 100, 999).unwrap_or(0);
                if code == 0 {
                    self.error(&join(f.at, "statusCode"), "missing: a status code (100 to 999)");
                }
                (Phases::RESPONSE, K::Status { code: code as u16 })
            }
            "header.Verifier" | "querystring.Verifier" | "url.Verifier" => {
                f.ignore_all();
                self.warnings.push((
                    f.at.to_owned(),
                    "a verifier only records in martian and KrakenD never reads the record: no effect".to_owned(),
                ));
                (Phases::REQUEST, K::Verifier)
            }
            "status.Verifier" => {
                f.ignore_all();
                self.warnings.push((
                    f.at.to_owned(),
                    "a verifier only records in martian and KrakenD never reads the record: no effect".to_owned(),
                ));
                (Phases::RESPONSE, K::Verifier)
            }
            "static.Modifier" => {
                f.ignore_all();
                self.error(f.at, "`static.Modifier` (files served from the gateway's disk instead of calling the backend) is not supported by Tributary");
                return None;
            }
            other => {
                f.ignore_all();
                let why = if NOT_IN_CE.contains(&other) {
                    format!("unknown modifier: {other} (martian has it, but KrakenD CE does not register it)")
                } else {
                    format!("unknown modifier: {other}")
                };
                self.error(f.at, why);
                return None;
            }
        };
        let phases = f.scope(self, implements, name);
        // A stash written only on responses has nothing to copy.
        if matches!(kind, K::Stash { .. }) && phases == Phases::RESPONSE {
            self.error(
                &join(f.at, "scope"),
                "to write header on a response, specify scope as both request and response",
            );
        }
        let sets_host = match &kind {
            K::HeaderSet { name, .. } | K::HeaderCopy { to: name, .. } => name.eq_ignore_ascii_case("host"),
            _ => false,
        };
        if sets_host && phases.request {
            self.warnings.push((
                f.at.to_owned(),
                "Tributary always sends the backend URL's host as `Host`: setting it on the request has no effect"
                    .to_owned(),
            ));
        }
        Some(Modifier { phases, kind })
    }
}

/// One modifier's keys, looked up as Go's `encoding/json` does; the keys read are remembered so
/// that the rest can be reported as ignored.
struct Fields<'a> {
    map: &'a Map<String, Value>,
    at: &'a str,
    used: Vec<&'a str>,
}

impl<'a> Fields<'a> {
    /// The value under `key` (exact, else case-insensitive), with its path; `null` reads as absent.
    fn get(&mut self, key: &str) -> Option<(String, &'a Value)> {
        let found = self.map.get_key_value(key).or_else(|| self.map.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)));
        let (k, v) = found?;
        self.used.push(k.as_str());
        (!v.is_null()).then(|| (join(self.at, k), v))
    }

    fn ignore_all(&mut self) {
        self.used.extend(self.map.keys().map(String::as_str));
    }

    fn finish(self, p: &mut Parser) {
        for key in self.map.keys() {
            if !self.used.contains(&key.as_str()) && !key.starts_with('@') {
                p.warnings.push((join(self.at, key), "unknown key, ignored (as martian does)".to_owned()));
            }
        }
    }

    fn string(&mut self, p: &mut Parser, key: &str) -> String {
        match self.get(key) {
            None => String::new(),
            Some((_, Value::String(s))) => s.clone(),
            Some((at, other)) => {
                p.error(&at, format!("expected a string, found {}", type_name(other)));
                String::new()
            }
        }
    }

    fn required_string(&mut self, p: &mut Parser, key: &str) -> String {
        let before = p.errors.len();
        let s = self.string(p, key);
        if s.is_empty() && p.errors.len() == before {
            p.error(&join(self.at, key), "missing: a non-empty string is required");
        }
        s
    }

    fn header_name(&mut self, p: &mut Parser, key: &str, required: bool) -> String {
        let at = join(self.at, key);
        let before = p.errors.len();
        let s = self.string(p, key);
        if s.is_empty() {
            if required && p.errors.len() == before {
                p.error(&at, "missing: a header name is required");
            }
        } else if http::HeaderName::from_bytes(s.as_bytes()).is_err() {
            p.error(&at, format!("`{s}` is not a header name"));
        }
        s
    }

    fn header_value(&mut self, p: &mut Parser, key: &str) -> String {
        let s = self.string(p, key);
        if http::HeaderValue::from_str(&s).is_err() {
            p.error(&join(self.at, key), "not a valid header value (control characters or line breaks)");
        }
        s
    }

    fn cookie_name(&mut self, p: &mut Parser, key: &str) -> String {
        let s = self.string(p, key);
        // An RFC 6265 cookie name is an HTTP token.
        if s.is_empty() || http::HeaderName::from_bytes(s.as_bytes()).is_err() {
            p.error(&join(self.at, key), format!("`{s}` is not a cookie name (a non-empty token)"));
        }
        s
    }

    fn bool(&mut self, p: &mut Parser, key: &str) -> bool {
        match self.get(key) {
            None => false,
            Some((_, Value::Bool(b))) => *b,
            Some((at, other)) => {
                p.error(&at, format!("expected a boolean, found {}", type_name(other)));
                false
            }
        }
    }

    /// An integer within `min..=max` (Go refuses a fraction or an overflow).
    fn int(&mut self, p: &mut Parser, key: &str, min: i64, max: i64) -> Option<i64> {
        let (at, v) = self.get(key)?;
        match v.as_i64() {
            Some(n) if (min..=max).contains(&n) => Some(n),
            Some(n) => {
                p.error(&at, format!("{n} is out of range ({min} to {max})"));
                None
            }
            None => {
                p.error(
                    &at,
                    format!(
                        "expected an integer, found {}",
                        if v.is_number() { "a fraction or a huge number" } else { type_name(v) }
                    ),
                );
                None
            }
        }
    }

    fn list(&mut self, p: &mut Parser, key: &str) -> Vec<&'a Value> {
        match self.get(key) {
            None => Vec::new(),
            Some((_, Value::Array(items))) => items.iter().collect(),
            Some((at, other)) => {
                p.error(&at, format!("expected a list, found {}", type_name(other)));
                Vec::new()
            }
        }
    }

    /// A filter's `modifier`: martian fails on an empty one (`unexpected end of JSON input`).
    fn required_modifier(&mut self, p: &mut Parser, key: &str) -> Option<Modifier> {
        match self.get(key) {
            Some((at, v)) => p.modifier(v, &at),
            None => {
                p.error(&join(self.at, key), "missing: a filter needs the modifier it runs");
                None
            }
        }
    }

    fn optional_modifier(&mut self, p: &mut Parser, key: &str) -> Option<Modifier> {
        let (at, v) = self.get(key)?;
        p.modifier(v, &at)
    }

    fn regex(&mut self, p: &mut Parser, key: &str) -> Option<regex_lite::Regex> {
        let at = join(self.at, key);
        let pattern = self.string(p, key);
        match regex_lite::RegexBuilder::new(&pattern).size_limit(REGEX_SIZE_LIMIT).build() {
            Ok(r) => Some(r),
            Err(e) => {
                p.error(&at, format!("`{pattern}` is not a regular expression: {e}"));
                None
            }
        }
    }

    /// Go's `[]byte` from JSON: standard base64 with padding; line breaks are skipped.
    fn base64(&mut self, p: &mut Parser, key: &str) -> Vec<u8> {
        use base64::Engine;
        let text = self.string(p, key);
        let clean: String = text.chars().filter(|c| *c != '\r' && *c != '\n').collect();
        match base64::engine::general_purpose::STANDARD.decode(clean.as_bytes()) {
            Ok(bytes) => bytes,
            Err(e) => {
                p.error(&join(self.at, key), format!("not standard base64 (with padding): {e}"));
                Vec::new()
            }
        }
    }

    /// Go's `time.Time` from JSON: RFC 3339.
    fn time(&mut self, p: &mut Parser, key: &str) -> Option<i64> {
        let at = join(self.at, key);
        let (_, v) = self.get(key)?;
        let Value::String(s) = v else {
            p.error(&at, format!("expected an RFC 3339 time string, found {}", type_name(v)));
            return None;
        };
        let t = parse_rfc3339(s);
        if t.is_none() {
            p.error(&at, format!("`{s}` is not an RFC 3339 time (such as `2026-01-02T15:04:05Z`)"));
        }
        t
    }

    /// `scope`: absent installs the modifier in every phase it implements; a phase it does not
    /// implement, or a word other than `request`/`response`, is an error.
    fn scope(&mut self, p: &mut Parser, implements: Phases, name: &str) -> Phases {
        let Some((at, v)) = self.get("scope") else { return implements };
        let Value::Array(items) = v else {
            p.error(&at, format!("expected a list of `request` and `response`, found {}", type_name(v)));
            return implements;
        };
        let mut phases = Phases { request: false, response: false };
        for (i, item) in items.iter().enumerate() {
            let item_at = format!("{at}[{i}]");
            match item.as_str() {
                Some("request") if implements.request => phases.request = true,
                Some("response") if implements.response => phases.response = true,
                Some(s @ ("request" | "response")) => {
                    p.error(&item_at, format!("invalid scope \"{s}\" for modifier {name}"))
                }
                Some(s) => p.error(&item_at, format!("invalid scope: {s} not in [\"request\", \"response\"]")),
                None => p.error(&item_at, format!("expected a string, found {}", type_name(item))),
            }
        }
        phases
    }
}

/// Seconds since the Unix epoch of an RFC 3339 time (`2026-01-02T15:04:05Z`, fractions and
/// offsets allowed). Hand-written: the core crate has no date crate, and this is the one place
/// that reads a calendar date.
fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        part.bytes().all(|c| c.is_ascii_digit()).then(|| part.parse().ok())?
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = &frac[digits..];
    }
    let offset = match rest.as_bytes() {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] if [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit()) => {
            let h = i64::from((h1 - b'0') * 10 + (h2 - b'0'));
            let m = i64::from((m1 - b'0') * 10 + (m2 - b'0'));
            let o = h * 3600 + m * 60;
            if *sign == b'+' { o } else { -o }
        }
        _ => return None,
    };
    Some(super::duration::days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> MartianConfig {
        MartianConfig::parse(&serde_json::from_str(text).unwrap())
    }

    fn errors(text: &str) -> Vec<String> {
        parse(text).errors.into_iter().map(|(at, m)| format!("{at}: {m}")).collect()
    }

    #[test]
    fn a_fixture_shaped_group_parses_with_its_scopes() {
        let c = parse(
            r#"{"fifo.Group": {"scope": ["request", "response"], "aggregateErrors": true, "modifiers": [
                {"header.Modifier": {"scope": ["request", "response"], "name": "X-Martian", "value": "ouh yeah!"}},
                {"body.Modifier": {"scope": ["request"], "@comment": "x", "contentType": "application/json", "body": "eyJtc2ciOiJ5b3Ugcm9jayEifQ=="}},
                {"header.RegexFilter": {"scope": ["request"], "header": "X-Neptunian", "regex": "no!",
                    "modifier": {"header.Modifier": {"name": "X-Martian-New", "value": "some value", "scope": ["request"]}}}}]}}"#,
        );
        assert!(c.errors.is_empty() && c.warnings.is_empty(), "{:?} {:?}", c.errors, c.warnings);
        let root = c.root.unwrap();
        assert_eq!(root.phases, Phases::BOTH);
        let Kind::Fifo { aggregate_errors: true, modifiers } = root.kind else { panic!("not a group") };
        assert_eq!(modifiers.len(), 3);
        assert!(matches!(&modifiers[1].kind, Kind::Body { body, .. } if body == br#"{"msg":"you rock!"}"#));
        assert_eq!(modifiers[1].phases, Phases::REQUEST);
    }

    #[test]
    fn keys_match_case_insensitively_as_go_reads_them() {
        let c = parse(r#"{"header.Modifier": {"Name": "X-A", "VALUE": "1"}}"#);
        assert!(matches!(c.root.unwrap().kind, Kind::HeaderSet { name, value } if name == "X-A" && value == "1"));
    }

    #[test]
    fn an_unknown_or_unregistered_modifier_is_an_error_naming_its_path() {
        assert_eq!(
            errors(
                r#"{"fifo.Group": {"modifiers": [{"header.Modifier": {"name": "X", "value": "1"}}, {"header.Bogus": {}}]}}"#
            ),
            ["fifo.Group.modifiers[1].header.Bogus: unknown modifier: header.Bogus"]
        );
        assert_eq!(
            errors(r#"{"header.Via": {}}"#),
            ["header.Via: unknown modifier: header.Via (martian has it, but KrakenD CE does not register it)"]
        );
        let stat = errors(r#"{"static.Modifier": {"explicitPaths": {}}}"#);
        assert!(stat[0].starts_with("static.Modifier: `static.Modifier`"), "{stat:?}");
        assert!(stat[0].contains("not supported"), "{stat:?}");
    }

    #[test]
    fn not_exactly_one_key_is_an_error() {
        assert_eq!(errors(r#"{"a": {}, "b": {}}"#), [": expected one modifier, received 2: `a`, `b`"]);
        assert_eq!(
            errors(r#"{"fifo.Group": {"modifiers": [{}]}}"#),
            ["fifo.Group.modifiers[0]: expected one modifier, received 0"]
        );
    }

    #[test]
    fn wrong_types_and_missing_keys_name_their_paths() {
        assert_eq!(
            errors(r#"{"fifo.Group": {"scope": "request", "aggregateErrors": "yes"}}"#),
            [
                "fifo.Group.aggregateErrors: expected a boolean, found a string",
                "fifo.Group.scope: expected a list of `request` and `response`, found a string"
            ]
        );
        assert_eq!(
            errors(r#"{"header.Modifier": {"value": "1"}}"#),
            ["header.Modifier.name: missing: a header name is required"]
        );
        assert_eq!(
            errors(r#"{"header.Filter": {"name": "X-A", "value": "1"}}"#),
            ["header.Filter.modifier: missing: a filter needs the modifier it runs"]
        );
        assert_eq!(
            errors(r#"{"port.Modifier": {"port": 8080, "remove": true}}"#),
            ["port.Modifier: Must specify only one of port, defaultForScheme or remove"]
        );
        assert_eq!(
            errors(r#"{"priority.Group": {"modifiers": [{"priority": 1.5, "modifier": {"header.Id": {}}}]}}"#),
            ["priority.Group.modifiers[0].priority: expected an integer, found a fraction or a huge number"]
        );
    }

    #[test]
    fn bad_base64_and_bad_regex_are_errors_naming_their_paths() {
        let b64 = errors(r#"{"body.Modifier": {"body": "not base64!", "contentType": "text/plain"}}"#);
        assert_eq!(b64.len(), 1);
        assert!(b64[0].starts_with("body.Modifier.body: not standard base64"), "{b64:?}");
        let unpadded = errors(r#"{"body.Modifier": {"body": "eyJ9"}}"#);
        assert!(unpadded.is_empty(), "{unpadded:?}");
        assert_eq!(errors(r#"{"body.Modifier": {"body": "eyJ"}}"#).len(), 1, "padding is required");
        let re =
            errors(r#"{"header.RegexFilter": {"header": "X-A", "regex": "(unclosed", "modifier": {"header.Id": {}}}}"#);
        assert_eq!(re.len(), 1);
        assert!(re[0].starts_with("header.RegexFilter.regex: `(unclosed` is not a regular expression"), "{re:?}");
    }

    #[test]
    fn a_scope_the_modifier_does_not_implement_is_an_error() {
        assert_eq!(
            errors(r#"{"querystring.Modifier": {"name": "a", "value": "1", "scope": ["request", "response"]}}"#),
            ["querystring.Modifier.scope[1]: invalid scope \"response\" for modifier querystring.Modifier"]
        );
        assert_eq!(
            errors(r#"{"header.Modifier": {"name": "X", "scope": ["both"]}}"#),
            ["header.Modifier.scope[0]: invalid scope: both not in [\"request\", \"response\"]"]
        );
        assert_eq!(
            errors(r#"{"stash.Modifier": {"headerName": "X-Stash", "scope": ["response"]}}"#),
            ["stash.Modifier.scope: to write header on a response, specify scope as both request and response"]
        );
        let absent = parse(r#"{"header.Id": {}}"#).root.unwrap();
        assert_eq!(absent.phases, Phases::REQUEST, "no scope: every phase it implements");
        let empty = parse(r#"{"header.Modifier": {"name": "X", "scope": []}}"#).root.unwrap();
        assert_eq!(empty.phases, Phases { request: false, response: false });
    }

    #[test]
    fn unknown_keys_are_warnings_and_comments_are_not() {
        let c = parse(r#"{"header.Modifier": {"name": "X", "value": "1", "@comment": "c", "valeu": "2"}}"#);
        assert!(c.errors.is_empty());
        assert_eq!(
            c.warnings,
            [("header.Modifier.valeu".to_owned(), "unknown key, ignored (as martian does)".to_owned())]
        );
    }

    /// Every problem the gateway reports for a config, one per line.
    fn problems(text: &str) -> Vec<String> {
        match crate::Gateway::from_json(text) {
            Ok(g) => g.warnings().iter().map(ToString::to_string).collect(),
            Err(e) => e.errors.iter().chain(&e.warnings).map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn a_bad_modifier_on_a_backend_is_reported_with_its_full_path_and_the_backend_runs_without_modifiers() {
        let found = problems(
            r#"{"version": 3, "endpoints": [{"endpoint": "/a", "backend": [{"host": ["http://h:8000"], "url_pattern": "/a",
                "extra_config": {"modifier/martian": {"fifo.Group": {"modifiers": [{"header.Bogus": {}}]}}}}]}]}"#,
        );
        assert_eq!(
            found,
            [
                "warning: `endpoints[0].backend[0].extra_config.modifier/martian.fifo.Group.modifiers[0].header.Bogus` (endpoint `GET /a`): unknown modifier: header.Bogus: the backend is served without its modifiers, as KrakenD does"
            ]
        );
        assert!(crate::Gateway::from_json(
            r#"{"version": 3, "endpoints": [{"endpoint": "/a", "backend": [{"host": ["http://h:8000"], "url_pattern": "/a",
                "extra_config": {"modifier/martian": {"header.Bogus": {}}}}]}]}"#
        )
        .is_ok(), "the gateway starts");
    }

    #[test]
    fn the_namespace_above_a_backend_is_a_warning_that_it_has_no_effect() {
        let m = r#"{"header.Modifier": {"name": "X", "value": "1"}}"#;
        let found = problems(&format!(
            r#"{{"version": 3, "extra_config": {{"modifier/martian": {m}}}, "endpoints": [{{"endpoint": "/a",
                "extra_config": {{"modifier/martian": {m}}},
                "backend": [{{"host": ["http://h:8000"], "url_pattern": "/a", "extra_config": {{"modifier/martian": {m}}}}}]}}]}}"#
        ));
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].starts_with("warning: `extra_config.modifier/martian`: read only on a backend"), "{found:?}");
        assert!(
            found[1].starts_with(
                "warning: `endpoints[0].extra_config.modifier/martian` (endpoint `GET /a`): read only on a backend"
            ),
            "{found:?}"
        );
    }

    #[test]
    fn rfc3339_times_are_read_with_offsets() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2026-01-02T15:04:05Z"), Some(1_767_366_245));
        assert_eq!(parse_rfc3339("2026-01-02T16:04:05.123+01:00"), Some(1_767_366_245));
        assert_eq!(parse_rfc3339("2026-01-02 15:04:05"), None);
    }
}
