//! Phase 5, shape: one backend's answer turned into the part it contributes to the merge. The
//! status check and decoding are in `decode`; shaping (`target`, `allow`/`deny`, `mapping`,
//! `group`, `flatmap_filter`, in lura's exact order) is here. The `Shaper` is compiled once
//! from the config (in the model) and applied here by pure, synchronous functions; nothing here does I/O or decides
//! the endpoint's completeness.

mod decode;
mod filter;
mod flatmap;
mod tree;

pub(crate) use decode::process;

use crate::codec::canonical::{RawObject, RawValue};
use crate::model::shaper::{Mode, Shaper};

pub(crate) use crate::codec::json::Object;

impl Shaper {
    /// Applies target -> (allow|deny) -> mapping -> group, or target -> flatmap -> group, in
    /// KrakenD's exact order.
    pub(crate) fn apply(&self, data: Object) -> Object {
        let mut data = match &self.target {
            Some(target) => extract_target(target, data),
            None => data,
        };
        match &self.mode {
            Mode::Flatmap(flatmap) => data = flatmap.apply(data),
            Mode::Fields { filter, mapping } => {
                if let Some(filter) = filter
                    && !data.is_empty()
                {
                    filter.apply(&mut data);
                }
                if !data.is_empty() {
                    rename(mapping, &mut data);
                }
            }
        }
        match &self.group {
            // Always wraps, even `{}`: a grouped empty result is a non-empty object.
            Some(group) => Object::from_iter([(group.clone(), serde_json::Value::Object(data))]),
            None => data,
        }
    }

    /// [`Shaper::apply`] on a transcoded object, for shapers whose [`Shaper::shapes_raw`] holds
    /// (a flatmap filter is left out).
    pub(crate) fn apply_raw(&self, mut data: RawObject) -> RawObject {
        if let Some(target) = &self.target {
            for step in target {
                match data.remove(step).and_then(RawValue::into_object) {
                    Some(inner) => data = inner,
                    None => {
                        data = RawObject::default();
                        break;
                    }
                }
            }
        }
        if let Mode::Fields { filter, mapping } = &self.mode {
            if let Some(filter) = filter
                && !data.is_empty()
            {
                filter.apply_raw(&mut data);
            }
            for (old, new) in mapping {
                if let Some(value) = data.remove(old)
                    && old != new
                {
                    data.insert(new.clone(), value);
                }
            }
        }
        match &self.group {
            Some(group) => data.grouped(group),
            None => data,
        }
    }
}

/// Walks `target` through objects; a missing step or a non-object gives `{}`.
fn extract_target(target: &[String], mut data: Object) -> Object {
    for step in target {
        match data.remove(step) {
            Some(serde_json::Value::Object(inner)) => data = inner,
            _ => return Object::new(),
        }
    }
    data
}

/// Top-level renames only. Like lura, the key is looked up literally (a dotted `old` only
/// matches a key that itself contains the dot), the value overwrites an existing `new`, and
/// `old` is deleted after the write, so renaming a key to itself deletes it.
fn rename(mapping: &[(String, String)], data: &mut Object) {
    for (old, new) in mapping {
        if let Some(value) = data.remove(old)
            && old != new
        {
            data.insert(new.clone(), value);
        }
    }
}

/// Test data helpers shared by this module's tests and its submodules'.
#[cfg(test)]
pub(crate) mod test_data {
    use super::Object;
    use serde_json::Value;

    /// The object a `json!` literal holds.
    pub(crate) fn object(value: Value) -> Object {
        match value {
            Value::Object(map) => map,
            other => panic!("test data must be an object, got {other}"),
        }
    }

    pub(crate) fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::test_data::{object, strings};
    use super::*;
    use crate::model::shaper::Flatmap;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect()
    }

    /// A backend's formatting settings, named like the config keys.
    #[derive(Default)]
    struct Backend {
        target: &'static str,
        allow: &'static [&'static str],
        deny: &'static [&'static str],
        mapping: &'static [(&'static str, &'static str)],
        group: &'static str,
        flatmap_filter: Option<Value>,
    }

    impl Backend {
        fn shaper(&self) -> Shaper {
            Shaper::new(
                self.target,
                &strings(self.allow),
                &strings(self.deny),
                &pairs(self.mapping),
                self.group,
                self.flatmap_filter.as_ref(),
            )
        }

        fn shape(&self, data: Value) -> Value {
            Value::Object(self.shaper().apply(object(data)))
        }
    }

    // The byte path (`apply_raw` on a transcoded object) against the tree path (`apply` on a
    // decoded one) over generated bodies: unsorted and duplicate keys, escapes, nesting.
    #[test]
    fn shaping_bytes_writes_what_shaping_trees_writes() {
        let backends = [
            Backend { target: "a", ..Backend::default() },
            Backend { target: "a.b", group: "g", ..Backend::default() },
            Backend { allow: &["a", "id.name", "b.a.id", "b.b"], ..Backend::default() },
            Backend { target: "b", allow: &["a.b", "name"], mapping: &[("name", "a")], ..Backend::default() },
            Backend { deny: &["a.b", "name", "id.id", "b.a.b"], group: "g", ..Backend::default() },
            Backend { deny: &["a"], mapping: &[("b", "a"), ("id", "id"), ("name", "x.y")], ..Backend::default() },
            Backend { group: "name", ..Backend::default() },
        ];
        let shapers: Vec<Shaper> = backends.iter().map(Backend::shaper).collect();
        let mut g = crate::codec::canonical::tests::Gen(0x2545_F491_4F6C_DD1D);
        let mut reshaped = 0;
        for round in 0..4000 {
            let mut body = Vec::new();
            g.ws(&mut body);
            g.object(&mut body, 0);
            let Ok(serde_json::Value::Object(tree)) = crate::codec::json::decode_first(&body) else { continue };
            let shaper = &shapers[round % shapers.len()];
            let mut want = Vec::new();
            crate::codec::json::encode_object_into(&mut want, &shaper.apply(tree.clone()), &[]);
            // Half the rounds keep nested members for shaping, half split them again.
            let depth = if round % 2 == 0 { shaper.split_depth() } else { 0 };
            let raw =
                RawObject::from_body(&bytes::Bytes::from(body.clone()), depth).expect("decodable").expect("an object");
            let mut got = Vec::new();
            crate::codec::canonical::Data::Raw(shaper.apply_raw(raw)).write(&mut got, &[]);
            assert_eq!(
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(&want),
                "{}",
                String::from_utf8_lossy(&body)
            );
            let mut unshaped = Vec::new();
            crate::codec::json::encode_object_into(&mut unshaped, &tree, &[]);
            reshaped += usize::from(want != unshaped && !tree.is_empty());
        }
        assert!(reshaped > 2000, "only {reshaped} bodies were changed by their shaper");
    }

    fn lura_body() -> Value {
        json!({"supu": 42, "tupu": false, "foo": "bar", "a": {"b": true, "c": 42, "d": "tupu"}})
    }

    #[test]
    fn nothing_configured_is_identity() {
        let shaper = Backend::default().shaper();
        assert!(shaper.is_identity());
        assert_eq!(Value::Object(shaper.apply(object(lura_body()))), lura_body());
    }

    #[test]
    fn any_setting_makes_the_shaper_non_identity() {
        let settings = [
            Backend { target: "a", ..Backend::default() },
            Backend { allow: &["a"], ..Backend::default() },
            Backend { deny: &["a"], ..Backend::default() },
            Backend { mapping: &[("a", "b")], ..Backend::default() },
            Backend { group: "g", ..Backend::default() },
            Backend { flatmap_filter: Some(json!([{"type": "del", "args": ["a"]}])), ..Backend::default() },
        ];
        for backend in settings {
            assert!(!backend.shaper().is_identity());
        }
    }

    #[test]
    fn flatmap_with_only_unknown_ops_is_identity_and_still_disables_allow() {
        let backend = Backend {
            allow: &["a"],
            mapping: &[("b", "B")],
            flatmap_filter: Some(json!([{"type": "copy", "args": ["a", "x"]}])),
            ..Backend::default()
        };
        assert!(backend.shaper().is_identity());
        assert_eq!(backend.shape(json!({"a": 1, "b": 2})), json!({"a": 1, "b": 2}));
    }

    #[test]
    fn empty_or_untyped_flatmap_leaves_allow_and_mapping_in_charge() {
        for filter in [json!([]), json!([{"args": ["a"]}]), json!({"type": "del"})] {
            let backend = Backend {
                allow: &["a", "b"],
                mapping: &[("b", "B")],
                flatmap_filter: Some(filter),
                ..Backend::default()
            };
            assert_eq!(backend.shape(json!({"a": 1, "b": 2, "c": 3})), json!({"a": 1, "B": 2}));
        }
    }

    // Case `allow_nested`.
    #[test]
    fn allow_list_through_the_shaper() {
        let backend = Backend { allow: &["supu", "a.b", "a.c", "foo.unknown"], ..Backend::default() };
        assert_eq!(backend.shape(lura_body()), json!({"supu": 42, "a": {"b": true, "c": 42}}));
    }

    // Case `allow_drops_arrays_on_nested_path`.
    #[test]
    fn allow_list_drops_arrays_on_a_nested_path() {
        let backend = Backend { allow: &["a.b", "d.b"], ..Backend::default() };
        assert_eq!(backend.shape(json!({"a": [{"b": 1}], "c": 2, "d": {"b": 3, "x": 4}})), json!({"d": {"b": 3}}));
    }

    // Case `deny_nested`.
    #[test]
    fn deny_list_through_the_shaper() {
        let backend = Backend {
            deny: &["supu", "a.b", "a.c", "foo.unknown", "a.a.b", "a.a.deeper.a.aa", "a.a.deeper.b.aa"],
            ..Backend::default()
        };
        let data = json!({
            "supu": 42, "tupu": false, "foo": "bar",
            "a": {
                "a": {"b": true, "c": 42, "d": "tupu", "deeper": {"a": {"aa": 1, "bb": 2}, "b": {"aa": 3, "bb": 4}}},
                "b": true, "c": 42, "d": "tupu"
            }
        });
        assert_eq!(
            backend.shape(data),
            json!({
                "tupu": false, "foo": "bar",
                "a": {"a": {"c": 42, "d": "tupu", "deeper": {"a": {"bb": 2}, "b": {"bb": 4}}}, "d": "tupu"}
            })
        );
    }

    // Case `mapping_rename`.
    #[test]
    fn mapping_renames_top_level_keys_only() {
        let backend = Backend {
            mapping: &[("supu", "SUPUUUUU"), ("tupu", "TUPUUUUU"), ("a.b", "a.BOOOOO")],
            ..Backend::default()
        };
        assert_eq!(
            backend.shape(lura_body()),
            json!({"SUPUUUUU": 42, "TUPUUUUU": false, "foo": "bar", "a": {"b": true, "c": 42, "d": "tupu"}})
        );
    }

    // Case `mapping_dotted_new_name_truncated`.
    #[test]
    fn mapping_new_name_is_cut_at_the_first_dot() {
        let backend = Backend { mapping: &[("email", "contact.email")], ..Backend::default() };
        assert_eq!(backend.shape(json!({"email": "x@y.z", "id": 1})), json!({"contact": "x@y.z", "id": 1}));
    }

    #[test]
    fn mapping_overwrites_an_existing_key() {
        let backend = Backend { mapping: &[("a", "b")], ..Backend::default() };
        assert_eq!(backend.shape(json!({"a": 1, "b": 2})), json!({"b": 1}));
    }

    #[test]
    fn mapping_of_a_missing_key_changes_nothing() {
        let backend = Backend { mapping: &[("x", "y")], ..Backend::default() };
        assert_eq!(backend.shape(json!({"a": 1})), json!({"a": 1}));
    }

    #[test]
    fn mapping_a_key_to_itself_deletes_it_like_lura() {
        let backend = Backend { mapping: &[("a", "a"), ("b", "b.c")], ..Backend::default() };
        assert_eq!(backend.shape(json!({"a": 1, "b": 2, "c": 3})), json!({"c": 3}));
    }

    #[test]
    fn mapping_dotted_old_name_matches_only_a_literal_key() {
        let backend = Backend { mapping: &[("a.b", "x")], ..Backend::default() };
        assert_eq!(backend.shape(json!({"a": {"b": 1}})), json!({"a": {"b": 1}}));
        assert_eq!(backend.shape(json!({"a.b": 1})), json!({"x": 1}));
    }

    #[test]
    fn mapping_runs_after_the_filter() {
        let backend = Backend { allow: &["a"], mapping: &[("a", "b"), ("c", "d")], ..Backend::default() };
        assert_eq!(backend.shape(json!({"a": 1, "c": 2})), json!({"b": 1}));
    }

    // Case `target_extract`.
    #[test]
    fn target_replaces_data_with_the_nested_object() {
        let backend = Backend { target: "group1", ..Backend::default() };
        let data = json!({"supu": 42, "group1": {"b": true, "c": 42, "d": "tupu"}});
        assert_eq!(backend.shape(data), json!({"b": true, "c": 42, "d": "tupu"}));
    }

    #[test]
    fn target_walks_a_dot_path() {
        let backend = Backend { target: "data.user", ..Backend::default() };
        assert_eq!(backend.shape(json!({"data": {"user": {"id": 1}, "x": 2}})), json!({"id": 1}));
    }

    // Case `target_missing_gives_empty`.
    #[test]
    fn target_missing_or_not_an_object_gives_empty() {
        for (target, data) in [
            ("data", json!({"a": 1})),
            ("a", json!({"a": 1})),
            ("a", json!({"a": [{"b": 1}]})),
            ("a", json!({"a": null})),
            ("a.b", json!({"a": {"c": {}}})),
            ("a.b", json!({"a": {"b": "s"}})),
            ("a.0", json!({"a": [{"b": 1}]})),
        ] {
            let backend = Backend { target, ..Backend::default() };
            assert_eq!(backend.shape(data.clone()), json!({}), "{target} on {data}");
        }
    }

    // Case `target_allow_mapping_group_together` (lura TestEntityFormatter_altogether).
    #[test]
    fn target_then_allow_then_mapping_then_group() {
        let backend =
            Backend { target: "a", allow: &["d"], mapping: &[("d", "D")], group: "group", ..Backend::default() };
        assert_eq!(backend.shape(lura_body()), json!({"group": {"D": "tupu"}}));
    }

    // Case `group_on_empty_result`.
    #[test]
    fn group_wraps_even_an_empty_result() {
        let backend = Backend { group: "g", ..Backend::default() };
        assert_eq!(backend.shape(json!({})), json!({"g": {}}));
        let backend = Backend { target: "missing", allow: &["a"], group: "g", ..Backend::default() };
        assert_eq!(backend.shape(json!({"a": 1})), json!({"g": {}}));
    }

    #[test]
    fn group_wraps_exactly_once() {
        // Property-style: whatever the data, the result is one key holding the ungrouped result.
        let grouped = Backend { deny: &["x"], mapping: &[("a", "b")], group: "g", ..Backend::default() };
        let ungrouped = Backend { deny: &["x"], mapping: &[("a", "b")], ..Backend::default() };
        for data in [json!({}), json!({"g": 1}), json!({"a": {"g": {}}, "x": 1}), lura_body()] {
            let out = object(grouped.shape(data.clone()));
            assert_eq!(out.len(), 1);
            assert_eq!(out.get("g"), Some(&ungrouped.shape(data)));
        }
    }

    // Case `flatmap_backend_full` (lura TestEntityFormatter_flatmap).
    #[test]
    fn flatmap_backend_full() {
        let element = json!({"b": true, "c": 42, "d": "tupu", "e": [1, 2, 3, 4]});
        let backend = Backend {
            target: "content",
            group: "group",
            flatmap_filter: Some(json!([
                {"type": "del", "args": ["c"]},
                {"type": "append", "args": ["y", "z"]},
                {"type": "move", "args": ["supu", "SUPUUUUU"]},
                {"type": "move", "args": ["a.b", "a.BOOOOO"]},
                {"type": "del", "args": ["collection.*.b", "collection.*.d", "collection.*.e"]},
                {"type": "move", "args": ["collection.*.c", "collection.*.x"]}
            ])),
            ..Backend::default()
        };
        let data = json!({"content": {
            "supu": 42, "tupu": false, "foo": "bar",
            "a": {"b": true, "c": 42, "d": "tupu", "e": [1, 2, 3, 4]},
            "collection": [element, element, element, element],
            "y": [0, 1, 2, 3, 4, 5, 6],
            "z": [10, 11, 12, 13, 14, 15, 16]
        }});
        assert_eq!(
            backend.shape(data),
            json!({"group": {
                "SUPUUUUU": 42, "tupu": false, "foo": "bar",
                "a": {"BOOOOO": true, "c": 42, "d": "tupu", "e": [1, 2, 3, 4]},
                "collection": [{"x": 42}, {"x": 42}, {"x": 42}, {"x": 42}],
                "z": [10, 11, 12, 13, 14, 15, 16, 0, 1, 2, 3, 4, 5, 6]
            }})
        );
    }

    // Case `flatmap_ignores_allow_mapping`.
    #[test]
    fn flatmap_replaces_allow_deny_and_mapping() {
        let backend = Backend {
            allow: &["a"],
            deny: &["b"],
            mapping: &[("b", "B")],
            flatmap_filter: Some(json!([{"type": "del", "args": ["c"]}])),
            ..Backend::default()
        };
        assert_eq!(backend.shape(json!({"a": 1, "b": 2, "c": 3})), json!({"a": 1, "b": 2}));
    }

    #[test]
    fn flatmap_runs_after_target_and_before_group() {
        let backend = Backend {
            target: "data",
            group: "g",
            flatmap_filter: Some(json!([{"type": "move", "args": ["data", "inner"]}])),
            ..Backend::default()
        };
        assert_eq!(backend.shape(json!({"data": {"data": 1}})), json!({"g": {"inner": 1}}));
    }

    #[test]
    fn flatmap_emptying_the_data_still_groups() {
        let backend =
            Backend { group: "g", flatmap_filter: Some(json!([{"type": "del", "args": ["a"]}])), ..Backend::default() };
        assert_eq!(backend.shape(json!({"a": 1})), json!({"g": {}}));
    }

    #[test]
    fn endpoint_flatmap_compiles_and_applies_on_its_own() {
        let flatmap =
            Flatmap::compile(&json!([{"type": "move", "args": ["a.b", "b"]}])).expect("a typed op makes a filter");
        assert_eq!(
            Value::Object(flatmap.apply(object(json!({"a": {"b": 1, "c": 2}})))),
            json!({"a": {"c": 2}, "b": 1})
        );
    }
}
