//! Lambda event conversion: arbitrary function URL / HTTP API (v2), REST API (v1) and ALB events
//! read by `lambda_http::request::from_str`, then `into_core`. The request the core gets has the
//! event's method, its raw path (less an HTTP API's named stage), its query and its body (base64
//! decoded when flagged). Arbitrary text as an event must not panic either.
//!
//! lambda_http itself panics (`Url::parse(..).unwrap()`, `.expect("failed to build request")`)
//! on a `Host` header or path that makes no URL, and on a query `http::Uri` refuses; those events
//! are skipped here (a dependency's behaviour, reported apart), with the same checks it makes.
#![no_main]

#[path = "../../functions/tests/checks/lambda.rs"]
mod lambda;

libfuzzer_sys::fuzz_target!(|event: lambda::Event| lambda::check(event));
