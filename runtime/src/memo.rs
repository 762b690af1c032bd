//! What pg_wasm's own engines may keep between their instances in a
//! process: results derived only from code, such as the Python engine's
//! compiled regular expressions (a `re.sub` in a fresh instance would
//! otherwise parse and compile its pattern again, ~400 k Wasm instructions,
//! in every statement). Keyed by a scope the host chooses (the function's
//! owner in the extension, so one tenant can neither read nor poison
//! another's entries) and the engine's key; bounded in bytes, emptied when
//! full. Values are only ever handed back to the same kind of guest, which
//! checks them (CPython's `_sre.compile` validates the code it is given).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// Bytes of keys and values kept per process.
const BUDGET: usize = 8 << 20;
/// The largest key and value one entry may have.
pub(crate) const MAX_KEY: usize = 64 << 10;
pub(crate) const MAX_VALUE: usize = 1 << 20;

/// A scope and a key.
type Key = (u64, Box<[u8]>);

#[derive(Default)]
struct Memo {
    entries: HashMap<Key, Rc<[u8]>>,
    bytes: usize,
}

thread_local! {
    static MEMO: RefCell<Memo> = RefCell::new(Memo::default());
}

/// The value kept for `key` in `scope`.
pub(crate) fn get(scope: u64, key: &[u8]) -> Option<Rc<[u8]>> {
    MEMO.with(|m| m.borrow().entries.get(&(scope, key.into())).cloned())
}

/// Keeps `value` for `key` in `scope` (an empty value, or one too large,
/// is not kept).
pub(crate) fn put(scope: u64, key: &[u8], value: &[u8]) {
    if value.is_empty() || key.len() > MAX_KEY || value.len() > MAX_VALUE {
        return;
    }
    MEMO.with(|m| {
        let mut m = m.borrow_mut();
        let size = key.len() + value.len();
        if m.bytes + size > BUDGET {
            m.entries.clear();
            m.bytes = 0;
        }
        if m.entries
            .insert((scope, key.into()), value.into())
            .is_none()
        {
            m.bytes += size;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scoped_and_bounded() {
        put(1, b"k", b"v");
        assert_eq!(get(1, b"k").as_deref(), Some(&b"v"[..]));
        assert_eq!(get(2, b"k"), None, "another scope sees nothing");
        put(1, b"empty", b"");
        assert_eq!(get(1, b"empty"), None);
        let big = vec![0u8; MAX_VALUE];
        for i in 0..(BUDGET / MAX_VALUE + 2) as u64 {
            put(3, &i.to_le_bytes(), &big);
        }
        MEMO.with(|m| assert!(m.borrow().bytes <= BUDGET));
    }
}
