//! The log filter both binaries read from `RUST_LOG`: a level (`debug`) or `target=level`
//! directives (`info,tributary_core=debug`), parsed by tracing-subscriber's `Targets`.
//!
//! `Targets` rather than `EnvFilter`: it parses the same level and target directives without
//! the regex engine EnvFilter carries for span and field filters (about 0.35 MB of the Lambda
//! binary); a value it cannot parse falls back to the default level.

use tracing_subscriber::filter::{LevelFilter, Targets};

/// The filter for `value` (`RUST_LOG`'s), `default` when unset or unparsable.
pub fn filter(value: Option<&str>, default: LevelFilter) -> Targets {
    value
        .filter(|v| !v.trim().is_empty())
        .and_then(|v| v.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(default))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn a_level_sets_the_default_for_every_target() {
        let f = filter(Some("debug"), LevelFilter::INFO);
        assert!(f.would_enable("tributary_core::proxy", &Level::DEBUG));
        assert!(!f.would_enable("tributary_core::proxy", &Level::TRACE));
    }

    #[test]
    fn target_directives_apply_per_target() {
        let f = filter(Some("warn,tributary_core=debug"), LevelFilter::INFO);
        assert!(f.would_enable("tributary_core::backend", &Level::DEBUG));
        assert!(!f.would_enable("hyper_util::client", &Level::INFO));
        assert!(f.would_enable("hyper_util::client", &Level::WARN));
    }

    #[test]
    fn unset_empty_or_unparsable_values_give_the_default() {
        for value in [None, Some(""), Some("  "), Some("debug[span{field=1}]=x=y")] {
            let f = filter(value, LevelFilter::INFO);
            assert!(f.would_enable("tributary", &Level::INFO), "{value:?}");
            assert!(!f.would_enable("tributary", &Level::DEBUG), "{value:?}");
        }
    }

    #[test]
    fn off_silences_everything() {
        assert!(!filter(Some("off"), LevelFilter::INFO).would_enable("tributary", &Level::ERROR));
    }
}
