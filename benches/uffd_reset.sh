#!/usr/bin/env bash
# A kept instance's reset as wasmtime's pool does it against the same reset
# with userfaultfd write-protect tracking (benches/uffd_reset.c; no
# PostgreSQL needed; Linux 6.7+).
#   benches/uffd_reset.sh
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p target/bench
cc -O2 -Wall -o target/bench/uffd_reset benches/uffd_reset.c
target/bench/uffd_reset
