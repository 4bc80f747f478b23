#!/usr/bin/env bash
# The self-signed path for the extender's TLS (no cert-manager): makes a private CA and a serving certificate for
# the extender Service, and prints the command that stores them as the Secret the chart mounts (ca.crt, tls.crt,
# tls.key). Usage: charts/self-signed-tls.sh OUT_DIR RELEASE NAMESPACE [EXTRA_SAN ...]
#   EXTRA_SAN: more names (DNS:host or IP:1.2.3.4), e.g. the pinned ClusterIP a host-network kube-scheduler calls.
set -euo pipefail
out=${1:?out dir} release=${2:?release} ns=${3:?namespace}
shift 3
svc="${release}-extender"
sans="DNS:${svc},DNS:${svc}.${ns},DNS:${svc}.${ns}.svc,DNS:${svc}.${ns}.svc.cluster.local"
for extra in "$@"; do sans="${sans},${extra}"; done
mkdir -p "$out"
cd "$out"
openssl ecparam -name prime256v1 -genkey -noout -out ca.key
openssl req -x509 -new -key ca.key -sha256 -days 3650 -subj "/CN=${release}-extender-ca" -out ca.crt
openssl ecparam -name prime256v1 -genkey -noout -out tls.key
openssl req -new -key tls.key -subj "/CN=${svc}.${ns}.svc" -out tls.csr
printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature\nbasicConstraints=CA:FALSE\n' "$sans" >ext.cnf
openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 825 -sha256 -extfile ext.cnf -out tls.crt 2>/dev/null
rm -f tls.csr ext.cnf ca.srl
chmod 600 ca.key tls.key
echo "kubectl -n ${ns} create secret generic ${release}-extender-tls --type=kubernetes.io/tls --from-file=ca.crt=${out}/ca.crt --from-file=tls.crt=${out}/tls.crt --from-file=tls.key=${out}/tls.key"
