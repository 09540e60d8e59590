//! What decisions build and can share: bounded maps of values built once
//! and handed out behind `Arc`.
//!
//! A decision's policy set (the static policies, the role templates, one
//! link per grant) and its entities (the principal, the resource and its
//! ancestors, with the transitive closure Cedar computes) cost more to build
//! than to evaluate, and the same principal asks again and again about the
//! same resources. Each `Policies` value holds its own memos, so a reload
//! starts empty.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// How many values a memo keeps: a value is a few kilobytes, and a matrix
/// over a large organization must not grow memory without bound.
pub(crate) const MAX_ENTRIES: usize = 4096;

pub(crate) struct Memo<K, V> {
    entries: Mutex<HashMap<K, Arc<V>>>,
}

impl<K, V> Default for Memo<K, V> {
    fn default() -> Self {
        Self { entries: Mutex::new(HashMap::new()) }
    }
}

impl<K, V> std::fmt::Debug for Memo<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Memo").field("entries", &self.lock().len()).finish()
    }
}

impl<K, V> Memo<K, V> {
    fn lock(&self) -> MutexGuard<'_, HashMap<K, Arc<V>>> {
        // A panic while holding the lock leaves only a map of finished values.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<K: Hash + Eq, V> Memo<K, V> {
    /// How many values it holds.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// The value kept for `key`, or the one `build` makes (kept unless it
    /// failed).
    pub(crate) fn get_or_build<E>(&self, key: K, build: impl FnOnce() -> Result<V, E>) -> Result<Arc<V>, E> {
        if let Some(value) = self.lock().get(&key) {
            return Ok(Arc::clone(value));
        }
        // Built outside the lock: two callers may build the same value, and
        // the second simply replaces the first with an equal one.
        let value = Arc::new(build()?);
        let mut entries = self.lock();
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(&key) {
            // One out for one in. Emptying the whole map instead dropped
            // thousands of values inside one request, whose latency it was.
            drop(entries.extract_if(|_, _| true).next());
        }
        entries.insert(key, Arc::clone(&value));
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_built_once_per_key() {
        let memo = Memo::<u32, String>::default();
        let first = memo.get_or_build(1, || Ok::<_, ()>("one".to_owned())).unwrap();
        let again = memo.get_or_build(1, || -> Result<String, ()> { panic!("built twice") }).unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        let other = memo.get_or_build(2, || Ok::<_, ()>("two".to_owned())).unwrap();
        assert_eq!(*other, "two");
    }

    #[test]
    fn a_failed_build_is_not_kept() {
        let memo = Memo::<u32, String>::default();
        assert!(memo.get_or_build(1, || Err("broken")).is_err());
        assert_eq!(*memo.get_or_build(1, || Ok::<_, ()>("built".to_owned())).unwrap(), "built");
        assert_eq!(memo.lock().len(), 1);
    }

    #[test]
    fn a_full_memo_makes_room_one_value_at_a_time() {
        let memo = Memo::<usize, usize>::default();
        for key in 0..MAX_ENTRIES + 10 {
            memo.get_or_build(key, || Ok::<_, ()>(key)).unwrap();
            assert_eq!(memo.lock().len(), (key + 1).min(MAX_ENTRIES));
        }
        let newest = MAX_ENTRIES + 9;
        assert_eq!(*memo.get_or_build(newest, || -> Result<usize, ()> { panic!("built twice") }).unwrap(), newest);
    }
}
