#!/usr/bin/env bash
# The main job: set everything up, then serve the scheduler extender with its embedded defaults (no cluster needed).
# Extra arguments go to `wattsched extender` (e.g. --port 8888 --config manifests/extender-config.yaml).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node dist/src/cli/main.js extender "$@"
