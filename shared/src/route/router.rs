//! Route a method and a decoded path to its target, with KrakenD's (gin's) rules for what does
//! not match: trailing-slash and fixed-path redirects, 405 with `Allow`, 404. Built once.

use crate::config::RouterConfig;
use http::{HeaderValue, Method};
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub(crate) enum RouteTarget {
    Endpoint(usize),
    Health,
    Echo,
    Debug,
    /// `router.auto_options`: the `Allow` value of the path.
    Options(HeaderValue),
}

pub(crate) enum Lookup<'p> {
    Found(&'p RouteTarget, Vec<&'p str>),
    /// Redirect to this path (the caller adds the query string and picks 301 or 307).
    Redirect(String),
    MethodNotAllowed(HeaderValue),
    NotFound,
}

#[derive(Debug, Clone)]
enum Segment {
    Static(String),
    Param,
}

/// Why an endpoint cannot be routed (reported as a config error at its `endpoint`).
#[derive(Debug, thiserror::Error)]
pub(crate) enum RouteError {
    /// The router refuses the route: it conflicts with one already registered, or is malformed.
    #[error("the router refuses `{route}`: {error}")]
    Refused { route: String, error: matchit::InsertError },
    /// The `Allow` list of an `auto_options` route is not a header value.
    #[error("{0}")]
    Allow(http::header::InvalidHeaderValue),
}

pub(crate) struct Router {
    /// One tree per method, in registration order (gin's order for the 405 search).
    trees: Vec<(Method, matchit::Router<(RouteTarget, usize)>)>,
    /// The route patterns by method, for the case-insensitive fixed-path search.
    patterns: Vec<(Method, Vec<Segment>)>,
    /// Path pattern -> methods, for `auto_options`.
    paths: BTreeMap<String, Vec<Method>>,
    auto_options: bool,
}

const ANY_METHODS: [Method; 9] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::HEAD,
    Method::OPTIONS,
    Method::DELETE,
    Method::CONNECT,
    Method::TRACE,
];

impl Router {
    pub(crate) fn new(debug: bool, echo: bool, rc: &RouterConfig) -> Self {
        let mut r =
            Router { trees: Vec::new(), patterns: Vec::new(), paths: BTreeMap::new(), auto_options: rc.auto_options };
        if !rc.disable_health {
            let path = rc.health_path.clone().unwrap_or_else(|| "/__health".to_owned());
            let _ = r.insert_raw(&Method::GET, &escape_static(&path), RouteTarget::Health, 0);
        }
        for (on, base, target) in [(debug, "/__debug", RouteTarget::Debug), (echo, "/__echo", RouteTarget::Echo)] {
            if on {
                for m in &ANY_METHODS {
                    let _ = r.insert_raw(m, &format!("{base}/"), target.clone(), 0);
                    let _ = r.insert_raw(m, &format!("{base}/{{*rest}}"), target.clone(), 0);
                }
            }
        }
        r
    }

    /// Registers an endpoint. `path` uses KrakenD's `{param}` syntax; `params` are its names.
    pub(crate) fn insert(
        &mut self,
        method: &Method,
        path: &str,
        params: &[String],
        target: RouteTarget,
    ) -> Result<(), RouteError> {
        let mut route = String::new();
        let mut segments = Vec::new();
        for (i, seg) in path.split('/').enumerate() {
            if i > 0 {
                route.push('/');
            }
            let is_param_seg = params.iter().any(|p| seg.contains(&format!("{{{p}}}")));
            if is_param_seg {
                // Keep the placeholder, escape braces of anything else in the segment.
                let p = params.iter().find(|p| seg.contains(&format!("{{{p}}}"))).map(String::as_str).unwrap_or("");
                let token = format!("{{{p}}}");
                let (before, after) = seg.split_once(&token).unwrap_or((seg, ""));
                route.push_str(&escape_static(before));
                route.push_str(&token);
                route.push_str(&escape_static(after));
                segments.push(Segment::Param);
            } else {
                route.push_str(&escape_static(seg));
                if i > 0 {
                    segments.push(Segment::Static(seg.to_owned()));
                }
            }
        }
        self.insert_raw(method, &route, target, params.len())?;
        self.patterns.push((method.clone(), segments));
        self.paths.entry(route).or_default().push(method.clone());
        Ok(())
    }

    fn insert_raw(
        &mut self,
        method: &Method,
        route: &str,
        target: RouteTarget,
        n_params: usize,
    ) -> Result<(), RouteError> {
        let tree = match self.trees.iter_mut().position(|(m, _)| m == method) {
            Some(i) => &mut self.trees[i].1,
            None => {
                self.trees.push((method.clone(), matchit::Router::new()));
                &mut self.trees.last_mut().expect("just pushed").1
            }
        };
        tree.insert(route, (target, n_params)).map_err(|error| RouteError::Refused { route: route.to_owned(), error })
    }

    /// Adds what needs the whole table (the `auto_options` routes).
    pub(crate) fn finish(&mut self) -> Result<(), RouteError> {
        if self.auto_options {
            let paths = std::mem::take(&mut self.paths);
            for (route, mut methods) in paths {
                methods.sort_by(|a, b| a.as_str().cmp(b.as_str()));
                methods.dedup();
                let allow = methods.iter().map(Method::as_str).collect::<Vec<_>>().join(", ");
                let value = HeaderValue::from_str(&allow).map_err(RouteError::Allow)?;
                let _ = self.insert_raw(&Method::OPTIONS, &route, RouteTarget::Options(value), 0);
                self.paths.insert(route, methods);
            }
        }
        Ok(())
    }

    /// Looks up a decoded path. Redirect and 405 rules follow gin's order.
    pub(crate) fn lookup<'p>(
        &'p self,
        method: &Method,
        path: &'p str,
        trailing_slash: bool,
        fixed_path: bool,
        method_not_allowed: bool,
    ) -> Lookup<'p> {
        if let Some((_, tree)) = self.trees.iter().find(|(m, _)| m == method) {
            if let Ok(found) = tree.at(path) {
                let (target, _) = found.value;
                let values = found.params.iter().map(|(_, v)| v).collect();
                return Lookup::Found(target, values);
            }
            if *method != Method::CONNECT && path != "/" {
                if trailing_slash {
                    let other = match path.strip_suffix('/') {
                        Some(p) => p.to_owned(),
                        None => format!("{path}/"),
                    };
                    if !other.is_empty() && tree.at(&other).is_ok() {
                        return Lookup::Redirect(other);
                    }
                }
                if fixed_path
                    && let Some(fixed) = self.fixed_path(method, path, trailing_slash)
                    && tree.at(&fixed).is_ok()
                {
                    return Lookup::Redirect(fixed);
                }
            }
        }
        if method_not_allowed {
            let allowed: Vec<&str> = self
                .trees
                .iter()
                .filter(|(m, tree)| m != method && tree.at(path).is_ok())
                .map(|(m, _)| m.as_str())
                .collect();
            if !allowed.is_empty() {
                let value = HeaderValue::from_str(&allowed.join(", ")).unwrap_or(HeaderValue::from_static(""));
                return Lookup::MethodNotAllowed(value);
            }
        }
        Lookup::NotFound
    }

    /// The canonical path for a cleaned, case-insensitive match (gin's RedirectFixedPath).
    fn fixed_path(&self, method: &Method, path: &str, trailing_slash: bool) -> Option<String> {
        let cleaned = clean(path);
        let wanted: Vec<&str> = cleaned.split('/').skip(1).collect();
        let try_match = |segs: &[&str]| -> Option<String> {
            self.patterns.iter().filter(|(m, _)| m == method).find_map(|(_, pattern)| {
                if pattern.len() != segs.len() {
                    return None;
                }
                let mut out = String::new();
                for (p, s) in pattern.iter().zip(segs) {
                    out.push('/');
                    match p {
                        Segment::Static(lit) if lit.eq_ignore_ascii_case(s) => out.push_str(lit),
                        Segment::Param if !s.is_empty() => out.push_str(s),
                        _ => return None,
                    }
                }
                Some(out)
            })
        };
        if let Some(found) = try_match(&wanted) {
            return Some(found);
        }
        if trailing_slash && wanted.last() == Some(&"") {
            return try_match(&wanted[..wanted.len() - 1]);
        }
        None
    }
}

/// matchit reads `{` and `}` as parameter syntax; a literal brace is written twice.
fn escape_static(s: &str) -> String {
    s.replace('{', "{{").replace('}', "}}")
}

/// Go's `path.Clean`, keeping a trailing slash as httprouter's CleanPath does.
pub(crate) fn clean(path: &str) -> String {
    let mut stack: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                stack.pop();
            }
            s => stack.push(s),
        }
    }
    let mut out = format!("/{}", stack.join("/"));
    if path.ends_with('/') && out != "/" {
        out.push('/');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router(paths: &[(&str, Method)]) -> Router {
        let mut r = Router::new(false, false, &RouterConfig::default());
        for (i, (p, m)) in paths.iter().enumerate() {
            let params = crate::config::endpoint_params(p, false).unwrap();
            r.insert(m, p, &params, RouteTarget::Endpoint(i)).unwrap();
        }
        r.finish().unwrap();
        r
    }

    #[test]
    fn parameters_match_one_segment() {
        let r = router(&[("/users/{id}", Method::GET)]);
        assert!(matches!(r.lookup(&Method::GET, "/users/42", true, true, true), Lookup::Found(_, v) if v == ["42"]));
        assert!(matches!(r.lookup(&Method::GET, "/users/1/2", true, true, true), Lookup::NotFound));
    }

    #[test]
    fn trailing_slash_and_case_redirects() {
        let r = router(&[("/foo", Method::GET), ("/static", Method::GET)]);
        assert!(matches!(r.lookup(&Method::GET, "/foo/", true, true, true), Lookup::Redirect(p) if p == "/foo"));
        assert!(matches!(r.lookup(&Method::GET, "/StAtic", true, true, true), Lookup::Redirect(p) if p == "/static"));
        assert!(matches!(r.lookup(&Method::GET, "/a/../foo", true, true, true), Lookup::Redirect(p) if p == "/foo"));
        assert!(matches!(r.lookup(&Method::GET, "/foo/", false, false, true), Lookup::NotFound));
    }

    #[test]
    fn other_methods_give_405_with_allow() {
        let r = router(&[("/crash", Method::GET), ("/crash", Method::PUT)]);
        match r.lookup(&Method::POST, "/crash", true, true, true) {
            Lookup::MethodNotAllowed(allow) => assert_eq!(allow, "GET, PUT"),
            _ => panic!("expected 405"),
        }
        assert!(matches!(r.lookup(&Method::POST, "/crash", true, true, false), Lookup::NotFound));
    }

    #[test]
    fn literal_braces_in_static_segments_are_not_parameters() {
        let r = router(&[("/file.{ext}", Method::GET)]);
        assert!(matches!(r.lookup(&Method::GET, "/file.{ext}", true, true, true), Lookup::Found(..)));
        assert!(matches!(r.lookup(&Method::GET, "/file.pdf", true, true, true), Lookup::NotFound));
    }

    #[test]
    fn clean_resolves_dots_and_double_slashes() {
        assert_eq!(clean("//a/./b/../c/"), "/a/c/");
        assert_eq!(clean("/.."), "/");
    }
}
