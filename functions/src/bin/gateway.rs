//! `gateway`: the AWS Lambda function. Builds the `Gateway` once at cold start, then serves
//! every invocation with it. Wiring only; conversions live in `tributary_functions::lambda`.

use lambda_http::{Error, Request, run, run_with_streaming_response, service_fn};
use std::sync::Arc;
use tracing_subscriber::fmt::format::JsonFields;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tributary_functions::lambda::InvokeMode;
use tributary_functions::{lambda, logs, source};

// mimalloc: the pipeline allocates many small JSON nodes per request, which mimalloc serves in
// fewer instructions than glibc's allocator (BENCHMARKS.md, "Measured design choices").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

// One execution environment serves one request at a time: one thread is enough, starts faster
// and keeps memory down.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let env = |name: &str| std::env::var(name).ok();
    let filter = logs::lambda_filter(env("AWS_LAMBDA_LOG_LEVEL").as_deref(), env("RUST_LOG").as_deref());
    if logs::lambda_text_format(env("AWS_LAMBDA_LOG_FORMAT").as_deref()) {
        let text = tracing_subscriber::fmt::layer().with_ansi(false).without_time();
        tracing_subscriber::registry().with(text).with(filter).init();
    } else {
        let json = tracing_subscriber::fmt::layer().fmt_fields(JsonFields::new()).event_format(logs::FlatJson);
        tracing_subscriber::registry().with(json).with(filter).init();
    }
    let mode = match InvokeMode::from_env_value(env("TRIBUTARY_INVOKE_MODE").as_deref()) {
        Ok(mode) => mode,
        Err(e) => {
            tracing::error!("{e}");
            return Err(e.into());
        }
    };
    let spec = source::lambda_config_spec();
    let gateway = match source::load_gateway::<source::LambdaEnv>(&spec).await {
        Ok(g) => Arc::new(g),
        Err(e) => {
            // One clear line, then a failed init: Lambda reports it and retries the cold start.
            tracing::error!(source = %spec, "{e:#}");
            return Err(e.into());
        }
    };
    match mode {
        InvokeMode::Buffered => {
            run(service_fn(move |event: Request| {
                let gateway = gateway.clone();
                async move { lambda::handle(&gateway, event).await }
            }))
            .await
        }
        InvokeMode::ResponseStream => {
            run_with_streaming_response(service_fn(move |event: Request| {
                let gateway = gateway.clone();
                async move { lambda::handle_streaming(&gateway, event).await }
            }))
            .await
        }
    }
}
