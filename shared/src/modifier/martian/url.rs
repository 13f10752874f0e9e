//! The parts of a backend URL as Go's `url.URL` gives them to martian (scheme, host with port,
//! decoded path, raw query), read from and written back into the URL text lura-style code built.
//!
//! Hand-written rather than `url::Url`: that crate normalises what it parses (default ports
//! dropped, paths re-escaped), where martian sees and keeps the URL as it was built.

use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};

/// What Go's `URL.EscapedPath` escapes in a path set by `url.Modifier` (`/` kept).
const PATH: &AsciiSet =
    &CONTROLS.add(b' ').add(b'"').add(b'#').add(b'%').add(b'<').add(b'>').add(b'?').add(b'`').add(b'{').add(b'}');

/// A URL's parts, borrowed from its text: `scheme://host/path?query`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Parts<'a> {
    pub scheme: &'a str,
    pub host: &'a str,
    /// As written (escaped).
    pub path: &'a str,
    pub query: &'a str,
}

impl<'a> Parts<'a> {
    pub(super) fn of(url: &'a str) -> Parts<'a> {
        let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
        let rest = rest.split_once('#').map_or(rest, |(r, _)| r);
        let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
        let slash = before_query.find('/').unwrap_or(before_query.len());
        Parts { scheme, host: &before_query[..slash], path: &before_query[slash..], query }
    }

    /// The path as Go's `URL.Path` holds it: percent-decoded.
    pub(super) fn decoded_path(&self) -> std::borrow::Cow<'a, str> {
        percent_decode_str(self.path).decode_utf8_lossy()
    }

    /// The URL text of these parts.
    pub(super) fn text(&self) -> String {
        let mut out =
            String::with_capacity(self.scheme.len() + self.host.len() + self.path.len() + self.query.len() + 4);
        out.push_str(self.scheme);
        out.push_str("://");
        out.push_str(self.host);
        out.push_str(self.path);
        if !self.query.is_empty() {
            out.push('?');
            out.push_str(self.query);
        }
        out
    }
}

/// A path as `url.Modifier` sets it (Go escapes `URL.Path` when it writes the URL).
pub(super) fn escape_path(path: &str) -> String {
    utf8_percent_encode(path, PATH).to_string()
}

/// Go's `net.SplitHostPort`: the host and port of `host:port` (`[v6]:port` too).
pub(super) fn split_host_port(hostport: &str) -> Result<(&str, &str), String> {
    let missing = || format!("address {hostport}: missing port in address");
    if let Some(rest) = hostport.strip_prefix('[') {
        let (host, after) =
            rest.split_once(']').ok_or_else(|| format!("address {hostport}: missing ']' in address"))?;
        let port = after.strip_prefix(':').ok_or_else(missing)?;
        return Ok((host, port));
    }
    let (host, port) = hostport.rsplit_once(':').ok_or_else(missing)?;
    if host.contains(':') {
        return Err(format!("address {hostport}: too many colons in address"));
    }
    Ok((host, port))
}

/// Go's `net.JoinHostPort`.
pub(super) fn join_host_port(host: &str, port: &str) -> String {
    if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") }
}

/// martian's `MatchHost`: equal, or the same number of labels with `*` matching any one.
pub(super) fn match_host(host: &str, pattern: &str) -> bool {
    if host == pattern {
        return true;
    }
    if !pattern.contains('*') {
        return false;
    }
    let hosts: Vec<&str> = host.split('.').collect();
    let patterns: Vec<&str> = pattern.split('.').collect();
    hosts.len() == patterns.len() && hosts.iter().zip(&patterns).all(|(h, p)| *p == "*" || h == p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backend_url_splits_into_its_parts_and_back() {
        let p = Parts::of("http://127.0.0.1:8080/a%20b/c?x=1&y=2");
        assert_eq!(p, Parts { scheme: "http", host: "127.0.0.1:8080", path: "/a%20b/c", query: "x=1&y=2" });
        assert_eq!(p.decoded_path(), "/a b/c");
        assert_eq!(p.text(), "http://127.0.0.1:8080/a%20b/c?x=1&y=2");
        assert_eq!(Parts::of("https://h").path, "");
    }

    #[test]
    fn host_and_port_split_and_join_as_go_does() {
        assert_eq!(split_host_port("h:80"), Ok(("h", "80")));
        assert_eq!(split_host_port("[::1]:80"), Ok(("::1", "80")));
        assert_eq!(split_host_port("h").unwrap_err(), "address h: missing port in address");
        assert_eq!(join_host_port("::1", "8080"), "[::1]:8080");
    }

    #[test]
    fn host_wildcards_match_one_label_each() {
        assert!(match_host("api.example.com", "*.example.com"));
        assert!(!match_host("a.api.example.com", "*.example.com"));
        assert!(!match_host("api.example.org", "*.example.com"));
        assert!(match_host("h:8080", "h:8080"));
    }
}
