//! The client's address: gin's `ClientIP` as KrakenD configures it (trusted proxies, remote-IP
//! headers), krakend-ratelimit's reading of a client-IP header, and the one parser of the
//! addresses and CIDRs `trusted_proxies` lists.

use http::{HeaderMap, HeaderName};
use std::net::IpAddr;

/// Where the client's address is read from (the `router` settings `forwarded_by_client_ip`,
/// `trusted_proxies` and `remote_ip_headers`).
pub(crate) struct ClientIpRule {
    /// gin's `ForwardedByClientIP`: whether the client IP may come from `remote_ip_headers`.
    pub forwarded_by_client_ip: bool,
    /// gin's trusted CIDRs; `None` trusts every peer (gin's default, kept by KrakenD).
    pub trusted_proxies: Option<Vec<(IpAddr, u8)>>,
    pub remote_ip_headers: Vec<HeaderName>,
}

/// The client IP as gin's `ClientIP` finds it: when the peer is a trusted proxy (every peer is,
/// unless `trusted_proxies` is set) and `forwarded_by_client_ip` holds, the first
/// `remote_ip_headers` header giving an address (its values walked from the right while they are
/// trusted proxies, the left-most one otherwise), else the peer address.
pub(crate) fn client_ip(rule: &ClientIpRule, headers: &HeaderMap, peer: Option<IpAddr>) -> Option<String> {
    let trusted = |ip: &IpAddr| match &rule.trusted_proxies {
        None => true,
        Some(list) => list.iter().any(|(net, bits)| in_cidr(ip, net, *bits)),
    };
    // Lambda has no TCP peer when the event carries no source IP: the headers are all there is.
    if rule.forwarded_by_client_ip && peer.is_none_or(|p| trusted(&p)) {
        for name in &rule.remote_ip_headers {
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
/// formatting machinery (padding support, a stack buffer) on every request; this is measured
/// cheaper (BENCHMARKS.md).
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

/// An address or CIDR as gin's `SetTrustedProxies` reads it (`None` for what Go refuses).
pub(crate) fn parse_cidr(text: &str) -> Option<(IpAddr, u8)> {
    match text.split_once('/') {
        Some((ip, bits)) => {
            let ip: IpAddr = ip.parse().ok()?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let bits: u8 = bits.parse().ok().filter(|b| *b <= max && (bits.len() == 1 || !bits.starts_with('0')))?;
            Some((ip, bits))
        }
        None => {
            let ip: IpAddr = text.parse().ok()?;
            Some((ip, if ip.is_ipv4() { 32 } else { 128 }))
        }
    }
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
