#!/usr/bin/env bash
# Runs one fuzz target: fuzz.sh GO PKG FUNC FUZZTIME. A run that fails only
# because the fuzzing engine lost contact with its workers ("context deadline
# exceeded" with no failing input written: Go's coordinator timing out on a
# loaded machine) is run once more; any failing input fails at once.
set -u
go=$1 pkg=$2 fn=$3 time=$4
for attempt in 1 2; do
  out=$("$go" test -run '^$' -fuzz "^$fn\$" -fuzztime "$time" "$pkg" 2>&1)
  rc=$?
  printf '%s\n' "$out"
  [ $rc -eq 0 ] && exit 0
  if [ $attempt -eq 1 ] && grep -q 'context deadline exceeded' <<<"$out" && ! grep -q 'Failing input written' <<<"$out"; then
    echo "fuzz: $pkg $fn: the engine timed out talking to its workers (no failing input); running it again"
    continue
  fi
  exit $rc
done
