//! A backend's `allow` and `deny` trees applied in place to a decoded object or to a transcoded
//! one (`RawObject`), with the same rules. Owns only field filtering; it must not rename,
//! extract or wrap (see `mod.rs`).

use serde_json::Value;

use super::Object;
use crate::codec::canonical::{RawObject, RawValue};
use crate::model::shaper::{AllowTree, DenyTree, FieldFilter};

impl FieldFilter {
    pub(crate) fn apply(&self, data: &mut Object) {
        match self {
            FieldFilter::Allow(tree) => {
                tree.prune(data);
            }
            FieldFilter::Deny(tree) => tree.remove_from(data),
        }
    }

    /// [`FieldFilter::apply`] on a transcoded object.
    pub(crate) fn apply_raw(&self, data: &mut RawObject) {
        match self {
            FieldFilter::Allow(tree) => {
                tree.prune_raw(data);
            }
            FieldFilter::Deny(tree) => tree.remove_from_raw(data),
        }
    }
}

impl AllowTree {
    /// Deletes every key the tree does not allow, recursing only into objects (never arrays),
    /// and deletes objects the recursion emptied. Returns true when nothing is left.
    fn prune(&self, data: &mut Object) -> bool {
        data.retain(|key, value| match self.0.get(key) {
            None => false,
            Some(None) => true,
            Some(Some(children)) => match value {
                Value::Object(inner) => !children.prune(inner),
                _ => false,
            },
        });
        data.is_empty()
    }

    /// [`AllowTree::prune`] on a transcoded object.
    fn prune_raw(&self, data: &mut RawObject) -> bool {
        data.retain(|key, value| match self.0.get(key) {
            None => false,
            Some(None) => true,
            Some(Some(children)) => match value.object_mut() {
                Some(inner) => !children.prune_raw(inner),
                None => false,
            },
        });
        data.is_empty()
    }
}

impl DenyTree {
    /// Paths through missing keys or non-objects (arrays included) are ignored, and parents
    /// left empty stay as `{}`.
    fn remove_from(&self, data: &mut Object) {
        for (key, children) in &self.0 {
            match children {
                None => {
                    data.remove(key);
                }
                Some(children) => {
                    if let Some(Value::Object(inner)) = data.get_mut(key) {
                        children.remove_from(inner);
                    }
                }
            }
        }
    }

    /// [`DenyTree::remove_from`] on a transcoded object.
    fn remove_from_raw(&self, data: &mut RawObject) {
        for (key, children) in &self.0 {
            match children {
                None => {
                    data.remove(key);
                }
                Some(children) => {
                    if let Some(inner) = data.get_mut(key).and_then(RawValue::object_mut) {
                        children.remove_from_raw(inner);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::shape::test_data::{object, strings};

    fn allow(paths: &[&str], data: Value) -> Value {
        let mut data = object(data);
        FieldFilter::new(&strings(paths), &[]).expect("allow list is not empty").apply(&mut data);
        Value::Object(data)
    }

    fn deny(paths: &[&str], data: Value) -> Value {
        let mut data = object(data);
        FieldFilter::new(&[], &strings(paths)).expect("deny list is not empty").apply(&mut data);
        Value::Object(data)
    }

    #[test]
    fn no_lists_means_no_filter() {
        assert!(FieldFilter::new(&[], &[]).is_none());
    }

    #[test]
    fn allow_takes_precedence_over_deny() {
        let mut data = object(json!({"a": 1, "b": 2}));
        FieldFilter::new(&strings(&["a"]), &strings(&["a"])).expect("allow list is not empty").apply(&mut data);
        assert_eq!(Value::Object(data), json!({"a": 1}));
    }

    // KrakenD's documented `allow` example (lura's TestEntityFormatter_newAllowFilter).
    #[test]
    fn allow_keeps_listed_paths_and_drops_nested_paths_through_scalars() {
        let data = json!({"supu": 42, "tupu": false, "foo": "bar", "a": {"b": true, "c": 42, "d": "tupu"}});
        assert_eq!(allow(&["supu", "a.b", "a.c", "foo.unknown"], data), json!({"supu": 42, "a": {"b": true, "c": 42}}));
    }

    // Case `allow_drops_arrays_on_nested_path`.
    #[test]
    fn allow_does_not_traverse_arrays() {
        let data = json!({"a": [{"b": 1}], "c": 2, "d": {"b": 3, "x": 4}});
        assert_eq!(allow(&["a.b", "d.b"], data), json!({"d": {"b": 3}}));
    }

    #[test]
    fn allow_leaf_keeps_arrays_and_objects_whole() {
        let data = json!({"a": [{"b": 1}, 2], "o": {"x": {"y": 1}}, "z": 0});
        assert_eq!(allow(&["a", "o"], data), json!({"a": [{"b": 1}, 2], "o": {"x": {"y": 1}}}));
    }

    #[test]
    fn allow_deletes_objects_emptied_by_the_recursion() {
        let data = json!({"a": {"x": 1}, "b": {"c": {"d": 1}}, "k": 1});
        assert_eq!(allow(&["a.missing", "b.c.missing", "k"], data), json!({"k": 1}));
    }

    #[test]
    fn allow_deletes_an_empty_object_on_a_nested_path() {
        assert_eq!(allow(&["a.b", "c"], json!({"a": {}, "c": {}})), json!({"c": {}}));
    }

    #[test]
    fn allow_with_nothing_matching_empties_the_data() {
        assert_eq!(allow(&["nope", "x.y"], json!({"a": 1, "x": {"z": 1}})), json!({}));
    }

    #[test]
    fn allow_later_entry_overrides_earlier_one_on_the_same_key() {
        let data = json!({"a": {"b": 1, "c": 2}});
        assert_eq!(allow(&["a", "a.b"], data.clone()), json!({"a": {"b": 1}}));
        assert_eq!(allow(&["a.b", "a"], data), json!({"a": {"b": 1, "c": 2}}));
    }

    #[test]
    fn allow_deep_path_keeps_only_that_branch() {
        let data = json!({"a": {"b": {"c": 1, "d": 2}, "e": 3}, "f": 4});
        assert_eq!(allow(&["a.b.c"], data), json!({"a": {"b": {"c": 1}}}));
    }

    #[test]
    fn allow_never_adds_a_key_and_only_keeps_original_values() {
        // Property-style: every kept path existed with an equal value in the input.
        fn is_sub_object(kept: &Object, original: &Object) -> bool {
            kept.iter().all(|(k, v)| match (v, original.get(k)) {
                (Value::Object(inner), Some(Value::Object(orig))) => is_sub_object(inner, orig),
                (v, Some(orig)) => v == orig,
                (_, None) => false,
            })
        }
        let inputs = [
            json!({}),
            json!({"a": 1}),
            json!({"a": {"b": {"c": [1, {"d": 2}]}, "e": null}, "f": "g", "h": {}}),
            json!({"x": {"y": {"z": {"w": 1}}}, "a": [{"b": 1}], "b": {"a": true}}),
        ];
        let lists: [&[&str]; 6] = [
            &["a"],
            &["a.b"],
            &["a.b.c", "f", "zz"],
            &["x.y", "x.y.z.w", "b.a"],
            &["", ".", "a."],
            &["h", "h.i", "a.e"],
        ];
        for input in &inputs {
            for list in lists {
                let Value::Object(out) = allow(list, input.clone()) else { unreachable!("allow returns an object") };
                let original = object(input.clone());
                assert!(is_sub_object(&out, &original), "{list:?} on {input} gave {out:?}");
                assert!(out.len() <= original.len());
            }
        }
    }

    // Case `deny_nested` (lura TestEntityFormatter_newDenyFilter).
    #[test]
    fn deny_removes_nested_keys_and_ignores_paths_through_non_objects() {
        let data = json!({
            "supu": 42, "tupu": false, "foo": "bar",
            "a": {
                "a": {
                    "b": true, "c": 42, "d": "tupu",
                    "deeper": {
                        "a": {"aa": "deleteme deeper.a.aa", "bb": "do not deleteme deeper.a.bb"},
                        "b": {"aa": "deleteme deeper.b.aa", "bb": "do not deleteme deeper.b.bb"}
                    }
                },
                "b": true, "c": 42, "d": "tupu"
            }
        });
        let list = ["supu", "a.b", "a.c", "foo.unknown", "a.a.b", "a.a.deeper.a.aa", "a.a.deeper.b.aa"];
        assert_eq!(
            deny(&list, data),
            json!({
                "tupu": false, "foo": "bar",
                "a": {
                    "a": {
                        "c": 42, "d": "tupu",
                        "deeper": {
                            "a": {"bb": "do not deleteme deeper.a.bb"},
                            "b": {"bb": "do not deleteme deeper.b.bb"}
                        }
                    },
                    "d": "tupu"
                }
            })
        );
    }

    #[test]
    fn deny_shorter_path_wins_in_either_order() {
        let data = json!({"a": {"b": 1, "c": 2}, "d": 3});
        assert_eq!(deny(&["a.b", "a"], data.clone()), json!({"d": 3}));
        assert_eq!(deny(&["a", "a.b"], data), json!({"d": 3}));
    }

    #[test]
    fn deny_does_not_traverse_arrays() {
        let data = json!({"a": [{"b": 1}], "c": "s"});
        assert_eq!(deny(&["a.b", "a.0", "c.x"], data.clone()), data);
    }

    #[test]
    fn deny_leaves_emptied_parents_as_empty_objects() {
        assert_eq!(deny(&["a.b"], json!({"a": {"b": 1}})), json!({"a": {}}));
    }

    #[test]
    fn deny_missing_paths_change_nothing() {
        let data = json!({"a": {"b": 1}});
        assert_eq!(deny(&["x", "a.x", "a.b.c", "x.y.z"], data.clone()), data);
    }

    #[test]
    fn deny_deletes_null_values_too() {
        assert_eq!(deny(&["a"], json!({"a": null, "b": 1})), json!({"b": 1}));
    }
}
