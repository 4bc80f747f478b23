#!/usr/bin/env bash
# Builds the agent's eBPF object (bpf/cgroup_counters.bpf.c), its libbpf skeleton and the node-addon-api module that
# loads it (native/). Idempotent: each step runs only when its inputs are newer than its output. When something it
# needs is missing it says what and exits 0: the agent then runs its cgroupfs fallback and reports why.
set -uo pipefail
cd "$(dirname "$0")/../.."

log() { printf '[setup/bpf] %s\n' "$*" >&2; }
unavailable() {
  log "eBPF collector NOT built: $*"
  log "the agent will use its cgroupfs fallback collector (see docs/agent.md)"
  exit 0
}

out=bpf/.output
addon=native/build/Release/wattsched_bpf.node
mkdir -p "$out"

missing=()
command -v clang >/dev/null || missing+=(clang)
command -v bpftool >/dev/null || missing+=(bpftool)
command -v pkg-config >/dev/null || missing+=(pkg-config)
pkg-config --exists libbpf 2>/dev/null || missing+=(libbpf-dev)
[ -e /usr/include/gelf.h ] || missing+=(libelf-dev)
[ ${#missing[@]} -eq 0 ] || unavailable "missing packages: ${missing[*]} (apt-get install ${missing[*]}; scripts/setup.sh does this as root)"
[ -r /sys/kernel/btf/vmlinux ] || unavailable "this kernel exposes no BTF (/sys/kernel/btf/vmlinux): CO-RE programs cannot be built or loaded"

# vmlinux.h: every kernel type, from the running kernel's BTF. CO-RE relocations make the object portable to other
# kernels, so it is regenerated only when missing or when the kernel changed.
kernel=$(uname -r)
if [ ! -s "$out/vmlinux.h" ] || [ "$(cat "$out/vmlinux.h.kernel" 2>/dev/null)" != "$kernel" ]; then
  log "generating $out/vmlinux.h (bpftool btf dump file /sys/kernel/btf/vmlinux format c)"
  bpftool btf dump file /sys/kernel/btf/vmlinux format c >"$out/vmlinux.h.tmp" || unavailable "bpftool could not dump BTF"
  mv "$out/vmlinux.h.tmp" "$out/vmlinux.h"
  echo "$kernel" >"$out/vmlinux.h.kernel"
fi

case "$(uname -m)" in
  x86_64) arch=x86 ;;
  aarch64) arch=arm64 ;;
  *) arch=$(uname -m) ;;
esac

obj="$out/cgroup_counters.bpf.o"
skel="$out/cgroup_counters.skel.h"
if [ ! -s "$skel" ] || [ bpf/cgroup_counters.bpf.c -nt "$skel" ] || [ bpf/cgroup_counters.h -nt "$skel" ] || [ "$out/vmlinux.h" -nt "$skel" ]; then
  log "compiling bpf/cgroup_counters.bpf.c"
  clang -target bpf -g -O2 -Wall -D__TARGET_ARCH_$arch -I bpf -I "$out" -c bpf/cgroup_counters.bpf.c -o "$out/cgroup_counters.tmp.o" \
    || unavailable "clang failed on bpf/cgroup_counters.bpf.c"
  # `gen object` links and drops DWARF (keeping BTF), so the skeleton embeds ~40 kB instead of ~650 kB.
  bpftool gen object "$obj" "$out/cgroup_counters.tmp.o" || unavailable "bpftool gen object failed"
  bpftool gen skeleton "$obj" name cgroup_counters_bpf >"$skel.tmp" || unavailable "bpftool gen skeleton failed"
  mv "$skel.tmp" "$skel"
  # The same program with empty bodies, for bench/agent's "hook only" baseline; never loaded by the agent.
  clang -target bpf -g -O2 -D__TARGET_ARCH_$arch -DCG_EMPTY_BASELINE -I bpf -I "$out" -c bpf/cgroup_counters.bpf.c -o "$out/cgroup_counters.tmp.o" \
    && bpftool gen object "$out/cgroup_counters_empty.bpf.o" "$out/cgroup_counters.tmp.o" \
    || log "warning: the benchmark's empty baseline object did not build"
  rm -f "$out/cgroup_counters.tmp.o"
fi

if [ ! -s "$addon" ] || [ "$skel" -nt "$addon" ] || [ native/wattsched_bpf.cc -nt "$addon" ] || [ native/binding.gyp -nt "$addon" ]; then
  [ -x node_modules/.bin/node-gyp ] || unavailable "node-gyp is not installed (npm ci installs it as a dev dependency)"
  nodedir=/usr
  [ -e "$nodedir/include/node/node_api.h" ] || unavailable "Node headers not found at $nodedir/include/node (install nodejs headers, e.g. libnode-dev)"
  log "building the native addon (node-gyp rebuild --nodedir=$nodedir)"
  (cd native && ../node_modules/.bin/node-gyp rebuild --nodedir="$nodedir" --loglevel=warn >build.log 2>&1) \
    || { tail -n 30 native/build.log >&2; unavailable "node-gyp failed (log: native/build.log)"; }
fi
log "eBPF object and addon are up to date ($addon)"
