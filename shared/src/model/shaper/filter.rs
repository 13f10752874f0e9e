//! A backend's `allow` and `deny` lists, compiled into trees of keys. The shape phase applies
//! them.

use std::collections::BTreeMap;

/// The one field filter a backend runs: `allow` when it lists anything, else `deny`.
#[derive(Debug)]
pub(crate) enum FieldFilter {
    Allow(AllowTree),
    Deny(DenyTree),
}

impl FieldFilter {
    /// `None` when both lists are empty. A non-empty `allow` makes `deny` irrelevant.
    pub(crate) fn new(allow: &[String], deny: &[String]) -> Option<FieldFilter> {
        if !allow.is_empty() {
            Some(FieldFilter::Allow(AllowTree::new(allow)))
        } else if !deny.is_empty() {
            Some(FieldFilter::Deny(DenyTree::new(deny)))
        } else {
            None
        }
    }
}

/// Allowed keys at one object level. `None` keeps the key's whole value; `Some(tree)` keeps the
/// key only if its value is an object, and only the children `tree` allows.
#[derive(Debug, Default)]
pub(crate) struct AllowTree(pub(crate) BTreeMap<String, Option<AllowTree>>);

impl AllowTree {
    /// Entries are applied in order, and a later entry overrides an earlier one on the same key:
    /// `["a", "a.b"]` keeps only `a.b`, `["a.b", "a"]` keeps all of `a`, as lura does.
    fn new(paths: &[String]) -> AllowTree {
        let mut root = AllowTree::default();
        for path in paths {
            let mut fields: Vec<&str> = path.split('.').collect();
            let last = fields.pop().unwrap_or_default();
            let mut level = &mut root;
            for field in fields {
                level = level.0.entry(field.to_owned()).or_default().get_or_insert_with(AllowTree::default);
            }
            level.0.insert(last.to_owned(), None);
        }
        root
    }
}

/// Denied keys at one object level. `None` deletes the key; `Some(tree)` looks inside the
/// key's value if it is an object.
#[derive(Debug, Default)]
pub(crate) struct DenyTree(pub(crate) BTreeMap<String, Option<DenyTree>>);

impl DenyTree {
    fn new(paths: &[String]) -> DenyTree {
        let mut root = DenyTree::default();
        for path in paths {
            let fields: Vec<&str> = path.split('.').collect();
            root.insert(&fields);
        }
        root
    }

    /// A shorter path wins over any longer one under it, whatever the order of the entries.
    fn insert(&mut self, fields: &[&str]) {
        let Some((first, rest)) = fields.split_first() else {
            return;
        };
        if rest.is_empty() {
            self.0.insert((*first).to_owned(), None);
            return;
        }
        let slot = self.0.entry((*first).to_owned()).or_insert_with(|| Some(DenyTree::default()));
        if let Some(children) = slot {
            children.insert(rest);
        }
    }
}
