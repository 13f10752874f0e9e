//! Phase 7, render: the call's outcome as KrakenD answers it: status and completeness
//! (`X-KrakenD-Completed`), `Cache-Control`, and the body in the endpoint's `output_encoding`.

use crate::codec::json;
use crate::message::{GatewayResponse, JSON_UTF8, TEXT_UTF8, X_KRAKEND, X_KRAKEND_COMPLETED};
use crate::model::{BackendError, Endpoint, Outcome, Output, Settings};
use crate::transport::RawResponse;
use bytes::Bytes;
use http::StatusCode;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use serde_json::Value;

/// `no-op`: the backend's status, headers and body pass through untouched; a failure is a `500`
/// (with its text when `return_error_msg` is set).
pub(crate) fn pass_through(settings: &Settings, result: Result<RawResponse, BackendError>) -> GatewayResponse {
    let mut resp = GatewayResponse::new(StatusCode::OK);
    match result {
        Ok(raw) => {
            resp.status = raw.status;
            // The backend's map is moved, not copied; only the framing headers go.
            resp.headers = raw.headers;
            for framing in [http::header::CONTENT_LENGTH, http::header::TRANSFER_ENCODING, http::header::CONNECTION] {
                resp.headers.remove(framing);
            }
            resp.body = raw.body;
        }
        Err(e) => {
            resp.status = StatusCode::INTERNAL_SERVER_ERROR;
            if settings.return_error_msg {
                resp.body = Bytes::from(e.text);
                resp.headers.insert(CONTENT_TYPE, TEXT_UTF8);
            }
        }
    }
    resp.headers.insert(X_KRAKEND, settings.version_header.clone());
    resp.headers.insert(X_KRAKEND_COMPLETED, HeaderValue::from_static("false"));
    resp
}

/// The endpoint's answer from the call's outcome.
pub(crate) fn render(
    endpoint: &Endpoint,
    settings: &Settings,
    outcome: Outcome,
    accept: Option<&HeaderValue>,
) -> GatewayResponse {
    let mut resp = GatewayResponse::new(StatusCode::OK);
    resp.headers.insert(X_KRAKEND, settings.version_header.clone());
    let complete =
        outcome.response.as_ref().is_some_and(|r| r.complete && r.data.as_ref().is_some_and(|d| !d.is_empty()));
    resp.headers.insert(X_KRAKEND_COMPLETED, HeaderValue::from_static(if complete { "true" } else { "false" }));
    if complete && let Some(cc) = &endpoint.cache_control {
        resp.headers.insert(CACHE_CONTROL, cc.clone());
    }
    let Some(part) = outcome.response else {
        let Some(err) = outcome.error else {
            resp.headers.insert(CONTENT_TYPE, JSON_UTF8);
            resp.body = Bytes::from_static(b"{}");
            return resp;
        };
        resp.status = err.status.unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if settings.return_error_msg {
            if err.status.is_some() {
                resp.body = err.body;
                if let Some(ct) = err.content_type {
                    resp.headers.insert(CONTENT_TYPE, ct);
                }
            } else {
                resp.body = Bytes::from(err.text);
                resp.headers.insert(CONTENT_TYPE, TEXT_UTF8);
            }
        }
        return resp;
    };
    let output = match endpoint.output {
        Output::Negotiate => negotiate(accept),
        o => o,
    };
    // JSON is written straight from the part (transcoded parts are never decoded); the other
    // encodings work on the decoded tree.
    let tree = |data: Option<crate::codec::canonical::Data>| data.map(|d| Value::Object(d.into_tree()));
    let (content_type, body): (HeaderValue, Vec<u8>) = match output {
        Output::Json | Output::Negotiate | Output::NoOp => {
            let mut out = Vec::with_capacity(part.data.as_ref().map_or(4, |d| d.size_hint()));
            match &part.data {
                Some(d) => d.write(&mut out, &part.detail_keys),
                None => out.extend_from_slice(b"null"),
            }
            (JSON_UTF8, out)
        }
        Output::JsonCollection => {
            let data = tree(part.data);
            let body = match data.as_ref().and_then(|d| d.get("collection")) {
                Some(c) => json::encode(c),
                None => b"[]".to_vec(),
            };
            (JSON_UTF8, body)
        }
        Output::String => {
            let data = tree(part.data);
            let body = match data.as_ref().and_then(|d| d.get("content")) {
                Some(Value::String(s)) => s.clone().into_bytes(),
                _ => Vec::new(),
            };
            (TEXT_UTF8, body)
        }
        Output::Xml => {
            let body = match &tree(part.data) {
                Some(Value::Object(o)) => crate::codec::xml::encode(o),
                _ => Vec::new(),
            };
            (HeaderValue::from_static("application/xml"), body)
        }
        Output::Yaml => {
            let empty = Value::Object(serde_json::Map::new());
            let body = crate::codec::yaml::encode(tree(part.data).as_ref().unwrap_or(&empty));
            (HeaderValue::from_static("application/yaml; charset=utf-8"), body)
        }
    };
    resp.headers.insert(CONTENT_TYPE, content_type);
    resp.body = Bytes::from(body);
    resp
}

/// `negotiate`: the first media type of `Accept` that we can write; JSON otherwise.
fn negotiate(accept: Option<&HeaderValue>) -> Output {
    let Some(accept) = accept.and_then(|a| a.to_str().ok()) else {
        return Output::Json;
    };
    for item in accept.split(',') {
        let media = item.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        match media.as_str() {
            "application/json" | "*/*" | "application/*" => return Output::Json,
            "application/xml" | "text/xml" => return Output::Xml,
            "text/plain" | "application/yaml" | "application/x-yaml" | "text/yaml" => {
                return Output::Yaml;
            }
            _ => {}
        }
    }
    Output::Json
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_follows_the_accept_header() {
        assert_eq!(negotiate(None), Output::Json);
        assert_eq!(negotiate(Some(&HeaderValue::from_static("*/*"))), Output::Json);
        assert_eq!(negotiate(Some(&HeaderValue::from_static("application/xml"))), Output::Xml);
        assert_eq!(negotiate(Some(&HeaderValue::from_static("text/plain;q=0.9"))), Output::Yaml);
        assert_eq!(negotiate(Some(&HeaderValue::from_static("image/png"))), Output::Json);
    }
}
