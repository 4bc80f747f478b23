#!/usr/bin/env bash
# The main job: set up what it needs (OS packages, npm packages, the TypeScript build, the BPF object and native
# addon; not the Go test harness, which scripts/test.sh builds), then run the whole system on this machine with
# embedded defaults and a live status: `wattsched start`. Extra arguments go to it (e.g. --frames 3).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node dist/src/cli/main.js start "$@"
