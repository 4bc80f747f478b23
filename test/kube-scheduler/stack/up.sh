#!/usr/bin/env bash
# Real control plane on loopback, all built from test/kube-scheduler's pinned module: etcd 3.6, kube-apiserver
# and kube-scheduler v1.35.4 (with charts/wattsched/files/kube-scheduler-config.yaml), kubectl, plus
# `wattsched extender` watching the API server. Then registers a few fake nodes (no kubelet: Node objects with
# status) and prints what to do next. Usage: test/kube-scheduler/stack/up.sh [STATE_DIR]   (stop: down.sh STATE_DIR)
# Needs: go, node (and dist/ built: npx tsc -p tsconfig.build.json), openssl for the service-account key.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
mod="$(dirname "$here")"
repo="$(cd "$mod/../.." && pwd)"
state="${1:-/tmp/wattsched-stack}"
bin="$mod/bin"
etcd_port="${ETCD_PORT:-23790}" api_port="${API_PORT:-16443}" sched_port="${SCHED_PORT:-20259}" ext_port="${EXT_PORT:-18888}"
log() { printf '[stack] %s\n' "$*" >&2; }

[ -f "$repo/dist/src/cli/main.js" ] || { log "dist/ is not built: run 'npx tsc -p tsconfig.build.json' in $repo"; exit 1; }
mkdir -p "$state" "$bin"
if [ -e "$state/pids" ]; then log "$state/pids exists: run down.sh $state first"; exit 1; fi

log "building etcd, kube-apiserver, kube-scheduler, kubectl (cold: many minutes; cached afterwards)"
(cd "$mod" && export GOFLAGS="-mod=readonly" &&
  go build -tags stack -o "$bin/etcd" ./cmd/etcd &&
  go build -o "$bin/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver &&
  go build -o "$bin/kube-scheduler" k8s.io/kubernetes/cmd/kube-scheduler &&
  go build -o "$bin/kubectl" k8s.io/kubernetes/cmd/kubectl)

start() { # name, command...
  local name=$1; shift
  "$@" >"$state/$name.log" 2>&1 &
  echo "$name $!" >>"$state/pids"
  log "started $name (pid $!, log $state/$name.log)"
}
wait_for() { # what, command...
  local what=$1; shift
  for _ in $(seq 1 120); do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done
  log "$what did not come up; see $state/*.log"; exit 1
}

token=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
echo "${token},wattsched-admin,wattsched-admin,system:masters" >"$state/tokens.csv"
[ -f "$state/sa.key" ] || { openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$state/sa.key" 2>/dev/null && openssl pkey -in "$state/sa.key" -pubout -out "$state/sa.pub"; }
cat >"$state/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:${api_port}
    certificate-authority: ${state}/apiserver/apiserver.crt
users:
- name: admin
  user:
    token: ${token}
contexts:
- name: local
  context: {cluster: local, user: admin}
current-context: local
KC

start etcd "$bin/etcd" --data-dir "$state/etcd" --listen-client-urls "http://127.0.0.1:${etcd_port}" \
  --advertise-client-urls "http://127.0.0.1:${etcd_port}" --listen-peer-urls "http://127.0.0.1:$((etcd_port + 1))" \
  --initial-advertise-peer-urls "http://127.0.0.1:$((etcd_port + 1))" --initial-cluster "default=http://127.0.0.1:$((etcd_port + 1))"
wait_for etcd curl -fsS "http://127.0.0.1:${etcd_port}/health"

# No kube-controller-manager: ServiceAccount admission is off so pods need no token controller.
start kube-apiserver "$bin/kube-apiserver" --etcd-servers "http://127.0.0.1:${etcd_port}" \
  --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api_port" --cert-dir "$state/apiserver" \
  --token-auth-file "$state/tokens.csv" --authorization-mode Node,RBAC \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --service-account-key-file "$state/sa.pub" --service-account-signing-key-file "$state/sa.key" \
  --service-cluster-ip-range 10.96.0.0/24 --disable-admission-plugins ServiceAccount
wait_for kube-apiserver "$bin/kubectl" --kubeconfig "$state/kubeconfig" get --raw /readyz

# Fake nodes (no kubelet: Node objects with a Ready status): a cheap and a power-hungry curve by annotation,
# one capped, one by instance-type label.
kc() { "$bin/kubectl" --kubeconfig "$state/kubeconfig" "$@"; }
add_node() { # name, allocatable milliCPU, labels-json, annotations-json
  kc apply -f - >/dev/null <<N
{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "$1", "labels": $3, "annotations": $4}}
N
  kc patch node "$1" --subresource=status --type=merge -p "{\"status\":{\"capacity\":{\"cpu\":\"$2m\",\"memory\":\"32Gi\",\"pods\":\"110\"},\"allocatable\":{\"cpu\":\"$2m\",\"memory\":\"32Gi\",\"pods\":\"110\"},\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\",\"reason\":\"FakeKubelet\",\"lastHeartbeatTime\":\"$(date -u +%FT%TZ)\"}]}}" >/dev/null
  # The TaintNodesByCondition admission plugin taints every new node not-ready; with no kubelet and no
  # node-lifecycle controller, nothing would ever lift it.
  kc taint node "$1" node.kubernetes.io/not-ready:NoSchedule- >/dev/null
}
add_node node-efficient 4000 '{"kubernetes.io/hostname":"node-efficient"}' '{"wattsched.io/power-curve":"100,110,120,130,140,150,160,170,180,190,200"}'
add_node node-capped 4000 '{"kubernetes.io/hostname":"node-capped"}' '{"wattsched.io/power-curve":"60,66,72,78,84,90,96,102,108,114,120","wattsched.io/power-cap-watts":"70"}'
add_node node-m5 4000 '{"kubernetes.io/hostname":"node-m5","node.kubernetes.io/instance-type":"m5.large"}' '{}'
add_node node-hungry 4000 '{"kubernetes.io/hostname":"node-hungry"}' '{"wattsched.io/power-curve":"200,240,280,320,360,400,440,480,520,560,600"}'

cat >"$state/extender.yaml" <<EXT
kubernetes: {mode: required, kubeconfig: ${state}/kubeconfig}
logLevel: info
powerCurves:
  byLabelValue:
    m5.large: [100,120,140,160,180,200,220,240,260,280,300]
EXT
# AGENT_URL: a `wattsched agent` (started later, e.g. by stacktest/history_test.go) whose node reports the extender
# polls every second; until it answers, the polls fail and are logged once.
if [ -n "${AGENT_URL:-}" ]; then
  printf 'telemetry: {agents: ["%s"], pollIntervalSeconds: 1}\n' "$AGENT_URL" >>"$state/extender.yaml"
fi
start extender node "$repo/dist/src/cli/main.js" extender --config "$state/extender.yaml" --port "$ext_port" --host 127.0.0.1
wait_for extender curl -fsS "http://127.0.0.1:${ext_port}/readyz"

# The shipped scheduler config, with only the kubeconfig and the extender's port filled in.
sed -e "s|^kind: KubeSchedulerConfiguration$|kind: KubeSchedulerConfiguration\nclientConnection:\n  kubeconfig: ${state}/kubeconfig|" \
  -e "s|urlPrefix: http://127.0.0.1:8888|urlPrefix: http://127.0.0.1:${ext_port}|" \
  "$repo/charts/wattsched/files/kube-scheduler-config.yaml" >"$state/kube-scheduler-config.yaml"
start kube-scheduler "$bin/kube-scheduler" --config "$state/kube-scheduler-config.yaml" --bind-address 127.0.0.1 \
  --secure-port "$sched_port" --authentication-kubeconfig "$state/kubeconfig" --authorization-kubeconfig "$state/kubeconfig"
wait_for kube-scheduler curl -fsSk "https://127.0.0.1:${sched_port}/healthz"

log "up. export KUBECONFIG=$state/kubeconfig; kubectl is $bin/kubectl"
log "try: $here/demo.sh $state   (pods with schedulerName wattsched-scheduler, placement, /explain)"
