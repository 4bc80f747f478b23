#!/usr/bin/env bash
# Trimmed fidelity check of `wattsched sim`: the first 200 pods of the shipped trace (test/sim/fixtures) through upstream kube-scheduler
# and the real extender (test/kube-scheduler/cmd/simfidelity) must land on the same nodes as in the simulator.
# The full 1,000-pod run: node dist/bench/sim/fidelity.js. Needs dist/ built and Go (scripts/test-setup.d/50-kube-scheduler.sh).
set -uo pipefail
cd "$(dirname "$0")/../.."
counts="${WATTSCHED_TEST_COUNTS:-/dev/null}"
if ! command -v go >/dev/null; then
  echo "sim fidelity: FAILED, no 'go' on PATH (Go >= 1.25 is needed)"
  echo "0 1 0" >>"$counts"
  exit 1
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
if node dist/bench/sim/fidelity.js --pods 200 --min-agreement 0.95 --out "$out" \
  --trace test/sim/fixtures/openb_pod_list_first200.csv --servers test/sim/fixtures/servers_20.csv; then
  echo "sim fidelity: 1 passed, 0 failed"
  echo "1 0 0" >>"$counts"
else
  echo "sim fidelity: 0 passed, 1 failed"
  echo "0 1 0" >>"$counts"
  exit 1
fi
