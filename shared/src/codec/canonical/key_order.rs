//! Reading a backend body ([`RawObject::from_body`]) in one pass of the transcoder, or more when
//! objects come with their keys out of order, and [`KeyOrderHint`], a backend's memory that its
//! bodies do.

use super::RawObject;
use super::transcoder::{Restart, Transcoder};
use bytes::Bytes;
use std::sync::atomic::{AtomicU32, Ordering};

impl RawObject {
    /// Transcodes a backend body whose first value is an object; `Ok(None)` for `null`. Any
    /// other value or malformed input is an `Err` (the caller then decodes it the usual way,
    /// which words the error as Go does). The members of objects nested in objects (not in
    /// arrays) down to `split_depth` are kept too, for shaping to use without splitting again.
    /// Without a key-order hint: the test surfaces' entry (the gateway passes its backend's hint).
    #[cfg_attr(not(any(feature = "bench", feature = "fuzz", test)), allow(dead_code))]
    pub(crate) fn from_body(body: &Bytes, split_depth: usize) -> Result<Option<RawObject>, ()> {
        Self::from_body_with(body, split_depth, false).0
    }

    /// [`RawObject::from_body`] for a backend whose last bodies `hint` remembers: after a body
    /// with an object out of key order, the next [`KeyOrderHint::BODIES`] are read recording
    /// every object from the start (a backend that sends keys unsorted mostly always does).
    pub(crate) fn from_body_hinted(
        body: &Bytes,
        split_depth: usize,
        hint: &KeyOrderHint,
    ) -> Result<Option<RawObject>, ()> {
        let left = hint.0.load(Ordering::Relaxed);
        if left > 0 {
            // Racing updates may lose a count; it is only a hint.
            hint.0.store(left - 1, Ordering::Relaxed);
        }
        let (result, unsorted) = Self::from_body_with(body, split_depth, left > 0);
        if unsorted && left == 0 {
            hint.0.store(KeyOrderHint::BODIES, Ordering::Relaxed);
        }
        result
    }

    /// The transcoding, and whether an object read without records was found out of order.
    fn from_body_with(body: &Bytes, split_depth: usize, record_all: bool) -> (Result<Option<RawObject>, ()>, bool) {
        let mut read_again = false;
        match Self::transcode(body, split_depth, record_all, &mut read_again) {
            Err(Restart::Unsorted) => (Self::transcode(body, split_depth, true, &mut read_again).map_err(drop), true),
            other => (other.map_err(drop), read_again),
        }
    }

    /// One pass of [`RawObject::from_body`]: unless `record_all`, objects nobody keeps are read
    /// without member records while their keys come in order. The first whose keys do not is
    /// read again with records, as is every object after it; should an object around it then
    /// turn out unsorted too, the pass stops and the body is read again recording every object.
    /// So each byte is read at most three times, most bodies once. `read_again` tells whether an
    /// object was read again.
    pub(super) fn transcode(
        body: &Bytes,
        split_depth: usize,
        record_all: bool,
        read_again: &mut bool,
    ) -> Result<Option<RawObject>, Restart> {
        let mut t = Transcoder::new(body);
        t.split_depth = split_depth;
        t.record_all = record_all;
        let result = t.transcode();
        *read_again = t.read_again;
        result
    }
}

/// Per backend: how many more of its bodies to read recording every object from the start
/// (see [`RawObject::from_body_hinted`]).
#[derive(Debug, Default)]
pub(crate) struct KeyOrderHint(pub(super) AtomicU32);

impl KeyOrderHint {
    /// Bodies read with records after one found out of key order: the one in 64 that tries
    /// without costs the rereading of one object's first members.
    pub(super) const BODIES: u32 = 63;
}
