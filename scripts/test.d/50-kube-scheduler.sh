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
node scripts/test.d/go-json-summary.cjs "$events" "kube-scheduler harness" "$rc" "$(( $(date +%s) - start ))"
