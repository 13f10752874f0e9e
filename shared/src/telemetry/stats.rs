//! `/__stats` as krakend-metrics serves it: go-metrics' registry published through Go's
//! `expvar`, one flat JSON object of dotted keys in sorted order. Counters are cumulative;
//! histograms (latency in nanoseconds, sizes in bytes) cover the current `collection_time`
//! window, as krakend-metrics clears them at every collection.

use super::metrics::{
    HistSnapshot, Histogram, LATENCY_BOUNDS_NS, Metrics, SIZE_BOUNDS, colon_route, lura_backend_pattern,
};
use serde_json::Value;
use std::collections::BTreeMap;

/// go-metrics' `exp` percentiles and their key suffixes.
const PERCENTILES: &[(f64, &str)] = &[
    (0.5, "50-percentile"),
    (0.75, "75-percentile"),
    (0.95, "95-percentile"),
    (0.99, "99-percentile"),
    (0.999, "999-percentile"),
];

/// Accumulates keys (endpoints sharing a pattern under two methods share KrakenD's keys too).
#[derive(Default)]
struct Keys {
    counters: BTreeMap<String, i64>,
    histograms: BTreeMap<String, (&'static [u64], HistSnapshot)>,
}

impl Keys {
    fn counter(&mut self, key: String, n: u64) {
        *self.counters.entry(key).or_default() += i64::try_from(n).unwrap_or(i64::MAX);
    }

    fn histogram(&mut self, key: String, bounds: &'static [u64], h: Option<HistSnapshot>) {
        let entry = self.histograms.entry(key).or_insert_with(|| {
            (bounds, HistSnapshot { cells: vec![0; bounds.len() + 1], sum: 0, min: u64::MAX, max: 0 })
        });
        if let Some(h) = h {
            entry.1.merge(&h);
        }
    }
}

impl Metrics {
    /// The `/__stats` document, or `None` when `telemetry/metrics` is not configured.
    pub fn render_stats(&self) -> Option<String> {
        let out = self.outputs.stats?;
        let mut keys = Keys::default();
        let (started, finished, w) = self.connections();
        keys.counter("krakend.router.connected".into(), started - w.started_at_roll);
        keys.counter("krakend.router.disconnected".into(), finished - w.finished_at_roll);
        keys.counter("krakend.router.connected-total".into(), w.started_at_roll);
        keys.counter("krakend.router.disconnected-total".into(), w.finished_at_roll);
        keys.counter("krakend.router.connected-gauge".into(), w.started_gauge);
        keys.counter("krakend.router.disconnected-gauge".into(), w.finished_gauge);
        let window = |h: &Histogram| Some(h.window());
        for e in self.endpoints() {
            let name = colon_route(&e.pattern);
            if out.router {
                let base = format!("krakend.router.response.{name}");
                keys.counter(format!("{base}.status"), 0);
                keys.histogram(format!("{base}.size"), SIZE_BOUNDS, None);
                keys.histogram(format!("{base}.time"), LATENCY_BOUNDS_NS, None);
                for (code, s) in e.router.each() {
                    let code = code.map_or_else(|| "other".to_owned(), |c| c.to_string());
                    keys.counter(format!("{base}.status.{code}.count"), s.latency.total().count());
                    keys.histogram(format!("{base}.size"), SIZE_BOUNDS, window(&s.size));
                    keys.histogram(format!("{base}.time"), LATENCY_BOUNDS_NS, window(&s.latency));
                }
            }
            if out.pipe {
                for (complete, error, h) in e.pipe() {
                    let labels = format!("layer.pipe.name.{name}.complete.{complete}.error.{error}");
                    keys.counter(format!("krakend.proxy.requests.{labels}"), h.map_or(0, |h| h.total().count()));
                    keys.histogram(format!("krakend.proxy.latency.{labels}"), LATENCY_BOUNDS_NS, h.and_then(window));
                }
            }
            if out.backend {
                for b in e.backends.iter() {
                    let name = lura_backend_pattern(&b.url_pattern);
                    for (complete, error, _canceled, h) in b.outcomes() {
                        let labels = format!("layer.backend.name.{name}.complete.{complete}.error.{error}");
                        keys.counter(format!("krakend.proxy.requests.{labels}"), h.map_or(0, |h| h.total().count()));
                        keys.histogram(
                            format!("krakend.proxy.latency.{labels}"),
                            LATENCY_BOUNDS_NS,
                            h.and_then(window),
                        );
                    }
                }
            }
        }
        let mut doc: BTreeMap<String, Value> = BTreeMap::new();
        doc.insert("cmdline".into(), Value::from(std::env::args().collect::<Vec<_>>()));
        for (k, v) in keys.counters {
            doc.insert(k, Value::from(v));
        }
        for (k, (bounds, h)) in keys.histograms {
            expand(&mut doc, &k, bounds, &h);
        }
        // expvar's layout: one key per line, sorted.
        let mut text = String::from("{\n");
        for (i, (k, v)) in doc.iter().enumerate() {
            if i > 0 {
                text.push_str(",\n");
            }
            text.push_str(&Value::from(k.as_str()).to_string());
            text.push_str(": ");
            text.push_str(&v.to_string());
        }
        text.push_str("\n}\n");
        Some(text)
    }
}

/// A histogram as go-metrics' `exp` publishes one: count, extremes, mean, deviation, percentiles.
fn expand(doc: &mut BTreeMap<String, Value>, key: &str, bounds: &[u64], h: &HistSnapshot) {
    let count = h.count();
    let f = |x: f64| Value::from(if x.is_finite() { x } else { 0.0 });
    doc.insert(format!("{key}.count"), Value::from(count));
    let (min, max, mean) =
        if count == 0 { (0.0, 0.0, 0.0) } else { (h.min as f64, h.max as f64, h.sum as f64 / count as f64) };
    doc.insert(format!("{key}.min"), f(min));
    doc.insert(format!("{key}.max"), f(max));
    doc.insert(format!("{key}.mean"), f(mean));
    doc.insert(format!("{key}.std-dev"), f(h.std_dev(bounds)));
    for (q, name) in PERCENTILES {
        doc.insert(format!("{key}.{name}"), f(h.quantile(bounds, *q)));
    }
}
