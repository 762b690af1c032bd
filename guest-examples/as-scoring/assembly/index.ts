// Lead scoring and text helpers in AssemblyScript, for pg_wasm.
// The SQL signatures are in ../scoring.pg_wasm.json, appended by
// scripts/build-guests.sh as the module's pg_wasm custom section.

// ---- pg_wasm ABI version 1 (docs/abi.md) ---------------------------------

// The host copies each text argument into memory it gets here.
export function pg_wasm_alloc(len: i32): usize {
  return heap.alloc(<usize>len);
}

// The host calls this with each result once copied, and with (0, 0) after
// calls that returned no bytes.
export function pg_wasm_free(ptr: usize, len: i32): void {
  if (ptr != 0) heap.free(ptr);
}

// A text argument as a string; the argument's memory is freed.
function text(ptr: usize, len: i32): string {
  const s = String.UTF8.decodeUnsafe(ptr, <usize>len);
  if (ptr != 0) heap.free(ptr);
  return s;
}

// A string result as ptr << 32 | len (the host frees it via pg_wasm_free).
function result(s: string): i64 {
  const buf = String.UTF8.encode(s);
  const len = buf.byteLength;
  const p = heap.alloc(<usize>len);
  memory.copy(p, changetype<usize>(buf), <usize>len);
  return (<i64>p << 32) | <i64>(<u32>len);
}

const NULL: i64 = 0xFFFFFFFF;

// ---- functions ------------------------------------------------------------

// domain_of('Ada@Example.COM') = 'example.com'; NULL without an '@'.
export function domain_of(p: usize, l: i32): i64 {
  const email = text(p, l);
  const at = email.lastIndexOf("@");
  if (at < 0 || at == email.length - 1) return NULL;
  return result(email.substring(at + 1).toLowerCase());
}

// A lead score in [0, 100] from an email address, company size and
// country code: business domains, larger companies and supported
// countries score higher.
export function score(ep: usize, el: i32, employees: i32, cp: usize, cl: i32): f64 {
  const email = text(ep, el).toLowerCase();
  const country = text(cp, cl).toUpperCase();
  let s: f64 = 20;
  const free = ["gmail.com", "yahoo.com", "hotmail.com", "outlook.com"];
  const at = email.lastIndexOf("@");
  if (at > 0) {
    const domain = email.substring(at + 1);
    s += free.includes(domain) ? 0 : 30;
  }
  if (employees > 0) s += Math.min(30, Math.log10(<f64>employees) * 10);
  const supported = ["DE", "FR", "GB", "NL", "US"];
  if (supported.includes(country)) s += 20;
  return Math.min(100, Math.round(s * 10) / 10);
}

// initials('Grace Brewster Hopper') = 'GBH'
export function initials(p: usize, l: i32): i64 {
  const words = text(p, l).split(" ");
  let out = "";
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if (w.length > 0) out += w.charAt(0).toUpperCase();
  }
  return result(out);
}
