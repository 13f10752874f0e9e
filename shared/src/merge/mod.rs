//! Phase 6, merge: the parts of an endpoint's backends combined in arrival order (later keys
//! win), then the endpoint's own `flatmap_filter` and `proxy.static` data applied to the result.
//! The call phase sees the arrivals and hands each result here ([`Arrivals`], [`single`]); the
//! shape-and-merge benchmark feeds the same functions, so that it measures these.

use crate::codec::canonical::Data;
use crate::codec::json::Object;
use crate::model::{BackendError, Endpoint, Outcome, Part, StaticStrategy};

/// The answer of an endpoint with one backend: its result as it is, the error whole (with the
/// backend's status and body, for `return_error_code` and `return_error_details`).
pub(crate) fn single(result: Result<Part, BackendError>) -> Outcome {
    match result {
        Ok(part) => Outcome { response: Some(part), error: None },
        Err(e) => Outcome { response: None, error: Some(e) },
    }
}

/// The answer of an endpoint whose backends are all called at once, as their results arrive:
/// parts merged in arrival order, failures' texts joined into one error, and completeness
/// counted (every backend answered in time, and each part complete).
pub(crate) struct Arrivals {
    merged: Data,
    detail_keys: Vec<String>,
    total: usize,
    succeeded: usize,
    complete: bool,
    errors: Vec<String>,
}

impl Arrivals {
    /// Before any of `total` backends has answered.
    pub(crate) fn new(total: usize) -> Self {
        Arrivals {
            merged: Data::default(),
            detail_keys: Vec::new(),
            total,
            succeeded: 0,
            complete: true,
            errors: Vec::new(),
        }
    }

    /// One backend's result, as it arrives.
    pub(crate) fn add(&mut self, result: Result<Part, BackendError>) {
        match result {
            Ok(part) => {
                self.succeeded += 1;
                self.complete &= part.complete;
                merge_into(&mut self.merged, &mut self.detail_keys, part);
            }
            Err(e) => self.errors.push(e.text),
        }
    }

    /// The answer so far: incomplete unless every backend's part arrived complete; no response
    /// when none succeeded.
    pub(crate) fn outcome(self) -> Outcome {
        let complete = self.complete && self.succeeded == self.total;
        let error = (!self.errors.is_empty()).then(|| BackendError::plain(self.errors.join("\n")));
        if self.succeeded == 0 {
            return Outcome { response: None, error };
        }
        Outcome { response: Some(Part { data: Some(self.merged), complete, detail_keys: self.detail_keys }), error }
    }
}

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
