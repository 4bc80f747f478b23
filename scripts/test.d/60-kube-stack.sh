#!/usr/bin/env bash
# Runs test/kube-scheduler/stacktest against the real stack (stack/up.sh: etcd, kube-apiserver and kube-scheduler
# v1.35.4 with the shipped configuration, `wattsched extender` in cluster-watch mode) on ports picked free at run
# time, so two runs, or another suite's stack, never collide. Checks power caps under bursts of 50 pods and through
# names-mode preemption, and (as root) placement by the history the real `wattsched agent` measures on this machine
# in cgroups the test makes in the kubelet's layout, with the predicted/observed-watts annotations
# (stacktest/history_test.go; 15-25 s of it). Cold, building the control plane takes most of its ~3.5 min and ~2 GB
# of Go build cache; warm, ~95 s on a shared 2-core machine (the binaries are relinked each run). Appends "PASSED FAILED SKIPPED" to $WATTSCHED_TEST_COUNTS. Needs dist/ built (test.sh does that).
set -uo pipefail
cd "$(dirname "$0")/../.."
counts="${WATTSCHED_TEST_COUNTS:-/dev/null}"

for tool in go openssl curl; do
  if ! command -v "$tool" >/dev/null; then
    echo "kube-scheduler stack: FAILED, no '$tool' on PATH"
    echo "0 1 0" >>"$counts"
    exit 1
  fi
done
export GOFLAGS="${GOFLAGS:-} -mod=readonly"
export WATTSCHED_REPO="$PWD"
events=$(mktemp)
trap 'rm -f "$events"' EXIT
start=$(date +%s)
(cd test/kube-scheduler && go test -json -tags stack -count=1 -timeout 12m ./stacktest/) >"$events" 2>&1
rc=$?
node scripts/test.d/go-json-summary.cjs "$events" "kube-scheduler stack" "$rc" "$(( $(date +%s) - start ))"
