//! A small JSON reader for the trigger protocol (SPEC §6), used on both
//! sides: the Rust SDK reads each event with it, the extension each
//! decision.
//!
//! Both documents cross once per row, and a general JSON parser spends
//! most of a cheap trigger's time on them (validating every key and string
//! on its own, building values nobody reads). This reader checks UTF-8 once
//! for the whole document, borrows keys and strings when they hold no
//! escapes, and hands out any value as its JSON text, to be read only when
//! asked for. [`scalar_ok`] checks a number or literal strictly where the
//! text comes from an untrusted writer.
#![no_std]

extern crate alloc;

use alloc::borrow::Cow;
use alloc::string::String;

pub type Result<T> = core::result::Result<T, &'static str>;

pub struct Scanner<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> Scanner<'a> {
    pub fn new(bytes: &'a [u8]) -> Result<Self> {
        let s = core::str::from_utf8(bytes).map_err(|_| "the event is not UTF-8")?;
        Ok(Scanner { s, i: 0 })
    }

    #[inline(always)]
    fn bytes(&self) -> &'a [u8] {
        self.s.as_bytes()
    }

    /// The next non-blank byte, not consumed.
    #[inline(always)]
    pub fn peek(&mut self) -> Option<u8> {
        let b = self.bytes();
        // The host writes no blanks between tokens.
        if let Some(&c) = b.get(self.i) {
            if c > b' ' {
                return Some(c);
            }
        }
        while self.i < b.len() && matches!(b[self.i], b' ' | b'\n' | b'\r' | b'\t') {
            self.i += 1;
        }
        b.get(self.i).copied()
    }

    #[inline(always)]
    pub fn expect(&mut self, c: u8) -> Result<()> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err("unexpected character")
        }
    }

    /// Consumes `c` if it is next.
    #[inline(always)]
    pub fn eat(&mut self, c: u8) -> bool {
        let next = self.peek() == Some(c);
        if next {
            self.i += 1;
        }
        next
    }

    /// After an element of an object or array: true if another follows,
    /// false at the closing `close`.
    #[inline(always)]
    pub fn more(&mut self, close: u8) -> Result<bool> {
        match self.peek() {
            Some(b',') => {
                self.i += 1;
                Ok(true)
            }
            Some(c) if c == close => {
                self.i += 1;
                Ok(false)
            }
            _ => Err("expected , or the end of an object or array"),
        }
    }

    /// Starts an object or array: true if it has elements.
    #[inline(always)]
    pub fn open(&mut self, open: u8, close: u8) -> Result<bool> {
        self.expect(open)?;
        Ok(!self.eat(close))
    }

    /// A string (the scanner is at its opening quote).
    #[inline(always)]
    pub fn string(&mut self) -> Result<Cow<'a, str>> {
        let (raw, escaped) = self.raw_string()?;
        Ok(if escaped {
            unescape(&raw[1..raw.len() - 1])
        } else {
            Cow::Borrowed(&raw[1..raw.len() - 1])
        })
    }

    /// An object key and its colon.
    #[inline(always)]
    pub fn key(&mut self) -> Result<Cow<'a, str>> {
        let k = self.string()?;
        self.expect(b':')?;
        Ok(k)
    }

    /// A string with its quotes, as it is in the document, and whether it
    /// holds escapes.
    #[inline(always)]
    fn raw_string(&mut self) -> Result<(&'a str, bool)> {
        if self.peek() != Some(b'"') {
            return Err("expected a string");
        }
        let b = self.bytes();
        let start = self.i;
        let mut j = start + 1;
        let mut escaped = false;
        loop {
            j = find_quote_or_backslash(b, j);
            match b.get(j) {
                Some(b'"') => break,
                Some(_) => {
                    escaped = true;
                    j += 2;
                }
                None => return Err("unterminated string"),
            }
        }
        self.i = j + 1;
        Ok((&self.s[start..self.i], escaped))
    }

    /// Any value, as its JSON text.
    pub fn raw_value(&mut self) -> Result<&'a str> {
        let start = match self.peek() {
            Some(b'"') => return self.raw_string().map(|(raw, _)| raw),
            Some(_) => self.i,
            None => return Err("expected a value"),
        };
        let b = self.bytes();
        let mut depth = 0usize;
        while self.i < b.len() {
            match b[self.i] {
                b'"' => {
                    self.raw_string()?;
                    if depth == 0 {
                        break;
                    }
                    continue;
                }
                b'{' | b'[' => depth += 1,
                b'}' | b']' if depth == 0 => break,
                b'}' | b']' => depth -= 1,
                b',' | b' ' | b'\n' | b'\r' | b'\t' if depth == 0 => break,
                _ => {}
            }
            self.i += 1;
        }
        if depth != 0 || self.i == start {
            return Err("malformed value");
        }
        Ok(&self.s[start..self.i])
    }

    /// `null` (consumed) or not.
    #[inline(always)]
    pub fn null(&mut self) -> bool {
        if self.peek() == Some(b'n') && self.s[self.i..].starts_with("null") {
            self.i += 4;
            true
        } else {
            false
        }
    }

    pub fn at_end(&mut self) -> bool {
        self.peek().is_none()
    }
}

/// Whether `raw` is a JSON number, `true`, `false` or `null` (the forms
/// [`Scanner::raw_value`] passes through without looking at them).
pub fn scalar_ok(raw: &str) -> bool {
    if matches!(raw, "true" | "false" | "null") {
        return true;
    }
    let b = raw.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i > start
    };
    let int_start = i;
    if !digits(&mut i) || (b[int_start] == b'0' && i - int_start > 1) {
        return false;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if !digits(&mut i) {
            return false;
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if !digits(&mut i) {
            return false;
        }
    }
    i == b.len()
}

/// The text of a JSON string literal (with its quotes), borrowed when it
/// has no escapes.
pub fn unquote(raw: &str) -> Cow<'_, str> {
    let inner = &raw[1..raw.len() - 1];
    if find_quote_or_backslash(inner.as_bytes(), 0) == inner.len() {
        Cow::Borrowed(inner)
    } else {
        unescape(inner)
    }
}

/// The first `"` or `\\` in `b` at or after `from` (or `b.len()`), eight
/// bytes at a time: byte loops are what Wasm (with fuel metering) is
/// slowest at.
#[inline(always)]
fn find_quote_or_backslash(b: &[u8], from: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut i = from;
    while i + 8 <= b.len() {
        let w = u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        let q = w ^ (ONES * b'"' as u64);
        let s = w ^ (ONES * b'\\' as u64);
        let hit = (q.wrapping_sub(ONES) & !q | s.wrapping_sub(ONES) & !s) & HIGH;
        if hit != 0 {
            return i + (hit.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < b.len() && b[i] != b'"' && b[i] != b'\\' {
        i += 1;
    }
    i
}

#[cold]
fn unescape(inner: &str) -> Cow<'_, str> {
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('u') => {
                let hi = hex4(&mut chars);
                let code = if (0xD800..0xDC00).contains(&hi) {
                    // A surrogate pair: \uD83D\uDE00.
                    let mut ahead = chars.clone();
                    if ahead.next() == Some('\\') && ahead.next() == Some('u') {
                        let lo = hex4(&mut ahead);
                        chars = ahead;
                        0x10000 + ((hi - 0xD800) << 10) + (lo.wrapping_sub(0xDC00) & 0x3FF)
                    } else {
                        0xFFFD
                    }
                } else {
                    hi
                };
                out.push(char::from_u32(code).unwrap_or('\u{FFFD}'));
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    Cow::Owned(out)
}

fn hex4(chars: &mut core::str::Chars) -> u32 {
    let mut v = 0;
    for _ in 0..4 {
        v = v * 16 + chars.next().and_then(|c| c.to_digit(16)).unwrap_or(0);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::{find_quote_or_backslash, scalar_ok, unquote, Scanner};

    #[test]
    fn finds_quotes_and_backslashes_across_words() {
        let s = b"abcdefghijklmnopq\"rst\\";
        for from in 0..s.len() {
            let expected = s[from..]
                .iter()
                .position(|&b| b == b'"' || b == b'\\')
                .map_or(s.len(), |p| p + from);
            assert_eq!(find_quote_or_backslash(s, from), expected, "from {from}");
        }
        let wide = "héllo wörld ☃☃ and more than eight bytes".as_bytes();
        assert_eq!(find_quote_or_backslash(wide, 0), wide.len());
    }

    #[test]
    fn reads_strings_and_raw_values() {
        let doc = br#"{"a":"plain","b\"q":"esc\n\u00e9\ud83d\ude00","c":[1,{"x":"]"}],"d":-1.5e3,"e":null}"#;
        let mut sc = Scanner::new(doc).unwrap();
        assert!(sc.open(b'{', b'}').unwrap());
        assert_eq!(sc.key().unwrap(), "a");
        assert_eq!(sc.string().unwrap(), "plain");
        assert!(sc.more(b'}').unwrap());
        assert_eq!(sc.key().unwrap(), "b\"q");
        assert_eq!(sc.string().unwrap(), "esc\né😀");
        assert!(sc.more(b'}').unwrap());
        assert_eq!(sc.key().unwrap(), "c");
        assert_eq!(sc.raw_value().unwrap(), r#"[1,{"x":"]"}]"#);
        assert!(sc.more(b'}').unwrap());
        assert_eq!(sc.key().unwrap(), "d");
        assert_eq!(sc.raw_value().unwrap(), "-1.5e3");
        assert!(sc.more(b'}').unwrap());
        assert_eq!(sc.key().unwrap(), "e");
        assert!(sc.null());
        assert!(!sc.more(b'}').unwrap());
        assert!(sc.at_end());
        assert_eq!(unquote(r#""a\\b""#), "a\\b");
    }

    #[test]
    fn checks_scalars_strictly() {
        for ok in [
            "0", "-0", "12.50", "1e5", "-1.5E-3", "true", "false", "null",
        ] {
            assert!(scalar_ok(ok), "{ok}");
        }
        for bad in [
            "", "-", "01", "1.", ".5", "1e", "tru", "nul", "1x", "+1", "NaN",
        ] {
            assert!(!scalar_ok(bad), "{bad}");
        }
    }

    #[test]
    fn refuses_broken_documents() {
        for doc in [&b"{\"a\":\"x"[..], b"{\"a\" 1}", b"\xff", b"{\"a\":[1,2}"] {
            let mut sc = Scanner::new(doc).map_err(|_| ()).ok();
            let ok = sc.as_mut().is_some_and(|sc| {
                sc.open(b'{', b'}').is_ok()
                    && sc.key().is_ok()
                    && sc.raw_value().is_ok()
                    && sc.more(b'}').is_ok()
            });
            assert!(!ok, "{doc:?}");
        }
    }
}
