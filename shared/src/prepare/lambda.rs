//! A `backend/lambda` backend's invocation: the function's name (fixed, or an endpoint
//! parameter's value) and its payload, as krakend-lambda builds them: for a `GET` backend the
//! endpoint's parameters as one JSON object of strings (keys lowercased, query string left
//! out), for any other method the request body as it came.

use crate::model::{LambdaCall, LambdaFunction};
use bytes::Bytes;
use std::collections::BTreeMap;

/// The function to invoke for this request.
pub(crate) fn function<'a>(call: &'a LambdaCall, params: &'a [String]) -> &'a str {
    match &call.function {
        LambdaFunction::Named(name) => name,
        LambdaFunction::Param(index) => params.get(*index).map_or("", String::as_str),
    }
}

/// The payload sent to the function.
pub(crate) fn payload(call: &LambdaCall, params: &[String], body: &Bytes) -> Bytes {
    match &call.param_keys {
        // Sorted keys, as Go's encoder writes a map.
        Some(keys) => {
            let object: BTreeMap<&str, &str> =
                keys.iter().map(String::as_str).zip(params.iter().map(String::as_str)).collect();
            Bytes::from(serde_json::to_vec(&object).unwrap_or_default())
        }
        None => body.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::lambda::LambdaInvoker;

    fn call(function: LambdaFunction, param_keys: Option<&[&str]>) -> LambdaCall {
        LambdaCall {
            function,
            param_keys: param_keys.map(|k| k.iter().map(|s| (*s).to_owned()).collect()),
            invoker: LambdaInvoker { endpoint: None, region: None, max_retries: 0, signer: None },
        }
    }

    #[test]
    fn a_get_payload_is_the_parameters_by_lowercased_name_and_other_methods_send_the_body() {
        let params = vec!["42".to_owned(), "a \"b\"".to_owned()];
        let get = call(LambdaFunction::Named("f".into()), Some(&["userid", "tag"]));
        assert_eq!(payload(&get, &params, &Bytes::from_static(b"ignored")), r#"{"tag":"a \"b\"","userid":"42"}"#);
        let post = call(LambdaFunction::Named("f".into()), None);
        assert_eq!(payload(&post, &params, &Bytes::from_static(b"{\"x\":1}")), "{\"x\":1}");
    }

    #[test]
    fn the_function_comes_from_its_name_or_from_a_parameter() {
        let params = vec!["users".to_owned(), "fn-b".to_owned()];
        assert_eq!(function(&call(LambdaFunction::Named("fn-a".into()), None), &params), "fn-a");
        assert_eq!(function(&call(LambdaFunction::Param(1), None), &params), "fn-b");
        assert_eq!(function(&call(LambdaFunction::Param(5), None), &params), "");
    }
}
