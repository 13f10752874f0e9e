//! `validation/json-schema` at run time (krakend-jsonschema): an endpoint's request body checked
//! against its schema before any backend is called, with KrakenD's refusal texts. The schema
//! engine sits behind `engine` (compile a schema; list a value's violations).

mod engine;

pub(crate) use engine::SchemaError;
use serde_json::Value;

/// krakend-jsonschema's text for a request without a body (any method, GET included).
pub(crate) const EMPTY_BODY: &str = "could not validate an empty body";

/// Deepest nesting of a body checked against a schema. The engine walks a body recursively as
/// deep as a recursive schema (`{"items": {"$ref": "#"}}`) follows it, and each level takes
/// stack: this keeps the walk within a 2 MiB thread stack (tokio's), even unoptimised. Go
/// allows 10000; request bodies nest far less.
pub(crate) const MAX_DEPTH: usize = 64;

/// An endpoint's compiled schema.
pub(crate) struct JsonSchema {
    compiled: engine::Compiled,
}

impl JsonSchema {
    /// Compiles the namespace's value (the value is the schema itself).
    pub(crate) fn new(schema: &Value) -> Result<JsonSchema, SchemaError> {
        engine::compile(schema).map(|compiled| JsonSchema { compiled })
    }

    /// Checks a request body: `Err` holds KrakenD's error text. An empty body, a body that is
    /// not JSON (the first value is read, as Go's decoder does: trailing bytes are ignored; the
    /// text is the decoder's) and a body against the schema (one `- field: description` line
    /// per violation) are refused, and so is a body nested deeper than [`MAX_DEPTH`]. The body's
    /// size is bounded by the door's body limit, so the work is bounded too.
    pub(crate) fn check(&self, body: &[u8]) -> Result<(), String> {
        if body.is_empty() {
            return Err(EMPTY_BODY.to_owned());
        }
        let value = crate::codec::json::decode_first(body).map_err(|e| e.to_string())?;
        if deeper_than(&value, MAX_DEPTH) {
            return Err(format!("exceeded max depth of {MAX_DEPTH}"));
        }
        let violations = self.compiled.violations(&value);
        if violations.is_empty() {
            return Ok(());
        }
        let lines: Vec<String> = violations.iter().map(|v| format!("- {v}")).collect();
        Err(lines.join("\n"))
    }
}

/// Whether `value` nests more than `limit` arrays and objects (walked without recursion).
fn deeper_than(value: &Value, limit: usize) -> bool {
    let mut pending: Vec<(&Value, usize)> = vec![(value, 0)];
    while let Some((v, depth)) = pending.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match v {
            Value::Array(items) => Box::new(items.iter()),
            Value::Object(map) => Box::new(map.values()),
            _ => continue,
        };
        if depth + 1 > limit {
            return true;
        }
        pending.extend(children.map(|c| (c, depth + 1)));
    }
    false
}

#[cfg(test)]
mod tests;
