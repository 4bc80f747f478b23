#!/usr/bin/env bash
# Builds the wattsched image without a registry: a Debian 12 root filesystem from Debian packages (mmdebstrap,
# runtime libraries only), this checkout's build outputs in the layout of deploy/image/Containerfile, and buildah
# `from scratch` to make it an image with the Containerfile's user, entrypoint and ports. Writes an OCI archive
# (load it into a cluster with `ctr -n k8s.io images import`, `kind load image-archive` or `skopeo copy`).
# Usage: deploy/image/build.sh [OUT_DIR]   (needs root, scripts/setup.sh run, deploy/image/apt-packages.txt)
# Node 20 is not a Debian 12 package: the image gets this machine's `node` binary (Node >= 20.10 is already a
# prerequisite of the project); the Containerfile's base image brings its own instead.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
out=${1:-$repo/.cache/image}
name=localhost/wattsched
version=$(node -p 'require("./package.json").version')
log() { printf '[image] %s\n' "$*" >&2; }

for tool in mmdebstrap buildah; do command -v "$tool" >/dev/null || { log "missing $tool (apt-get install $(paste -sd' ' <(sed -e 's/#.*//' -e '/^$/d' deploy/image/apt-packages.txt)))"; exit 2; }; done
[ -f dist/src/cli/main.js ] || { log "dist/ is not built: run scripts/setup.sh"; exit 2; }
node_bin=$(command -v node)
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=10)?0:1)' || { log "node >= 20.10 needed"; exit 2; }

mkdir -p "$out"
work=$(mktemp -d "$out/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"

log "root filesystem from Debian packages (mmdebstrap bookworm)"
# Only what the runtime loads: glibc and libstdc++ for node and onnxruntime, libbpf/libelf/zlib for the addon.
mmdebstrap --variant=essential --mode=root --format=directory \
  --include=libstdc++6,libgcc-s1,libbpf1,libelf1,zlib1g,ca-certificates \
  --dpkgopt='path-exclude=/usr/share/{doc,man,locale,info}/*' \
  bookworm "$rootfs" >"$work/mmdebstrap.log" 2>&1 || { tail -n 30 "$work/mmdebstrap.log" >&2; exit 1; }
# The package manager's state is not needed at run time (Containerfile's image keeps apt; this one is smaller).
rm -rf "$rootfs"/var/cache/apt/* "$rootfs"/var/lib/apt/lists/*

log "application layout of the Containerfile"
app="$rootfs/opt/wattsched"
mkdir -p "$app/native/build/Release" "$app/bpf/.output"
install -m 0755 "$node_bin" "$rootfs/usr/local/bin/node"
cp package.json package-lock.json "$app/"
cp -a dist models bin "$app/"
# Production dependencies only, from this checkout's node_modules (no registry needed).
cp -a node_modules "$app/"
(cd "$app" && npm prune --omit=dev --no-audit --no-fund --loglevel=error)
rm -f "$app/package-lock.json"
if [ -f native/build/Release/wattsched_bpf.node ] && [ -f bpf/.output/cgroup_counters.bpf.o ]; then
  cp native/build/Release/wattsched_bpf.node "$app/native/build/Release/"
  cp bpf/.output/cgroup_counters.bpf.o "$app/bpf/.output/"
else
  log "WARNING: no native addon / BPF object built here: the image's agent will run its cgroupfs fallback"
fi
echo "wattsched:x:65532:65532:wattsched:/nonexistent:/usr/sbin/nologin" >>"$rootfs/etc/passwd"
echo "wattsched:x:65532:" >>"$rootfs/etc/group"

log "image from scratch (buildah)"
ctr=$(buildah from --quiet scratch)
cleanup_ctr() { buildah rm "$ctr" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup_ctr EXIT
buildah copy --quiet "$ctr" "$rootfs" / >/dev/null
# The same user, environment, ports, entrypoint and command as the Containerfile's final stage
# (scripts/test.d/70-image.sh compares them).
buildah config --user 65532:65532 --workingdir /opt/wattsched \
  --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --env NODE_ENV=production \
  --port 8888/tcp --port 9102/tcp --port 8100/tcp \
  --entrypoint '["/opt/wattsched/bin/wattsched"]' --cmd '["extender"]' \
  --label org.opencontainers.image.title=wattsched --label "org.opencontainers.image.version=$version" "$ctr"
buildah commit --quiet --rm "$ctr" "$name:$version" >/dev/null
rm -f "$out/wattsched-$version.oci.tar"
buildah push --quiet "$name:$version" "oci-archive:$out/wattsched-$version.oci.tar:$name:$version" >/dev/null
log "built $name:$version ($(du -h "$out/wattsched-$version.oci.tar" | cut -f1) OCI archive: $out/wattsched-$version.oci.tar)"
