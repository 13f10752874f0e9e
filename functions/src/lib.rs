//! Tributary's doors: each converts its transport's types to the core's and back, nothing more.

pub mod access_log;
pub mod app_log;
pub mod aws_http;
pub mod aws_sign;
pub mod cli;
pub mod demo;
pub mod gelf;
pub mod golike;
pub mod lambda;
pub mod lambda_check;
pub mod logs;
pub mod metrics_server;
pub mod overrides;
pub mod server;
pub mod source;
pub mod ssm;
pub mod syslog;
