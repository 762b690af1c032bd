#!/bin/sh
# Builds {{name}} and calls its exports locally, in the sandbox the server
# uses (no database needed). Run from this directory: ./test.sh
set -eu
cd "$(dirname "$0")"
pg-wasm build
got=$(pg-wasm run {{artifact}} greet World)
[ "$got" = "Hello, World!" ] || { echo "greet: got '$got'" >&2; exit 1; }
got=$(pg-wasm run {{artifact}} add 2 40)
[ "$got" = "42" ] || { echo "add: got '$got'" >&2; exit 1; }
echo "{{name}}: ok"
