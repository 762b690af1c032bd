#!/usr/bin/env python3
"""Appends a custom section to a WebAssembly module, in place.

    scripts/add-wasm-section.py module.wasm pg_wasm section.json

Used for C guests: clang 14 cannot emit a custom section from C, so the
pg_wasm section's JSON lives in a file next to the source. Any existing
section of the same name is replaced. The JSON is checked before writing.
"""
import json
import sys


def leb(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def read_leb(data, i):
    result = shift = 0
    while True:
        b = data[i]
        i += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return result, i


def main():
    path, name, payload_path = sys.argv[1:4]
    payload = open(payload_path, "rb").read()
    json.loads(payload)  # refuse broken JSON here, not at wasm.load
    data = open(path, "rb").read()
    if data[:4] != b"\0asm":
        sys.exit(f"{path}: not a WebAssembly module")
    kept = bytearray(data[:8])
    i = 8
    while i < len(data):
        start = i
        sid = data[i]
        size, j = read_leb(data, i + 1)
        end = j + size
        if sid == 0:
            n, k = read_leb(data, j)
            if data[k : k + n] == name.encode():
                i = end
                continue
        kept += data[start:end]
        i = end
    body = leb(len(name.encode())) + name.encode() + payload
    kept += b"\0" + leb(len(body)) + body
    open(path, "wb").write(bytes(kept))


if __name__ == "__main__":
    main()
