#!/usr/bin/env bash
# The repository stands on its own: no tracked file may point outside it
# (../shared, which only CI's checkout has beside it; .ci/run is the one
# exception) or name an absolute path of the machines it was made on.
# Part of `make lint` and of `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
pattern='\.\./shared|/work/|/root/|/home/[a-z]'
found=$(git ls-files -z \
  | grep -zv -e '^\.ci/run$' -e '^scripts/check-standalone\.sh$' \
  | xargs -0 grep -nIE "$pattern" -- 2>/dev/null || true)
if [ -n "$found" ]; then
  echo "check-standalone: these lines point outside the repository or at a machine's own paths:"
  echo "$found"
  exit 1
fi
echo "check-standalone: no tracked file points outside the repository"
