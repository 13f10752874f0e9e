//! A `backend/graphql` backend's request, as lura's GraphQL middleware rewrites it: a query's
//! variables filled from the endpoint's parameters (the client's body dropped), a mutation's
//! variables taken from the client's JSON body (configured ones added where the body has none),
//! sent as a `POST` with the JSON body `{"query", "operationName", "variables"}`, or as a `GET`
//! with the same three as URL parameters; `Content-Type: application/json` either way.
//!
//! The JSON is written as Go's `encoding/json` writes lura's struct: members in struct order,
//! variables' keys sorted, HTML-safe escaping, and every number as a Go `float64` prints
//! (lura decodes the config and the client's body into `interface{}` values).

use crate::codec::json::{self, Object};
use crate::config::GraphQlKind;
use crate::model::GraphQl;
use bytes::Bytes;
use http::Method;
use http::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use serde_json::{Number, Value};

/// Rewrites a backend request into the GraphQL request: fills `headers` and, for a `GET`,
/// appends the operation to `url`'s query; returns the method and the body to send. `Err` is
/// the backend's error (a mutation whose client body is not a JSON object).
pub(crate) fn rewrite<'g>(
    gql: &'g GraphQl,
    params: &[String],
    client_body: &Bytes,
    url: &mut String,
    headers: &mut HeaderMap,
) -> Result<(&'g Method, Option<Bytes>), String> {
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if gql.method == Method::GET {
        let variables = variables(gql, params, client_body)?;
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&url_parameters(&gql.query, &gql.operation_name, &variables));
        return Ok((&gql.method, None));
    }
    let body = match &gql.fixed_body {
        Some(fixed) => fixed.clone(),
        None => encode(&gql.query, &gql.operation_name, &variables(gql, params, client_body)?),
    };
    Ok((&gql.method, Some(body)))
}

/// The request's variables: a query's with its placeholders filled, a mutation's from the body.
fn variables(gql: &GraphQl, params: &[String], client_body: &Bytes) -> Result<Object, String> {
    match gql.kind {
        GraphQlKind::Query => {
            let mut vars = gql.variables.clone();
            for (name, index) in &gql.placeholders {
                let value = index.and_then(|i| params.get(i)).cloned().unwrap_or_default();
                vars.insert(name.clone(), Value::String(value));
            }
            Ok(vars)
        }
        GraphQlKind::Mutation => {
            let mut vars = body_object(client_body)?;
            for (name, value) in &gql.variables {
                vars.entry(name.clone()).or_insert_with(|| value.clone());
            }
            Ok(vars)
        }
    }
}

/// The client's body as Go's `json.Unmarshal` into a `map[string]interface{}` reads it, with its
/// error texts.
fn body_object(body: &[u8]) -> Result<Object, String> {
    let value = json::decode_whole(body).map_err(|e| match e {
        json::JsonError::Eof | json::JsonError::UnexpectedEof => "unexpected end of JSON input".to_owned(),
        other => other.to_string(),
    })?;
    let mut vars = match value {
        Value::Object(map) => map,
        // Go leaves the map empty (nil) for `null`.
        Value::Null => return Ok(Object::new()),
        other => {
            let kind = match other {
                Value::Array(_) => "array",
                Value::String(_) => "string",
                Value::Number(_) => "number",
                _ => "bool",
            };
            return Err(format!("json: cannot unmarshal {kind} into Go value of type map[string]interface {{}}"));
        }
    };
    vars.values_mut().try_for_each(go_numbers)?;
    Ok(vars)
}

/// lura's body: `{"query":…,"operationName":…,"variables":{…}}`, the last two left out when
/// empty (Go's `omitempty`).
pub(crate) fn encode(query: &str, operation_name: &str, variables: &Object) -> Bytes {
    let mut out = Vec::with_capacity(query.len() + 64);
    out.extend_from_slice(b"{\"query\":");
    json::write_str(&mut out, query);
    if !operation_name.is_empty() {
        out.extend_from_slice(b",\"operationName\":");
        json::write_str(&mut out, operation_name);
    }
    if !variables.is_empty() {
        out.extend_from_slice(b",\"variables\":");
        json::encode_object_into(&mut out, variables, &[]);
    }
    out.push(b'}');
    Bytes::from(out)
}

/// A `GET` request's parameters, as Go's `url.Values.Encode` writes lura's: keys sorted
/// (`operationName`, `query`, `variables`), the empty ones left out but `query`.
fn url_parameters(query: &str, operation_name: &str, variables: &Object) -> String {
    let mut out = String::new();
    if !operation_name.is_empty() {
        out.push_str("operationName=");
        out.push_str(&super::go_query_escape(operation_name));
        out.push('&');
    }
    out.push_str("query=");
    out.push_str(&super::go_query_escape(query));
    if !variables.is_empty() {
        let mut encoded = Vec::new();
        json::encode_object_into(&mut encoded, variables, &[]);
        out.push_str("&variables=");
        out.push_str(&super::go_query_escape(&String::from_utf8_lossy(&encoded)));
    }
    out
}

/// Rewrites every number of `value` as Go prints the `float64` it decodes to (`1.0` is `1`,
/// `1e3` is `1000`, `1e21` is `1e+21`, integers past 2^53 lose precision). `Err` names a number
/// no `float64` holds, which Go refuses to decode.
pub(crate) fn go_numbers(value: &mut Value) -> Result<(), String> {
    match value {
        Value::Number(n) => {
            let text = go_float(n.as_str())
                .ok_or_else(|| format!("json: cannot unmarshal number {} into Go value of type float64", n.as_str()))?;
            if text != n.as_str() {
                *n = text.parse::<Number>().map_err(|e| e.to_string())?;
            }
            Ok(())
        }
        Value::Array(items) => items.iter_mut().try_for_each(go_numbers),
        Value::Object(map) => map.values_mut().try_for_each(go_numbers),
        _ => Ok(()),
    }
}

/// Go's `strconv.FormatFloat(f, 'f' or 'e', -1, 64)` as `encoding/json` picks it: the shortest
/// text that reads back the same, with an exponent below 1e-6 and from 1e21 (`e+21`, `e-7`).
fn go_float(literal: &str) -> Option<String> {
    let f: f64 = literal.parse().ok().filter(|f: &f64| f.is_finite())?;
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let text = format!("{f:e}");
        let (mantissa, exponent) = text.split_once('e')?;
        let exponent: i32 = exponent.parse().ok()?;
        return Some(if exponent < 0 {
            format!("{mantissa}e-{}", -exponent)
        } else {
            format!("{mantissa}e+{exponent:02}")
        });
    }
    Some(format!("{f}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::GraphQlConfig;

    fn compiled(cfg: &str, params: &[&str]) -> GraphQl {
        let cfg: GraphQlConfig = serde_json::from_str(cfg).unwrap();
        let mut vars = Value::Object(cfg.variables.clone().unwrap_or_default());
        go_numbers(&mut vars).unwrap();
        let Value::Object(vars) = vars else { unreachable!() };
        let params: Vec<String> = params.iter().map(|p| (*p).to_owned()).collect();
        GraphQl::new(&cfg, cfg.query.clone(), vars, &params).expect("a query or a mutation")
    }

    /// The method, URL and body of the rewritten request.
    fn run(gql: &GraphQl, params: &[&str], body: &str) -> Result<(Method, String, String, HeaderMap), String> {
        let params: Vec<String> = params.iter().map(|p| (*p).to_owned()).collect();
        let mut url = "http://b/graphql".to_owned();
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        let (method, sent) = rewrite(gql, &params, &Bytes::copy_from_slice(body.as_bytes()), &mut url, &mut headers)?;
        let sent = sent.map(|b| String::from_utf8(b.to_vec()).unwrap()).unwrap_or_default();
        Ok((method.clone(), url, sent, headers))
    }

    #[test]
    fn a_query_fills_its_placeholders_from_the_parameters_and_drops_the_client_body() {
        let gql = compiled(
            r#"{"type": "QUERY", "query": "query Q($id: ID!) { film(id: $id) { title } }",
                "variables": {"id": "{movie_id}", "Other": "{Missing}", "lit": "id-{movie_id}", "n": 1.0,
                              "nested": {"x": "{movie_id}"}}}"#,
            &["movie_id"],
        );
        let (method, url, body, headers) = run(&gql, &["4"], r#"{"ignored": true}"#).unwrap();
        assert_eq!(method, Method::POST);
        assert_eq!(url, "http://b/graphql");
        assert_eq!(headers[CONTENT_TYPE], "application/json");
        assert_eq!(
            body,
            r#"{"query":"query Q($id: ID!) { film(id: $id) { title } }","variables":{"Other":"","id":"4","lit":"id-{movie_id}","n":1,"nested":{"x":"{movie_id}"}}}"#
        );
    }

    #[test]
    fn placeholders_match_the_parameter_with_its_first_letter_upper_cased() {
        let gql = compiled(r#"{"type": "query", "query": "q", "variables": {"a": "{Movie_id}"}}"#, &["movie_id"]);
        assert_eq!(run(&gql, &["7"], "").unwrap().2, r#"{"query":"q","variables":{"a":"7"}}"#);
    }

    #[test]
    fn a_mutation_takes_its_variables_from_the_body_and_adds_the_configured_ones_it_lacks() {
        let gql = compiled(
            r#"{"type": "mutation", "query": "mutation M($t: String) { add(t: $t) }", "operationName": "M",
                "variables": {"t": "default", "user": "{id}", "flag": false}}"#,
            &["id"],
        );
        let (method, _, body, _) =
            run(&gql, &["9"], r#"{"t": "from body", "z": 1e3, "big": 12345678901234567890}"#).unwrap();
        assert_eq!(method, Method::POST);
        assert_eq!(
            body,
            r#"{"query":"mutation M($t: String) { add(t: $t) }","operationName":"M","variables":{"big":12345678901234567000,"flag":false,"t":"from body","user":"{id}","z":1000}}"#
        );
    }

    #[test]
    fn a_mutation_whose_body_is_not_a_json_object_fails_with_gos_words() {
        let gql = compiled(r#"{"type": "mutation", "query": "m"}"#, &[]);
        assert_eq!(run(&gql, &[], "").unwrap_err(), "unexpected end of JSON input");
        assert_eq!(run(&gql, &[], "{\"a\":").unwrap_err(), "unexpected end of JSON input");
        assert_eq!(
            run(&gql, &[], "[1]").unwrap_err(),
            "json: cannot unmarshal array into Go value of type map[string]interface {}"
        );
        assert_eq!(run(&gql, &[], "{} x").unwrap_err(), "invalid character 'x' after top-level value");
        assert!(run(&gql, &[], "nope").unwrap_err().starts_with("invalid character 'o' in literal"));
    }

    #[test]
    fn a_mutation_with_a_null_or_empty_object_body_sends_only_the_configured_variables() {
        let gql = compiled(r#"{"type": "mutation", "query": "m", "variables": {"a": 1}}"#, &[]);
        assert_eq!(run(&gql, &[], "null").unwrap().2, r#"{"query":"m","variables":{"a":1}}"#);
        let bare = compiled(r#"{"type": "mutation", "query": "m"}"#, &[]);
        assert_eq!(run(&bare, &[], " {} ").unwrap().2, r#"{"query":"m"}"#);
    }

    #[test]
    fn a_get_puts_the_operation_in_the_url_and_sends_no_body() {
        let gql = compiled(
            r#"{"type": "query", "method": "get", "query": "query { a(x: \"<&>\") }", "operationName": "Op",
                "variables": {"id": "{id}"}}"#,
            &["id"],
        );
        let params = vec!["1 2".to_owned()];
        let mut url = "http://b/gql?keep=1".to_owned();
        let mut headers = HeaderMap::new();
        let (method, body) = rewrite(&gql, &params, &Bytes::new(), &mut url, &mut headers).unwrap();
        assert_eq!(*method, Method::GET);
        assert!(body.is_none());
        assert_eq!(headers[CONTENT_TYPE], "application/json");
        assert_eq!(
            url,
            "http://b/gql?keep=1&operationName=Op&query=query+%7B+a%28x%3A+%22%3C%26%3E%22%29+%7D&variables=%7B%22id%22%3A%221+2%22%7D"
        );
    }

    #[test]
    fn strings_are_escaped_as_go_escapes_them() {
        let body = encode("<a & b>\u{2028}", "", &Object::new());
        assert_eq!(&body[..], br#"{"query":"\u003ca \u0026 b\u003e\u2028"}"#);
    }

    #[test]
    fn numbers_are_written_as_gos_float64() {
        for (literal, go) in [
            ("1", "1"),
            ("1.0", "1"),
            ("-0", "-0"),
            ("1e3", "1000"),
            ("1.5E2", "150"),
            ("0.000001", "0.000001"),
            ("0.0000001", "1e-7"),
            ("1e-10", "1e-10"),
            ("1e20", "100000000000000000000"),
            ("1e21", "1e+21"),
            ("1.25e100", "1.25e+100"),
            ("9007199254740993", "9007199254740992"),
        ] {
            assert_eq!(go_float(literal).as_deref(), Some(go), "{literal}");
        }
        assert_eq!(go_float("1e400"), None, "out of a float64's range");
    }
}
