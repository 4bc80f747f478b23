#!/usr/bin/env bash
# The image suite: builds the wattsched image here without a registry (deploy/image/build.sh: mmdebstrap + buildah
# from scratch), then runs it with buildah and runc (crun refuses this machine's hybrid cgroup v1/v2 layout) on
# the host network and checks that the extender and the model
# server inside it answer /healthz as the non-root user the image declares. Installs the packages in
# deploy/image/apt-packages.txt when missing (root only). Reports itself skipped, with the reason, where a
# container toolchain cannot be installed; appends "PASSED FAILED SKIPPED" to $WATTSCHED_TEST_COUNTS.
# Cold: about 3-6 minutes on 2 cores (mmdebstrap downloads ~40 MB of .debs; copying node_modules dominates).
set -uo pipefail
cd "$(dirname "$0")/../.."
counts="${WATTSCHED_TEST_COUNTS:-/dev/null}"
log() { printf '[image] %s\n' "$*" >&2; }
passed=0 failed=0
ok() { log "PASS: $*"; passed=$((passed + 1)); }
bad() { log "FAIL: $*"; failed=$((failed + 1)); }
skip() { log "SKIPPED: $*"; echo "0 0 1" >>"$counts"; exit 0; }
finish() { echo "image: ${passed} passed, ${failed} failed"; echo "${passed} ${failed} 0" >>"$counts"; [ "$failed" -eq 0 ]; exit $?; }

mapfile -t wanted < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' deploy/image/apt-packages.txt)
missing=()
for p in "${wanted[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || skip "not root: cannot install ${missing[*]} (needed to build the image)"
  log "installing ${missing[*]}"
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }; then
    skip "apt-get could not install ${missing[*]}"
  fi
fi
[ "$(id -u)" -eq 0 ] || skip "not root: mmdebstrap --mode=root and buildah need root here"

out=.cache/image
start=$(date +%s)
if bash deploy/image/build.sh "$out"; then ok "image built from the repo in $(( $(date +%s) - start ))s"; else bad "deploy/image/build.sh"; finish; fi
version=$(node -p 'require("./package.json").version')
image="localhost/wattsched:$version"

user=$(buildah inspect --type image --format '{{.OCIv1.Config.User}}' "$image")
[ "$user" = "65532:65532" ] && ok "image runs as $user by default" || bad "image user is '$user', not 65532:65532"

runtime=$(command -v runc) || { bad "no runc"; finish; }
ctr=$(buildah from --quiet "$image") || { bad "buildah from $image"; finish; }
trap 'buildah rm "$ctr" >/dev/null 2>&1' EXIT
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

# Runs one server in the container (as the image's user, the entrypoint's node and CLI) and waits for /healthz.
serve_and_check() { # name, path, args...
  local name=$1 path=$2; shift 2
  local port; port=$(free_port)
  local logf; logf=$(mktemp)
  buildah run --runtime "$runtime" --isolation oci --network host "$ctr" -- /usr/local/bin/node /opt/wattsched/dist/src/cli/main.js "$@" --port "$port" --host 127.0.0.1 >"$logf" 2>&1 &
  local pid=$!
  local body=""
  for _ in $(seq 1 120); do
    body=$(curl -fsS "http://127.0.0.1:${port}${path}" 2>/dev/null) && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if [ -n "$body" ]; then ok "$name in the container answers ${path}: $body"; else bad "$name in the container did not answer ${path}"; tail -n 20 "$logf" >&2; fi
  kill "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  rm -f "$logf"
}
whoami_in=$(buildah run --runtime "$runtime" --isolation oci "$ctr" -- /usr/bin/id -u 2>&1)
[ "$whoami_in" = "65532" ] && ok "processes in the container run as uid 65532" || bad "uid in the container: $whoami_in"
serve_and_check extender /healthz extender
serve_and_check model-server /healthz model-server --data-dir /tmp/models
finish
