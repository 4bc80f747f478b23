#!/usr/bin/env bash
# Stops what up.sh started (by the pids it recorded, newest first) and removes its state directory.
set -uo pipefail
state="${1:-/tmp/wattsched-stack}"
[ -f "$state/pids" ] || { echo "[stack] nothing recorded in $state/pids"; exit 0; }
tac "$state/pids" | while read -r name pid; do
  kill "$pid" 2>/dev/null && echo "[stack] stopped $name ($pid)"
  for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -9 "$pid" 2>/dev/null || true
done
rm -rf "$state"
