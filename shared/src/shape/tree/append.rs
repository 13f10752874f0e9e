//! `append`: concatenating two arrays into the destination and deleting the source, including
//! Go's habit of merging the result into the existing destination node. Owns only `append`.

use serde_json::Value;

use super::{Edge, Label, Node};
use crate::model::shaper::paths::Segment;

impl Node {
    /// `append`: when both values are arrays, `dst` becomes its elements followed by `src`'s,
    /// and `src` is deleted.
    pub(in crate::shape) fn append(&mut self, src: &[Segment], dst: &[Segment]) {
        let Value::Array(appended) = self.get(src) else {
            return;
        };
        let Value::Array(mut items) = self.get(dst) else {
            return;
        };
        items.extend(appended);
        self.add(dst, Value::Array(items));
        self.del(src);
    }

    /// Writes `value` at `path`, creating missing nodes and merging into existing ones.
    fn add(&mut self, path: &[Segment], value: Value) {
        let Some((segment, rest)) = path.split_first() else {
            self.absorb(value);
            return;
        };
        let branch = self.branch();
        let position = match branch.position(segment) {
            Some(position) => position,
            None => {
                branch.edges.push(Edge { label: Label::Key(segment.text().to_owned()), node: Node::Raw(Value::Null) });
                branch.edges.len() - 1
            }
        };
        branch.edges[position].node.add(rest, value);
    }

    /// Go re-flattens a value into an existing node instead of replacing it: children are
    /// matched by label and merged, unmatched ones are appended, and existing edges stay. So
    /// writing an array back over one whose labels no longer follow its positions can give
    /// merged or repeated elements, exactly as KrakenD does.
    fn absorb(&mut self, value: Value) {
        if let Node::Raw(own) = self
            && (*own == value || own.is_null())
        {
            // Same value: nothing changes. A fresh node: merging into nothing is replacing.
            *own = value;
            return;
        }
        let branch = self.branch();
        match value {
            Value::Object(map) => {
                branch.is_collection = false;
                if map.is_empty() {
                    branch.value = Value::Object(map);
                    return;
                }
                for (key, child) in map {
                    match branch.edges.iter_mut().find(|e| e.label.matches_key(&key)) {
                        Some(edge) => edge.node.absorb(child),
                        None => branch.edges.push(Edge { label: Label::Key(key), node: Node::Raw(child) }),
                    }
                }
            }
            Value::Array(items) => {
                branch.is_collection = true;
                if items.is_empty() {
                    branch.value = Value::Array(items);
                    return;
                }
                for (index, child) in items.into_iter().enumerate() {
                    match branch.edges.iter_mut().find(|e| e.label.matches_index(index)) {
                        Some(edge) => edge.node.absorb(child),
                        None => branch.edges.push(Edge { label: Label::Index(index), node: Node::Raw(child) }),
                    }
                }
            }
            scalar => {
                branch.is_collection = false;
                branch.value = scalar;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::super::tests::tree;
    use crate::model::shaper::paths::split;

    fn append(data: Value, src: &str, dst: &str) -> Value {
        let mut root = tree(data);
        root.append(&split(src), &split(dst));
        root.into_value()
    }

    #[test]
    fn append_puts_dst_elements_first_and_deletes_src() {
        assert_eq!(append(json!({"a": [42], "b": [1]}), "a", "b"), json!({"b": [1, 42]}));
    }

    #[test]
    fn append_needs_two_arrays() {
        let data = json!({"a": [1], "b": {"c": 1}, "s": 1});
        assert_eq!(append(data.clone(), "a", "b"), data);
        assert_eq!(append(data.clone(), "b", "a"), data);
        assert_eq!(append(data.clone(), "a", "missing"), data);
        assert_eq!(append(data.clone(), "missing", "a"), data);
        assert_eq!(append(data.clone(), "s", "a"), data);
    }

    #[test]
    fn append_to_empty_and_from_empty_arrays() {
        assert_eq!(append(json!({"a": [1, 2], "b": []}), "a", "b"), json!({"b": [1, 2]}));
        assert_eq!(append(json!({"a": [], "b": [1]}), "a", "b"), json!({"b": [1]}));
        assert_eq!(append(json!({"a": [], "b": []}), "a", "b"), json!({"b": []}));
    }

    #[test]
    fn append_nested_arrays_and_leaves_null_parent() {
        assert_eq!(
            append(json!({"x": {"a": [{"k": 1}]}, "y": {"b": [{"k": 0}]}}), "x.a", "y.b"),
            json!({"x": null, "y": {"b": [{"k": 0}, {"k": 1}]}})
        );
    }

    #[test]
    fn append_with_wildcard_src_collects_one_value_per_element() {
        assert_eq!(
            append(json!({"l": [{"v": 1}, {"w": 2}, {"v": 3}], "out": [0]}), "l.*.v", "out"),
            json!({"l": [null, {"w": 2}, null], "out": [0, 1, null, 3]})
        );
    }

    #[test]
    fn append_an_array_to_itself_deletes_it() {
        assert_eq!(append(json!({"a": [1], "k": 0}), "a", "a"), json!({"k": 0}));
    }

    #[test]
    fn append_after_deleting_from_dst_merges_by_original_index_like_go() {
        // After `del d.0`, `d` holds labels 1 ({b}) and 2 ({c}). Go writes [{b}, {c}, {x}]
        // back by label: no label 0, so {b} is appended at the end; label 1 gets {c} merged
        // in and label 2 gets {x}: garbage, but KrakenD's garbage.
        let mut root = tree(json!({"d": [{"a": 1}, {"b": 2}, {"c": 3}], "s": [{"x": 4}]}));
        root.del(&split("d.0"));
        root.append(&split("s"), &split("d"));
        assert_eq!(root.into_value(), json!({"d": [{"b": 2, "c": 3}, {"c": 3, "x": 4}, {"b": 2}]}));
    }
}
