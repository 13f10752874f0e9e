//! `telemetry/logging` `syslog: true`: application lines to the local syslog daemon's socket, in
//! the local form Go's `log/syslog` writes: `<PRI>Jan _2 15:04:05 TAG[PID]: LEVEL > message`.
//!
//! Hand-written: it is one datagram per line on a Unix socket; the syslog crates add network
//! transports and formats (RFC 5424) KrakenD does not use.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use std::io::{self, Write as _};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Where Go's `log/syslog` looks for the daemon, in order.
pub const SOCKETS: &[&str] = &["/dev/log", "/var/run/syslog", "/var/run/log"];
/// Overrides the socket path (for a daemon elsewhere, or a test's own socket).
pub const SOCKET_ENV: &str = "TRIBUTARY_SYSLOG_SOCKET";

enum Conn {
    Datagram(UnixDatagram),
    Stream(Mutex<UnixStream>),
}

/// A connection to the local syslog daemon.
pub struct Syslog {
    conn: Conn,
    priority: u8,
    tag: String,
    pid: u32,
}

impl std::fmt::Debug for Syslog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Syslog").field("priority", &self.priority).field("tag", &self.tag).finish()
    }
}

/// The facility number of `local0` ... `local7` (KrakenD's default: `local3`).
pub fn facility(name: Option<&str>) -> u8 {
    match name.map(str::to_ascii_lowercase).as_deref() {
        Some("local0") => 16,
        Some("local1") => 17,
        Some("local2") => 18,
        Some("local4") => 20,
        Some("local5") => 21,
        Some("local6") => 22,
        Some("local7") => 23,
        _ => 19,
    }
}

/// The severity every line carries: the configured `level`'s (krakend-gologging's
/// `parseSyslogSeverity`), not each line's own.
pub fn severity(level: Option<&str>) -> u8 {
    match level.map(str::to_ascii_lowercase).as_deref() {
        Some("fatal") => 0,
        Some("error") => 3,
        Some("warning") => 4,
        Some("info") => 6,
        Some("debug") => 7,
        _ => 2,
    }
}

impl Syslog {
    /// Connects to the socket of [`SOCKET_ENV`], else the first of [`SOCKETS`] that accepts
    /// (datagram first, then stream, as Go tries them). `tag` empty means the program's name.
    pub fn connect(facility: u8, severity: u8, tag: &str) -> io::Result<Syslog> {
        let paths: Vec<PathBuf> = match std::env::var_os(SOCKET_ENV) {
            Some(p) => vec![PathBuf::from(p)],
            None => SOCKETS.iter().map(PathBuf::from).collect(),
        };
        let conn = connect_any(&paths).ok_or_else(|| io::Error::other("Unix syslog delivery error"))?;
        let tag = if tag.is_empty() {
            std::env::args().next().unwrap_or_else(|| "tributary".to_owned())
        } else {
            tag.to_owned()
        };
        Ok(Syslog { conn, priority: facility * 8 + severity, tag, pid: std::process::id() })
    }

    /// Sends one line; a daemon that cannot take it right now loses it (never blocks the caller).
    pub fn write(&self, text: &str) {
        let stamp =
            crate::golike::format_time("Jan _2 15:04:05", &Timestamp::now().to_zoned_datetime(TimeZone::system()));
        let nl = if text.ends_with('\n') { "" } else { "\n" };
        let line = format!("<{}>{stamp} {}[{}]: {text}{nl}", self.priority, self.tag, self.pid);
        match &self.conn {
            Conn::Datagram(d) => {
                let _ = d.send(line.as_bytes());
            }
            Conn::Stream(s) => {
                if let Ok(mut s) = s.lock() {
                    let _ = s.write_all(line.as_bytes());
                }
            }
        }
    }
}

fn connect_any(paths: &[PathBuf]) -> Option<Conn> {
    for p in paths {
        if let Some(d) = datagram(p) {
            return Some(Conn::Datagram(d));
        }
    }
    for p in paths {
        if let Ok(s) = UnixStream::connect(p) {
            let _ = s.set_nonblocking(true);
            return Some(Conn::Stream(Mutex::new(s)));
        }
    }
    None
}

fn datagram(path: &Path) -> Option<UnixDatagram> {
    let d = UnixDatagram::unbound().ok()?;
    d.connect(path).ok()?;
    d.set_nonblocking(true).ok()?;
    Some(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priority_is_the_facility_and_the_configured_levels_severity() {
        assert_eq!(facility(None) * 8 + severity(Some("INFO")), 158);
        assert_eq!(facility(Some("local0")) * 8 + severity(Some("DEBUG")), 135);
        assert_eq!(severity(Some("CRITICAL")), 2);
        assert_eq!(severity(Some("WARNING")), 4);
    }

    #[test]
    fn a_line_reaches_a_datagram_socket_in_gos_local_form() {
        let dir = std::env::temp_dir().join(format!("tributary-syslog-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("log.sock");
        let _ = std::fs::remove_file(&path);
        let server = UnixDatagram::bind(&path).unwrap();
        let conn = connect_any(std::slice::from_ref(&path)).expect("the test socket");
        let s = Syslog { conn, priority: 158, tag: "[KRAKEND]".to_owned(), pid: 42 };
        s.write("INFO > hello");
        let mut buf = [0u8; 512];
        let n = server.recv(&mut buf).unwrap();
        let got = std::str::from_utf8(&buf[..n]).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(got.starts_with("<158>"), "{got}");
        assert!(got.ends_with(" [KRAKEND][42]: INFO > hello\n"), "{got}");
        // `Jan _2 15:04:05` between them.
        assert_eq!(got.len(), "<158>".len() + 15 + " [KRAKEND][42]: INFO > hello\n".len(), "{got}");
    }
}
