//! The bounded LRU bucket behind every `qos/http-cache`: entries keyed by the request key,
//! least recently used evicted first when the item or byte bound is passed (krakend/lru rules).

use super::Entry;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

struct Slot {
    entry: Arc<Entry>,
    tick: u64,
}

/// An LRU map from key to stored response. Not thread-safe by itself (the cache wraps it in a
/// mutex that is never held across an await).
pub(super) struct Store {
    map: HashMap<Arc<str>, Slot>,
    /// Recency order: smallest tick = least recently used.
    order: BTreeMap<u64, Arc<str>>,
    tick: u64,
    bytes: usize,
    max_items: usize,
    max_bytes: usize,
}

impl Store {
    pub(super) fn new(max_items: usize, max_bytes: usize) -> Store {
        Store {
            map: HashMap::new(),
            order: BTreeMap::new(),
            tick: 0,
            bytes: 0,
            max_items: max_items.max(1),
            max_bytes: max_bytes.max(1),
        }
    }

    #[cfg(test)]
    pub(super) fn limits(&self) -> (usize, usize) {
        (self.max_items, self.max_bytes)
    }

    #[cfg(test)]
    pub(super) fn usage(&self) -> (usize, usize) {
        (self.map.len(), self.bytes)
    }

    fn next_tick(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }

    /// The entry under `key`, marked most recently used (krakend/lru `Get` moves it to the front).
    pub(super) fn get(&mut self, key: &str) -> Option<Arc<Entry>> {
        let tick = self.next_tick();
        let slot = self.map.get_mut(key)?;
        if let Some(k) = self.order.remove(&slot.tick) {
            self.order.insert(tick, k);
        }
        slot.tick = tick;
        Some(slot.entry.clone())
    }

    /// Stores `entry` under `key` as the most recently used, then evicts from the least recently
    /// used end until both bounds hold. An entry of `max_bytes` or more is not stored, and the
    /// previous entry under the key (if any) stays, as in krakend/lru.
    pub(super) fn set(&mut self, key: &str, entry: Entry) {
        if entry.size >= self.max_bytes {
            return;
        }
        let size = entry.size;
        let tick = self.next_tick();
        let entry = Arc::new(entry);
        if let Some(slot) = self.map.get_mut(key) {
            self.bytes = self.bytes - slot.entry.size + size;
            if let Some(k) = self.order.remove(&slot.tick) {
                self.order.insert(tick, k);
            }
            slot.tick = tick;
            slot.entry = entry;
        } else {
            let k: Arc<str> = Arc::from(key);
            self.order.insert(tick, k.clone());
            self.map.insert(k, Slot { entry, tick });
            self.bytes += size;
        }
        while self.bytes > self.max_bytes || self.map.len() > self.max_items {
            let Some((_, oldest)) = self.order.pop_first() else { break };
            if let Some(slot) = self.map.remove(&oldest) {
                self.bytes -= slot.entry.size;
            }
        }
    }

    pub(super) fn delete(&mut self, key: &str) {
        if let Some(slot) = self.map.remove(key) {
            self.order.remove(&slot.tick);
            self.bytes -= slot.entry.size;
        }
    }
}
