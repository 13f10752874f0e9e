//! The built-in answers: `/__health`, `/__debug/` and `/__echo/`.

use crate::message::{GatewayRequest, GatewayResponse, JSON_UTF8, canonical, parse_query};
use bytes::Bytes;
use http::StatusCode;
use http::header::CONTENT_TYPE;
use serde_json::{Map, Value, json};
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
    for (k, v) in parse_query(&req.query) {
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
    r.body = Bytes::from(crate::codec::json::encode(body));
    r
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
    fn civil_dates_are_right() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_414), (2025, 11, 22));
    }
}
