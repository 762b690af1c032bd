#!/usr/bin/env python3
"""The functions of pg_wasm.so where backends took a page fault fetching
code: reads `perf script -F comm,trace` of exceptions:page_fault_user on
stdin, prints one mangled name a line, most faulted first (used by
scripts/order-text.sh).

    order_text_faults.py LIBRARY POSTMASTER_MAPS
"""
import bisect
import collections
import re
import subprocess
import sys


def main():
    library, maps = sys.argv[1], sys.argv[2]
    base, code = None, None
    for line in open(maps):
        fields = line.split()
        if len(fields) < 6 or fields[5] != library:
            continue
        start, end = (int(x, 16) for x in fields[0].split("-"))
        if int(fields[2], 16) == 0:
            base = start
        if "x" in fields[1]:
            code = (start, end)
    if base is None or code is None:
        sys.exit(f"order_text_faults.py: {library} is not mapped in {maps}")
    symbols = []
    nm = subprocess.run(["nm", "-n", "-S", "--defined-only", library],
                        capture_output=True, text=True, check=True).stdout
    for line in nm.splitlines():
        fields = line.split()
        if len(fields) == 4 and fields[2] in "tTwW":
            symbols.append((int(fields[0], 16), int(fields[1], 16), fields[3]))
    symbols.sort()
    starts = [s[0] for s in symbols]
    seen = collections.Counter()
    fault = re.compile(r"address=0x([0-9a-f]+) ip=0x([0-9a-f]+)")
    for line in sys.stdin:
        found = fault.search(line)
        if not found or not line.lstrip().startswith("postgres"):
            continue
        address = int(found.group(1), 16)
        if not code[0] <= address < code[1]:
            continue
        offset = address - base
        i = bisect.bisect_right(starts, offset) - 1
        if i >= 0 and offset < symbols[i][0] + symbols[i][1]:
            seen[symbols[i][2]] += 1
    for name, _ in seen.most_common():
        print(name)


if __name__ == "__main__":
    main()
