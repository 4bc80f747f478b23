#!/usr/bin/env bash
# Runs the real-kube-scheduler harness (upstream scheduler in-process, `wattsched extender` as a process) with
# `go test -json`, prints the verbose test output, and appends "PASSED FAILED SKIPPED" (leaf tests, i.e. subtests
# count and their parents do not) to $WATTSCHED_TEST_COUNTS. Needs dist/ built (scripts/test.sh does that first).
set -uo pipefail
cd "$(dirname "$0")/../.."
counts="${WATTSCHED_TEST_COUNTS:-/dev/null}"

if ! command -v go >/dev/null; then
  echo "kube-scheduler harness: FAILED, no 'go' on PATH (Go >= 1.25 is needed)"
  echo "0 1 0" >>"$counts"
  exit 1
fi
export GOFLAGS="${GOFLAGS:-} -mod=readonly"
export WATTSCHED_REPO="$PWD"
events=$(mktemp)
trap 'rm -f "$events"' EXIT
start=$(date +%s)
(cd test/kube-scheduler && go test -json -count=1 -timeout 8m ./...) >"$events" 2>&1
rc=$?

# One JSON event per line; build errors arrive as plain text lines, which are printed as they are.
node -e '
const lines = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean);
const final = new Map();
for (const line of lines) {
  let ev;
  try { ev = JSON.parse(line); } catch { process.stdout.write(line + "\n"); continue; }
  if (ev.Action === "output" && ev.Output) process.stdout.write(ev.Output);
  else if (ev.Action === "build-output" && ev.Output) process.stdout.write(ev.Output);
  if (ev.Test && ["pass", "fail", "skip"].includes(ev.Action)) final.set(ev.Package + " " + ev.Test, ev.Action);
}
const names = [...final.keys()];
let p = 0, f = 0, s = 0;
for (const [name, action] of final) {
  if (names.some((o) => o.startsWith(name + "/"))) continue;
  if (action === "pass") p++; else if (action === "fail") f++; else s++;
}
process.stderr.write(`kube-scheduler harness: ${p} passed, ${f} failed, ${s} skipped\n`);
console.log(`${p} ${f} ${s}`);
' "$events" >"$events.out"
parse=$?
head -n -1 "$events.out"
summary=$(tail -n 1 "$events.out")
rm -f "$events.out"
echo "kube-scheduler harness: go test exit ${rc}, $(( $(date +%s) - start ))s"
if [ "$parse" -ne 0 ] || [ -z "$summary" ]; then
  echo "0 1 0" >>"$counts"
  exit 1
fi
read -r passed failed skipped <<<"$summary"
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
  failed=1 # a build failure or a panic outside any test still fails the suite
fi
echo "${passed} ${failed} ${skipped}" >>"$counts"
[ "$rc" -eq 0 ] && [ "$failed" -eq 0 ]
