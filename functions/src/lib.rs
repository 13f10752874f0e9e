//! Tributary's doors: each converts its transport's types to the core's and back, nothing more.

pub mod server;
