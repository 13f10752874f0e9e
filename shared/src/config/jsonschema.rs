//! The `validation/json-schema` namespace as the user wrote it (KrakenD CE's
//! krakend-jsonschema): on an endpoint, its value is the JSON schema the request body must match.

use serde_json::Value;

/// The names `validation/json-schema` goes by: the v3 name, then krakend-jsonschema's original
/// namespace.
pub const VALIDATION_JSON_SCHEMA_NAMES: &[&str] =
    &["validation/json-schema", "github.com/devopsfaith/krakend-jsonschema"];

/// `validation/json-schema`: the schema, and the name it was written under (for JSON paths).
#[derive(Debug, Clone)]
pub struct JsonSchemaConfig {
    pub namespace: String,
    pub schema: Value,
}

#[cfg(test)]
mod tests {
    use crate::Gateway;

    /// Every problem of a config, one per line.
    fn problems(text: &str) -> Vec<String> {
        match Gateway::from_json(text) {
            Ok(g) => g.warnings().iter().map(ToString::to_string).collect(),
            Err(e) => e.errors.iter().chain(&e.warnings).map(ToString::to_string).collect(),
        }
    }

    /// One `POST /things` endpoint whose `extra_config` holds `namespace: schema`.
    fn on_endpoint(namespace: &str, schema: &str) -> Vec<String> {
        problems(&format!(
            r#"{{"version": 3, "endpoints": [{{"endpoint": "/things", "method": "POST",
                "extra_config": {{"{namespace}": {schema}}},
                "backend": [{{"host": ["http://127.0.0.1:8080"], "url_pattern": "/"}}]}}]}}"#
        ))
    }

    const AT: &str = "`endpoints[0].extra_config.validation/json-schema";

    #[test]
    fn a_valid_schema_is_accepted_under_either_name_without_a_warning() {
        let schema = r#"{"type": "object", "required": ["contents"], "properties": {"contents": {"type": "string"}}}"#;
        assert_eq!(on_endpoint("validation/json-schema", schema), Vec::<String>::new());
        assert_eq!(on_endpoint("github.com/devopsfaith/krakend-jsonschema", schema), Vec::<String>::new());
        assert_eq!(on_endpoint("validation/json-schema", "true"), Vec::<String>::new());
    }

    #[test]
    fn a_schema_that_does_not_compile_is_an_error_naming_its_json_path() {
        let found = on_endpoint("validation/json-schema", r#"{"type": 12}"#);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with(&format!("error: {AT}.type` (endpoint `POST /things`)")), "{found:?}");

        let found = on_endpoint("validation/json-schema", r#"{"properties": {"code": {"pattern": "(["}}}"#);
        assert!(found[0].starts_with(&format!("error: {AT}.properties.code.pattern`")), "{found:?}");

        let found = on_endpoint("validation/json-schema", r#"{"allOf": [{}, {"minLength": -1}]}"#);
        assert!(found[0].starts_with(&format!("error: {AT}.allOf[1].minLength`")), "{found:?}");

        let found = on_endpoint("github.com/devopsfaith/krakend-jsonschema", r#"{"type": "strin"}"#);
        assert!(
            found[0].starts_with("error: `endpoints[0].extra_config.github.com/devopsfaith/krakend-jsonschema.type`"),
            "{found:?}"
        );

        let found = on_endpoint("validation/json-schema", r#""a string""#);
        assert!(found[0].starts_with(&format!("error: {AT}`")), "{found:?}");
    }

    #[test]
    fn a_ref_to_another_document_is_an_error_naming_the_ref() {
        let found = on_endpoint(
            "validation/json-schema",
            r#"{"properties": {"a": {"$ref": "https://example.com/defs.json#/a"}}}"#,
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with(&format!("error: {AT}.properties.a.$ref`")), "{found:?}");
        assert!(found[0].contains("https://example.com/defs.json"), "{found:?}");
        let found = on_endpoint("validation/json-schema", r#"{"$ref": "file:///etc/schema.json"}"#);
        assert!(found[0].starts_with(&format!("error: {AT}.$ref`")), "{found:?}");
    }

    #[test]
    fn the_namespace_on_the_service_or_a_backend_is_a_warning() {
        let found = problems(
            r#"{"version": 3, "extra_config": {"validation/json-schema": {"type": "object"}},
                "endpoints": [{"endpoint": "/things", "method": "POST",
                "backend": [{"host": ["http://127.0.0.1:8080"], "url_pattern": "/",
                    "extra_config": {"validation/json-schema": {"type": "object"}}}]}]}"#,
        );
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].starts_with("warning: `extra_config.validation/json-schema`"), "{found:?}");
        assert!(
            found[1].starts_with("warning: `endpoints[0].backend[0].extra_config.validation/json-schema`"),
            "{found:?}"
        );
        assert!(found.iter().all(|w| w.contains("read only on endpoints")), "{found:?}");
    }
}
