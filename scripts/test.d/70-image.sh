#!/usr/bin/env bash
# The image suite: builds the wattsched image here without a registry (deploy/image/build.sh: mmdebstrap + buildah
# from scratch), runs it with buildah and runc (crun refuses this machine's hybrid cgroup v1/v2 layout) on the host
# network, and checks that the extender and the model server inside it answer /healthz as the image's non-root
# user, and that the agent inside it loads its eBPF program as the chart's DaemonSet runs it (uid 0, only CAP_BPF
# and CAP_PERFMON, read-only host mounts). Installs deploy/image/apt-packages.txt when missing (root only); reports
# itself skipped, with the reason, where that is impossible; appends "PASSED FAILED SKIPPED" to
# $WATTSCHED_TEST_COUNTS. Cold: about 3-6 minutes on 2 cores (mmdebstrap fetches ~40 MB of .debs; copying
# node_modules dominates).
set -uo pipefail
cd "$(dirname "$0")/../.."
counts="${WATTSCHED_TEST_COUNTS:-/dev/null}"
log() { printf '[image] %s\n' "$*" >&2; }
passed=0 failed=0 skipped=0
ok() { log "PASS: $*"; passed=$((passed + 1)); }
bad() { log "FAIL: $*"; failed=$((failed + 1)); }
skip_one() { log "SKIPPED: $*"; skipped=$((skipped + 1)); }
skip() { log "SKIPPED: $*"; echo "0 0 1" >>"$counts"; exit 0; }
finish() {
  echo "image: ${passed} passed, ${failed} failed, ${skipped} skipped"
  echo "${passed} ${failed} ${skipped}" >>"$counts"
  [ "$failed" -eq 0 ]
  exit $?
}

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

# The image built here must present itself as the Containerfile's final stage does.
want=$(node -e '
const lines = require("fs").readFileSync("deploy/image/Containerfile", "utf8").split("\n");
const last = lines.slice(lines.map((l) => l.startsWith("FROM ")).lastIndexOf(true));
const get = (k) => last.filter((l) => l.startsWith(k + " ")).map((l) => l.slice(k.length + 1).trim());
console.log(JSON.stringify({ user: get("USER")[0], entrypoint: JSON.parse(get("ENTRYPOINT")[0]), cmd: JSON.parse(get("CMD")[0]),
  ports: get("EXPOSE").flatMap((p) => p.split(/\s+/)).map((p) => p + "/tcp").sort(), workdir: get("WORKDIR")[0] }));
')
got=$(buildah inspect --type image "$image" | node -e '
let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => { const c = JSON.parse(s).OCIv1.config;
  console.log(JSON.stringify({ user: c.User, entrypoint: c.Entrypoint, cmd: c.Cmd, ports: Object.keys(c.ExposedPorts ?? {}).sort(), workdir: c.WorkingDir })); });
')
[ "$want" = "$got" ] && ok "image config matches the Containerfile's final stage: $got" || bad "image config $got differs from the Containerfile's $want"

runtime=$(command -v runc) || { bad "no runc"; finish; }
ctr=$(buildah from --quiet "$image") || { bad "buildah from $image"; finish; }
# The OCI archive in .cache/image stays; the copy in buildah's local storage goes with the suite's containers.
trap 'buildah rm "$ctr" >/dev/null 2>&1; buildah rmi "$image" >/dev/null 2>&1' EXIT
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

# Runs one server in the container (as the image's user, through the entrypoint's launcher) and waits for /healthz;
# run_opts are extra `buildah run` options (volumes).
run_opts=()
serve_and_check() { # name, path, args...
  local name=$1 path=$2; shift 2
  local port; port=$(free_port)
  local logf; logf=$(mktemp)
  buildah run --runtime "$runtime" --isolation oci --network host "${run_opts[@]}" "$ctr" -- /opt/wattsched/bin/wattsched "$@" --port "$port" --host 127.0.0.1 >"$logf" 2>&1 &
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
# The model server refuses to start without a credential for its mutating routes: give it a token file the way
# the chart does (a read-only mount; here a host directory instead of a Secret).
secrets=$(mktemp -d)
chmod 755 "$secrets"
od -An -N24 -tx1 /dev/urandom | tr -d ' \n' >"$secrets/token"
printf 'auth:\n  tokenFile: /run/secrets/wattsched/token\n' >"$secrets/model-server.yaml"
chmod 644 "$secrets/token" "$secrets/model-server.yaml"
run_opts=(--volume "$secrets:/run/secrets/wattsched:ro")
serve_and_check model-server /healthz model-server --config /run/secrets/wattsched/model-server.yaml --data-dir /tmp/models
run_opts=()
rm -rf "$secrets"

# The agent as the chart runs it: uid 0 with every capability dropped but BPF and PERFMON, the host's cgroupfs,
# BTF and tracefs read-only, under a seccomp profile that grants bpf() for CAP_BPF and perf_event_open() for
# CAP_PERFMON as containerd's RuntimeDefault does (containerd contrib/seccomp/seccomp_default.go). buildah's own
# default profile here (containers-common) grants them only with CAP_SYS_ADMIN, so it is rewritten that way.
# SYS_RESOURCE is left out: this machine's bounding set lacks it, and on kernels >= 5.11 BPF memory is
# memcg-accounted, so the load must succeed without it.
agent_check() {
  local base=/usr/share/containers/seccomp.json
  [ -f "$base" ] || { bad "agent: no $base to derive the seccomp profile from"; return; }
  [ -r /sys/kernel/btf/vmlinux ] || { skip_one "agent eBPF in the container: this kernel has no BTF, so no eBPF collector anywhere"; return; }
  [ -f native/build/Release/wattsched_bpf.node ] || { skip_one "agent eBPF in the container: scripts/setup.d/20-bpf-native.sh built no addon here (it says why)"; return; }
  local profile; profile=$(mktemp --suffix .json)
  node -e '
const fs = require("fs");
const p = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
const byCap = { bpf: "CAP_BPF", perf_event_open: "CAP_PERFMON" };
p.syscalls = p.syscalls.map((s) => ({ ...s, names: s.names.filter((n) => !(n in byCap)) })).filter((s) => s.names.length > 0);
for (const [name, cap] of Object.entries(byCap)) for (const c of [cap, "CAP_SYS_ADMIN"]) p.syscalls.push({ names: [name], action: "SCMP_ACT_ALLOW", args: [], includes: { caps: [c] }, excludes: {} });
fs.writeFileSync(process.argv[2], JSON.stringify(p));
' "$base" "$profile"
  local actr; actr=$(buildah from --quiet --security-opt "seccomp=$profile" "$image") || { bad "buildah from (agent)"; return; }
  local drops=() c
  for c in CHOWN DAC_OVERRIDE FOWNER FSETID KILL NET_BIND_SERVICE SETFCAP SETGID SETPCAP SETUID SYS_CHROOT NET_RAW MKNOD AUDIT_WRITE; do drops+=(--cap-drop "CAP_$c"); done
  local report; report=$(mktemp)
  # buildah applies --cap-drop ALL after --cap-add, so the defaults are dropped by name; CapEff is checked below.
  buildah run --runtime "$runtime" --isolation oci --user 0:0 --env WATTSCHED_AGENT_KUBERNETES__MODE=off \
    --cap-add CAP_BPF --cap-add CAP_PERFMON "${drops[@]}" \
    -v /sys/fs/cgroup:/sys/fs/cgroup:ro,rbind -v /sys/kernel/btf:/sys/kernel/btf:ro -v /sys/kernel/tracing:/sys/kernel/tracing:ro \
    "$actr" -- /bin/sh -c 'grep CapEff /proc/self/status >&2; exec /opt/wattsched/bin/wattsched agent --once --json --collector ebpf' \
    >"$report" 2>"$report.err"
  local rc=$?
  local capeff; capeff=$(sed -n 's/^CapEff:[[:space:]]*//p' "$report.err")
  # Bits 38 (CAP_PERFMON) and 39 (CAP_BPF), nothing else.
  [ "$capeff" = "000000c000000000" ] && ok "agent container's effective capabilities are BPF and PERFMON only" || bad "agent CapEff $capeff"
  if [ "$rc" -eq 0 ] && node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); process.exit(r.collector.name === "ebpf" ? 0 : 1)' "$report"; then
    ok "agent in the container loads its eBPF program with those capabilities: $(node -p 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).collector.variant' "$report")"
  else
    bad "agent in the container could not load eBPF (exit $rc)"; head -c 2000 "$report.err" >&2
  fi
  buildah rm "$actr" >/dev/null 2>&1
  rm -f "$profile" "$report" "$report.err"
}
agent_check
finish
