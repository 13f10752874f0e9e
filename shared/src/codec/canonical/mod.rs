//! The canonical JSON transcoder: a backend's JSON object kept as the bytes Go would write for it
//! (what `json::encode` writes), read without building a tree, for every JSON object backend
//! whose shaping needs none (all but a flatmap filter): `target`, `allow`/`deny` and `mapping`
//! work on members, `group` wraps them. It does less work than decoding into a tree and encoding
//! again (BENCHMARKS.md has the figures): runs of input already in canonical form are copied in
//! one go, and a body wholly canonical is not copied at all: its members are slices of it.
//!
//! [`Data`] is what a backend part carries: a [`RawObject`] (top-level members, each value
//! canonical JSON bytes or, once shaping or grouping went into it, an object of members) or a
//! decoded tree, to which any step that needs one converts it.
//!
//! Files: `data.rs` ([`Data`]); `object.rs` ([`RawObject`], [`RawValue`]); `split.rs` (a
//! canonical value split back into members); `key_order.rs` (the passes over a body,
//! [`KeyOrderHint`]); `transcoder/` (one pass: `mod.rs` the value, array and object readers,
//! `owed.rs` the lazy output, `strings.rs`, `keys.rs`, `members.rs` the member records and their
//! sort); `tests/` (everything against the tree path).
//!
//! # Invariants
//!
//! Each is what the code named relies on or enforces; breaking one changes answers, mostly
//! without a panic.
//!
//! 1. **A canonical value** is exactly what `json::encode` writes for the value
//!    `json::decode_first` reads: no whitespace; number literals as the input wrote them (never
//!    reformatted); strings with their escapes decoded and written again by `json::write_str`
//!    (Go's escaping: `<`, `>`, `&`, U+2028 and U+2029 as `\u` escapes; invalid UTF-8 replaced as
//!    Go replaces it); object members sorted by the bytes of their decoded keys and unique, the
//!    last of equal keys winning. Every `Bytes` in a [`RawValue`] is one such value, with nothing
//!    around it. The `Transcoder` (transcoder/) produces it; the tests here, the differential
//!    check `shared/tests/checks/json.rs` and the `json` fuzz target compare it byte for byte
//!    with the tree path.
//! 2. **The tree decoder's acceptance.** [`RawObject::from_body`] accepts exactly the objects
//!    `json::decode_first` accepts (the same depth limit, `json::MAX_DEPTH`, checked in
//!    `Transcoder::array`, `object` and `object_in_order` on non-empty containers only; bytes
//!    after the first value ignored) and gives `Ok(None)` for `null`. Anything else is `Err(())`
//!    and goes to the tree decoder, which words the error as Go does. A refused object would
//!    still be answered right, only slower, but the differential check fails on it.
//! 3. **Member order of a [`RawObject`].** Its `members` are sorted by key (`str` order, which is
//!    byte order) and unique: `RawObject::position` binary-searches them, `RawObject::insert`
//!    puts a key in its place or replaces it, `RawObject::retain` only drops, and
//!    `RawObject::write` writes them as they stand, so the object written is canonical only
//!    because the vector is sorted. Nothing may push a member or rename a key in place.
//! 4. **Key order in the transcoder.** Keys compare as the bytes of the decoded key: a
//!    `Key::Input` range holds no escape, so its bytes are the decoded ones; any other key is
//!    decoded into `scratch` (`Transcoder::decoded_string`). `key_prefix` (the first eight bytes,
//!    big-endian, zero-padded) orders keys up to a tie, which the whole keys decide
//!    (`Transcoder::key_follows`, `Transcoder::sort_members`). Prefixes taken in different ways
//!    are compared with each other, so each way (`plain_key`'s from the word its scan read,
//!    `Transcoder::key_prefix`'s masked load) must give `key_prefix` of the key's bytes.
//!    `sort_members` sorts stably, and its dedup keeps the last of equal keys, Go's winner.
//! 5. **Records, or proof of order.** An object nobody keeps is read by
//!    `Transcoder::object_in_order` without member records only while each key sorts strictly
//!    after the one before (a repeated key, or an empty first key, counts as out of order). The
//!    first object that fails sets `unsorted`; `Transcoder::object` rewinds `i`, `out` and
//!    `pending` together to that object's start and reads it again with records, as it reads
//!    every object after it (`record_all`). If an object around it then fails too, the pass stops
//!    with `Restart::Unsorted` and `RawObject::from_body_with` reads the body again recording
//!    every object: each byte is read at most three times. Reading with records is the
//!    reference; the record-free reading may only give up, never guess.
//!    [`KeyOrderHint`] changes which pass a backend's bodies start with, never the result.
//! 6. **The owed-bytes contract** (transcoder/owed.rs). `b[pending..i]` is input owed to `out`
//!    unchanged: it is already canonical. Code that writes anything other than the input
//!    (whitespace dropped, a character escaped, a string decoded and written again, members
//!    reordered) first pays what is owed up to that point (`Transcoder::flush_to`,
//!    `flush_short_to`), then writes its own bytes and moves `pending` past the input they
//!    replace (`drop_ws`, `special_string`, `decoded_string`). Sorting moves bytes of `out`, so
//!    an object's members are paid before `sort_members` runs. When nothing had to differ, `out`
//!    is still empty at the end and the output is a slice of the body itself
//!    (`Transcoder::transcode`): no copy.
//! 7. **Offsets.** A member record (`Member`: `start` at the key's quote, `value_start`, `end`)
//!    holds output positions taken by `Transcoder::vpos`, `out.len() + i - pending`: where input
//!    byte `i` lands once what is owed is paid, which holds only under the owed-bytes contract.
//!    The positions of a kept object's members are relative to its `{`
//!    (`Transcoder::keep_members`), since its parent's `sort_members` may move the object after
//!    they were recorded; `Transcoder::build` adds the object's final position back. The top
//!    level's `{` is at output position 0 (leading whitespace owes nothing), so its records
//!    (`top`) are absolute.
//! 8. **The top level is its records.** When the top-level object's keys were out of order or
//!    repeated, `sort_members` orders its records in `top`, not its bytes: the top level's bytes
//!    in the output are then not canonical and are never used as one value. A [`RawObject`] is
//!    written member by member (`RawObject::write`) from slices of the output.
//! 9. **Kept members match the bytes.** `RawValue::Bytes(bytes, Some(members))` holds the members
//!    that splitting `bytes` would give, as slices of the same buffer (`Transcoder::build`, for
//!    objects nested in objects down to `split_depth`); `RawValue::object_mut` takes them instead
//!    of splitting again, so keeping members never changes what is written.
//! 10. **Only canonical bytes are split.** `RawObject::split` and its scans (split.rs) trust their
//!     input to be canonical (no whitespace, valid, no raw control character in a string) and
//!     check nothing: they are only for bytes this module produced.
//! 11. **Slices hold buffers.** Values are `Bytes` slices of the backend body (when nothing had to
//!     differ) or of the pass's one output buffer: a value kept anywhere keeps its whole buffer
//!     alive.
//! 12. **Sizes are estimates.** `RawObject::size` (behind [`Data::size_hint`]) counts keys as if
//!     written without escapes, and a tree's size is a guess: they size buffers and are never
//!     taken as exact lengths.

mod data;
mod key_order;
mod object;
mod split;
#[cfg(test)]
pub(crate) mod tests;
mod transcoder;

pub(crate) use data::Data;
pub(crate) use key_order::KeyOrderHint;
pub(crate) use object::{RawObject, RawValue};
