//! AWS X-Ray in Lambda: the invocation's trace header (`Root=…;Parent=…;Sampled=…`) read, sent
//! to every backend as `X-Amzn-Trace-Id` with the backend call as `Parent`, and each backend
//! call of a sampled invocation reported as one subsegment to the X-Ray daemon over UDP, as the
//! AWS SDKs do: the function's segment is Lambda's (its id is the header's `Parent`), so every
//! subsegment is sent on its own (`"type": "subsegment"`, `parent_id` = that id).

use super::Report;
use super::trace::{hex, hex_decode, new_span_id};
use http::HeaderValue;
use serde_json::{Value, json};
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::time::{SystemTime, UNIX_EPOCH};

/// Where the daemon listens when `AWS_XRAY_DAEMON_ADDRESS` does not say.
pub const DEFAULT_DAEMON: &str = "127.0.0.1:2000";
/// What precedes every segment document sent to the daemon.
pub const DAEMON_HEADER: &[u8] = b"{\"format\": \"json\", \"version\": 1}\n";

/// An X-Ray trace header, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XrayTrace {
    root: Box<str>,
    /// The caller's segment (in Lambda, the function's own segment).
    parent: Option<[u8; 8]>,
    sampled: bool,
}

impl XrayTrace {
    /// Reads `Root=1-<8 hex>-<24 hex>;Parent=<16 hex>;Sampled=<0|1>` (any order, other keys
    /// such as `Lineage` ignored). `None` without a valid `Root`.
    pub fn parse(header: &str) -> Option<XrayTrace> {
        let (mut root, mut parent, mut sampled) = (None, None, false);
        for part in header.split(';') {
            let Some((k, v)) = part.trim().split_once('=') else { continue };
            match k.trim() {
                "Root" => root = Some(v.trim()),
                "Parent" => {
                    let mut id = [0u8; 8];
                    parent = hex_decode(v.trim().to_ascii_lowercase().as_bytes(), &mut id).map(|()| id);
                }
                "Sampled" => sampled = v.trim() == "1",
                _ => {}
            }
        }
        let root = root.filter(|r| valid_root(r))?;
        Some(XrayTrace { root: root.into(), parent, sampled })
    }

    pub fn root(&self) -> &str {
        &self.root
    }

    pub fn parent(&self) -> Option<[u8; 8]> {
        self.parent
    }

    pub fn sampled(&self) -> bool {
        self.sampled
    }

    /// Whether backend calls are reported (sampled, and a parent segment to hang them on).
    pub fn records(&self) -> bool {
        self.sampled && self.parent.is_some()
    }

    /// The header a backend call sends: the call as `Parent` when the trace is recorded, else
    /// the caller's own header (the decision not to sample travels on).
    pub fn downstream_header(&self, call: [u8; 8]) -> HeaderValue {
        let text = match (self.records(), self.parent) {
            (true, _) => format!("Root={};Parent={};Sampled=1", self.root, hex(&call)),
            (false, Some(p)) => format!("Root={};Parent={};Sampled=0", self.root, hex(&p)),
            (false, None) => format!("Root={};Sampled=0", self.root),
        };
        HeaderValue::from_str(&text).expect("the root was checked to be ASCII hex and dashes")
    }
}

fn valid_root(r: &str) -> bool {
    let b = r.as_bytes();
    b.len() == 35 && b.starts_with(b"1-") && b[10] == b'-' && b[2..10].iter().chain(&b[11..]).all(u8::is_ascii_hexdigit)
}

/// The daemon's address from `AWS_XRAY_DAEMON_ADDRESS`: `host:port`, or the SDKs' two-address
/// form `tcp:host:port udp:host:port` (the UDP one is used).
pub fn daemon_address(value: Option<&str>) -> Option<SocketAddr> {
    let value = value.map(str::trim).filter(|v| !v.is_empty()).unwrap_or(DEFAULT_DAEMON);
    let addr = value
        .split_whitespace()
        .find_map(|p| p.strip_prefix("udp:"))
        .or_else(|| value.split_whitespace().find(|p| !p.starts_with("tcp:")))?;
    addr.to_socket_addrs().ok()?.next()
}

/// A UDP socket to the X-Ray daemon. Sending never waits: a datagram the socket cannot take at
/// once is dropped, as a lost UDP datagram would be.
#[derive(Debug)]
pub struct XrayDaemon {
    socket: Option<UdpSocket>,
}

impl XrayDaemon {
    /// A socket to the daemon at `addr` (none when it cannot be set up: nothing is sent).
    pub fn new(addr: Option<SocketAddr>) -> XrayDaemon {
        let socket = addr.and_then(|addr| {
            let local: SocketAddr = if addr.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { ([0u16; 8], 0).into() };
            let s = UdpSocket::bind(local).ok()?;
            s.connect(addr).ok()?;
            s.set_nonblocking(true).ok()?;
            Some(s)
        });
        if socket.is_none() {
            tracing::warn!("X-Ray: no socket to the daemon; subsegments are not sent");
        }
        XrayDaemon { socket }
    }

    /// The daemon of `AWS_XRAY_DAEMON_ADDRESS` (default 127.0.0.1:2000).
    pub fn from_env() -> XrayDaemon {
        XrayDaemon::new(daemon_address(std::env::var("AWS_XRAY_DAEMON_ADDRESS").ok().as_deref()))
    }

    /// Sends one subsegment per backend call of the request, when the trace is recorded.
    /// Returns how many datagrams the socket took.
    pub fn report(&self, trace: &XrayTrace, report: &Report) -> usize {
        let Some(socket) = &self.socket else { return 0 };
        if !trace.records() {
            return 0;
        }
        subsegments(trace, report)
            .iter()
            .filter(|doc| {
                let mut datagram = DAEMON_HEADER.to_vec();
                serde_json::to_writer(&mut datagram, doc).expect("a JSON value serializes");
                socket.send(&datagram).is_ok()
            })
            .count()
    }
}

/// The subsegment documents of a request's backend calls (those that carried a span id).
pub fn subsegments(trace: &XrayTrace, report: &Report) -> Vec<Value> {
    let Some(parent) = trace.parent else { return Vec::new() };
    let parent = hex(&parent);
    report
        .calls
        .iter()
        .filter_map(|call| {
            let id = call.span_id?;
            let start = epoch_seconds(call.start);
            let end = start + call.duration.as_secs_f64();
            let uri = call.url.parse::<http::Uri>().ok();
            let name = uri.as_ref().and_then(|u| u.host()).map_or_else(|| call.url_pattern.to_string(), str::to_owned);
            let mut doc = json!({
                "type": "subsegment",
                "id": hex(&id),
                "trace_id": trace.root(),
                "parent_id": parent,
                "name": truncate(&name, 200),
                "start_time": start,
                "end_time": end,
                "namespace": "remote",
                "http": {"request": {"method": call.method.as_str(), "url": call.url}},
            });
            match (call.status, &call.error) {
                (Some(status), _) => {
                    doc["http"]["response"] = json!({"status": status.as_u16()});
                    let code = status.as_u16();
                    if code == 429 {
                        doc["throttle"] = json!(true);
                    }
                    if (400..500).contains(&code) {
                        doc["error"] = json!(true);
                    } else if code >= 500 {
                        doc["fault"] = json!(true);
                    }
                }
                (None, error) => {
                    doc["fault"] = json!(true);
                    doc["cause"] = json!({"exceptions": [{
                        "id": hex(&new_span_id()),
                        "message": error.as_deref().unwrap_or("no answer"),
                        "remote": true,
                    }]});
                }
            }
            Some(doc)
        })
        .collect()
}

fn epoch_seconds(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

    #[test]
    fn a_lambda_trace_header_is_read_and_a_call_becomes_the_parent_downstream() {
        let x = XrayTrace::parse(HEADER).expect("valid");
        assert_eq!(x.root(), "1-5759e988-bd862e3fe1be46a994272793");
        assert_eq!(x.parent().map(|p| hex(&p)).as_deref(), Some("53995c3f42cd8ad8"));
        assert!(x.records());
        let down = x.downstream_header([0x11; 8]);
        assert_eq!(down, "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=1111111111111111;Sampled=1");
    }

    #[test]
    fn an_unsampled_or_rootless_header_reports_nothing() {
        let unsampled = XrayTrace::parse("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0").expect("valid");
        assert!(!unsampled.records());
        assert_eq!(unsampled.downstream_header([1; 8]), "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0");
        assert_eq!(XrayTrace::parse("Parent=53995c3f42cd8ad8;Sampled=1"), None);
        assert_eq!(XrayTrace::parse("Root=2-5759e988-bd862e3fe1be46a994272793"), None);
        assert_eq!(XrayTrace::parse("Root=1-5759e988-bd862e3fe1be46a99427279"), None);
    }

    #[test]
    fn the_daemon_address_takes_the_udp_one() {
        assert_eq!(daemon_address(None), Some("127.0.0.1:2000".parse().unwrap()));
        assert_eq!(daemon_address(Some("169.254.79.2:2000")), Some("169.254.79.2:2000".parse().unwrap()));
        assert_eq!(
            daemon_address(Some("tcp:127.0.0.1:2000 udp:127.0.0.2:2001")),
            Some("127.0.0.2:2001".parse().unwrap())
        );
    }
}
