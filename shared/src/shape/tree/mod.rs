//! The flatmap tree: a JSON value seen as nodes joined by labelled edges, changed by `del`,
//! `move` and `append` with the exact (and sometimes surprising) results of krakend/flatmap's
//! `tree` package. Owns the tree model, `get` and `del`; `move` and `append` live in the
//! submodules. Nothing here parses filter configs.
//!
//! Subtrees no operation has looked into stay as plain JSON ([`Node::Raw`]) and are only
//! exploded into edges when a path walks through them, so an op on one key costs nothing for
//! the rest of the body.
//!
//! The model's rules, which give the surprises:
//! * a node with edges shows them (an object, or an array when it is a collection); a node
//!   without edges shows its own value, which is `null` for a node that once had children, so
//!   a parent emptied by `move` or `del` becomes `null`, not `{}`;
//! * an array element keeps the label it was born with (`"0"`, `"1"`, ...): after `del a.0`
//!   the first element is still addressed as `a.1`, while the output array closes up;
//! * a path segment matches the first edge with that label; `*` matches every edge, except as
//!   the last segment of a `move` source, where it is literal.

mod append;
mod moves;

use std::mem;

use serde_json::Value;

use super::Object;
use crate::model::shaper::paths::{Segment, canonical_index};

/// What an edge is called: an object key, or the position an array element was born at.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Label {
    Key(String),
    Index(usize),
}

impl Label {
    fn matches(&self, segment: &Segment) -> bool {
        match self {
            Label::Key(key) => key == segment.text(),
            Label::Index(index) => segment.index() == Some(*index),
        }
    }

    fn matches_key(&self, key: &str) -> bool {
        match self {
            Label::Key(own) => own == key,
            Label::Index(index) => canonical_index(key) == Some(*index),
        }
    }

    fn matches_index(&self, index: usize) -> bool {
        match self {
            Label::Key(own) => canonical_index(own) == Some(index),
            Label::Index(own) => *own == index,
        }
    }

    fn matches_label(&self, other: &Label) -> bool {
        match other {
            Label::Key(key) => self.matches_key(key),
            Label::Index(index) => self.matches_index(*index),
        }
    }

    fn into_key(self) -> String {
        match self {
            Label::Key(key) => key,
            Label::Index(index) => index.to_string(),
        }
    }

    fn to_key(&self) -> String {
        self.clone().into_key()
    }
}

#[derive(Debug)]
struct Edge {
    label: Label,
    node: Node,
}

#[derive(Debug)]
pub(super) enum Node {
    /// A subtree no operation has looked into yet.
    Raw(Value),
    Branch(Branch),
}

#[derive(Debug)]
pub(super) struct Branch {
    /// Shown only while the node has no edges.
    value: Value,
    /// Edges are shown as an array (in edge order, labels ignored) rather than an object.
    is_collection: bool,
    edges: Vec<Edge>,
}

impl Branch {
    fn explode(value: Value) -> Branch {
        match value {
            Value::Object(map) if !map.is_empty() => Branch {
                value: Value::Null,
                is_collection: false,
                edges: map
                    .into_iter()
                    .map(|(key, node)| Edge { label: Label::Key(key), node: Node::Raw(node) })
                    .collect(),
            },
            Value::Array(items) if !items.is_empty() => Branch {
                value: Value::Null,
                is_collection: true,
                edges: items
                    .into_iter()
                    .enumerate()
                    .map(|(index, node)| Edge { label: Label::Index(index), node: Node::Raw(node) })
                    .collect(),
            },
            value => Branch { is_collection: value.is_array(), value, edges: Vec::new() },
        }
    }

    fn position(&self, segment: &Segment) -> Option<usize> {
        self.edges.iter().position(|e| e.label.matches(segment))
    }

    fn to_value(&self) -> Value {
        if self.edges.is_empty() {
            self.value.clone()
        } else if self.is_collection {
            Value::Array(self.edges.iter().map(|e| e.node.to_value()).collect())
        } else {
            let mut map = Object::new();
            for edge in &self.edges {
                map.insert(edge.label.to_key(), edge.node.to_value());
            }
            Value::Object(map)
        }
    }

    fn into_value(self) -> Value {
        if self.edges.is_empty() {
            self.value
        } else if self.is_collection {
            Value::Array(self.edges.into_iter().map(|e| e.node.into_value()).collect())
        } else {
            // A later edge with the same label wins, as in Go.
            let mut map = Object::new();
            for edge in self.edges {
                map.insert(edge.label.into_key(), edge.node.into_value());
            }
            Value::Object(map)
        }
    }
}

impl Node {
    pub(super) fn new(data: Object) -> Node {
        Node::Raw(Value::Object(data))
    }

    pub(super) fn into_value(self) -> Value {
        match self {
            Node::Raw(value) => value,
            Node::Branch(branch) => branch.into_value(),
        }
    }

    fn to_value(&self) -> Value {
        match self {
            Node::Raw(value) => value.clone(),
            Node::Branch(branch) => branch.to_value(),
        }
    }

    fn is_leaf(&self) -> bool {
        match self {
            Node::Raw(Value::Object(map)) => map.is_empty(),
            Node::Raw(Value::Array(items)) => items.is_empty(),
            Node::Raw(_) => true,
            Node::Branch(branch) => branch.edges.is_empty(),
        }
    }

    fn branch(&mut self) -> &mut Branch {
        if let Node::Raw(value) = self {
            *self = Node::Branch(Branch::explode(mem::take(value)));
        }
        let Node::Branch(branch) = self else { unreachable!("a raw node was just exploded") };
        branch
    }

    /// The value at `path`; `*` collects one value per edge into an array, and anything
    /// missing is `null`.
    fn get(&self, path: &[Segment]) -> Value {
        let Some((segment, rest)) = path.split_first() else {
            return self.to_value();
        };
        match self {
            Node::Raw(value) => raw_get(value, segment, rest),
            Node::Branch(branch) if branch.edges.is_empty() => Value::Null,
            Node::Branch(branch) if segment.is_wildcard() => {
                Value::Array(branch.edges.iter().map(|e| e.node.get(rest)).collect())
            }
            Node::Branch(branch) => {
                branch.edges.iter().find(|e| e.label.matches(segment)).map_or(Value::Null, |e| e.node.get(rest))
            }
        }
    }

    /// Removes the last segment at every match; a trailing `*` removes every child.
    pub(super) fn del(&mut self, path: &[Segment]) {
        let Some((segment, rest)) = path.split_first() else {
            return;
        };
        if self.is_leaf() {
            return;
        }
        let branch = self.branch();
        if segment.is_wildcard() {
            if rest.is_empty() {
                branch.edges.clear();
            } else {
                for edge in &mut branch.edges {
                    edge.node.del(rest);
                }
            }
        } else if let Some(position) = branch.position(segment) {
            if rest.is_empty() {
                branch.edges.remove(position);
            } else {
                branch.edges[position].node.del(rest);
            }
        }
    }
}

fn raw_get(value: &Value, segment: &Segment, rest: &[Segment]) -> Value {
    let get = |child: &Value| match rest.split_first() {
        None => child.clone(),
        Some((next, rest)) => raw_get(child, next, rest),
    };
    // Like a node without edges, an empty object or array has nothing below it, not even
    // for `*`.
    match value {
        Value::Object(map) if !map.is_empty() => {
            if segment.is_wildcard() {
                Value::Array(map.values().map(get).collect())
            } else {
                map.get(segment.text()).map_or(Value::Null, get)
            }
        }
        Value::Array(items) if !items.is_empty() => {
            if segment.is_wildcard() {
                Value::Array(items.iter().map(get).collect())
            } else {
                segment.index().and_then(|index| items.get(index)).map_or(Value::Null, get)
            }
        }
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::model::shaper::paths::split;

    pub(super) fn tree(data: Value) -> Node {
        match data {
            Value::Object(map) => Node::new(map),
            other => panic!("test data must be an object, got {other}"),
        }
    }

    fn del(data: Value, path: &str) -> Value {
        let mut root = tree(data);
        root.del(&split(path));
        root.into_value()
    }

    #[test]
    fn untouched_tree_round_trips_exactly() {
        let data = json!({"a": [1, {"b": null}, []], "c": {}, "d": 1.50, "e": 12345678901234567890u64});
        assert_eq!(tree(data.clone()).into_value(), data);
        let mut exploded = tree(data.clone());
        exploded.del(&split("a.1.missing"));
        exploded.del(&split("c.*"));
        assert_eq!(exploded.into_value(), data);
    }

    #[test]
    fn numbers_keep_their_literal_text() {
        let data: Value =
            serde_json::from_str(r#"{"a": {"n": 1.50, "m": 12345678901234567890123, "x": 0}}"#).expect("valid json");
        let mut root = tree(data);
        root.del(&split("a.x"));
        let out = root.into_value();
        assert_eq!(serde_json::to_string(&out).expect("serializes"), r#"{"a":{"m":12345678901234567890123,"n":1.50}}"#);
    }

    // krakend/flatmap TestTree_Del.
    #[test]
    fn del_unknown_path_changes_nothing() {
        let data = json!({"supu": 42, "tupu": false});
        assert_eq!(del(data.clone(), "abc"), data);
    }

    #[test]
    fn del_through_an_empty_array_or_object_keeps_it() {
        assert_eq!(del(json!({"data": []}), "data.*.password"), json!({"data": []}));
        assert_eq!(del(json!({"data": {}}), "data.*.password"), json!({"data": {}}));
    }

    #[test]
    fn del_top_level_and_nested_keys() {
        assert_eq!(del(json!({"supu": 42, "tupu": false}), "supu"), json!({"tupu": false}));
        assert_eq!(
            del(json!({"internal": {"supu": 42, "tupu": false}, "tupu": false}), "internal.supu"),
            json!({"internal": {"tupu": false}, "tupu": false})
        );
        assert_eq!(
            del(json!({"internal": {"supu": 42, "tupu": false}, "tupu": false}), "internal"),
            json!({"tupu": false})
        );
    }

    #[test]
    fn del_wildcard_over_object_keys() {
        let data = json!({
            "a": {
                "first": {"supu": 42, "tupu": false},
                "0": {"supu": 42, "tupu": true},
                "last": {"supu": 42, "tupu": false}
            },
            "tupu": false
        });
        assert_eq!(
            del(data, "a.*.supu"),
            json!({"a": {"first": {"tupu": false}, "0": {"tupu": true}, "last": {"tupu": false}}, "tupu": false})
        );
    }

    #[test]
    fn del_matches_whole_labels_only() {
        let data = json!({"a": {"a": {"a": {"a": 1}, "aa": 1}, "aa": 1}, "tupu": false});
        assert_eq!(del(data, "a.a.a"), json!({"a": {"a": {"aa": 1}, "aa": 1}, "tupu": false}));
    }

    #[test]
    fn del_wildcard_in_collections_at_any_depth() {
        let data = json!({
            "a": [
                {"b": [{"c": {"a": 1}, "aa": 1}, {"c": {"a": 2}, "aa": 1}], "aa": 1},
                {"b": [{"c": {"a": 1}, "aa": 1}], "aa": 1}
            ],
            "tupu": false
        });
        assert_eq!(
            del(data, "a.*.b.*.c"),
            json!({
                "a": [{"b": [{"aa": 1}, {"aa": 1}], "aa": 1}, {"b": [{"aa": 1}], "aa": 1}],
                "tupu": false
            })
        );
    }

    #[test]
    fn del_array_element_closes_the_array_up() {
        let data = json!({"kindergarten": ["ann", "bob", "cy"]});
        assert_eq!(del(data, "kindergarten.0"), json!({"kindergarten": ["bob", "cy"]}));
    }

    #[test]
    fn array_elements_keep_their_original_index_after_a_delete() {
        let mut root = tree(json!({"k": ["ann", "bob", "cy"]}));
        root.del(&split("k.0"));
        root.del(&split("k.0"));
        assert_eq!(root.get(&split("k.1")), json!("bob"));
        root.del(&split("k.2"));
        assert_eq!(root.into_value(), json!({"k": ["bob"]}));
    }

    #[test]
    fn del_emptying_a_parent_leaves_null() {
        assert_eq!(del(json!({"a": {"b": 1}, "c": 2}), "a.b"), json!({"a": null, "c": 2}));
        assert_eq!(del(json!({"a": [1]}), "a.0"), json!({"a": null}));
        assert_eq!(del(json!({"a": [1, 2]}), "a.*"), json!({"a": null}));
        assert_eq!(del(json!({"a": [{"x": 1}, {"x": 2, "y": 3}]}), "a.*.x"), json!({"a": [null, {"y": 3}]}));
    }

    #[test]
    fn del_every_key_leaves_a_null_root() {
        assert_eq!(del(json!({"a": 1}), "a"), Value::Null);
        assert_eq!(del(json!({"a": 1, "b": 2}), "*"), Value::Null);
    }

    #[test]
    fn del_through_scalars_is_ignored() {
        let data = json!({"a": 1, "b": "s", "c": null});
        assert_eq!(del(data.clone(), "a.x"), data);
        assert_eq!(del(data.clone(), "b.*"), data);
        assert_eq!(del(data.clone(), "c.0"), data);
    }

    #[test]
    fn del_non_canonical_index_does_not_match_array_elements() {
        let data = json!({"a": [1, 2]});
        assert_eq!(del(data.clone(), "a.00"), data);
        assert_eq!(del(data.clone(), "a.+1"), data);
        assert_eq!(del(json!({"a": {"01": 1}}), "a.01"), json!({"a": null}));
    }

    // krakend/flatmap TestTree_Get.
    #[test]
    fn get_by_index_and_wildcard() {
        let items: Vec<Value> = (0..12).map(|i| json!({"a": i, "aa": 1})).collect();
        let mut root = tree(json!({"a": items, "b": {"c": [1, 2, 3, 4]}, "tupu": false}));
        assert_eq!(root.get(&split("a.1.a")), json!(1));
        assert_eq!(root.get(&split("a.*.a")), json!([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]));
        // The same answers once the tree has been exploded.
        root.del(&split("a.*.missing"));
        assert_eq!(root.get(&split("a.1.a")), json!(1));
        assert_eq!(root.get(&split("a.*.a")), json!([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]));
        assert_eq!(root.get(&split("b.c")), json!([1, 2, 3, 4]));
    }

    #[test]
    fn get_missing_or_through_empty_is_null() {
        let root = tree(json!({"a": {}, "b": [], "c": 1}));
        assert_eq!(root.get(&split("a.*")), Value::Null);
        assert_eq!(root.get(&split("b.*")), Value::Null);
        assert_eq!(root.get(&split("c.*")), Value::Null);
        assert_eq!(root.get(&split("zz")), Value::Null);
        assert_eq!(root.get(&split("*.x")), json!([null, null, null]));
    }

    // krakend/flatmap TestTree_Move.
}
