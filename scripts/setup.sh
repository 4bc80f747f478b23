#!/usr/bin/env bash
# Everything a fresh machine needs, idempotent and non-interactive: OS packages, npm packages, the TypeScript build,
# then each component's own build step in scripts/setup.d/ (BPF object, native addon, models); the Go test harness is built by scripts/test.sh (scripts/test-setup.d/).
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

log() { printf '[setup] %s\n' "$*" >&2; }

# OS packages: one per line in scripts/apt-packages.txt ('#' comments allowed).
mapfile -t wanted < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' scripts/apt-packages.txt)
missing=()
for p in "${wanted[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    log "installing OS packages: ${missing[*]}"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    log "WARNING: not root, cannot install OS packages: ${missing[*]} (the eBPF collector and native addon will be unavailable)"
  fi
fi

# npm packages: reinstall only when the lock file changed since the last install.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error
fi

log "building TypeScript"
npx tsc -p tsconfig.build.json

for step in scripts/setup.d/*.sh; do
  [ -e "$step" ] || continue
  log "running ${step}"
  bash "$step"
done
log "done"
