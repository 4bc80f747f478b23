#!/usr/bin/env bash
# Regenerates the staging-module `replace` block of this go.mod from the pinned k8s.io/kubernetes release's OWN go.mod.
# Why: upstream requires its ~30 staging modules (k8s.io/api, client-go, kube-scheduler, ...) at v0.0.0 and points
# them at ./staging/src/... with replace directives, which do not apply to a consumer. Each staging module is
# published at v0.<minor>.<patch> for release v1.<minor>.<patch>, so we replace every one with that version, exactly
# the set upstream lists (typing it by hand drifts when a release adds a staging module).
# Usage: hack/gen-replace.sh [v1.35.4]   (then: go mod tidy)
set -euo pipefail
cd "$(dirname "$0")/.."
ver="${1:-$(awk '$1 == "k8s.io/kubernetes" {print $2; exit}' go.mod | grep . || echo v1.35.4)}"
[[ "$ver" =~ ^v1\.([0-9]+)\.([0-9]+)$ ]] || { echo "gen-replace: '$ver' is not a v1.MINOR.PATCH release" >&2; exit 2; }
staging="v0.${BASH_REMATCH[1]}.${BASH_REMATCH[2]}"

# Only the .mod file is needed; the proxy serves it without the (large) source zip.
proxy="${GOPROXY:-https://proxy.golang.org}"; proxy="${proxy%%,*}"
upstream=$(mktemp); trap 'rm -f "$upstream" go.mod.new' EXIT
curl -fsS --retry 3 "${proxy}/k8s.io/kubernetes/@v/${ver}.mod" -o "$upstream" \
  || { echo "gen-replace: cannot fetch go.mod of k8s.io/kubernetes@${ver} from ${proxy}" >&2; exit 1; }

mods=$(awk '$2 == "=>" && $3 ~ /^\.\/staging\/src\// {print $1}' "$upstream" | sort -u)
[ -n "$mods" ] || { echo "gen-replace: no staging replace directives found in k8s.io/kubernetes@${ver} go.mod" >&2; exit 1; }

{
  # Keep everything outside the generated block, then append a fresh block.
  awk '/^\/\/ BEGIN generated staging replaces/ {skip=1} !skip {print} /^\/\/ END generated staging replaces/ {skip=0}' go.mod
  echo "// BEGIN generated staging replaces (hack/gen-replace.sh ${ver}; do not edit)"
  echo "replace ("
  for m in $mods; do printf '\t%s => %s %s\n' "$m" "$m" "$staging"; done
  echo ")"
  echo "// END generated staging replaces"
} > go.mod.new
mv go.mod.new go.mod
go mod edit -require="k8s.io/kubernetes@${ver}"
echo "gen-replace: $(echo "$mods" | wc -l) staging modules pinned to ${staging} for k8s.io/kubernetes ${ver}" >&2
