//! Running a compiled `flatmap_filter` (backend or endpoint `extra_config.proxy`): its
//! operations in order over a response's data. The operations themselves live in `tree`; the
//! filter's JSON is read by its constructor in the model.

use serde_json::Value;

use super::Object;
use super::tree::Node;
use crate::model::shaper::{Flatmap, Op};

impl Flatmap {
    /// Runs the operations in order. If the result is no longer an object (every key was
    /// deleted or moved away), the data becomes `{}`.
    pub(crate) fn apply(&self, data: Object) -> Object {
        if self.ops.is_empty() {
            return data;
        }
        let mut root = Node::new(data);
        for op in &self.ops {
            match op {
                Op::Move { src, dst } => root.move_to(src, dst),
                Op::Append { src, dst } => root.append(src, dst),
                Op::Del(paths) => paths.iter().for_each(|path| root.del(path)),
            }
        }
        match root.into_value() {
            Value::Object(data) => data,
            _ => Object::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::shape::test_data::object;

    fn run(filter: Value, data: Value) -> Value {
        let flatmap = Flatmap::compile(&filter).expect("filter has a typed op");
        Value::Object(flatmap.apply(object(data)))
    }

    #[test]
    fn compile_ignores_filters_without_a_typed_op() {
        for filter in [
            json!(null),
            json!({"type": "del", "args": ["a"]}),
            json!("del"),
            json!([]),
            json!([1, "x", null]),
            json!([{"args": ["a"]}]),
            json!([{"type": 1, "args": ["a"]}, {"type": null}]),
        ] {
            assert!(Flatmap::compile(&filter).is_none(), "{filter}");
        }
    }

    #[test]
    fn unknown_op_types_count_but_do_nothing() {
        let flatmap =
            Flatmap::compile(&json!([{"type": "copy", "args": ["a", "b"]}])).expect("a typed op makes a filter");
        assert!(flatmap.is_identity());
        let data = object(json!({"a": 1}));
        assert_eq!(flatmap.apply(data.clone()), data);
    }

    #[test]
    fn malformed_move_and_append_are_skipped() {
        let filter = json!([
            {"type": "move", "args": ["a"]},
            {"type": "move"},
            {"type": "append", "args": "a"},
            {"type": "move", "args": [1, "b"]},
            {"type": "move", "args": ["a", null]},
            {"type": "del", "args": [7, "c"]}
        ]);
        assert_eq!(run(filter, json!({"a": 1, "c": 2})), json!({"a": 1}));
    }

    #[test]
    fn ops_run_in_order() {
        let filter = json!([
            {"type": "move", "args": ["a", "b"]},
            {"type": "move", "args": ["b", "c"]},
            {"type": "del", "args": ["x", "y"]}
        ]);
        assert_eq!(run(filter, json!({"a": 1, "x": 2, "y": 3, "z": 4})), json!({"c": 1, "z": 4}));
    }

    // Case `flatmap_collection_rename` (lura integration test /flatmap/rename).
    #[test]
    fn renames_a_field_in_every_collection_element() {
        let filter = json!([{"type": "move", "args": ["collection.*.date", "collection.*.created_at"]}]);
        let data = json!({"collection": [
            {"body": "some content", "date": "123456789"},
            {"body": "some other content", "date": "123496789"}
        ]});
        assert_eq!(
            run(filter, data),
            json!({"collection": [
                {"body": "some content", "created_at": "123456789"},
                {"body": "some other content", "created_at": "123496789"}
            ]})
        );
    }

    // Case `flatmap_move_collection_ce` (krakend-ce fixture flatmap_1.json).
    #[test]
    fn renames_collection_then_deletes_and_renames_inside_it() {
        let filter = json!([
            {"type": "move", "args": ["collection", "paths"]},
            {"type": "del", "args": ["paths.*.i"]},
            {"type": "move", "args": ["paths.*.path", "paths.*.url"]}
        ]);
        let data = json!({"collection": [
            {"path": "/collection/2", "i": 0},
            {"path": "/collection/2", "i": 1},
            {"path": "/collection/2", "i": 2}
        ]});
        assert_eq!(
            run(filter, data),
            json!({"paths": [{"url": "/collection/2"}, {"url": "/collection/2"}, {"url": "/collection/2"}]})
        );
    }

    // Case `flatmap_move_leaves_null_parent` (krakend/flatmap TestTree_Move from_struct).
    #[test]
    fn moving_the_last_child_out_leaves_a_null_parent() {
        let filter = json!([{"type": "move", "args": ["zone.state", "state"]}]);
        assert_eq!(
            run(filter, json!({"zone": {"state": "NY"}, "id": 1})),
            json!({"id": 1, "state": "NY", "zone": null})
        );
    }

    // Promotion, followed by `del` of the emptied parent as KrakenD's docs do.
    #[test]
    fn promotion_then_deleting_the_parent() {
        let filter = json!([
            {"type": "move", "args": ["zone.state", "shipping_state"]},
            {"type": "del", "args": ["zone"]}
        ]);
        assert_eq!(run(filter, json!({"zone": {"state": "NY"}, "id": 1})), json!({"id": 1, "shipping_state": "NY"}));
    }

    // Embedding `b.a -> b.b.a.b.c`.
    #[test]
    fn embedding_creates_the_extra_dst_segments_under_the_source_parent() {
        let filter = json!([{"type": "move", "args": ["b.a", "b.b.a.b.c"]}]);
        assert_eq!(run(filter, json!({"a": 1, "b": {"a": 42}})), json!({"a": 1, "b": {"b": {"a": {"b": {"c": 42}}}}}));
    }

    // `del a.b.c` deletes `c` and keeps `a.b`; `kindergarten.0` closes up.
    #[test]
    fn del_removes_only_the_last_segment() {
        let filter = json!([{"type": "del", "args": ["a.b.c", "kindergarten.0"]}]);
        assert_eq!(
            run(filter, json!({"a": {"b": {"c": 1, "d": 2}}, "kindergarten": ["x", "y"]})),
            json!({"a": {"b": {"d": 2}}, "kindergarten": ["y"]})
        );
    }

    // lura's TestEntityFormatter_flatmap: `y` appended to `z`.
    #[test]
    fn append_keeps_dst_elements_first() {
        let filter = json!([{"type": "append", "args": ["y", "z"]}]);
        assert_eq!(run(filter, json!({"y": [0, 1, 2], "z": [10, 11]})), json!({"z": [10, 11, 0, 1, 2]}));
    }

    #[test]
    fn result_that_is_no_longer_an_object_becomes_empty() {
        let filter = json!([{"type": "del", "args": ["a", "b"]}]);
        assert_eq!(run(filter, json!({"a": 1, "b": 2})), json!({}));
        let filter = json!([{"type": "del", "args": ["*"]}]);
        assert_eq!(run(filter, json!({"a": 1})), json!({}));
    }

    #[test]
    fn empty_data_stays_empty() {
        let filter = json!([{"type": "move", "args": ["a", "a.b"]}, {"type": "del", "args": ["*"]}]);
        assert_eq!(run(filter, json!({})), json!({}));
    }

    #[test]
    fn the_same_flatmap_can_run_many_times() {
        let flatmap =
            Flatmap::compile(&json!([{"type": "move", "args": ["a", "b"]}])).expect("a typed op makes a filter");
        for n in 0..3 {
            assert_eq!(Value::Object(flatmap.apply(object(json!({"a": n})))), json!({"b": n}));
        }
    }
}
