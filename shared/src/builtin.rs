//! The built-in answers (`/__health`, `/__debug/`, `/__echo/`) and the client IP rule that
//! feeds `X-Forwarded-For` (gin's `ClientIP` with KrakenD's defaults).

use crate::compile::Settings;
use crate::render::JSON_UTF8;
use crate::request::{GatewayRequest, GatewayResponse};
use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, StatusCode};
use serde_json::{Map, Value, json};
use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

pub(crate) fn health() -> GatewayResponse {
    let body = json!({"agents": {}, "now": go_time_now(), "status": "ok"});
    json_response(&body)
}

pub(crate) fn debug() -> GatewayResponse {
    json_response(&json!({"message": "pong"}))
}

pub(crate) fn echo(req: &GatewayRequest) -> GatewayResponse {
    let uri = if req.query.is_empty() { req.path.clone() } else { format!("{}?{}", req.path, req.query) };
    let mut query = Map::new();
    for (k, v) in crate::prepare::parse_query(&req.query) {
        if let Some(a) = query.entry(k).or_insert_with(|| Value::Array(Vec::new())).as_array_mut() {
            a.push(Value::String(v))
        }
    }
    let mut headers = Map::new();
    for (k, v) in &req.headers {
        let name = canonical(k.as_str());
        let value = Value::String(String::from_utf8_lossy(v.as_bytes()).into_owned());
        if let Some(a) = headers.entry(name).or_insert_with(|| Value::Array(Vec::new())).as_array_mut() {
            a.push(value)
        }
    }
    let body = json!({
        "req_uri": uri,
        "req_uri_details": {"fragment": "", "host": "", "path": req.path, "query": req.query, "user": ""},
        "req_method": req.method.as_str(),
        "req_querystring": query,
        "req_body": String::from_utf8_lossy(&req.body),
        "req_headers": headers,
    });
    json_response(&body)
}

fn json_response(body: &Value) -> GatewayResponse {
    let mut r = GatewayResponse::new(StatusCode::OK);
    r.headers.insert(CONTENT_TYPE, JSON_UTF8);
    r.body = Bytes::from(crate::json::encode(body));
    r
}

/// Go's canonical header form: `x-user-id` -> `X-User-Id`.
pub(crate) fn canonical(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        out.push(if upper { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() });
        upper = c == '-';
    }
    out
}

/// The client IP as gin's `ClientIP` finds it: when the peer is a trusted proxy (every peer is,
/// unless `trusted_proxies` is set) and `forwarded_by_client_ip` holds, the first
/// `remote_ip_headers` header giving an address (its values walked from the right while they are
/// trusted proxies, the left-most one otherwise), else the peer address.
pub(crate) fn client_ip(settings: &Settings, headers: &HeaderMap, peer: Option<IpAddr>) -> Option<String> {
    let trusted = |ip: &IpAddr| match &settings.trusted_proxies {
        None => true,
        Some(list) => list.iter().any(|(net, bits)| in_cidr(ip, net, *bits)),
    };
    // Lambda has no TCP peer when the event carries no source IP: the headers are all there is.
    if settings.forwarded_by_client_ip && peer.is_none_or(|p| trusted(&p)) {
        for name in &settings.remote_ip_headers {
            if let Some(ip) = headers.get(name).and_then(|v| v.to_str().ok()).and_then(|v| from_header(v, &trusted)) {
                return Some(ip);
            }
        }
    }
    peer.map(|p| ip_text(p.to_canonical()))
}

/// krakend-ratelimit's client IP from the header a per-client `ip` limit names in `key`: the
/// first entry of the list, without its port or brackets, written canonically.
pub(crate) fn ip_from_key_header(value: &str) -> Option<String> {
    let first = value.split(',').next().unwrap_or("").trim();
    let host = match first.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') && p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => first,
    };
    host.trim_matches(['[', ']']).parse::<IpAddr>().ok().map(ip_text)
}

/// gin's `validateHeader`: the address found in one remote-IP header's value, written as sent.
fn from_header(value: &str, trusted: &impl Fn(&IpAddr) -> bool) -> Option<String> {
    let items: Vec<&str> = value.split(',').collect();
    for i in (0..items.len()).rev() {
        let text = items[i].trim();
        let Ok(ip) = text.parse::<IpAddr>() else {
            break;
        };
        if i == 0 || !trusted(&ip) {
            return Some(text.to_owned());
        }
    }
    None
}

/// An address as `Display` writes it. IPv4 by hand: `Ipv4Addr`'s `Display` goes through the
/// formatting machinery (padding support, a stack buffer) and cost about 2.5 k instructions of
/// every request, callgrind says; this is about a tenth of that.
fn ip_text(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let mut out = String::with_capacity(15);
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                if octet >= 100 {
                    out.push(char::from(b'0' + octet / 100));
                }
                if octet >= 10 {
                    out.push(char::from(b'0' + octet / 10 % 10));
                }
                out.push(char::from(b'0' + octet % 10));
            }
            out
        }
        IpAddr::V6(v6) => v6.to_string(),
    }
}

fn in_cidr(ip: &IpAddr, net: &IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - u32::from(bits.min(32))) };
            u32::from(*a) & mask == u32::from(*b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - u32::from(bits.min(128))) };
            u128::from(*a) & mask == u128::from(*b) & mask
        }
        _ => false,
    }
}

/// `time.Now().String()` in Go's layout (UTC): `2006-01-02 15:04:05.999999999 +0000 UTC`.
fn go_time_now() -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = now.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{:09} +0000 UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        now.subsec_nanos()
    )
}

/// Days since 1970-01-01 to (year, month, day): Howard Hinnant's algorithm, written out because
/// pulling a date crate in for one health-check string is not worth its size.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_written_as_display_writes_them() {
        for a in [0u8, 1, 9, 10, 99, 100, 127, 200, 255] {
            for b in [0u8, 5, 50, 255] {
                let ip = IpAddr::from([a, b, 0, 255 - b]);
                assert_eq!(ip_text(ip), ip.to_string());
            }
        }
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(ip_text(v6), "2001:db8::1");
    }

    #[test]
    fn civil_dates_are_right() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_414), (2025, 11, 22));
    }

    #[test]
    fn canonical_header_names_match_go() {
        assert_eq!(canonical("x-user-id"), "X-User-Id");
        assert_eq!(canonical("content-TYPE"), "Content-Type");
    }

    #[test]
    fn a_rate_limit_key_header_gives_its_first_address_without_port_or_brackets() {
        assert_eq!(ip_from_key_header("1.2.3.4:5678, 9.9.9.9").as_deref(), Some("1.2.3.4"));
        assert_eq!(ip_from_key_header(" 10.0.0.1 ").as_deref(), Some("10.0.0.1"));
        assert_eq!(ip_from_key_header("[::1]").as_deref(), Some("::1"));
        assert_eq!(ip_from_key_header("2001:db8::1").as_deref(), Some("2001:db8::1"));
        assert_eq!(ip_from_key_header("not-an-ip"), None);
        assert_eq!(ip_from_key_header(""), None);
    }

    #[test]
    fn cidr_membership() {
        let net: IpAddr = "10.0.0.0".parse().unwrap();
        assert!(in_cidr(&"10.1.2.3".parse().unwrap(), &net, 8));
        assert!(!in_cidr(&"11.1.2.3".parse().unwrap(), &net, 8));
    }
}
