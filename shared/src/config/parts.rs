//! A config split into parts (SSM parameters under a path, past SSM's 4 KB / 8 KB value limit),
//! combined into one KrakenD config: one part holds the service, every other part one endpoint or
//! a list of endpoints, appended in the parts' name order.

use serde_json::Value;

/// The combined config text, and for each endpoint of it the name of the part it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Assembled {
    pub text: String,
    pub endpoint_sources: Vec<String>,
}

/// Combines `(name, json text)` parts. The service part is the one JSON object with a `version`
/// key (its own `endpoints`, if any, come first); an object with an `endpoint` key is one
/// endpoint; an array is a list of endpoints. Parts are taken in byte order of their names.
pub fn assemble(parts: &[(String, String)]) -> Result<Assembled, PartsError> {
    let mut sorted: Vec<&(String, String)> = parts.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut service: Option<(String, serde_json::Map<String, Value>)> = None;
    let mut endpoints: Vec<Value> = Vec::new();
    let mut sources: Vec<String> = Vec::new();
    let mut service_endpoints: Vec<Value> = Vec::new();
    for (name, text) in sorted {
        let value: Value =
            serde_json::from_str(text).map_err(|error| PartsError::InvalidJson { part: name.clone(), error })?;
        match value {
            Value::Object(mut obj) if obj.contains_key("version") => {
                if let Some((first, _)) = &service {
                    return Err(PartsError::TwoServices { first: first.clone(), second: name.clone() });
                }
                if let Some(own) = obj.remove("endpoints") {
                    match own {
                        Value::Array(list) => service_endpoints = list,
                        _ => return Err(PartsError::EndpointsNotAList(name.clone())),
                    }
                }
                service = Some((name.clone(), obj));
            }
            Value::Object(obj) if obj.contains_key("endpoint") => {
                endpoints.push(Value::Object(obj));
                sources.push(name.clone());
            }
            Value::Array(list) => {
                for item in list {
                    if !item.get("endpoint").is_some_and(Value::is_string) {
                        return Err(PartsError::ItemNotAnEndpoint(name.clone()));
                    }
                    endpoints.push(item);
                    sources.push(name.clone());
                }
            }
            _ => {
                return Err(PartsError::UnknownPart(name.clone()));
            }
        }
    }
    let Some((service_name, mut obj)) = service else {
        return Err(PartsError::NoService);
    };
    let mut all_sources = vec![service_name; service_endpoints.len()];
    all_sources.extend(sources);
    service_endpoints.extend(endpoints);
    obj.insert("endpoints".to_owned(), Value::Array(service_endpoints));
    let text = serde_json::to_string_pretty(&Value::Object(obj)).map_err(PartsError::Encode)?;
    Ok(Assembled { text, endpoint_sources: all_sources })
}

/// Why parts do not combine into one config (each names the part concerned).
#[derive(Debug, thiserror::Error)]
pub enum PartsError {
    #[error("parameter `{part}`: invalid JSON: {error}")]
    InvalidJson { part: String, error: serde_json::Error },
    #[error("parameters `{first}` and `{second}` both hold a service (an object with `version`); exactly one may")]
    TwoServices { first: String, second: String },
    #[error("parameter `{0}`: `endpoints` must be a list")]
    EndpointsNotAList(String),
    #[error("parameter `{0}`: every item of the list must be an endpoint object")]
    ItemNotAnEndpoint(String),
    #[error(
        "parameter `{0}`: expected the service (an object with `version`), an endpoint (an object with `endpoint`) or a list of endpoints"
    )]
    UnknownPart(String),
    #[error("no parameter holds the service: one part must be an object with `\"version\": 3`")]
    NoService,
    #[error("{0}")]
    Encode(serde_json::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(name: &str, text: &str) -> (String, String) {
        (name.to_owned(), text.to_owned())
    }

    #[test]
    fn parts_combine_in_name_order_after_the_service_endpoints() {
        let parts = [
            part("/gw/b-list", r#"[{"endpoint":"/b1"},{"endpoint":"/b2"}]"#),
            part("/gw/0-service", r#"{"version":3,"timeout":"1s","endpoints":[{"endpoint":"/s"}]}"#),
            part("/gw/a-one", r#"{"endpoint":"/a"}"#),
        ];
        let a = assemble(&parts).unwrap();
        let v: Value = serde_json::from_str(&a.text).unwrap();
        let paths: Vec<&str> =
            v["endpoints"].as_array().unwrap().iter().map(|e| e["endpoint"].as_str().unwrap()).collect();
        assert_eq!(paths, ["/s", "/a", "/b1", "/b2"]);
        assert_eq!(a.endpoint_sources, ["/gw/0-service", "/gw/a-one", "/gw/b-list", "/gw/b-list"]);
        assert_eq!(v["timeout"], "1s");
    }

    #[test]
    fn exactly_one_service_part_is_required() {
        assert!(matches!(assemble(&[part("a", r#"{"endpoint":"/a"}"#)]), Err(PartsError::NoService)));
        let err = assemble(&[part("a", r#"{"endpoint":"/a"}"#)]).unwrap_err().to_string();
        assert!(err.contains("no parameter holds the service"), "{err}");
        let two = [part("a", r#"{"version":3}"#), part("b", r#"{"version":3}"#)];
        assert!(assemble(&two).unwrap_err().to_string().contains("both hold a service"));
    }

    #[test]
    fn a_part_that_is_not_json_names_the_parameter() {
        let err = assemble(&[part("/gw/x", "{not json")]).unwrap_err().to_string();
        assert!(err.starts_with("parameter `/gw/x`: invalid JSON"), "{err}");
        let err = assemble(&[part("/gw/y", "42")]).unwrap_err().to_string();
        assert!(err.contains("parameter `/gw/y`: expected"), "{err}");
    }
}
