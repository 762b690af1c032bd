// {{name}}: SQL functions in AssemblyScript. Their SQL signatures are in
// ../{{name}}.pg_wasm.json, which pg-wasm build appends as the module's
// pg_wasm section.

// ---- pg_wasm ABI version 1 -------------------------------------------------

// The host copies each text argument into memory it gets here.
export function pg_wasm_alloc(len: i32): usize {
  return heap.alloc(<usize>len);
}

// The host gives back each result once it has copied it.
export function pg_wasm_free(ptr: usize, len: i32): void {
  if (ptr != 0) heap.free(ptr);
}

// A text argument as a string (its memory freed).
function text(ptr: usize, len: i32): string {
  const s = String.UTF8.decodeUnsafe(ptr, <usize>len);
  if (ptr != 0) heap.free(ptr);
  return s;
}

// A string result as ptr << 32 | len.
function result(s: string): i64 {
  const buf = String.UTF8.encode(s);
  const len = buf.byteLength;
  const p = heap.alloc(<usize>len);
  memory.copy(p, changetype<usize>(buf), <usize>len);
  return (<i64>p << 32) | <i64>len;
}

// ---- functions ---------------------------------------------------------------

// text -> text
export function greet(ptr: usize, len: i32): i64 {
  return result("Hello, " + text(ptr, len) + "!");
}

// integer, integer -> integer
export function add(a: i32, b: i32): i32 {
  return a + b;
}
