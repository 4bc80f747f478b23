#!/usr/bin/env bash
# The one test command: sets everything up, runs the TypeScript suite (vitest) and every suite in scripts/test.d/,
# then prints one closing line "N passed, N failed, N skipped" over all of them.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || { echo "setup failed"; exit 1; }
# What only the tests need (the Go kube-scheduler harness): built here, not by setup.sh, so `npm start` never waits for it.
for step in scripts/test-setup.d/*.sh; do
  [ -e "$step" ] || continue
  bash "$step" || { echo "test setup failed: ${step}"; exit 1; }
done

counts=$(mktemp)
export WATTSCHED_TEST_COUNTS="$counts"   # each suite appends "passed failed skipped"
status=0

report=$(mktemp --suffix .json)
npx vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@" || status=1
node -e '
const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
console.log(`${r.numPassedTests} ${r.numFailedTests} ${r.numPendingTests + r.numTodoTests}`);
' "$report" >>"$counts" 2>/dev/null || { echo "vitest wrote no report"; status=1; }

for suite in scripts/test.d/*.sh; do
  [ -e "$suite" ] || continue
  echo "== ${suite}"
  bash "$suite" || status=1
done

read -r passed failed skipped < <(awk '{p+=$1; f+=$2; s+=$3} END {print p+0, f+0, s+0}' "$counts")
rm -f "$counts" "$report"
[ "$failed" -eq 0 ] || status=1
echo
echo "wattsched: ${passed} passed, ${failed} failed, ${skipped} skipped"
exit "$status"
