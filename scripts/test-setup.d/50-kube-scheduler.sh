#!/usr/bin/env bash
# Builds the real-kube-scheduler harness (test/kube-scheduler, its own Go module pinned to k8s.io/kubernetes
# v1.35.4): downloads the modules it imports and compiles the test binary and the benchmark, which fills Go's build cache
# (~1.3 GB, a few minutes cold on 2 cores; seconds when nothing changed). Without Go it says so and exits 0, so
# the rest of the project still builds; scripts/test.d/50-kube-scheduler.sh then reports the suite as failed.
set -uo pipefail
cd "$(dirname "$0")/../.."

log() { printf '[setup/kube-scheduler] %s\n' "$*" >&2; }

if ! command -v go >/dev/null; then
  log "NOT built: no 'go' on PATH (Go >= 1.25 is needed: https://go.dev/dl/); the kube-scheduler harness tests will fail"
  exit 0
fi
mod=test/kube-scheduler
export GOFLAGS="${GOFLAGS:-} -mod=readonly"
start=$(date +%s)
# No `go mod download`: go.mod also lists what stack/ needs (kube-apiserver, etcd, ...), which the tests do not;
# compiling downloads exactly the modules the harness imports.
mkdir -p "$mod/bin"
if ! (cd "$mod" && go test -c -o bin/e2e.test ./e2e && go build -o bin/ksbench ./cmd/ksbench); then
  log "FAILED: compiling the harness in ${mod} (if modules could not be downloaded: is the Go module proxy reachable? GOPROXY=$(go env GOPROXY))"
  exit 1
fi
log "harness built in $(( $(date +%s) - start ))s ($(go version | awk '{print $3}'))"
