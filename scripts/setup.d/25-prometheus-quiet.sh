#!/usr/bin/env bash
# Debian's prometheus package enables a system service listening on every address (:9090). The project only needs the
# binaries (the agent's end-to-end test starts its own Prometheus on loopback), so on a systemd machine the service
# is stopped and disabled. Idempotent; a no-op without systemd or without the package.
set -uo pipefail
if [ "$(id -u)" -eq 0 ] && command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ] && systemctl list-unit-files prometheus.service >/dev/null 2>&1; then
  if systemctl is-enabled --quiet prometheus.service 2>/dev/null || systemctl is-active --quiet prometheus.service 2>/dev/null; then
    systemctl disable --now prometheus.service >/dev/null 2>&1 && echo "[setup] prometheus.service stopped and disabled (tests run their own on loopback)" >&2
  fi
fi
exit 0
