//! `security/http`, as KrakenD applies unrolled/secure: allowed hosts (others get 400) and the
//! security headers (HSTS, frame options, nosniff, XSS protection, CSP, referrer policy).

use crate::config::SecurityHttpConfig;
use crate::message::GatewayResponse;
use http::StatusCode;
use http::header::{HeaderMap, HeaderName, HeaderValue};

/// What Go's URL serialiser escapes in a host: all but letters, digits, `-._~` and
/// `!$&'()*+,;=:[]<>"`.
const GO_HOST: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=')
    .remove(b':')
    .remove(b'[')
    .remove(b']')
    .remove(b'<')
    .remove(b'>')
    .remove(b'"');

pub(crate) struct SecurityHttp {
    allowed_hosts: Vec<String>,
    host_proxy_headers: Vec<HeaderName>,
    headers: Vec<(HeaderName, HeaderValue)>,
    sts: Option<HeaderValue>,
    ssl_proxy_headers: Vec<(HeaderName, String)>,
    ssl_redirect: bool,
    ssl_host: Option<String>,
}

/// A `security/http` value that cannot be sent as a header value (the value is kept).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` cannot be a header value")]
pub(crate) struct NotAHeaderValue(pub(crate) String);

impl SecurityHttp {
    /// Errors are for values that cannot be header values.
    pub(crate) fn new(cfg: &SecurityHttpConfig) -> Result<SecurityHttp, NotAHeaderValue> {
        let value = |s: &str| HeaderValue::from_str(s).map_err(|_| NotAHeaderValue(s.to_owned()));
        let mut headers = Vec::new();
        if let Some(v) = cfg.custom_frame_options_value.as_deref().filter(|v| !v.is_empty()) {
            headers.push((HeaderName::from_static("x-frame-options"), value(v)?));
        } else if cfg.frame_deny {
            headers.push((HeaderName::from_static("x-frame-options"), HeaderValue::from_static("DENY")));
        }
        if cfg.content_type_nosniff {
            headers.push((HeaderName::from_static("x-content-type-options"), HeaderValue::from_static("nosniff")));
        }
        if cfg.browser_xss_filter {
            headers.push((HeaderName::from_static("x-xss-protection"), HeaderValue::from_static("1; mode=block")));
        }
        if let Some(v) = cfg.content_security_policy.as_deref().filter(|v| !v.is_empty()) {
            headers.push((HeaderName::from_static("content-security-policy"), value(v)?));
        }
        if let Some(v) = cfg.referrer_policy.as_deref().filter(|v| !v.is_empty()) {
            headers.push((HeaderName::from_static("referrer-policy"), value(v)?));
        }
        let sts = (cfg.sts_seconds > 0)
            .then(|| {
                let mut v = format!("max-age={}", cfg.sts_seconds);
                if cfg.sts_include_subdomains {
                    v.push_str("; includeSubDomains");
                }
                HeaderValue::from_str(&v).ok()
            })
            .flatten();
        let mut allowed_hosts: Vec<String> = cfg.allowed_hosts.iter().map(|h| h.to_ascii_lowercase()).collect();
        if cfg.is_development {
            allowed_hosts.clear();
        }
        Ok(SecurityHttp {
            allowed_hosts,
            host_proxy_headers: cfg
                .host_proxy_headers
                .iter()
                .filter_map(|h| HeaderName::from_bytes(h.as_bytes()).ok())
                .collect(),
            headers: if cfg.is_development { Vec::new() } else { headers },
            sts: if cfg.is_development { None } else { sts },
            ssl_redirect: cfg.ssl_redirect && !cfg.is_development,
            ssl_host: cfg.ssl_host.clone().filter(|h| !h.is_empty()),
            ssl_proxy_headers: cfg
                .ssl_proxy_headers
                .iter()
                .filter_map(|(k, v)| Some((HeaderName::from_bytes(k.as_bytes()).ok()?, v.clone())))
                .collect(),
        })
    }

    /// Whether the request reached the TLS terminator over HTTPS (per `ssl_proxy_headers`).
    fn is_ssl(&self, headers: &HeaderMap) -> bool {
        self.ssl_proxy_headers
            .iter()
            .any(|(k, v)| headers.get(k).and_then(|h| h.to_str().ok()).is_some_and(|h| h.eq_ignore_ascii_case(v)))
    }

    /// `Some(answer)` when the request must not go on: 400 for a host outside `allowed_hosts`,
    /// 301 to HTTPS with `ssl_redirect` for a request that did not come over HTTPS.
    pub(crate) fn check(&self, headers: &HeaderMap, path_and_query: &str) -> Option<GatewayResponse> {
        if let Some(r) = self.check_host(headers) {
            return Some(r);
        }
        if self.ssl_redirect && !self.is_ssl(headers) {
            let host = self
                .ssl_host
                .clone()
                .or_else(|| headers.get(http::header::HOST).and_then(|h| h.to_str().ok()).map(str::to_owned))
                .unwrap_or_default();
            let mut r = GatewayResponse::new(StatusCode::MOVED_PERMANENTLY);
            // Escaped as Go's `url.URL.String` escapes a host: a `Host` of `a.com/b` or
            // `a.com@b.com` must not choose the path or the host the client is sent to.
            let host = percent_encoding::utf8_percent_encode(&host, GO_HOST);
            if let Ok(v) = HeaderValue::from_str(&format!("https://{host}{path_and_query}")) {
                r.headers.insert(http::header::LOCATION, v);
            }
            return Some(r);
        }
        None
    }

    fn check_host(&self, headers: &HeaderMap) -> Option<GatewayResponse> {
        if self.allowed_hosts.is_empty() {
            return None;
        }
        let host = self
            .host_proxy_headers
            .iter()
            .find_map(|h| headers.get(h))
            .or_else(|| headers.get(http::header::HOST))
            .and_then(|h| h.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        if self.allowed_hosts.contains(&host) {
            return None;
        }
        let mut r = GatewayResponse::new(StatusCode::BAD_REQUEST);
        r.headers.insert(http::header::CONTENT_TYPE, crate::message::TEXT_UTF8);
        r.body = bytes::Bytes::from_static(b"Bad Host");
        Some(r)
    }

    /// Adds the security headers to an answer (HSTS only for requests that came over HTTPS,
    /// as told by `ssl_proxy_headers` such as `X-Forwarded-Proto: https`).
    pub(crate) fn decorate(&self, req_headers: &HeaderMap, resp: &mut GatewayResponse) {
        for (k, v) in &self.headers {
            resp.headers.insert(k.clone(), v.clone());
        }
        if let Some(sts) = &self.sts {
            let https = self.ssl_proxy_headers.iter().any(|(k, v)| {
                req_headers.get(k).and_then(|h| h.to_str().ok()).is_some_and(|h| h.eq_ignore_ascii_case(v))
            });
            if https {
                resp.headers.insert(http::header::STRICT_TRANSPORT_SECURITY, sts.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn security_headers_are_added() {
        let cfg: SecurityHttpConfig = serde_json::from_str(
            r#"{"frame_deny": true, "content_type_nosniff": true, "browser_xss_filter": true,
                "content_security_policy": "default-src 'self'", "referrer_policy": "same-origin",
                "sts_seconds": 300, "sts_include_subdomains": true, "ssl_proxy_headers": {"X-Forwarded-Proto": "https"}}"#,
        )
        .unwrap();
        let s = SecurityHttp::new(&cfg).unwrap();
        let mut req = HeaderMap::new();
        req.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        let mut r = GatewayResponse::new(StatusCode::OK);
        s.decorate(&req, &mut r);
        assert_eq!(r.headers["x-frame-options"], "DENY");
        assert_eq!(r.headers["x-content-type-options"], "nosniff");
        assert_eq!(r.headers["x-xss-protection"], "1; mode=block");
        assert_eq!(r.headers["content-security-policy"], "default-src 'self'");
        assert_eq!(r.headers["referrer-policy"], "same-origin");
        assert_eq!(r.headers["strict-transport-security"], "max-age=300; includeSubDomains");
    }

    #[test]
    fn ssl_redirect_sends_plain_http_requests_to_https() {
        let cfg: SecurityHttpConfig = serde_json::from_str(
            r#"{"ssl_redirect": true, "ssl_host": "secure.example.com", "ssl_proxy_headers": {"X-Forwarded-Proto": "https"}}"#,
        )
        .unwrap();
        let s = SecurityHttp::new(&cfg).unwrap();
        let mut h = HeaderMap::new();
        let r = s.check(&h, "/a?b=1").expect("redirected");
        assert_eq!(r.status, StatusCode::MOVED_PERMANENTLY);
        assert_eq!(r.headers[http::header::LOCATION], "https://secure.example.com/a?b=1");
        h.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert!(s.check(&h, "/a").is_none());
    }

    #[test]
    fn ssl_redirect_escapes_a_host_that_would_pick_another_path_or_host() {
        let cfg: SecurityHttpConfig =
            serde_json::from_str(r#"{"ssl_redirect": true, "ssl_proxy_headers": {"X-Forwarded-Proto": "https"}}"#)
                .unwrap();
        let s = SecurityHttp::new(&cfg).unwrap();
        for (host, location) in [
            ("api.example.com:8080", "https://api.example.com:8080/a?b=1"),
            ("evil.com/phish?x=", "https://evil.com%2Fphish%3Fx=/a?b=1"),
            ("good.com@evil.com", "https://good.com%40evil.com/a?b=1"),
            ("evil.com#", "https://evil.com%23/a?b=1"),
        ] {
            let mut h = HeaderMap::new();
            h.insert(http::header::HOST, HeaderValue::from_str(host).unwrap());
            let r = s.check(&h, "/a?b=1").expect("redirected");
            assert_eq!(r.headers[http::header::LOCATION], location, "Host: {host}");
        }
    }

    #[test]
    fn hosts_outside_the_allowed_list_get_400() {
        let cfg: SecurityHttpConfig = serde_json::from_str(r#"{"allowed_hosts": ["api.example.com"]}"#).unwrap();
        let s = SecurityHttp::new(&cfg).unwrap();
        let mut h = HeaderMap::new();
        h.insert(http::header::HOST, HeaderValue::from_static("api.example.com"));
        assert!(s.check_host(&h).is_none());
        h.insert(http::header::HOST, HeaderValue::from_static("evil.example.com"));
        assert_eq!(s.check_host(&h).unwrap().status, StatusCode::BAD_REQUEST);
    }
}
