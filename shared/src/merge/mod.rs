//! Phase 6, merge: the parts of an endpoint's backends combined in arrival order (later keys
//! win), then the endpoint's own `flatmap_filter` and `proxy.static` data applied to the result.
//! Completeness (every backend answered, and in time) is counted by the call phase, which sees
//! the arrivals.

use crate::codec::canonical::Data;
use crate::codec::json::Object;
use crate::model::{Endpoint, Outcome, Part, StaticStrategy};

/// Merges a part into the parts so far (later keys win) and tracks the error-detail keys.
pub(crate) fn merge_into(merged: &mut Data, detail_keys: &mut Vec<String>, part: Part) {
    detail_keys.retain(|k| part.data.as_ref().is_none_or(|d| !d.contains_key(k)));
    if let Some(data) = part.data {
        *merged = std::mem::take(merged).merge(data);
    }
    detail_keys.extend(part.detail_keys);
}

/// The endpoint's own steps on the merged answer: its `flatmap_filter`, then `proxy.static`.
pub(crate) fn finish(endpoint: &Endpoint, outcome: &mut Outcome) {
    if let Some(flatmap) = &endpoint.flatmap
        && let Some(part) = outcome.response.as_mut()
        && let Some(data) = part.data.take()
    {
        part.data = Some(Data::Tree(flatmap.apply(data.into_tree())));
    }
    if let Some(st) = &endpoint.static_proxy {
        apply_static(st.strategy, &st.data, outcome);
    }
}

/// `proxy.static`: copy the data over the response when the strategy matches.
fn apply_static(strategy: StaticStrategy, data: &Object, outcome: &mut Outcome) {
    let errored = outcome.error.is_some();
    let complete = outcome.response.as_ref().is_some_and(|r| r.complete);
    let applies = match strategy {
        StaticStrategy::Always => true,
        StaticStrategy::Success => !errored,
        StaticStrategy::Complete => !errored && complete,
        StaticStrategy::Errored => errored,
        StaticStrategy::Incomplete => outcome.response.is_none() || !complete,
    };
    if !applies {
        return;
    }
    let part = outcome.response.get_or_insert_with(|| Part {
        data: Some(Data::Tree(Object::new())),
        complete: false,
        detail_keys: Vec::new(),
    });
    let mut target = part.data.take().map(Data::into_tree).unwrap_or_default();
    for (k, v) in data {
        target.insert(k.clone(), v.clone());
    }
    part.data = Some(Data::Tree(target));
    part.detail_keys.retain(|k| !data.contains_key(k));
}
