//! Member records: the members of an object as positions in the output, sorted by key when the
//! input's order is not canonical, kept for shaping, and built into a [`RawObject`] at the end.

use super::Transcoder;
use super::keys::{Key, key_eq, key_less};
use crate::codec::canonical::{RawObject, RawValue};
use bytes::Bytes;

/// One member written to the output: `"key":value` spans `start..end`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Member {
    pub(super) key: Key,
    pub(super) start: usize,
    pub(super) value_start: usize,
    pub(super) end: usize,
    /// The value's members when kept (an index into `Transcoder::kept_objects`).
    pub(super) members: Option<u32>,
}

impl Transcoder<'_> {
    /// Records the `count` final members of the object opened at `open` (in `kept` after a
    /// sort, else in `stack[base..]`), positions made relative to the `{`.
    pub(super) fn keep_members(
        &mut self,
        keep: bool,
        open: usize,
        sorted_out: bool,
        base: usize,
        count: usize,
    ) -> Option<u32> {
        if !keep {
            return None;
        }
        let members = if sorted_out { &self.kept[..count] } else { &self.stack[base..base + count] };
        let relative = members
            .iter()
            .map(|m| Member {
                key: m.key,
                start: m.start - open,
                value_start: m.value_start - open,
                end: m.end - open,
                members: m.members,
            })
            .collect();
        self.kept_objects.push(relative);
        u32::try_from(self.kept_objects.len() - 1).ok()
    }

    /// The object whose members are `members`, positions relative to `base` in `out`.
    pub(super) fn build(&self, out: &Bytes, members: &[Member], base: usize) -> RawObject {
        let members = members
            .iter()
            .map(|m| {
                let (start, end) = (base + m.value_start, base + m.end);
                let inner = m
                    .members
                    .and_then(|k| self.kept_objects.get(k as usize))
                    .map(|kept| Box::new(self.build(out, kept, start)));
                (self.key_text(m.key).to_owned(), RawValue::Bytes(out.slice(start..end), inner))
            })
            .collect();
        RawObject { members }
    }

    /// Reorders the members `stack[base..]` (already in `out`, which ends with the last one) by
    /// key, the last of equal keys winning, into `kept`; for the top level (`top`) only the
    /// records are ordered, into `top`. Returns how many members are left.
    pub(super) fn sort_members(&mut self, base: usize, top: bool) -> usize {
        let members = &self.stack[base..];
        let mut order = std::mem::take(&mut self.order);
        order.clear();
        // Sorted as (first eight key bytes as a big-endian number, index): most keys differ in
        // those bytes, so most comparisons are one integer comparison, and the moves are 16
        // bytes instead of a whole member record. Equal prefixes fall back to the whole keys.
        order.extend(members.iter().enumerate().map(|(i, m)| (self.key_prefix(m.key), i as u32)));
        let less = |a: &(u64, u32), b: &(u64, u32)| {
            a.0 < b.0
                || (a.0 == b.0
                    && key_less(self.key_bytes(members[a.1 as usize].key), self.key_bytes(members[b.1 as usize].key)))
        };
        // Stable sorts: among equal keys the input order stays, so the last one wins. Small
        // objects (most) by insertion, cheaper than `sort_by`'s set-up; large ones by `sort_by`.
        if order.len() <= 24 {
            for i in 1..order.len() {
                let mut j = i;
                while j > 0 && less(&order[j], &order[j - 1]) {
                    order.swap(j - 1, j);
                    j -= 1;
                }
            }
        } else {
            order.sort_by(|a, b| {
                if less(a, b) {
                    std::cmp::Ordering::Less
                } else if less(b, a) {
                    std::cmp::Ordering::Greater
                } else {
                    std::cmp::Ordering::Equal
                }
            });
        }
        let mut kept = std::mem::take(&mut self.kept);
        kept.clear();
        let mut last_prefix = None;
        for &(prefix, i) in &order {
            let m = members[i as usize];
            match kept.last_mut() {
                Some(last)
                    if last_prefix == Some(prefix) && key_eq(self.key_bytes(last.key), self.key_bytes(m.key)) =>
                {
                    *last = m;
                }
                _ => kept.push(m),
            }
            last_prefix = Some(prefix);
        }
        self.order = order;
        if top {
            // The top level's bytes are never written as one value, only member by member from
            // these records: its members need no moving (they are most of the body).
            self.top.clone_from(&kept);
            let count = kept.len();
            self.kept = kept;
            return count;
        }
        let region = members[0].start;
        self.reorder.clear();
        self.reorder.extend_from_slice(&self.out[region..]);
        self.out.truncate(region);
        for (i, m) in kept.iter_mut().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            let new_start = self.out.len();
            self.out.extend_from_slice(&self.reorder[m.start - region..m.end - region]);
            let shift = |p: usize| p - m.start + new_start;
            *m = Member {
                key: m.key,
                start: new_start,
                value_start: shift(m.value_start),
                end: shift(m.end),
                members: m.members,
            };
        }
        let count = kept.len();
        self.kept = kept;
        count
    }
}
