//! [`RawObject`], a JSON object as its top-level members in canonical order, and [`RawValue`],
//! a member's value: canonical bytes, or an object of members once shaping or grouping went
//! into it.

use crate::codec::json::{self, Object};
use bytes::Bytes;
use serde_json::Value;

/// A JSON object as its top-level members, sorted by key and unique.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawObject {
    pub(super) members: Vec<(String, RawValue)>,
}

/// A member's value: canonical JSON bytes, or an object split into members (by shaping, or
/// built by grouping), written out only when the answer is.
#[derive(Debug, Clone)]
pub(crate) enum RawValue {
    /// Canonical bytes, with the object's members when the transcoder kept them for shaping.
    Bytes(Bytes, Option<Box<RawObject>>),
    Object(RawObject),
}

impl RawValue {
    /// The value as an object of members, split in place from its bytes; `None` when the value
    /// is not an object.
    pub(crate) fn object_mut(&mut self) -> Option<&mut RawObject> {
        if let RawValue::Bytes(b, members) = self {
            let object = match members.take() {
                Some(members) => *members,
                None => RawObject::split(b)?,
            };
            *self = RawValue::Object(object);
        }
        match self {
            RawValue::Object(o) => Some(o),
            RawValue::Bytes(..) => None,
        }
    }

    pub(crate) fn into_object(mut self) -> Option<RawObject> {
        self.object_mut()?;
        match self {
            RawValue::Object(o) => Some(o),
            RawValue::Bytes(..) => None,
        }
    }

    fn size(&self) -> usize {
        match self {
            RawValue::Bytes(b, _) => b.len(),
            RawValue::Object(o) => o.size(),
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        match self {
            RawValue::Bytes(b, _) => out.extend_from_slice(b),
            RawValue::Object(o) => o.write(out),
        }
    }

    fn into_value(self) -> Value {
        match self {
            // Canonical bytes always decode.
            RawValue::Bytes(b, _) => json::decode_first(&b).unwrap_or(Value::Null),
            RawValue::Object(o) => Value::Object(o.into_tree()),
        }
    }
}

impl RawObject {
    pub(super) fn position(&self, key: &str) -> Result<usize, usize> {
        self.members.binary_search_by(|(k, _)| k.as_str().cmp(key))
    }

    /// `{group: self}`.
    pub(crate) fn grouped(self, group: &str) -> RawObject {
        RawObject { members: vec![(group.to_owned(), RawValue::Object(self))] }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub(crate) fn get_mut(&mut self, key: &str) -> Option<&mut RawValue> {
        self.position(key).ok().map(|i| &mut self.members[i].1)
    }

    pub(crate) fn remove(&mut self, key: &str) -> Option<RawValue> {
        self.position(key).ok().map(|i| self.members.remove(i).1)
    }

    /// Sets `key`, replacing any value it had.
    pub(crate) fn insert(&mut self, key: String, value: RawValue) {
        match self.position(&key) {
            Ok(i) => self.members[i].1 = value,
            Err(i) => self.members.insert(i, (key, value)),
        }
    }

    /// Keeps the members for which `keep` returns true (it may rewrite their value).
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&str, &mut RawValue) -> bool) {
        self.members.retain_mut(|(k, v)| keep(k, v));
    }

    pub(super) fn into_tree(self) -> Object {
        self.members.into_iter().map(|(k, v)| (k, v.into_value())).collect()
    }

    /// The length of the written object, keys taken as plain (escapes add a little).
    pub(super) fn size(&self) -> usize {
        2 + self.members.iter().map(|(k, v)| k.len() + 4 + v.size()).sum::<usize>()
    }

    pub(super) fn write(&self, out: &mut Vec<u8>) {
        out.push(b'{');
        for (i, (k, v)) in self.members.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            json::write_str(out, k);
            out.push(b':');
            v.write(out);
        }
        out.push(b'}');
    }
}
