#!/usr/bin/env bash
# Against a stack from up.sh: creates pods for the wattsched-scheduler profile and shows where the real
# kube-scheduler put them and what the extender predicted. Expected: 1-CPU pods fill node-efficient (25 W each)
# then node-m5 (50 W), never node-capped (cap 70 W < 75 W predicted) nor node-hungry (100 W).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
state="${1:-/tmp/wattsched-stack}"
kc() { "$here/../bin/kubectl" --kubeconfig "$state/kubeconfig" "$@"; }
# No kubelet confirms graceful deletion, so earlier demo pods are removed by force.
kc delete pods -l app=wattsched-demo --grace-period=0 --force >/dev/null 2>&1 || true
for i in 0 1 2 3 4 5; do
  kc apply -f - >/dev/null <<P
{"apiVersion":"v1","kind":"Pod","metadata":{"name":"demo-$i","namespace":"default","labels":{"app":"wattsched-demo"}},
 "spec":{"schedulerName":"wattsched-scheduler","containers":[{"name":"c","image":"registry.k8s.io/pause:3.10",
 "resources":{"requests":{"cpu":"1","memory":"256Mi"}}}]}}
P
done
for _ in $(seq 1 60); do
  [ -z "$(kc get pods -l app=wattsched-demo -o jsonpath='{range .items[?(@.spec.nodeName=="")]}{.metadata.name}{"\n"}{end}')" ] && break
  sleep 0.5
done
kc get pods -l app=wattsched-demo -o custom-columns=POD:.metadata.name,NODE:.spec.nodeName
placed=$(kc get pods -l app=wattsched-demo -o jsonpath='{range .items[*]}{.spec.nodeName}{"\n"}{end}' | sort | uniq -c | awk '{printf "%s=%s ", $2, $1}')
port=$(sed -n 's|.*urlPrefix: http://127.0.0.1:\([0-9]*\).*|\1|p' "$state/kube-scheduler-config.yaml")
echo "extender's view of demo-0:"
curl -fsS "http://127.0.0.1:${port}/explain/default/demo-0"; echo
if [ "$placed" = "node-efficient=4 node-m5=2 " ]; then
  echo "[demo] OK: placement follows the extender (node-efficient=4 node-m5=2)"
else
  echo "[demo] UNEXPECTED placement: ${placed:-nothing bound} (want node-efficient=4 node-m5=2)"; exit 1
fi
