#!/usr/bin/env bash
# The cost of one PAGEMAP_SCAN ioctl, the kernel call behind every pooled
# slot's reset (benches/pagemap_scan.c; no PostgreSQL needed).
#   benches/pagemap_scan.sh
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p target/bench
cc -O2 -Wall -o target/bench/pagemap_scan benches/pagemap_scan.c
target/bench/pagemap_scan
