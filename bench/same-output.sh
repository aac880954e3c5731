#!/usr/bin/env bash
# Two builds must give byte-identical results on one capture: `weir discover --json`, `weir dissect --jsonl --all`
# and the detections of `weir detect --jsonl` (baseline learned from the first half, detection on the second).
# Usage: bench/same-output.sh BEFORE_DIST AFTER_DIST CAPTURE   (prints one line per check; exit 1 on a difference)
set -euo pipefail
before=$1 after=$2 cap=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0
run() { # dist name args...: sha256 of the command's standard output
  local dist=$1 name=$2
  shift 2
  node "$dist/src/cli/main.js" "$@" >"$work/$name.out"
  sha256sum <"$work/$name.out" | cut -d' ' -f1
}
check() { # what args...
  local what=$1
  shift
  local a b
  a=$(run "$before" "before-$what" "$@")
  b=$(run "$after" "after-$what" "$@")
  if [ "$a" = "$b" ]; then echo "same      $what $a ($(wc -c <"$work/after-$what.out") bytes)"; else
    echo "DIFFERENT $what before $a after $b"
    fail=1
  fi
}
check discover discover "$cap" --json
check dissect dissect "$cap" --jsonl --all
for side in before after; do
  dist=$before
  [ $side = after ] && dist=$after
  node "$dist/src/cli/main.js" learn "$cap" --db "$work/$side.db" --create --until 50% >/dev/null
done
for side in before after; do
  dist=$before
  [ $side = after ] && dist=$after
  node "$dist/src/cli/main.js" detect "$cap" --baseline "$work/$side.db" --from 50% --jsonl --no-save >"$work/$side-detect.out"
done
a=$(sha256sum <"$work/before-detect.out" | cut -d' ' -f1)
b=$(sha256sum <"$work/after-detect.out" | cut -d' ' -f1)
if [ "$a" = "$b" ]; then echo "same      detect $a ($(wc -l <"$work/after-detect.out") detections)"; else
  echo "DIFFERENT detect before $a after $b"
  fail=1
fi
exit $fail
