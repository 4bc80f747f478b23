#!/usr/bin/env bash
# Strict TypeScript over everything, tests and benchmarks included: a type error fails the test command.
set -uo pipefail
cd "$(dirname "$0")/../.."
if npx tsc -p tsconfig.json; then
  echo "typecheck: 1 passed, 0 failed"
  echo "1 0 0" >>"${WATTSCHED_TEST_COUNTS:-/dev/null}"
else
  echo "typecheck: 0 passed, 1 failed"
  echo "0 1 0" >>"${WATTSCHED_TEST_COUNTS:-/dev/null}"
  exit 1
fi
