//! `security/bot-detector`, as krakend-botdetector decides: a request is a bot by its
//! `User-Agent` (empty, then `allow`, `deny`, `patterns`, in that order), with an optional LRU
//! cache of verdicts. The guard phase answers a bot with KrakenD's `403` and an empty body.

use crate::config::BotDetectorConfig;
use http::HeaderMap;
use http::header::USER_AGENT;
use lru::LruCache;
use std::collections::HashSet;
use std::num::NonZeroUsize;
use std::sync::Mutex;

/// Largest compiled pattern accepted: far more than any User-Agent pattern needs, and a bound on
/// what a hostile config can make the gateway build.
const PATTERN_SIZE_LIMIT: usize = 1 << 20;

/// Longest User-Agent whose verdict is cached. Longer ones are decided each time (the verdict is
/// the same), so that clients sending long, ever-changing values cannot make the cache hold
/// `cache_size` large strings.
const MAX_CACHED_USER_AGENT: usize = 1024;

pub(crate) struct BotDetector {
    allow: HashSet<Box<[u8]>>,
    deny: HashSet<Box<[u8]>>,
    patterns: Vec<regex_lite::Regex>,
    empty_is_bot: bool,
    /// Verdicts by exact User-Agent, when `cache_size` > 0 (golang-lru in KrakenD).
    cache: Option<Mutex<LruCache<Box<[u8]>, bool>>>,
}

/// A pattern that does not compile: its index in `patterns` and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{pattern}` is not a valid regular expression: {reason}")]
pub(crate) struct BadPattern {
    pub(crate) index: usize,
    pub(crate) pattern: String,
    pub(crate) reason: String,
}

impl BotDetector {
    /// Compiles the patterns once; every one that does not compile is reported.
    pub(crate) fn new(cfg: &BotDetectorConfig) -> Result<BotDetector, Vec<BadPattern>> {
        let mut patterns = Vec::with_capacity(cfg.patterns.len());
        let mut bad = Vec::new();
        for (index, p) in cfg.patterns.iter().enumerate() {
            match regex_lite::RegexBuilder::new(p).size_limit(PATTERN_SIZE_LIMIT).build() {
                Ok(re) => patterns.push(re),
                Err(e) => bad.push(BadPattern { index, pattern: p.clone(), reason: e.to_string() }),
            }
        }
        if !bad.is_empty() {
            return Err(bad);
        }
        let set = |list: &[String]| list.iter().map(|s| s.as_bytes().into()).collect();
        let cache =
            usize::try_from(cfg.cache_size).ok().and_then(NonZeroUsize::new).map(|n| Mutex::new(LruCache::new(n)));
        Ok(BotDetector {
            allow: set(&cfg.allow),
            deny: set(&cfg.deny),
            patterns,
            empty_is_bot: cfg.empty_user_agent_is_bot,
            cache,
        })
    }

    /// Whether the request's `User-Agent` (its first value, as Go's `Header.Get`) is a bot's.
    pub(crate) fn is_bot(&self, headers: &HeaderMap) -> bool {
        let ua = headers.get(USER_AGENT).map_or(&[][..], |v| v.as_bytes());
        let Some(cache) = self.cache.as_ref().filter(|_| ua.len() <= MAX_CACHED_USER_AGENT) else {
            return self.decide(ua);
        };
        if let Some(&verdict) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(ua) {
            return verdict;
        }
        // Decided outside the lock: the patterns may take a while on a long value.
        let verdict = self.decide(ua);
        cache.lock().unwrap_or_else(|e| e.into_inner()).put(ua.into(), verdict);
        verdict
    }

    /// krakend-botdetector's `Detector.IsBot`: empty, allowed, denied, then the patterns.
    fn decide(&self, ua: &[u8]) -> bool {
        if ua.is_empty() {
            return self.empty_is_bot;
        }
        if self.allow.contains(ua) {
            return false;
        }
        if self.deny.contains(ua) {
            return true;
        }
        if self.patterns.is_empty() {
            return false;
        }
        // Go matches the raw bytes; a value that is not UTF-8 is matched with its invalid bytes
        // replaced (they can only match a pattern's `.` or a negated class either way).
        let text = String::from_utf8_lossy(ua);
        self.patterns.iter().any(|p| p.is_match(&text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn detector(json: &str) -> BotDetector {
        let cfg: BotDetectorConfig = serde_json::from_str(json).expect("a valid config");
        BotDetector::new(&cfg).expect("patterns compile")
    }

    fn ua(value: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(v) = value {
            h.insert(USER_AGENT, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    /// The krakend-ce integration tests' detector (`botdetector_1..4`).
    const CE: &str = r#"{"deny": ["a", "b"], "allow": ["c", "Pingdom.com_bot_version_1.1"],
        "patterns": ["(Pingdom.com_bot_version_).*", "(facebookexternalhit)/.*"]}"#;

    #[test]
    fn denied_and_pattern_matched_user_agents_are_bots_and_allowed_ones_are_not() {
        for cache in [0, 100] {
            let d = detector(&CE.replacen('{', &format!(r#"{{"cache_size": {cache}, "#), 1));
            assert!(d.is_bot(&ua(Some("a"))));
            assert!(d.is_bot(&ua(Some("b"))));
            assert!(d.is_bot(&ua(Some("Pingdom.com_bot_version_1.14"))), "a pattern match");
            assert!(d.is_bot(&ua(Some("facebookexternalhit/1.2.3"))));
            assert!(!d.is_bot(&ua(Some("Pingdom.com_bot_version_1.1"))), "allowed before the patterns");
            assert!(!d.is_bot(&ua(Some("c"))));
            assert!(!d.is_bot(&ua(Some("Mozilla/5.0"))));
            assert!(!d.is_bot(&ua(Some("A"))), "exact, case-sensitive lists");
        }
    }

    #[test]
    fn patterns_are_unanchored_searches() {
        let d = detector(r#"{"patterns": ["(facebookexternalhit)/.*", "^Go-http"]}"#);
        assert!(d.is_bot(&ua(Some("xfacebookexternalhit/1"))));
        assert!(d.is_bot(&ua(Some("Go-http-client/1.1"))));
        assert!(!d.is_bot(&ua(Some("my Go-http-client"))), "an explicit anchor holds");
    }

    #[test]
    fn allow_wins_over_deny_and_patterns() {
        let d = detector(r#"{"allow": ["bot/1"], "deny": ["bot/1"], "patterns": ["bot"]}"#);
        assert!(!d.is_bot(&ua(Some("bot/1"))));
        assert!(d.is_bot(&ua(Some("bot/2"))));
    }

    #[test]
    fn an_empty_or_missing_user_agent_is_a_bot_only_when_configured() {
        let lenient = detector(r#"{"deny": [""], "patterns": [".*"]}"#);
        assert!(!lenient.is_bot(&ua(None)), "empty: neither the deny list nor a pattern is consulted");
        assert!(!lenient.is_bot(&ua(Some(""))));
        for cache in [0, 10] {
            let strict = detector(&format!(r#"{{"empty_user_agent_is_bot": true, "cache_size": {cache}}}"#));
            assert!(strict.is_bot(&ua(None)));
            assert!(strict.is_bot(&ua(Some(""))));
            assert!(!strict.is_bot(&ua(Some("curl/8"))));
        }
    }

    #[test]
    fn the_first_user_agent_value_decides() {
        let d = detector(r#"{"deny": ["bot"]}"#);
        let mut h = HeaderMap::new();
        h.append(USER_AGENT, HeaderValue::from_static("curl/8"));
        h.append(USER_AGENT, HeaderValue::from_static("bot"));
        assert!(!d.is_bot(&h));
    }

    #[test]
    fn the_cache_keeps_at_most_cache_size_verdicts_and_gives_the_same_answers() {
        let d = detector(r#"{"patterns": ["bot"], "cache_size": 2}"#);
        for round in 0..3 {
            for (agent, bot) in [("a bot", true), ("a browser", false), ("another bot", true)] {
                assert_eq!(d.is_bot(&ua(Some(agent))), bot, "{agent}, round {round}");
            }
        }
        let cache = d.cache.as_ref().unwrap().lock().unwrap();
        assert_eq!(cache.len(), 2);
        assert!(cache.contains(b"another bot".as_slice()) && !cache.contains(b"a bot".as_slice()));
    }

    #[test]
    fn long_user_agents_are_decided_without_being_cached() {
        let d = detector(r#"{"patterns": ["bot$"], "cache_size": 10}"#);
        let long = format!("{}bot", "x".repeat(MAX_CACHED_USER_AGENT));
        assert!(d.is_bot(&ua(Some(&long))));
        assert!(!d.is_bot(&ua(Some(&long[..MAX_CACHED_USER_AGENT]))));
        assert_eq!(d.cache.as_ref().unwrap().lock().unwrap().len(), 1);
    }

    #[test]
    fn a_user_agent_that_is_not_utf8_is_still_decided() {
        let d = detector(r#"{"patterns": ["^bot/.$"]}"#);
        let mut h = HeaderMap::new();
        h.insert(USER_AGENT, HeaderValue::from_bytes(b"bot/\xff").unwrap());
        assert!(d.is_bot(&h));
    }

    #[test]
    fn every_pattern_that_does_not_compile_is_reported_with_its_index() {
        let cfg: BotDetectorConfig =
            serde_json::from_str(r#"{"patterns": ["ok", "(unclosed", "fine", "a{2,1}"]}"#).unwrap();
        let bad = BotDetector::new(&cfg).err().expect("two bad patterns");
        assert_eq!(bad.iter().map(|b| b.index).collect::<Vec<_>>(), vec![1, 3]);
        assert!(bad[0].to_string().starts_with("`(unclosed` is not a valid regular expression: "), "{}", bad[0]);
    }

    #[test]
    fn a_pattern_too_large_to_compile_is_refused_instead_of_built() {
        let cfg = BotDetectorConfig { patterns: vec!["(((a{100}){100}){100})".into()], ..Default::default() };
        assert!(BotDetector::new(&cfg).is_err());
    }
}
