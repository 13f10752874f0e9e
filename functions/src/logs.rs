//! Logging set-up of both binaries: the filter they read from `RUST_LOG` (a level such as `debug`,
//! or `target=level` directives such as `info,tributary_core=debug`, parsed by tracing-subscriber's
//! `Targets`), Lambda's advanced logging controls (`AWS_LAMBDA_LOG_LEVEL`, `AWS_LAMBDA_LOG_FORMAT`),
//! the Lambda function's flat JSON lines, and the lines both doors write about a request: the
//! Lambda function's one line per request, and KrakenD's ERROR line per failed backend.
//!
//! `Targets` rather than `EnvFilter`: it parses the same level and target directives without
//! the regex engine EnvFilter carries for span and field filters, which would weigh on the Lambda
//! binary's size; a value it cannot parse falls back to the default level.

use serde_json::{Map, Value};
use std::fmt;
use std::time::Duration;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormattedFields};
use tracing_subscriber::registry::LookupSpan;
use tributary_core::Report;

/// The filter for `value` (`RUST_LOG`'s), `default` when unset or unparsable.
pub fn filter(value: Option<&str>, default: LevelFilter) -> Targets {
    value
        .filter(|v| !v.trim().is_empty())
        .and_then(|v| v.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(default))
}

/// The Lambda function's filter: `AWS_LAMBDA_LOG_LEVEL` (set by Lambda's advanced logging
/// controls: `TRACE` ... `FATAL`) wins over `RUST_LOG`, as in AWS's own runtimes.
pub fn lambda_filter(aws_level: Option<&str>, rust_log: Option<&str>) -> Targets {
    let level =
        aws_level.map(str::trim).filter(|l| !l.is_empty()).and_then(|l| match l.to_ascii_uppercase().as_str() {
            "TRACE" => Some(LevelFilter::TRACE),
            "DEBUG" => Some(LevelFilter::DEBUG),
            "INFO" => Some(LevelFilter::INFO),
            "WARN" => Some(LevelFilter::WARN),
            "ERROR" | "FATAL" => Some(LevelFilter::ERROR),
            _ => None,
        });
    let targets = match level {
        Some(level) => Targets::new().with_default(level),
        None => filter(rust_log, LevelFilter::INFO),
    };
    // The runtime's invocation span (an INFO span holding `requestId` and `xrayTraceId`) stays
    // on at every level, so that a WARN or ERROR line still names its invocation.
    targets.with_target(INVOCATION_SPAN_TARGET, LevelFilter::INFO)
}

/// Where lambda_runtime opens the span of each invocation.
const INVOCATION_SPAN_TARGET: &str = "lambda_runtime::layers::trace";

/// Whether `AWS_LAMBDA_LOG_FORMAT` asks for plain text (`Text`); JSON otherwise.
pub fn lambda_text_format(format: Option<&str>) -> bool {
    format.is_some_and(|f| f.trim().eq_ignore_ascii_case("text"))
}

/// One flat JSON object per line, as CloudWatch's JSON log format and AWS's own runtimes write
/// them: `timestamp`, `level`, `message`, the event's fields, and the fields of the spans it
/// happened in (the runtime's invocation span gives `requestId` and `xrayTraceId`). Spans'
/// fields must be recorded with [`JsonFields`]. Written by hand because tracing-subscriber's JSON
/// format nests the span fields under `span` and the event's under `fields`.
#[derive(Debug, Default)]
pub struct FlatJson;

impl<S> FormatEvent<S, JsonFields> for FlatJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, JsonFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut line = Map::new();
        let mut timestamp = String::new();
        SystemTime.format_time(&mut Writer::new(&mut timestamp))?;
        line.insert("timestamp".into(), Value::String(timestamp));
        line.insert("level".into(), Value::String(event.metadata().level().as_str().to_owned()));
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let extensions = span.extensions();
                if let Some(fields) = extensions.get::<FormattedFields<JsonFields>>()
                    && let Ok(Value::Object(map)) = serde_json::from_str::<Value>(&fields.fields)
                {
                    line.extend(map);
                }
            }
        }
        event.record(&mut Fields(&mut line));
        line.entry("message").or_insert_with(|| Value::String(String::new()));
        line.insert("target".into(), Value::String(event.metadata().target().to_owned()));
        writeln!(writer, "{}", Value::Object(line))
    }
}

/// Fields this crate records as JSON text, written into the line as the JSON they hold.
const JSON_FIELDS: &[&str] = &["failedBackends"];

/// Records an event's fields into the line (later fields win over span fields of the same name).
struct Fields<'a>(&'a mut Map<String, Value>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        let parsed = JSON_FIELDS.contains(&field.name()).then(|| serde_json::from_str(value).ok()).flatten();
        self.0.insert(field.name().to_owned(), parsed.unwrap_or_else(|| Value::String(value.to_owned())));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), Value::Bool(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), Value::String(format!("{value:?}")));
    }
}

/// The target of the per-request lines.
pub const REQUEST_TARGET: &str = "tributary::request";

/// KrakenD's application line for each failed backend (lura's endpoint handler, at ERROR):
/// `[ENDPOINT: /users/:id] invalid status code`, or with several backends one
/// `[ENDPOINT: /users/:id] Error #0: ...` per failure.
pub fn failed_backends(report: &Report) {
    let pattern = report.endpoint.as_ref().map_or_else(String::new, |e| colon_pattern(&e.pattern));
    // lura hands over one error for a single backend, a list for a merge of several.
    let several = report.endpoint.as_ref().is_some_and(|e| e.backends > 1);
    for (i, f) in report.failed.iter().enumerate() {
        if several {
            tracing::error!("[ENDPOINT: {pattern}] Error #{i}: {}", f.error);
        } else {
            tracing::error!("[ENDPOINT: {pattern}] {}", f.error);
        }
    }
}

/// lura's form of an endpoint in its logs: `{id}` parameters as gin's `:id`.
fn colon_pattern(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut rest = pattern;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else { break };
        out.push_str(&rest[..open]);
        out.push(':');
        out.push_str(&rest[open + 1..open + close]);
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

/// One request as the Lambda function logs it.
#[derive(Debug, Clone, Copy)]
pub struct RequestLine<'a> {
    pub method: &'a str,
    /// The path as routed, without the query.
    pub path: &'a str,
    pub status: u16,
    pub latency: Duration,
}

/// The Lambda function's line for one request (flat JSON with the invocation's `requestId` and
/// `xrayTraceId`): `method`, `path`, `endpoint` (the pattern that answered), `status`,
/// `latencyMs`, `completed`, and `failedBackends` (`[{"backend", "error"}]`). INFO, or ERROR when
/// a backend failed (KrakenD's level for a failed backend).
pub fn request_line(line: &RequestLine<'_>, report: &Report) {
    let endpoint = report.endpoint.as_ref().map(|e| &*e.pattern);
    let latency_ms = (line.latency.as_secs_f64() * 1e6).round() / 1e3;
    let message = format!("{} {} {}", line.method, line.path, line.status);
    // Absent (not null) on a line without failures: an `Option` field records only its value.
    let failed = (!report.failed.is_empty()).then(|| {
        let failed: Vec<Value> =
            report.failed.iter().map(|f| serde_json::json!({"backend": &*f.url_pattern, "error": f.error})).collect();
        Value::Array(failed).to_string()
    });
    // tracing fixes an event's level at its call site: one line, written at either level.
    macro_rules! request_event {
        ($level:ident) => {
            tracing::$level!(
                target: REQUEST_TARGET,
                method = line.method,
                path = line.path,
                endpoint,
                status = line.status,
                latencyMs = latency_ms,
                completed = report.completed,
                failedBackends = failed.as_deref(),
                "{message}"
            )
        };
    }
    if failed.is_none() {
        request_event!(info);
    } else {
        request_event!(error);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn endpoint_patterns_read_as_luras_in_its_lines() {
        assert_eq!(colon_pattern("/users/{id}/posts/{post}"), "/users/:id/posts/:post");
        assert_eq!(colon_pattern("/plain"), "/plain");
        assert_eq!(colon_pattern("/odd/{"), "/odd/{");
    }

    #[test]
    fn a_level_sets_the_default_for_every_target() {
        let f = filter(Some("debug"), LevelFilter::INFO);
        assert!(f.would_enable("tributary_core::proxy", &Level::DEBUG));
        assert!(!f.would_enable("tributary_core::proxy", &Level::TRACE));
    }

    #[test]
    fn target_directives_apply_per_target() {
        let f = filter(Some("warn,tributary_core=debug"), LevelFilter::INFO);
        assert!(f.would_enable("tributary_core::backend", &Level::DEBUG));
        assert!(!f.would_enable("hyper_util::client", &Level::INFO));
        assert!(f.would_enable("hyper_util::client", &Level::WARN));
    }

    #[test]
    fn unset_empty_or_unparsable_values_give_the_default() {
        for value in [None, Some(""), Some("  "), Some("debug[span{field=1}]=x=y")] {
            let f = filter(value, LevelFilter::INFO);
            assert!(f.would_enable("tributary", &Level::INFO), "{value:?}");
            assert!(!f.would_enable("tributary", &Level::DEBUG), "{value:?}");
        }
    }

    #[test]
    fn lambdas_log_level_wins_over_rust_log() {
        let f = lambda_filter(Some("WARN"), Some("debug"));
        assert!(f.would_enable("tributary_core::gateway", &Level::WARN));
        assert!(!f.would_enable("tributary_core::gateway", &Level::INFO));
        assert!(lambda_filter(Some("FATAL"), None).would_enable("x", &Level::ERROR));
        assert!(f.would_enable("lambda_runtime::layers::trace", &Level::INFO), "the invocation span");
        let unset = lambda_filter(None, Some("debug"));
        assert!(unset.would_enable("x", &Level::DEBUG));
        assert!(lambda_text_format(Some("Text")) && !lambda_text_format(Some("JSON")) && !lambda_text_format(None));
    }

    #[test]
    fn off_silences_everything() {
        assert!(!filter(Some("off"), LevelFilter::INFO).would_enable("tributary", &Level::ERROR));
    }
}
