//! KrakenD's reserved environment variables: `KRAKEND_<KEY>` replaces the value of a root-level
//! key of the config that is a string, a number or a boolean, when the config has that key
//! (`KRAKEND_PORT=9000`, `KRAKEND_TIMEOUT=500ms`, `KRAKEND_NAME=...`). Nested values are never
//! touched. Applied by `tributary run` and `tributary check`, as `krakend run` and `check` do.

use serde_json::Value;
use serde_json::value::RawValue;
use std::collections::BTreeMap;

/// One override applied: the key and the value it now has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub key: String,
    pub value: String,
}

/// The config text with every override `lookup` has (given `KRAKEND_<KEY>`) applied. Only the
/// replaced values change, in place, so line and column numbers of later errors stay right.
/// `Err` names a variable whose value does not fit the key's type.
pub fn apply(text: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<(String, Vec<Applied>), String> {
    // A config that is not a JSON object is left to the parser, which says what is wrong.
    let Ok(root) = serde_json::from_str::<BTreeMap<String, &RawValue>>(text) else {
        return Ok((text.to_owned(), Vec::new()));
    };
    let mut edits: Vec<(usize, usize, String, Applied)> = Vec::new();
    for (key, raw) in &root {
        let var = format!("KRAKEND_{}", key.to_ascii_uppercase());
        let Some(wanted) = lookup(&var) else { continue };
        let replacement = match serde_json::from_str::<Value>(raw.get()) {
            Ok(Value::String(_)) => Value::String(wanted.clone()),
            Ok(Value::Bool(_)) => match wanted.trim().to_ascii_lowercase().as_str() {
                "true" | "1" => Value::Bool(true),
                "false" | "0" => Value::Bool(false),
                _ => return Err(format!("`{var}={wanted}`: `{key}` is a boolean (true or false)")),
            },
            Ok(Value::Number(_)) => match wanted.trim().parse::<serde_json::Number>() {
                Ok(n) => Value::Number(n),
                Err(_) => return Err(format!("`{var}={wanted}`: `{key}` is a number")),
            },
            _ => continue,
        };
        // The value's place in the text: `RawValue` borrows it from `text`.
        let start = raw.get().as_ptr() as usize - text.as_ptr() as usize;
        let end = start + raw.get().len();
        edits.push((start, end, replacement.to_string(), Applied { key: key.clone(), value: wanted }));
    }
    edits.sort_by_key(|(start, ..)| *start);
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    let mut applied = Vec::new();
    for (start, end, replacement, done) in edits {
        out.push_str(&text[at..start]);
        out.push_str(&replacement);
        at = end;
        applied.push(done);
    }
    out.push_str(&text[at..]);
    Ok((out, applied))
}

/// [`apply`] with the process's environment.
pub fn apply_env(text: &str) -> Result<(String, Vec<Applied>), String> {
    apply(text, |name| std::env::var(name).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| (*v).to_owned())
    }

    #[test]
    fn root_scalars_present_in_the_config_are_replaced_in_place() {
        let text = "{\n  \"version\": 3,\n  \"port\": 8080,\n  \"timeout\": \"3s\",\n  \"debug_endpoint\": false,\n  \"endpoints\": []\n}";
        let vars = env(&[("KRAKEND_PORT", "9000"), ("KRAKEND_TIMEOUT", "500ms"), ("KRAKEND_DEBUG_ENDPOINT", "true")]);
        let (out, applied) = apply(text, vars).unwrap();
        assert_eq!(
            out,
            "{\n  \"version\": 3,\n  \"port\": 9000,\n  \"timeout\": \"500ms\",\n  \"debug_endpoint\": true,\n  \"endpoints\": []\n}"
        );
        assert_eq!(applied.len(), 3);
    }

    #[test]
    fn keys_absent_from_the_config_and_nested_values_are_not_touched() {
        let text = r#"{"version": 3, "extra_config": {"router": {"port": 1}}, "endpoints": []}"#;
        let (out, applied) = apply(text, env(&[("KRAKEND_NAME", "x"), ("KRAKEND_EXTRA_CONFIG", "{}")])).unwrap();
        assert_eq!(out, text);
        assert!(applied.is_empty());
    }

    #[test]
    fn a_value_of_the_wrong_type_is_an_error_naming_the_variable() {
        let err = apply(r#"{"port": 8080}"#, env(&[("KRAKEND_PORT", "eighty")])).unwrap_err();
        assert!(err.contains("KRAKEND_PORT") && err.contains("number"), "{err}");
        let err = apply(r#"{"echo_endpoint": false}"#, env(&[("KRAKEND_ECHO_ENDPOINT", "yes")])).unwrap_err();
        assert!(err.contains("boolean"), "{err}");
    }

    #[test]
    fn strings_are_written_as_json_strings() {
        let (out, _) = apply(r#"{"name": "a"}"#, env(&[("KRAKEND_NAME", "say \"hi\"")])).unwrap();
        assert_eq!(out, r#"{"name": "say \"hi\""}"#);
    }
}
