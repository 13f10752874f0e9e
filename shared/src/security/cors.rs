//! `security/cors`, as rs/cors (v1.11) wraps KrakenD's whole server: preflights are answered
//! before routing, for any path; actual requests get `Vary: Origin` and, when allowed, the
//! `Access-Control-Allow-*` headers.

use crate::config::CorsConfig;
use crate::message::{GatewayRequest, GatewayResponse};
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, StatusCode};

pub(crate) struct Cors {
    origins_all: bool,
    /// Lower-cased origins; an entry may hold one `*`, kept as (prefix, suffix).
    origins: Vec<(String, Option<String>)>,
    methods: Vec<String>,
    headers_all: bool,
    headers: Vec<String>,
    expose: Option<HeaderValue>,
    credentials: bool,
    private_network: bool,
    max_age: Option<HeaderValue>,
    passthrough: bool,
    success_status: StatusCode,
}

const PREFLIGHT_VARY: &str = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";

impl Cors {
    pub(crate) fn new(cfg: &CorsConfig) -> Cors {
        let origins_all = cfg.allow_origins.is_empty() || cfg.allow_origins.iter().any(|o| o == "*");
        let origins = cfg
            .allow_origins
            .iter()
            .map(|o| o.to_ascii_lowercase())
            .map(|o| match o.split_once('*') {
                Some((pre, suf)) => (pre.to_owned(), Some(suf.to_owned())),
                None => (o, None),
            })
            .collect();
        let methods = if cfg.allow_methods.is_empty() {
            vec!["GET".to_owned(), "POST".to_owned(), "HEAD".to_owned()]
        } else {
            cfg.allow_methods.clone()
        };
        let headers_all = cfg.allow_headers.is_empty() || cfg.allow_headers.iter().any(|h| h == "*");
        let mut headers: Vec<String> = cfg.allow_headers.iter().map(|h| h.to_ascii_lowercase()).collect();
        headers.push("origin".to_owned());
        let expose = (!cfg.expose_headers.is_empty())
            .then(|| {
                let names: Vec<String> = cfg.expose_headers.iter().map(|h| crate::message::canonical(h)).collect();
                HeaderValue::from_str(&names.join(", ")).ok()
            })
            .flatten();
        let max_age = cfg
            .max_age
            .map(|d| d.value.as_secs())
            .filter(|s| *s > 0)
            .and_then(|s| HeaderValue::from_str(&s.to_string()).ok());
        Cors {
            origins_all,
            origins,
            methods,
            headers_all,
            headers,
            expose,
            credentials: cfg.allow_credentials,
            private_network: cfg.allow_private_network,
            max_age,
            passthrough: cfg.options_passthrough,
            success_status: cfg
                .options_success_status
                .and_then(|s| StatusCode::from_u16(s).ok())
                .unwrap_or(StatusCode::NO_CONTENT),
        }
    }

    fn origin_allowed(&self, origin: &str) -> bool {
        if self.origins_all {
            return true;
        }
        let origin = origin.to_ascii_lowercase();
        self.origins.iter().any(|(pre, suf)| match suf {
            None => *pre == origin,
            Some(suf) => {
                origin.len() >= pre.len() + suf.len()
                    && origin.starts_with(pre.as_str())
                    && origin.ends_with(suf.as_str())
            }
        })
    }

    fn method_allowed(&self, method: &str) -> bool {
        method == "OPTIONS" || self.methods.iter().any(|m| m == method)
    }

    fn headers_allowed(&self, requested: &str) -> bool {
        if self.headers_all {
            return true;
        }
        requested
            .split(',')
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .all(|h| self.headers.contains(&h))
    }

    /// For a preflight, the full answer (unless `options_passthrough`, where the request goes on
    /// and the returned headers are added to its answer).
    pub(crate) fn preflight(&self, req: &GatewayRequest) -> Option<Preflight> {
        if req.method != Method::OPTIONS {
            return None;
        }
        let requested_method = req.headers.get("access-control-request-method")?.to_str().ok()?.to_owned();
        if requested_method.is_empty() {
            return None;
        }
        let mut headers = HeaderMap::new();
        headers.insert(header::VARY, HeaderValue::from_static(PREFLIGHT_VARY));
        let origin = req.headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()).unwrap_or("");
        let requested_headers =
            req.headers.get("access-control-request-headers").and_then(|h| h.to_str().ok()).unwrap_or("").to_owned();
        let ok = !origin.is_empty()
            && self.origin_allowed(origin)
            && self.method_allowed(&requested_method.to_ascii_uppercase())
            && self.headers_allowed(&requested_headers);
        if ok {
            let allow_origin =
                if self.origins_all { HeaderValue::from_static("*") } else { HeaderValue::from_str(origin).ok()? };
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin);
            if let Ok(m) = HeaderValue::from_str(&requested_method.to_ascii_uppercase()) {
                headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, m);
            }
            if !requested_headers.is_empty()
                && let Ok(h) = HeaderValue::from_str(&requested_headers)
            {
                headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, h);
            }
            if self.credentials {
                headers.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
            }
            if self.private_network && req.headers.contains_key("access-control-request-private-network") {
                headers.insert("access-control-allow-private-network", HeaderValue::from_static("true"));
            }
            if let Some(age) = &self.max_age {
                headers.insert(header::ACCESS_CONTROL_MAX_AGE, age.clone());
            }
        }
        Some(Preflight { headers, passthrough: self.passthrough, status: self.success_status })
    }

    /// Headers for an actual (non-preflight) request's answer.
    pub(crate) fn decorate(&self, req_method: &Method, req_headers: &HeaderMap, resp: &mut GatewayResponse) {
        resp.headers.append(header::VARY, HeaderValue::from_static("Origin"));
        let Some(origin) = req_headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else { return };
        if origin.is_empty() || !self.origin_allowed(origin) || !self.method_allowed(req_method.as_str()) {
            return;
        }
        let allow_origin =
            if self.origins_all { Some(HeaderValue::from_static("*")) } else { HeaderValue::from_str(origin).ok() };
        if let Some(v) = allow_origin {
            resp.headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        }
        if let Some(e) = &self.expose {
            resp.headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, e.clone());
        }
        if self.credentials {
            resp.headers.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
        }
    }
}

pub(crate) struct Preflight {
    pub headers: HeaderMap,
    pub passthrough: bool,
    pub status: StatusCode,
}

impl Preflight {
    pub(crate) fn into_response(self) -> GatewayResponse {
        let mut r = GatewayResponse::new(self.status);
        r.headers = self.headers;
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cors(json: &str) -> Cors {
        Cors::new(&serde_json::from_str(json).unwrap())
    }

    fn preflight(c: &Cors, origin: &str, method: &str, headers: &str) -> GatewayResponse {
        let mut req = GatewayRequest::new(Method::OPTIONS, "/any");
        if !origin.is_empty() {
            req.headers.insert(header::ORIGIN, HeaderValue::from_str(origin).unwrap());
        }
        req.headers.insert("access-control-request-method", HeaderValue::from_str(method).unwrap());
        if !headers.is_empty() {
            req.headers.insert("access-control-request-headers", HeaderValue::from_str(headers).unwrap());
        }
        c.preflight(&req).unwrap().into_response()
    }

    #[test]
    fn wildcard_subdomain_origins_match() {
        let c = cors(r#"{"allow_origins": ["https://*.example.com"]}"#);
        let r = preflight(&c, "https://api.example.com", "GET", "");
        assert_eq!(r.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "https://api.example.com");
        let r = preflight(&c, "https://example.org", "GET", "");
        assert!(!r.headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));
    }

    #[test]
    fn default_methods_are_get_post_head() {
        let c = cors("{}");
        assert!(preflight(&c, "http://a", "HEAD", "").headers.contains_key(header::ACCESS_CONTROL_ALLOW_METHODS));
        assert!(!preflight(&c, "http://a", "DELETE", "").headers.contains_key(header::ACCESS_CONTROL_ALLOW_METHODS));
    }

    #[test]
    fn credentials_and_max_age_are_sent_when_configured() {
        let c = cors(r#"{"allow_credentials": true, "max_age": "1m"}"#);
        let r = preflight(&c, "http://a", "GET", "");
        assert_eq!(r.headers[header::ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
        assert_eq!(r.headers[header::ACCESS_CONTROL_MAX_AGE], "60");
        assert_eq!(r.status, StatusCode::NO_CONTENT);
    }

    #[test]
    fn actual_requests_get_vary_and_expose_headers() {
        let c = cors(r#"{"allow_origins": ["http://a"], "expose_headers": ["x-total-count"]}"#);
        let mut headers = HeaderMap::new();
        headers.insert(header::ORIGIN, HeaderValue::from_static("http://a"));
        let mut r = GatewayResponse::new(StatusCode::OK);
        c.decorate(&Method::GET, &headers, &mut r);
        assert_eq!(r.headers[header::VARY], "Origin");
        assert_eq!(r.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "http://a");
        assert_eq!(r.headers[header::ACCESS_CONTROL_EXPOSE_HEADERS], "X-Total-Count");
        let mut r = GatewayResponse::new(StatusCode::OK);
        c.decorate(&Method::DELETE, &headers, &mut r);
        assert!(!r.headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));
    }
}
