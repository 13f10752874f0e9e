//! The `security/bot-detector` namespace as the user wrote it (KrakenD CE's krakend-botdetector:
//! requests refused by their `User-Agent`), and its start-up checks that need no compiling, each
//! naming its JSON path. The patterns are compiled (and a bad one reported) by the feature.

use super::Problem;
use serde_json::Value;

/// The names `security/bot-detector` goes by: the v3 name, then krakend-botdetector's namespace.
pub const BOT_DETECTOR_NAMES: &[&str] = &["security/bot-detector", "github_com/devopsfaith/krakend-botdetector"];

/// `security/bot-detector` at the service level or on an endpoint. KrakenD's keys, nothing else.
#[derive(Debug, Default, serde::Deserialize)]
pub struct BotDetectorConfig {
    /// User-Agents (exact, whole values) that are never bots, checked before `deny` and `patterns`.
    #[serde(default)]
    pub allow: Vec<String>,
    /// User-Agents (exact, whole values) that are bots.
    #[serde(default)]
    pub deny: Vec<String>,
    /// Regular expressions (RE2 syntax, unanchored) a bot's User-Agent matches.
    #[serde(default)]
    pub patterns: Vec<String>,
    /// How many User-Agent verdicts to remember (0 or absent: none).
    #[serde(default)]
    pub cache_size: i64,
    /// Whether a request without a User-Agent (or with an empty one) is a bot.
    #[serde(default)]
    pub empty_user_agent_is_bot: bool,
    #[serde(default, rename = "@comment")]
    pub comment: Option<Value>,
}

/// The problems of one `security/bot-detector` object (`at` is its JSON path) that need no
/// compiling: a negative `cache_size` (KrakenD then runs without a bot detector at all).
pub(crate) fn validate(cfg: &BotDetectorConfig, at: &str, ep: Option<&str>, errors: &mut Vec<Problem>) {
    if cfg.cache_size < 0 {
        errors.push(Problem::error(
            format!("{at}.cache_size"),
            ep,
            format!("{} is negative: use 0 (no cache) or a number of entries", cfg.cache_size),
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::Gateway;

    /// Every problem reported for a config with this `security/bot-detector` object at the
    /// service level, on the endpoint `/a` and on its backend (each `None` leaves it out).
    fn problems(service: Option<&str>, endpoint: Option<&str>, backend: Option<&str>) -> Vec<String> {
        let ns = |v: Option<&str>| {
            v.map(|v| format!(r#""extra_config": {{"security/bot-detector": {v}}},"#)).unwrap_or_default()
        };
        let text = format!(
            r#"{{"version": 3, {} "endpoints": [{{"endpoint": "/a", {} "backend": [
                {{"host": ["http://backend.invalid"], {} "url_pattern": "/"}}]}}]}}"#,
            ns(service),
            ns(endpoint),
            ns(backend)
        );
        match Gateway::from_json(&text) {
            Ok(g) => g.warnings().iter().map(ToString::to_string).collect(),
            Err(e) => e.errors.iter().chain(&e.warnings).map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn the_fixtures_detectors_are_accepted_at_the_service_level_and_on_endpoints() {
        let solomon = r#"{"allow": ["MyAndroidClient/1.0", "Pingdom.com_bot_version_1.1"], "deny": [],
            "patterns": ["(GoogleBot)/.*", "(facebookexternalhit)/.*"], "cache_size": 10000,
            "empty_user_agent_is_bot": true}"#;
        assert_eq!(problems(Some(solomon), None, None), Vec::<String>::new());
        assert_eq!(problems(None, Some(solomon), None), Vec::<String>::new());
        assert_eq!(
            problems(Some(r#"{"empty_user_agent_is_bot": true, "cache_size": 10000}"#), None, None),
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_pattern_that_does_not_compile_is_an_error_naming_its_json_path() {
        let found = problems(None, Some(r#"{"patterns": ["ok", "(GoogleBot/.*"]}"#), None);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with(
                "error: `endpoints[0].extra_config.security/bot-detector.patterns[1]` (endpoint `GET /a`): `(GoogleBot/.*` is not a valid regular expression"
            ),
            "{found:?}"
        );
        let service = problems(Some(r#"{"patterns": ["[z-a]"]}"#), None, None);
        assert!(service[0].starts_with("error: `extra_config.security/bot-detector.patterns[0]`: "), "{service:?}");
    }

    #[test]
    fn bad_types_and_a_negative_cache_are_errors_naming_their_json_path() {
        let negative = problems(Some(r#"{"cache_size": -1}"#), None, None);
        assert_eq!(
            negative,
            [
                "error: `extra_config.security/bot-detector.cache_size`: -1 is negative: use 0 (no cache) or a number of entries"
            ]
        );
        let typed = problems(None, Some(r#"{"deny": "a"}"#), None);
        assert!(typed[0].starts_with("error: `endpoints[0].extra_config.security/bot-detector.deny`"), "{typed:?}");
        let fraction = problems(None, Some(r#"{"cache_size": 1.5}"#), None);
        assert!(
            fraction[0].starts_with("error: `endpoints[0].extra_config.security/bot-detector.cache_size`"),
            "{fraction:?}"
        );
    }

    #[test]
    fn on_a_backend_it_is_ignored_with_a_warning_and_unknown_keys_are_warnings() {
        let found = problems(None, None, Some(r#"{"deny": ["a"]}"#));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with("warning: `endpoints[0].backend[0].extra_config.security/bot-detector`"),
            "{found:?}"
        );
        assert!(found[0].contains("ignored on a backend"), "{found:?}");
        let unknown = problems(Some(r#"{"blacklist": ["a"]}"#), None, None);
        assert_eq!(unknown.len(), 1, "{unknown:?}");
        assert!(unknown[0].starts_with("warning: `extra_config.security/bot-detector.blacklist`"), "{unknown:?}");
    }

    #[test]
    fn the_legacy_namespace_is_the_same_feature() {
        let text = r#"{"version": 3, "extra_config": {"github_com/devopsfaith/krakend-botdetector": {"patterns": ["("]}},
            "endpoints": [{"endpoint": "/a", "backend": [{"host": ["http://backend.invalid"], "url_pattern": "/"}]}]}"#;
        let e = Gateway::from_json(text).expect_err("a bad pattern");
        assert!(e.errors[0].path.ends_with("patterns[0]"), "{e}");
    }
}
