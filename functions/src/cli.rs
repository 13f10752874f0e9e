//! The `tributary` command line: `run`, `check` and `demo`, with KrakenD's flags and exit codes
//! (0 ok, 1 bad config or failed start, 2 usage). Parsing lives here, the work in the core.

use crate::access_log::AccessLog;
use crate::{app_log, demo, lambda_check, server, source};
use clap::{Parser, Subcommand};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use tributary_core::{Gateway, Problem};

#[derive(Debug, Parser)]
#[command(name = "tributary", version, about = "A KrakenD-compatible API aggregation gateway")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve a KrakenD v3 config.
    Run {
        /// The config: a file path (or `ssm:NAME`, `ssm:PATH/`).
        #[arg(short = 'c', long = "config")]
        config: String,
        /// Port to listen on (default: the config's `port`, else 8080).
        #[arg(short = 'p', long = "port")]
        port: Option<u16>,
        /// Debug logging.
        #[arg(short = 'd', long = "debug")]
        debug: bool,
    },
    /// Parse, validate and compile a config; print every error and warning.
    #[command(visible_alias = "validate")]
    Check {
        #[arg(short = 'c', long = "config")]
        config: String,
        /// Treat unsupported keys (warnings) as errors.
        #[arg(long, short = 'l', visible_alias = "lint")]
        strict: bool,
        /// Build the router and report route conflicts (KrakenD's `-t`; `check` always does).
        #[arg(short = 't', long = "test-gin-routes")]
        test_routes: bool,
        /// Print the config as it is checked (after the `KRAKEND_*` overrides).
        #[arg(short = 'd', long = "debug")]
        debug: bool,
        /// Indentation of the `--debug` print.
        #[arg(short = 'i', long = "indent", default_value = "\t")]
        indent: String,
        /// Also check the config as the Lambda function will run it.
        #[arg(long)]
        lambda: bool,
        /// With --lambda: the function's timeout, in seconds (the SAM template's default).
        #[arg(long, default_value_t = 30, requires = "lambda")]
        function_timeout: u64,
        /// With --lambda: the function's memory, in MB.
        #[arg(long, default_value_t = 256, requires = "lambda")]
        memory: u32,
        /// With --lambda: the function's reserved concurrency (unset: unreserved).
        #[arg(long, requires = "lambda")]
        reserved_concurrency: Option<u32>,
    },
    /// Print the version.
    Version,
    /// Start demo backends and a demo gateway on 127.0.0.1, and print curl commands to try.
    Demo {
        #[arg(short = 'p', long = "port", default_value_t = 8080)]
        port: u16,
        /// Port of the demo backend (default: any free port). `events/krakend.json` expects 9001.
        #[arg(long = "backend-port", default_value_t = 0)]
        backend_port: u16,
    },
}

/// Runs the command; returns the process exit code.
pub async fn run(cli: Cli) -> i32 {
    match cli.command {
        Command::Check {
            config,
            strict,
            test_routes: _,
            debug,
            indent,
            lambda,
            function_timeout,
            memory,
            reserved_concurrency,
        } => {
            let function = lambda.then_some(lambda_check::Function {
                timeout: std::time::Duration::from_secs(function_timeout),
                memory_mb: memory,
                reserved_concurrency,
            });
            check(&config, strict, debug.then_some(indent.as_str()), function).await
        }
        Command::Version => {
            println!("Tributary Version: {}", env!("CARGO_PKG_VERSION"));
            println!("KrakenD config version: 3");
            0
        }
        Command::Run { config, port, debug: _ } => {
            let gateway = match load(&config).await {
                Ok(g) => g,
                Err(code) => return code,
            };
            serve(gateway, port).await
        }
        Command::Demo { port, backend_port } => demo::run(port, backend_port).await,
    }
}

async fn load(spec: &str) -> Result<Gateway, i32> {
    source::load_gateway_with::<source::DefaultChain>(spec, true).await.map_err(|e| {
        eprintln!("{e:#}");
        eprintln!("error: `{spec}` cannot be served");
        1
    })
}

async fn check(spec: &str, strict: bool, debug_indent: Option<&str>, lambda: Option<lambda_check::Function>) -> i32 {
    let loaded = match source::load_with::<source::DefaultChain>(spec, true).await {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("error: {e:#}");
            return 1;
        }
    };
    let (errors, mut warnings): (Vec<Problem>, Vec<Problem>) = match Gateway::from_json(&loaded.text) {
        Ok(g) => (app_log::problems(g.telemetry()), g.warnings().to_vec()),
        Err(e) => (e.errors, e.warnings),
    };
    if let Some(function) = lambda {
        warnings.extend(lambda_check::check(&loaded.text, function));
    }
    if let Some(indent) = debug_indent {
        print_config(&loaded.text, indent);
    }
    for p in warnings.iter().chain(&errors) {
        println!("{}", source::describe(spec, &loaded, p));
    }
    let failed = !errors.is_empty() || (strict && !warnings.is_empty());
    if failed {
        println!(
            "{spec}: not valid ({} error(s), {} warning(s){})",
            errors.len(),
            warnings.len(),
            if strict { ", --strict" } else { "" }
        );
        1
    } else {
        println!("{spec}: ok ({} warning(s))", warnings.len());
        0
    }
}

/// `check --debug`: the config as checked, indented with `indent` (a literal `\t` is a tab).
fn print_config(text: &str, indent: &str) {
    let indent = indent.replace("\\t", "\t");
    let Ok(value) = serde_json::from_str::<serde_json::Value>(text) else {
        return;
    };
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(indent.as_bytes());
    let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
    if serde::Serialize::serialize(&value, &mut ser).is_ok() {
        println!("{}", String::from_utf8_lossy(&out));
    }
}

/// Serves until SIGINT or SIGTERM, then drains in-flight requests.
pub async fn serve(gateway: Gateway, port: Option<u16>) -> i32 {
    let settings = gateway.server_settings().clone();
    let port = port.or(settings.port).unwrap_or(8080);
    let ip = settings.listen_ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let addr = SocketAddr::new(ip, port);
    let gateway = Arc::new(gateway);
    let _metrics = match crate::metrics_server::start(&gateway).await {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {addr}: {e}");
            return 1;
        }
    };
    // OTLP metrics go out every reporting period from start, requests or not.
    gateway.start_exporters();
    let access = match start_logging(&gateway) {
        Ok(access) => access,
        Err(code) => return code,
    };
    tracing::info!("[SERVICE: Tributary] Listening on port: {port}");
    match server::serve_logged(gateway, listener, shutdown_signal(), access).await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

/// Applies the config's `telemetry/*` logging to the application log and returns the access log
/// to serve with; `Err(1)` for logging settings that stop the start.
pub fn start_logging(gateway: &Gateway) -> Result<Option<AccessLog>, i32> {
    let settings = gateway.telemetry();
    match app_log::configure(settings) {
        Ok(gelf) => Ok(AccessLog::new(settings, gelf)),
        Err(e) => {
            eprintln!("error: {e}");
            Err(1)
        }
    }
}

pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
