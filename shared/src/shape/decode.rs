//! One backend's answer turned into the part it contributes: the status check
//! (`backend/http`), decoding (`encoding`), then shaping.

use crate::codec::canonical::{Data, RawObject};
use crate::codec::json::{self, JsonError, Object};
use crate::codec::xml::XmlDecodeError;
use crate::model::{Backend, BackendError, Decoding, Part};
use crate::transport::RawResponse;
use http::StatusCode;
use serde_json::Value;

/// Status check (`backend/http`'s `return_error_details` and `return_error_code`), decode and
/// shape, as lura's backend proxy does.
pub(crate) fn process(backend: &Backend, url: &str, raw: RawResponse) -> Result<Part, BackendError> {
    if raw.status != StatusCode::OK && raw.status != StatusCode::CREATED {
        let content_type = raw.headers.get(http::header::CONTENT_TYPE).cloned();
        if let Some(alias) = &backend.error_details {
            let mut detail = Object::new();
            detail.insert("http_status_code".into(), Value::from(raw.status.as_u16()));
            if !raw.body.is_empty() {
                detail.insert("http_body".into(), Value::String(String::from_utf8_lossy(&raw.body).into_owned()));
            }
            if let Some(ct) = content_type.as_ref().and_then(|v| v.to_str().ok()).filter(|s| !s.is_empty()) {
                detail.insert("http_body_encoding".into(), Value::String(ct.to_owned()));
            }
            let key = format!("error_{alias}");
            let mut data = Object::new();
            data.insert(key.clone(), Value::Object(detail));
            return Ok(Part { data: Some(Data::Tree(data)), complete: false, detail_keys: vec![key] });
        }
        let text = format!("invalid status code {} {}: {}", raw.status.as_u16(), backend.pattern_label, url);
        if backend.error_code {
            return Err(BackendError { text, status: Some(raw.status), body: raw.body, content_type });
        }
        return Err(BackendError::plain(text));
    }
    // A JSON object is transcoded and shaped as bytes, never decoded into a tree (unless a
    // flatmap filter needs one); anything else, malformed bodies included, takes the decoding
    // path (Go's error texts).
    if backend.decoding == Decoding::Json
        && !backend.is_collection
        && backend.shaper.shapes_raw()
        && let Ok(raw) = RawObject::from_body_hinted(&raw.body, backend.shaper.split_depth(), &backend.key_order)
    {
        let data = raw.map(|r| Data::Raw(backend.shaper.apply_raw(r)));
        return Ok(Part { data, complete: true, detail_keys: Vec::new() });
    }
    let data =
        decode(backend.decoding, backend.is_collection, &raw.body).map_err(|e| BackendError::plain(e.to_string()))?;
    let data = data.map(|d| Data::Tree(if backend.shaper.is_identity() { d } else { backend.shaper.apply(d) }));
    Ok(Part { data, complete: true, detail_keys: Vec::new() })
}

/// Decodes a backend body by its `encoding`, with Go's error texts. `Ok(None)` is JSON `null`:
/// no data, no error.
pub(crate) fn decode(decoding: Decoding, is_collection: bool, body: &[u8]) -> Result<Option<Object>, DecodeError> {
    match decoding {
        Decoding::Json => match json::decode_first(body)? {
            Value::Null => Ok(None),
            Value::Object(o) if !is_collection => Ok(Some(o)),
            Value::Array(a) if is_collection => Ok(Some(wrap("collection", Value::Array(a)))),
            other => Err(DecodeError::Unmarshal { found: kind(&other), into: if is_collection { LIST } else { MAP } }),
        },
        Decoding::SafeJson => match json::decode_first(body)? {
            Value::Object(o) => Ok(Some(o)),
            Value::Array(a) => Ok(Some(wrap("collection", Value::Array(a)))),
            other => Ok(Some(wrap("content", other))),
        },
        Decoding::String => Ok(Some(wrap("content", Value::String(String::from_utf8_lossy(body).into_owned())))),
        Decoding::Xml => {
            let map = crate::codec::xml::decode(body)?;
            Ok(Some(if is_collection { wrap("collection", Value::Object(map)) } else { map }))
        }
        // No-op bodies are never decoded; the no-op path does not come here.
        Decoding::NoOp => Ok(None),
    }
}

/// Go's names of the types a body decodes into.
const MAP: &str = "map[string]interface {}";
const LIST: &str = "[]interface {}";

/// Why a backend body did not decode, in Go's words (the text becomes the backend's error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DecodeError {
    #[error(transparent)]
    Json(#[from] JsonError),
    #[error(transparent)]
    Xml(#[from] XmlDecodeError),
    /// Valid JSON of another kind than the endpoint takes (`found`: Go's kind name, `into`:
    /// Go's type name).
    #[error("json: cannot unmarshal {found} into Go value of type {into}")]
    Unmarshal { found: &'static str, into: &'static str },
}

fn wrap(key: &str, v: Value) -> Object {
    let mut o = Object::new();
    o.insert(key.to_owned(), v);
    o
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_decoding_accepts_only_objects_unless_collection() {
        assert!(decode(Decoding::Json, false, b"{\"a\":1}").unwrap().is_some());
        assert!(decode(Decoding::Json, false, b"[1]").is_err());
        assert!(decode(Decoding::Json, true, b"{\"a\":1}").is_err());
        assert_eq!(
            decode(Decoding::Json, false, b"[1]").unwrap_err().to_string(),
            "json: cannot unmarshal array into Go value of type map[string]interface {}"
        );
        assert_eq!(
            decode(Decoding::Json, true, b"\"x\"").unwrap_err().to_string(),
            "json: cannot unmarshal string into Go value of type []interface {}"
        );
        assert_eq!(decode(Decoding::Json, true, b"[1]").unwrap().unwrap()["collection"], serde_json::json!([1]));
        assert!(decode(Decoding::Json, false, b"null").unwrap().is_none());
        assert!(decode(Decoding::Json, false, b"").is_err());
    }

    #[test]
    fn safejson_wraps_arrays_and_scalars() {
        assert_eq!(
            decode(Decoding::SafeJson, false, b"[1,2]").unwrap().unwrap()["collection"],
            serde_json::json!([1, 2])
        );
        assert_eq!(decode(Decoding::SafeJson, false, b"42").unwrap().unwrap()["content"], serde_json::json!(42));
    }

    #[test]
    fn string_decoding_keeps_the_whole_body() {
        assert_eq!(decode(Decoding::String, false, b"Hello").unwrap().unwrap()["content"], "Hello");
    }
}
