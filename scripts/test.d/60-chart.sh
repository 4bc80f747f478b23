#!/usr/bin/env bash
# The Helm chart suite (charts/wattsched). Prepares what its tests need, all from the Go module proxy and only for
# the test command (npm start builds none of it):
#   - Helm, `go install helm.sh/helm/v3/cmd/helm@HELM_VERSION` into .cache/chart/bin (cold: a few minutes);
#   - etcd, kube-apiserver, kubectl, kube-scheduler from test/kube-scheduler's pinned module into its bin/
#     (as stack/up.sh builds them; cold: several minutes, relinks only when go.mod/go.sum changed);
#   - the CRDs the chart uses, from the published CRD files of prometheus-operator and cert-manager
#     (`go mod download` of the modules, files read from the module directory; nothing is copied into the repo);
#   - test/chart/promql, Prometheus's PromQL parser as a filter (seconds once its modules are cached).
# Then runs test/chart/*.spec.ts (vitest, test/chart/vitest.config.ts) and appends "PASSED FAILED SKIPPED" to
# $WATTSCHED_TEST_COUNTS. The specs start their own etcd + kube-apiserver on free loopback ports.
set -uo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
counts="${WATTSCHED_TEST_COUNTS:-/dev/null}"
HELM_VERSION=v3.19.5
PROM_OPERATOR_VERSION=v0.85.0
CERT_MANAGER_VERSION=v1.19.2
log() { printf '[chart] %s\n' "$*" >&2; }
fail() { log "FAILED: $*"; echo "0 1 0" >>"$counts"; exit 1; }

command -v go >/dev/null || fail "no 'go' on PATH (Go >= 1.25 builds Helm and the API server for this suite)"
[ -f dist/src/cli/main.js ] || fail "dist/ is not built (scripts/setup.sh compiles it)"
start=$(date +%s)

tools="$repo/.cache/chart/bin"
mkdir -p "$tools"
# `go install` leaves Helm's own version string unset (it comes from release ldflags), so ask the binary's build info.
if ! go version -m "$tools/helm" 2>/dev/null | grep -qE "^[[:space:]]+mod[[:space:]]+helm.sh/helm/v3[[:space:]]+${HELM_VERSION}[[:space:]]"; then
  log "building Helm ${HELM_VERSION} from the Go module proxy"
  # Outside any module, so the pinned version's own go.mod decides its dependencies.
  (cd /tmp && GOFLAGS= GOBIN="$tools" go install "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}") || fail "go install helm.sh/helm/v3/cmd/helm@${HELM_VERSION}"
fi
export WATTSCHED_HELM="$tools/helm"
# Helm's cache, config and data stay in the checkout, not in the user's home.
export HELM_CACHE_HOME="$repo/.cache/chart/helm/cache" HELM_CONFIG_HOME="$repo/.cache/chart/helm/config" HELM_DATA_HOME="$repo/.cache/chart/helm/data"

mod=test/kube-scheduler
kbin="$repo/$mod/bin"
mkdir -p "$kbin"
build() { # binary, go build args...
  local out="$kbin/$1"; shift
  if [ -x "$out" ] && [ "$out" -nt "$mod/go.mod" ] && [ "$out" -nt "$mod/go.sum" ]; then return 0; fi
  log "building $(basename "$out") from ${mod}'s pinned module"
  (cd "$mod" && GOFLAGS="-mod=readonly -buildvcs=false" go build -o "$out" "$@") || fail "go build $*"
}
build etcd -tags stack ./cmd/etcd
build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
build kubectl k8s.io/kubernetes/cmd/kubectl
build kube-scheduler k8s.io/kubernetes/cmd/kube-scheduler
export WATTSCHED_KUBE_BIN="$kbin"

# Prometheus's own PromQL parser (test/chart/promql, its own module) for the alert and dashboard expressions.
promql="$tools/promql"
if ! [ -x "$promql" ] || [ -n "$(find test/chart/promql -newer "$promql" -type f | head -n 1)" ]; then
  log "building the PromQL checker (github.com/prometheus/prometheus/promql/parser)"
  (cd test/chart/promql && GOFLAGS="-mod=readonly -buildvcs=false" go build -o "$promql" .) || fail "go build test/chart/promql"
fi
export WATTSCHED_PROMQL="$promql"

moddir() { (cd /tmp && GOFLAGS= go mod download -json "$1") | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);if(j.Error){console.error(j.Error);process.exit(1)}console.log(j.Dir)})'; }
prom=$(moddir "github.com/prometheus-operator/prometheus-operator@${PROM_OPERATOR_VERSION}") || fail "go mod download prometheus-operator ${PROM_OPERATOR_VERSION}"
cm=$(moddir "github.com/cert-manager/cert-manager@${CERT_MANAGER_VERSION}") || fail "go mod download cert-manager ${CERT_MANAGER_VERSION}"
crds=(
  "$prom/example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml"
  "$prom/example/prometheus-operator-crd/monitoring.coreos.com_podmonitors.yaml"
  "$prom/example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml"
  "$cm/deploy/crds/cert-manager.io_certificates.yaml"
  "$cm/deploy/crds/cert-manager.io_issuers.yaml"
  "$cm/deploy/crds/cert-manager.io_clusterissuers.yaml"
)
for f in "${crds[@]}"; do [ -f "$f" ] || fail "CRD file not in its module: $f"; done
WATTSCHED_CRD_FILES=$(IFS=:; echo "${crds[*]}")
export WATTSCHED_CRD_FILES
log "tools ready in $(( $(date +%s) - start ))s"

report=$(mktemp --suffix .json)
trap 'rm -f "$report"' EXIT
npx vitest run --config test/chart/vitest.config.ts --reporter=default --reporter=json --outputFile.json="$report"
rc=$?
summary=$(node -e '
const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
console.log(`${r.numPassedTests} ${r.numFailedTests} ${r.numPendingTests + r.numTodoTests}`);
' "$report" 2>/dev/null) || summary=""
[ -n "$summary" ] || fail "vitest wrote no report"
read -r passed failed skipped <<<"$summary"
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi # a failed hook or file still fails the suite
echo "chart: ${passed} passed, ${failed} failed, ${skipped} skipped ($(( $(date +%s) - start ))s)"
echo "${passed} ${failed} ${skipped}" >>"$counts"
[ "$rc" -eq 0 ] && [ "$failed" -eq 0 ]
