//! [`Data`], what a backend part carries from shaping to merging: a [`RawObject`] of canonical
//! members, or a decoded tree, to which any step that needs one converts it.

use super::RawObject;
use crate::codec::json::{self, Object};

/// A part's data: canonical bytes per top-level member, or a tree.
#[derive(Debug, Clone)]
pub(crate) enum Data {
    Raw(RawObject),
    Tree(Object),
}

impl Default for Data {
    fn default() -> Self {
        Data::Raw(RawObject::default())
    }
}

impl Data {
    pub(crate) fn is_empty(&self) -> bool {
        match self {
            Data::Raw(r) => r.members.is_empty(),
            Data::Tree(o) => o.is_empty(),
        }
    }

    pub(crate) fn contains_key(&self, key: &str) -> bool {
        match self {
            Data::Raw(r) => r.position(key).is_ok(),
            Data::Tree(o) => o.contains_key(key),
        }
    }

    /// The decoded tree (a canonical value always decodes).
    pub(crate) fn into_tree(self) -> Object {
        match self {
            Data::Tree(o) => o,
            Data::Raw(r) => r.into_tree(),
        }
    }

    /// `self` then `later`, a key of `later` replacing the same key of `self` (lura's merge).
    pub(crate) fn merge(self, later: Data) -> Data {
        match (self, later) {
            (Data::Raw(mut a), Data::Raw(b)) => {
                for (k, v) in b.members {
                    a.insert(k, v);
                }
                Data::Raw(a)
            }
            (a, b) => {
                let mut a = a.into_tree();
                a.extend(b.into_tree());
                Data::Tree(a)
            }
        }
    }

    /// About how many bytes [`Data::write`] writes (exact for transcoded data).
    pub(crate) fn size_hint(&self) -> usize {
        match self {
            Data::Raw(r) => r.size(),
            Data::Tree(_) => 1024,
        }
    }

    /// Writes the object as Go would.
    pub(crate) fn write(&self, out: &mut Vec<u8>, struct_ordered: &[String]) {
        match self {
            Data::Raw(r) => r.write(out),
            Data::Tree(o) => json::encode_object_into(out, o, struct_ordered),
        }
    }
}
