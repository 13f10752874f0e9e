//! The local server's application log (`tributary run`, `tributary demo`): every `tracing` event
//! written as KrakenD writes its application lines, per `telemetry/logging` (`level`, `prefix`,
//! `stdout`, `syslog`, `syslog_facility`, `format` default / logstash / custom with
//! `custom_format`), `telemetry/logstash` and `telemetry/gelf`.
//!
//! Until the config is read, and without `telemetry/logging`, lines take lura's basic form
//! (`2026/12/07 11:15:00 KRAKEND INFO: message`) on stderr. With it, krakend-gologging's: each
//! destination gets a go-logging pattern, stdout the default
//! ` %{time:2006/01/02 - 15:04:05.000} %{color}▶ %{level}%{color:reset} %{message}` after the
//! `prefix`, syslog `%{level} > %{message}`, GELF `%{message}` after the prefix.

use crate::gelf::{self, GelfSender};
use crate::golike::{self, Arg};
use crate::syslog::{self, Syslog};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::{Map, Value};
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::reload;
use tracing_subscriber::util::SubscriberInitExt;
use tributary_core::TelemetrySettings;
use tributary_core::config::telemetry::LoggingConfig;

/// krakend-gologging's `DefaultPattern` (its leading space follows the prefix).
pub const DEFAULT_PATTERN: &str = " %{time:2006/01/02 - 15:04:05.000} %{color}▶ %{level}%{color:reset} %{message}";
/// krakend-gologging's `LogstashPattern` (`format: logstash`).
pub const LOGSTASH_PATTERN: &str = r#"{"@timestamp":"%{time:2006-01-02T15:04:05.000+00:00}", "@version": 1, "level": "%{level}", "message": "%{message}", "module": "%{module}"}"#;
/// The pattern of syslog lines, whatever the format.
const SYSLOG_PATTERN: &str = "%{level} > %{message}";
/// go-logging's module name in KrakenD.
const MODULE: &str = "KRAKEND";

// ---------------------------------------------------------------------------------------------
// Records and patterns
// ---------------------------------------------------------------------------------------------

/// go-logging's level names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GoLevel {
    Critical,
    Error,
    Warning,
    Info,
    Debug,
}

impl GoLevel {
    pub fn name(self) -> &'static str {
        match self {
            GoLevel::Critical => "CRITICAL",
            GoLevel::Error => "ERROR",
            GoLevel::Warning => "WARNING",
            GoLevel::Info => "INFO",
            GoLevel::Debug => "DEBUG",
        }
    }

    fn from_tracing(level: &Level) -> GoLevel {
        match *level {
            Level::ERROR => GoLevel::Error,
            Level::WARN => GoLevel::Warning,
            Level::INFO => GoLevel::Info,
            _ => GoLevel::Debug,
        }
    }

    /// The syslog severity GELF's `level` carries.
    fn severity(self) -> u8 {
        match self {
            GoLevel::Critical => gelf::CRITICAL,
            GoLevel::Error => gelf::ERROR,
            GoLevel::Warning => gelf::WARNING,
            GoLevel::Info => gelf::INFO,
            GoLevel::Debug => gelf::DEBUG,
        }
    }

    /// go-logging's `%{color}` (INFO has none) and `%{color:bold}`.
    fn color(self, bold: bool) -> &'static str {
        match (self, bold) {
            (GoLevel::Critical, false) => "\x1b[35m",
            (GoLevel::Error, false) => "\x1b[31m",
            (GoLevel::Warning, false) => "\x1b[33m",
            (GoLevel::Debug, false) => "\x1b[36m",
            (GoLevel::Critical, true) => "\x1b[35;1m",
            (GoLevel::Error, true) => "\x1b[31;1m",
            (GoLevel::Warning, true) => "\x1b[33;1m",
            (GoLevel::Debug, true) => "\x1b[36;1m",
            (GoLevel::Info, _) => "",
        }
    }
}

/// One application log line before formatting.
#[derive(Debug, Clone)]
pub struct Record<'a> {
    pub level: GoLevel,
    pub message: &'a str,
    pub time: jiff::ZonedDateTime,
    /// go-logging's sequence number.
    pub id: u64,
    /// The Rust module the event came from (`%{longpkg}`).
    pub module_path: Option<&'a str>,
    pub file: Option<&'a str>,
    pub line: Option<u32>,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Time(String),
    Level(String),
    Id(String),
    Pid(String),
    Program(String),
    Module(String),
    Message(String),
    LongFile(String),
    ShortFile(String),
    LongPkg(String),
    ShortPkg(String),
    LongFunc(String),
    ShortFunc(String),
    Callpath,
    Color(ColorKind),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum ColorKind {
    Level,
    Bold,
    Reset,
}

/// A go-logging format string, compiled.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    parts: Vec<Part>,
}

impl Pattern {
    /// Compiles `format` as go-logging's `NewStringFormatter` does: `%{verb}` or
    /// `%{verb:layout}` (a Go time layout for `time`, `bold`/`reset` for `color`, a `fmt`
    /// directive otherwise). An unknown verb, or a format without any, is an error (KrakenD
    /// panics on them at start).
    pub fn parse(format: &str) -> Result<Pattern, String> {
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut rest = format;
        let mut verbs = 0;
        while let Some(at) = rest.find("%{") {
            let Some((name, layout, len)) = directive(&rest[at..]) else {
                text.push_str(&rest[..at + 2]);
                rest = &rest[at + 2..];
                continue;
            };
            text.push_str(&rest[..at]);
            if !text.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut text)));
            }
            let fmt = |default: &str| format!("%{}", layout.unwrap_or(default));
            parts.push(match name {
                "time" => Part::Time(layout.unwrap_or("2006-01-02T15:04:05.999Z07:00").to_owned()),
                "level" => Part::Level(fmt("s")),
                "id" => Part::Id(fmt("d")),
                "pid" => Part::Pid(fmt("d")),
                "program" => Part::Program(fmt("s")),
                "module" => Part::Module(fmt("s")),
                "message" => Part::Message(fmt("s")),
                "longfile" => Part::LongFile(fmt("s")),
                "shortfile" => Part::ShortFile(fmt("s")),
                "longpkg" => Part::LongPkg(fmt("s")),
                "shortpkg" => Part::ShortPkg(fmt("s")),
                "longfunc" => Part::LongFunc(fmt("s")),
                "shortfunc" => Part::ShortFunc(fmt("s")),
                "callpath" => Part::Callpath,
                "color" => Part::Color(match layout {
                    Some("bold") => ColorKind::Bold,
                    Some("reset") => ColorKind::Reset,
                    _ => ColorKind::Level,
                }),
                other => return Err(format!("unknown variable `%{{{other}}}`")),
            });
            verbs += 1;
            rest = &rest[at + len..];
        }
        text.push_str(rest);
        if verbs == 0 {
            return Err(format!("`{format}` has no variable such as `%{{message}}`"));
        }
        if !text.is_empty() {
            parts.push(Part::Text(text));
        }
        Ok(Pattern { parts })
    }

    /// The line for `r`, without the prefix or the newline; `color` turns `%{color}` on.
    pub fn render(&self, r: &Record<'_>, color: bool) -> String {
        let mut out = String::with_capacity(64 + r.message.len());
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Time(layout) => out.push_str(&golike::format_time(layout, &r.time)),
                Part::Level(f) => out.push_str(&golike::fmt_one(f, Arg::Str(r.level.name()))),
                Part::Id(f) => out.push_str(&golike::fmt_one(f, Arg::Int(r.id))),
                Part::Pid(f) => out.push_str(&golike::fmt_one(f, Arg::Int(u64::from(std::process::id())))),
                Part::Program(f) => out.push_str(&golike::fmt_one(f, Arg::Str(&program()))),
                Part::Module(f) => out.push_str(&golike::fmt_one(f, Arg::Str(MODULE))),
                Part::Message(f) => out.push_str(&golike::fmt_one(f, Arg::Str(r.message))),
                Part::LongFile(f) | Part::ShortFile(f) => {
                    let file = r.file.unwrap_or("???");
                    let file =
                        if matches!(part, Part::ShortFile(_)) { file.rsplit('/').next().unwrap_or(file) } else { file };
                    let text = format!("{file}:{}", r.line.unwrap_or(0));
                    out.push_str(&golike::fmt_one(f, Arg::Str(&text)));
                }
                Part::LongPkg(f) | Part::ShortPkg(f) => {
                    let pkg = r.module_path.unwrap_or("???");
                    let pkg =
                        if matches!(part, Part::ShortPkg(_)) { pkg.rsplit("::").next().unwrap_or(pkg) } else { pkg };
                    out.push_str(&golike::fmt_one(f, Arg::Str(pkg)));
                }
                // Rust events carry no function name.
                Part::LongFunc(f) | Part::ShortFunc(f) => out.push_str(&golike::fmt_one(f, Arg::Str("???"))),
                Part::Callpath => out.push_str("???"),
                Part::Color(kind) if color => out.push_str(match kind {
                    ColorKind::Level => r.level.color(false),
                    ColorKind::Bold => r.level.color(true),
                    ColorKind::Reset => "\x1b[0m",
                }),
                Part::Color(_) => {}
            }
        }
        out
    }
}

/// `%{name}` or `%{name:layout}` at the start of `s` (go-logging's
/// `%{([a-z]+)(?::(.*?[^\\]))?}`): the name, the layout, the length taken.
fn directive(s: &str) -> Option<(&str, Option<&str>, usize)> {
    let body = s.strip_prefix("%{")?;
    let name_len = body.bytes().take_while(u8::is_ascii_lowercase).count();
    if name_len == 0 {
        return None;
    }
    let name = &body[..name_len];
    let after = &body[name_len..];
    if after.starts_with('}') {
        return Some((name, None, 2 + name_len + 1));
    }
    let layout_and_rest = after.strip_prefix(':')?;
    // The layout ends at the first `}` not escaped by a backslash, and holds one character at least.
    let bytes = layout_and_rest.as_bytes();
    let mut i = 1;
    while i < bytes.len() {
        if bytes[i] == b'}' && bytes[i - 1] != b'\\' {
            return Some((name, Some(&layout_and_rest[..i]), 2 + name_len + 1 + i + 1));
        }
        i += 1;
    }
    None
}

fn program() -> String {
    std::env::args().next().map(|a| a.rsplit('/').next().unwrap_or(&a).to_owned()).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Destinations
// ---------------------------------------------------------------------------------------------

/// Where application lines go once the config is read, and in which form.
#[derive(Debug)]
pub struct AppLog {
    /// `None`: lura's basic lines on stderr (no `telemetry/logging`, or it could not be set up).
    gologging: Option<GoLogging>,
}

#[derive(Debug)]
struct GoLogging {
    prefix: String,
    stdout: Option<(Pattern, bool)>,
    syslog: Option<(Syslog, Pattern)>,
    gelf: Option<GelfSender>,
    /// `telemetry/logstash`: each message becomes logstash's JSON object, `module` this name.
    logstash: Option<String>,
    host: String,
}

impl AppLog {
    /// What `telemetry/logging` (with `telemetry/logstash`, and `gelf` for `telemetry/gelf`)
    /// asks for. `Err` for a `custom_format` KrakenD refuses; `Ok` with a reason when a
    /// destination cannot be opened and the basic form is used instead (as KrakenD falls back).
    pub fn new(settings: &TelemetrySettings, gelf: Option<GelfSender>) -> Result<(AppLog, Option<String>), String> {
        let Some(cfg) = settings.config.logging.as_ref() else {
            return Ok((AppLog { gologging: None }, None));
        };
        let logstash = settings
            .config
            .logstash
            .as_ref()
            .filter(|l| l.enabled)
            .map(|_| cfg.prefix.clone().filter(|p| !p.is_empty()).unwrap_or_else(|| MODULE.to_owned()));
        let format = cfg.format.as_deref().map(str::to_ascii_lowercase);
        let (pattern, prefix) = match format.as_deref() {
            Some("logstash") => (Pattern::parse(LOGSTASH_PATTERN)?, String::new()),
            Some("custom") => {
                let custom = cfg.custom_format.as_deref().unwrap_or_default();
                let p =
                    Pattern::parse(custom).map_err(|e| format!("extra_config.telemetry/logging.custom_format: {e}"))?;
                (p, String::new())
            }
            _ => (
                Pattern::parse(DEFAULT_PATTERN)?,
                if logstash.is_some() { String::new() } else { cfg.prefix.clone().unwrap_or_default() },
            ),
        };
        if cfg.level.is_none() {
            return Ok((AppLog { gologging: None }, Some("logger: invalid log level".to_owned())));
        }
        let syslog = if cfg.syslog {
            let tag = if logstash.is_some() { "" } else { cfg.prefix.as_deref().unwrap_or_default() };
            match Syslog::connect(
                syslog::facility(cfg.syslog_facility.as_deref()),
                syslog::severity(cfg.level.as_deref()),
                tag,
            ) {
                Ok(s) => Some((s, Pattern::parse(SYSLOG_PATTERN)?)),
                Err(e) => return Ok((AppLog { gologging: None }, Some(e.to_string()))),
            }
        } else {
            None
        };
        let color = {
            use std::io::IsTerminal as _;
            std::io::stdout().is_terminal()
        };
        let gologging = GoLogging {
            prefix,
            stdout: cfg.stdout.then_some((pattern, color)),
            syslog,
            // krakend-logstash builds its logger without the GELF writer.
            gelf: if logstash.is_some() { None } else { gelf },
            logstash,
            host: gethostname::gethostname().to_string_lossy().into_owned(),
        };
        Ok((AppLog { gologging: Some(gologging) }, None))
    }

    /// Writes one event to every destination.
    pub fn write(&self, r: &Record<'_>, target: &str) {
        let Some(g) = &self.gologging else {
            write_basic(r);
            return;
        };
        let json;
        let r = match &g.logstash {
            Some(module) => {
                json = logstash_json(r, module, &g.host);
                &Record { message: &json, ..r.clone() }
            }
            None => r,
        };
        if let Some((pattern, color)) = &g.stdout {
            let mut line = String::with_capacity(g.prefix.len() + 80 + r.message.len());
            line.push_str(&g.prefix);
            line.push_str(&pattern.render(r, *color));
            line.push('\n');
            let _ = std::io::stdout().lock().write_all(line.as_bytes());
        }
        if let Some((syslog, pattern)) = &g.syslog {
            syslog.write(&pattern.render(r, false));
        }
        if let Some(gelf) = &g.gelf
            && target != gelf::TARGET
        {
            gelf.send(format!("{}{}", g.prefix, r.message), r.level.severity());
        }
    }
}

/// lura's `BasicLogger` line: `2026/12/07 11:15:00 KRAKEND INFO: message`, on stderr.
fn write_basic(r: &Record<'_>) {
    let line =
        format!("{} {MODULE} {}: {}\n", golike::format_time("2006/01/02 15:04:05", &r.time), r.level.name(), r.message);
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// krakend-logstash's object: keys in Go's (sorted) order.
fn logstash_json(r: &Record<'_>, module: &str, host: &str) -> String {
    let mut m = Map::new();
    m.insert("@timestamp".into(), Value::from(golike::format_time("2006-01-02T15:04:05.000000-07:00", &r.time)));
    m.insert("@version".into(), Value::from(1));
    m.insert("host".into(), Value::from(host));
    m.insert("level".into(), Value::from(r.level.name()));
    m.insert("message".into(), Value::from(r.message));
    m.insert("module".into(), Value::from(module));
    Value::Object(m).to_string()
}

// ---------------------------------------------------------------------------------------------
// The tracing layer and its set-up
// ---------------------------------------------------------------------------------------------

static APP_LOG: RwLock<Option<Arc<AppLog>>> = RwLock::new(None);
static NEXT_ID: AtomicU64 = AtomicU64::new(1);
type SetFilter = Box<dyn Fn(Targets) + Send + Sync>;
static SET_FILTER: OnceLock<SetFilter> = OnceLock::new();

/// The layer writing every event through the current [`AppLog`].
#[derive(Debug, Default)]
pub struct AppLayer;

impl<S: Subscriber> Layer<S> for AppLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        let mut message = Message::default();
        event.record(&mut message);
        message.finish();
        let time = Timestamp::now().to_zoned_datetime(TimeZone::system());
        let record = Record {
            level: GoLevel::from_tracing(meta.level()),
            message: &message.text,
            time,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            module_path: meta.module_path(),
            file: meta.file(),
            line: meta.line(),
        };
        let current = APP_LOG.read().ok().and_then(|g| g.clone());
        match current {
            Some(app) => app.write(&record, meta.target()),
            None => write_basic(&record),
        }
    }
}

/// An event's text: its message, then its other fields as ` key=value`.
#[derive(Default)]
struct Message {
    text: String,
    fields: String,
}

impl Visit for Message {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.text.insert_str(0, value);
        } else {
            let _ = write!(self.fields, " {}={value}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.text.insert_str(0, &format!("{value:?}"));
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }
}

impl Message {
    fn finish(&mut self) {
        let fields = std::mem::take(&mut self.fields);
        self.text.push_str(&fields);
    }
}

/// The filter of the local server before the config is read: `RUST_LOG`, else INFO (DEBUG with
/// `--debug`).
fn initial_filter(debug: bool) -> Targets {
    let default = if debug { LevelFilter::DEBUG } else { LevelFilter::INFO };
    crate::logs::filter(std::env::var("RUST_LOG").ok().as_deref(), default)
}

/// The filter `telemetry/logging`'s `level` sets (when `RUST_LOG` does not): Tributary's own
/// events at that level, other crates' at INFO at most (KrakenD's DEBUG is its own messages').
pub fn level_filter(level: &str) -> Targets {
    let ours = match level.to_ascii_uppercase().as_str() {
        "DEBUG" => LevelFilter::DEBUG,
        "INFO" => LevelFilter::INFO,
        "WARNING" => LevelFilter::WARN,
        "ERROR" => LevelFilter::ERROR,
        // Tributary writes nothing at CRITICAL.
        _ => LevelFilter::OFF,
    };
    Targets::new()
        .with_default(ours.min(LevelFilter::INFO))
        .with_target("tributary", ours)
        .with_target("tributary_core", ours)
        .with_target("tributary_functions", ours)
}

/// Installs the local server's subscriber (call once, first thing in `main`).
pub fn init(debug: bool) {
    let (filter, handle) = reload::Layer::new(initial_filter(debug));
    let _ = SET_FILTER.set(Box::new(move |t| {
        let _ = handle.reload(t);
    }));
    tracing_subscriber::registry().with(AppLayer).with(filter).init();
}

/// Applies the config's logging settings (the subscriber of [`init`] then writes through them);
/// starts the GELF sender when `telemetry/gelf` is set and returns it for the access log.
/// `Err` for settings that stop the start (a `custom_format` KrakenD refuses).
pub fn configure(settings: &TelemetrySettings) -> Result<Option<GelfSender>, String> {
    let gelf = settings.config.gelf.as_ref().map(|g| gelf::start(&g.address, g.enable_tcp));
    let (app, failure) = AppLog::new(settings, gelf.clone())?;
    if let Some(level) = settings.config.logging.as_ref().and_then(|l: &LoggingConfig| l.level.as_deref())
        && app.gologging.is_some()
        && std::env::var_os("RUST_LOG").is_none_or(|v| v.is_empty())
        && let Some(set) = SET_FILTER.get()
    {
        set(level_filter(level));
    }
    if let Ok(mut current) = APP_LOG.write() {
        *current = Some(Arc::new(app));
    }
    if let Some(why) = failure {
        tracing::error!("[SERVICE: Logging] Unable to create the logger: {why}");
    } else if settings.config.logging.is_some() {
        tracing::debug!("[SERVICE: telemetry/logging] Improved logging started.");
    }
    Ok(gelf)
}

/// What `tributary check` reports of the logging settings beyond the core's checks: a
/// `custom_format` go-logging would refuse (KrakenD then fails to start).
pub fn problems(settings: &TelemetrySettings) -> Vec<tributary_core::Problem> {
    let Some(cfg) = settings.config.logging.as_ref() else { return Vec::new() };
    let custom = cfg.format.as_deref().is_some_and(|f| f.eq_ignore_ascii_case("custom"));
    match cfg.custom_format.as_deref().filter(|c| custom && !c.is_empty()).map(Pattern::parse) {
        Some(Err(e)) => vec![tributary_core::Problem {
            severity: tributary_core::Severity::Error,
            path: "extra_config.telemetry/logging.custom_format".to_owned(),
            endpoint: None,
            line_col: None,
            message: e,
        }],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn record(level: GoLevel, message: &str) -> Record<'_> {
        Record {
            level,
            message,
            time: date(2026, 12, 7).at(11, 15, 0, 123_000_000).to_zoned_datetime(TimeZone::UTC).unwrap(),
            id: 7,
            module_path: Some("tributary_functions::server"),
            file: Some("functions/src/server.rs"),
            line: Some(42),
        }
    }

    #[test]
    fn the_default_pattern_is_krakend_gologgings() {
        let p = Pattern::parse(DEFAULT_PATTERN).unwrap();
        assert_eq!(p.render(&record(GoLevel::Info, "Starting"), false), " 2026/12/07 - 11:15:00.123 ▶ INFO Starting");
        assert_eq!(
            p.render(&record(GoLevel::Warning, "w"), true),
            " 2026/12/07 - 11:15:00.123 \x1b[33m▶ WARNING\x1b[0m w"
        );
    }

    #[test]
    fn the_logstash_pattern_is_krakend_gologgings() {
        let p = Pattern::parse(LOGSTASH_PATTERN).unwrap();
        assert_eq!(
            p.render(&record(GoLevel::Error, "boom"), false),
            r#"{"@timestamp":"2026-12-07T11:15:00.123+00:00", "@version": 1, "level": "ERROR", "message": "boom", "module": "KRAKEND"}"#
        );
    }

    #[test]
    fn custom_formats_take_every_go_logging_verb() {
        let p = Pattern::parse(
            "[%{id:03d}] %{level:.4s} %{module} %{shortfile} %{shortpkg} %{pid} %{message:q} %{time:15:04}",
        )
        .unwrap();
        let line = p.render(&record(GoLevel::Warning, "say \"hi\""), false);
        assert_eq!(
            line,
            format!("[007] WARN KRAKEND server.rs:42 server {} \"say \\\"hi\\\"\" 11:15", std::process::id())
        );
        assert_eq!(Pattern::parse("%{message}").unwrap().render(&record(GoLevel::Info, "m"), false), "m");
        // Text that only looks like a variable stays text.
        assert_eq!(
            Pattern::parse("%{Message} %{message}").unwrap().render(&record(GoLevel::Info, "m"), false),
            "%{Message} m"
        );
    }

    #[test]
    fn unknown_variables_and_formats_without_one_are_refused() {
        assert!(Pattern::parse("%{nope}").unwrap_err().contains("%{nope}"));
        assert!(Pattern::parse("plain text").is_err());
    }

    #[test]
    fn logstash_objects_carry_krakend_logstashs_keys() {
        let v: Value = serde_json::from_str(&logstash_json(&record(GoLevel::Debug, "hi"), "[KRAKEND]", "h")).unwrap();
        assert_eq!(v["@timestamp"], "2026-12-07T11:15:00.123000+00:00");
        assert_eq!(v["@version"], 1);
        assert_eq!(
            (v["host"].as_str(), v["level"].as_str(), v["message"].as_str()),
            (Some("h"), Some("DEBUG"), Some("hi"))
        );
        assert_eq!(v["module"], "[KRAKEND]");
    }

    #[test]
    fn a_level_keeps_other_crates_at_info_at_most() {
        let f = level_filter("DEBUG");
        assert!(f.would_enable("tributary_core::proxy", &Level::DEBUG));
        assert!(!f.would_enable("hyper_util::client", &Level::DEBUG));
        let f = level_filter("WARNING");
        assert!(!f.would_enable("tributary_functions::server", &Level::INFO));
        assert!(f.would_enable("tributary_functions::server", &Level::WARN));
        assert!(!level_filter("CRITICAL").would_enable("tributary", &Level::ERROR));
    }
}
