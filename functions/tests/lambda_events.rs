//! Lambda event conversion on stable: the `lambda` fuzz target's check (`tests/checks/lambda.rs`)
//! on events proptest generates: function URL / HTTP API, REST API and ALB events reach the core
//! with their method, raw path (less an HTTP API's named stage), query and body.

#[path = "checks/lambda.rs"]
mod lambda;

use arbitrary::{Arbitrary, Unstructured};
use proptest::collection::vec;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn lambda_events_reach_the_core_with_their_method_path_query_and_body(input in vec(any::<u8>(), 0..384)) {
        if let Ok(event) = lambda::Event::arbitrary_take_rest(Unstructured::new(&input)) {
            lambda::check(event);
        }
    }
}
