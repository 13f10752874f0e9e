//! `move`: renaming the last segment, promoting a node towards the root, or embedding it
//! deeper, with krakend/flatmap's rules for which parent receives it. Owns only `move`.

use std::cmp::Ordering;

use serde_json::Value;

use super::{Branch, Edge, Label, Node};
use crate::model::shaper::paths::Segment;

impl Branch {
    /// Detaches the first edge labelled `segment`.
    fn take_edge(&mut self, segment: &Segment) -> Option<Edge> {
        let position = self.position(segment)?;
        Some(self.edges.remove(position))
    }

    /// Renames the first edge labelled `from`. Go keeps a clashing older edge too, and which
    /// of the two an object shows depends on Go's random map order; here the renamed edge is
    /// moved last so that it is the one shown (one of Go's outcomes). In an array both stay
    /// in place, since elements are shown by position.
    fn relabel(&mut self, from: &Segment, to: &Segment) {
        let Some(position) = self.position(from) else {
            return;
        };
        self.edges[position].label = Label::Key(to.text().to_owned());
        let clashes = self.edges.iter().enumerate().any(|(i, e)| i != position && e.label.matches(to));
        if clashes && !self.is_collection {
            let renamed = self.edges.remove(position);
            self.edges.push(renamed);
        }
    }

    /// Hangs `edge` under the path `tail` (all but its last segment are found or created,
    /// matched literally) and names it after the last segment.
    fn embed(&mut self, tail: &[Segment], mut edge: Edge) {
        let Some((last, intermediate)) = tail.split_last() else {
            return;
        };
        let mut branch = self;
        for segment in intermediate {
            let position = match branch.position(segment) {
                Some(position) => position,
                None => {
                    branch
                        .edges
                        .push(Edge { label: Label::Key(segment.text().to_owned()), node: Node::Raw(Value::Null) });
                    branch.edges.len() - 1
                }
            };
            branch = branch.edges[position].node.branch();
        }
        edge.label = Label::Key(last.text().to_owned());
        branch.edges.push(edge);
    }
}

impl Node {
    /// `move`: same length renames the last segment, a shorter `dst` promotes the node under
    /// `dst`'s parent (found from the root), a longer one embeds it under its own parent.
    pub(in crate::shape) fn move_to(&mut self, src: &[Segment], dst: &[Segment]) {
        let (Some((last, prefix)), Some(dst_last)) = (src.split_last(), dst.last()) else {
            return;
        };
        let mut path = Vec::new();
        match src.len().cmp(&dst.len()) {
            Ordering::Equal => {
                self.each_candidate(prefix, &mut path, &mut |branch, _| {
                    branch.relabel(last, dst_last);
                });
            }
            Ordering::Less => {
                let tail = &dst[prefix.len()..];
                self.each_candidate(prefix, &mut path, &mut |branch, _| {
                    if let Some(edge) = branch.take_edge(last) {
                        branch.embed(tail, edge);
                    }
                });
            }
            Ordering::Greater => {
                // Every node is detached before any is re-attached, so a promoted node is
                // never itself a candidate.
                let mut detached = Vec::new();
                self.each_candidate(prefix, &mut path, &mut |branch, path| {
                    if let Some(edge) = branch.take_edge(last) {
                        detached.push((path.to_vec(), edge));
                    }
                });
                for (path, edge) in detached {
                    self.promote(dst, &path, edge);
                }
            }
        }
    }

    /// Calls `visit` on every node `prefix` leads to, with the labels walked to reach it.
    fn each_candidate(
        &mut self,
        prefix: &[Segment],
        path: &mut Vec<Label>,
        visit: &mut dyn FnMut(&mut Branch, &[Label]),
    ) {
        let Some((segment, rest)) = prefix.split_first() else {
            if !self.is_leaf() {
                visit(self.branch(), path);
            }
            return;
        };
        if self.is_leaf() {
            return;
        }
        let branch = self.branch();
        let mut walk = |edge: &mut Edge| {
            path.push(edge.label.clone());
            edge.node.each_candidate(rest, path, visit);
            path.pop();
        };
        if segment.is_wildcard() {
            branch.edges.iter_mut().for_each(&mut walk);
        } else if let Some(position) = branch.position(segment) {
            walk(&mut branch.edges[position]);
        }
    }

    /// Walks `dst` minus its last segment from the root (a `*` takes the label the source
    /// path had at that depth), stops at the first step that does not exist, and appends the
    /// node there under `dst`'s last segment.
    fn promote(&mut self, dst: &[Segment], src_path: &[Label], mut edge: Edge) {
        let Some((last, parents)) = dst.split_last() else {
            return;
        };
        let mut parent = self;
        for (depth, segment) in parents.iter().enumerate() {
            if parent.is_leaf() {
                break;
            }
            let branch = parent.branch();
            let position = if segment.is_wildcard() {
                src_path.get(depth).and_then(|label| branch.edges.iter().position(|e| e.label.matches_label(label)))
            } else {
                branch.position(segment)
            };
            let Some(position) = position else {
                break;
            };
            parent = &mut parent.branch().edges[position].node;
        }
        edge.label = Label::Key(last.text().to_owned());
        parent.branch().edges.push(edge);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::super::tests::tree;
    use crate::model::shaper::paths::split;

    fn mv(data: Value, src: &str, dst: &str) -> Value {
        let mut root = tree(data);
        root.move_to(&split(src), &split(dst));
        root.into_value()
    }

    #[test]
    fn moved_numbers_keep_their_literal_text() {
        let data: Value = serde_json::from_str(r#"{"a": {"n": 1.50}}"#).expect("valid json");
        let out = mv(data, "a.n", "n");
        assert_eq!(serde_json::to_string(&out).expect("serializes"), r#"{"a":null,"n":1.50}"#);
    }

    #[test]
    fn move_same_length_renames_the_last_segment() {
        assert_eq!(mv(json!({"a": 42}), "a", "b"), json!({"b": 42}));
        assert_eq!(mv(json!({"a": 1, "b": {"a": 42}}), "b.a", "b.c"), json!({"a": 1, "b": {"c": 42}}));
    }

    #[test]
    fn move_rename_ignores_the_intermediate_segments_of_dst() {
        assert_eq!(mv(json!({"a": {"b": 1}, "x": {}}), "a.b", "x.c"), json!({"a": {"c": 1}, "x": {}}));
    }

    #[test]
    fn move_longer_dst_embeds_under_the_source_parent() {
        assert_eq!(
            mv(json!({"a": 1, "b": {"a": 42}}), "b.a", "b.b.a.b.a.b.c"),
            json!({"a": 1, "b": {"b": {"a": {"b": {"a": {"b": {"c": 42}}}}}}})
        );
    }

    #[test]
    fn move_shorter_dst_promotes_and_leaves_null_parent() {
        assert_eq!(mv(json!({"a": 1, "b": {"a": 42}}), "b.a", "c"), json!({"a": 1, "b": null, "c": 42}));
    }

    #[test]
    fn move_rename_with_wildcard_over_object_keys() {
        let data = json!({
            "c": 42,
            "b": {"first": {"c": {"d": 42}}, "last": {"m": 42, "c": {"d": 42}}}
        });
        assert_eq!(
            mv(data, "b.*.c", "b.*.x"),
            json!({"c": 42, "b": {"first": {"x": {"d": 42}}, "last": {"m": 42, "x": {"d": 42}}}})
        );
    }

    #[test]
    fn move_embedding_with_wildcard() {
        let data = json!({
            "c": 42,
            "b": {"first": {"c": {"d": 42}}, "last": {"m": 42, "c": {"d": 42}}}
        });
        assert_eq!(
            mv(data, "b.*.c", "b.*.c.b.x"),
            json!({
                "c": 42,
                "b": {
                    "first": {"c": {"b": {"x": {"d": 42}}}},
                    "last": {"m": 42, "c": {"b": {"x": {"d": 42}}}}
                }
            })
        );
    }

    #[test]
    fn move_rename_inside_collection_elements() {
        let data = json!({"a": 42, "b": [{"c": 42}, {"c": {"d": 42}}]});
        assert_eq!(mv(data, "b.*.c", "b.*.x"), json!({"a": 42, "b": [{"x": 42}, {"x": {"d": 42}}]}));
    }

    #[test]
    fn move_promotes_a_nested_object_keeping_siblings() {
        let data = json!({"a": 42, "b": {"a": 42, "bb": true, "b": {"a": 42}}});
        assert_eq!(mv(data, "b.b", "c"), json!({"a": 42, "b": {"a": 42, "bb": true}, "c": {"a": 42}}));
    }

    #[test]
    fn move_rename_collections_inside_collections() {
        let data = json!({
            "a": [
                {"b": [{"c": {"a": 1}, "aa": 1}, {"c": {"a": 2}, "aa": 1}], "aa": 1},
                {"b": [{"c": {"a": 1}, "aa": 1}], "aa": 1}
            ],
            "tupu": false
        });
        assert_eq!(
            mv(data.clone(), "a.*.b", "a.*.c"),
            json!({
                "a": [
                    {"c": [{"c": {"a": 1}, "aa": 1}, {"c": {"a": 2}, "aa": 1}], "aa": 1},
                    {"c": [{"c": {"a": 1}, "aa": 1}], "aa": 1}
                ],
                "tupu": false
            })
        );
        assert_eq!(
            mv(data, "a.*.b.*.c", "a.*.b.*.x"),
            json!({
                "a": [
                    {"b": [{"x": {"a": 1}, "aa": 1}, {"x": {"a": 2}, "aa": 1}], "aa": 1},
                    {"b": [{"x": {"a": 1}, "aa": 1}], "aa": 1}
                ],
                "tupu": false
            })
        );
    }

    #[test]
    fn move_promotion_with_wildcard_in_dst_uses_the_matched_key() {
        let data = json!({"users": {"ann": {"zone": {"state": "NY"}}, "bob": {"zone": {"state": "CA", "x": 1}}}});
        assert_eq!(
            mv(data, "users.*.zone.state", "users.*.state"),
            json!({"users": {
                "ann": {"zone": null, "state": "NY"},
                "bob": {"zone": {"x": 1}, "state": "CA"}
            }})
        );
    }

    #[test]
    fn move_promotion_stops_at_the_first_missing_step_of_dst() {
        assert_eq!(
            mv(json!({"a": {"b": {"c": 1}}, "k": 0}), "a.b.c", "x.y"),
            json!({"a": {"b": null}, "k": 0, "y": 1})
        );
    }

    #[test]
    fn move_promotion_into_a_scalar_turns_it_into_an_object() {
        assert_eq!(
            mv(json!({"a": {"b": {"c": 1}}, "s": "text"}), "a.b.c", "s.c"),
            json!({"a": {"b": null}, "s": {"c": 1}})
        );
    }

    #[test]
    fn move_promotion_into_an_array_appends_an_element() {
        assert_eq!(
            mv(json!({"a": {"b": {"c": 1}, "k": 2}, "list": [0]}), "a.b.c", "list.x"),
            json!({"a": {"b": null, "k": 2}, "list": [0, 1]})
        );
    }

    #[test]
    fn move_promotion_from_every_element_overwrites_in_order() {
        // Every element's `x` lands at the root under the same name; the last one wins.
        assert_eq!(
            mv(json!({"a": [{"x": 1}, {"x": 2}, {"y": 3}]}), "a.*.x", "x"),
            json!({"a": [null, null, {"y": 3}], "x": 2})
        );
    }

    #[test]
    fn move_promoted_value_overwrites_an_existing_key() {
        assert_eq!(mv(json!({"a": {"b": 1, "c": 2}, "b": 0}), "a.b", "b"), json!({"a": {"c": 2}, "b": 1}));
    }

    #[test]
    fn move_rename_onto_an_existing_key_keeps_the_moved_value() {
        assert_eq!(mv(json!({"a": 1, "b": 2}), "a", "b"), json!({"b": 1}));
        assert_eq!(mv(json!({"b": 1, "c": 2}), "c", "b"), json!({"b": 2}));
    }

    #[test]
    fn move_of_a_missing_source_changes_nothing() {
        let data = json!({"a": {"b": 1}, "c": [1]});
        for (src, dst) in [("x", "y"), ("a.x", "a.y"), ("a.x", "z"), ("a.x", "a.x.y"), ("c.5", "d")] {
            assert_eq!(mv(data.clone(), src, dst), data, "{src} -> {dst}");
        }
    }

    #[test]
    fn move_trailing_wildcard_in_src_is_literal() {
        assert_eq!(mv(json!({"a": {"b": 1}}), "a.*", "a.x"), json!({"a": {"b": 1}}));
        assert_eq!(mv(json!({"a": {"*": 1}}), "a.*", "a.x"), json!({"a": {"x": 1}}));
    }

    #[test]
    fn move_renamed_array_element_stays_in_place_and_takes_the_new_name() {
        let mut root = tree(json!({"a": [10, 20, 30]}));
        root.move_to(&split("a.1"), &split("a.mid"));
        assert_eq!(root.get(&split("a.mid")), json!(20));
        assert_eq!(root.get(&split("a.1")), Value::Null);
        assert_eq!(root.into_value(), json!({"a": [10, 20, 30]}));
    }

    #[test]
    fn move_embedding_creates_an_object_inside_a_scalar_parent_path() {
        // `b.a.x.y`: `x` is created under `b`, as the first segments of dst are taken as src's.
        assert_eq!(mv(json!({"b": {"a": 1}}), "b.a", "b.x.y"), json!({"b": {"x": {"y": 1}}}));
    }

    // krakend/flatmap TestTree_Append.
}
