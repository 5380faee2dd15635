#!/usr/bin/env bash
# Builds the real upstream control plane the tests run against, from Go modules.
#
# Why build: the operator's correctness lives in how a real kube-apiserver treats
# it (structural schemas, CEL, patch strategies, server-side apply, RBAC, webhooks),
# and this machine has no Docker and reaches no release buckets, only the Go module
# proxy. So the upstream binaries are compiled here, once, into
#   .cache/controlplane/$KUBERNETES_VERSION/bin/
#     kube-apiserver kube-controller-manager kube-scheduler kubectl  (k8s.io/kubernetes)
#     etcd                                                             (go.etcd.io/etcd/server/v3)
#     kwok                                                             (sigs.k8s.io/kwok)
#   .cache/controlplane/$KUBERNETES_VERSION/kwok-stages.yaml          (kwok's upstream "fast" stages)
# and tests/plane/ starts them. A group whose inputs (versions.env, its go.mod and
# go.sum, the Go version, this recipe) are unchanged since its last build is skipped,
# so a warm run costs a second. Finished binaries are also kept, by that inputs hash,
# in a machine-wide store ($OTELWIRE_CONTROLPLANE_STORE, default
# ~/.cache/otelwire-controlplane), so a fresh clone on a machine that built them once
# (CI's clone) takes them in a second instead of relinking. Go's build cache
# (~/.cache/go-build) makes any rebuild cheaper than the first one.
#
# Usage: tests/controlplane/build.sh [--force] [--sync]
#   --force  rebuild even when the binaries are up to date
#   --sync   rewrite go.mod / kwok/go.mod from versions.env (after a version bump), then build
set -euo pipefail

# Bump when the flags below change, so that existing caches are rebuilt.
readonly RECIPE=1

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"

force=0
sync=0
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    --sync) sync=1 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "build.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

command -v go >/dev/null || { echo "controlplane: 'go' is not on PATH; install Go >= 1.26" >&2; exit 1; }

# Repo-local Go settings: never write to the user's go.env, never fetch a toolchain.
export GOFLAGS="-mod=mod -buildvcs=false -trimpath"
export GOTOOLCHAIN=local
export GOWORK=off
export CGO_ENABLED=0

out_dir="$root/.cache/controlplane/$KUBERNETES_VERSION"
bin="$out_dir/bin"
# Machine-wide store of finished binaries, keyed by the inputs hash: a fresh clone on
# a machine that built them before (CI's clone, a second worktree) takes them in a
# second instead of relinking for a minute. Rebuilt whenever it is missing.
store="${OTELWIRE_CONTROLPLANE_STORE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/otelwire-controlplane}"
mkdir -p "$bin"
# Two concurrent builds (two terminals, or make -j) must not interleave.
exec 9>"$out_dir/.lock"
flock 9

staging_version="v0.${KUBERNETES_VERSION#v1.}" # v1.36.3 -> v0.36.3
minor="${KUBERNETES_VERSION#v1.}"
minor="${minor%%.*}"

log() { printf 'controlplane: %s\n' "$*"; }
human() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

sync_modules() {
  log "syncing go.mod files with versions.env"
  local kdir m
  (
    cd "$here"
    go mod edit -require="k8s.io/kubernetes@$KUBERNETES_VERSION" -require="go.etcd.io/etcd/server/v3@$ETCD_VERSION"
    kdir="$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
    # The Old side of each replace: 4 tabs deep, a Path with no Version after it.
    for m in $(go mod edit -json | sed -n 's/^\t\t\t\t"Path": "\(k8s\.io\/[^"]*\)"$/\1/p' | sort -u); do
      go mod edit -dropreplace="$m"
    done
    # Every staging module that kubernetes replaces with ./staging/src/... and that is
    # published, as one replace block (collected first: go list reads go.mod).
    local block=""
    for m in $(sed -n 's/^\t\(k8s\.io\/[a-z0-9-]*\) => \.\/staging\/.*/\1/p' "$kdir/go.mod"); do
      if go list -m "$m@$staging_version" >/dev/null 2>&1; then
        block+="$(printf '\t%s => %s %s' "$m" "$m" "$staging_version")"$'\n'
      fi
    done
    printf '\nreplace (\n%s)\n' "$block" >>go.mod
    go mod tidy
  )
  (cd "$here/kwok" && go mod edit -require="sigs.k8s.io/kwok@$KWOK_VERSION" && go mod tidy)
}

check_modules() {
  # go mod tidy marks tool-only requirements "// indirect" and may move them into blocks.
  local bad=0 re_end='( // indirect)?$'
  grep -Eq "^(require )?[[:space:]]*k8s\.io/kubernetes $KUBERNETES_VERSION$re_end" "$here/go.mod" || bad=1
  grep -Eq "^(require )?[[:space:]]*go\.etcd\.io/etcd/server/v3 $ETCD_VERSION$re_end" "$here/go.mod" || bad=1
  grep -Eq "^(replace )?[[:space:]]*k8s\.io/api => k8s\.io/api $staging_version$" "$here/go.mod" || bad=1
  grep -Eq "^(require )?[[:space:]]*sigs\.k8s\.io/kwok $KWOK_VERSION$re_end" "$here/kwok/go.mod" || bad=1
  if ((bad)); then
    echo "controlplane: tests/controlplane/go.mod or kwok/go.mod disagrees with versions.env;" \
      "run: tests/controlplane/build.sh --sync" >&2
    exit 1
  fi
}

# The identity of a group's inputs; its binaries are rebuilt when this changes.
inputs_hash() {
  local moddir="$1"
  {
    echo "recipe=$RECIPE"
    go env GOVERSION GOOS GOARCH
    cat "$here/versions.env" "$moddir/go.mod" "$moddir/go.sum"
  } | sha256sum | cut -d' ' -f1
}

up_to_date() {
  local stamp="$1" hash="$2"
  shift 2
  ((force)) && return 1
  [[ -f "$stamp" && "$(cat "$stamp")" == "$hash" ]] || return 1
  local b
  for b in "$@"; do [[ -x "$bin/$b" ]] || return 1; done
}

# go build into a scratch folder, check, then move into place: an interrupted build
# never leaves a half-written binary that a later run would take as built.
build_group() {
  local name="$1" moddir="$2" ldflags="$3"
  shift 3
  local -a pkgs=("$@")
  # go build -o dir/ names a binary after its package path's last element, skipping a
  # major-version suffix: go.etcd.io/etcd/server/v3 becomes "server", installed as etcd.
  local -a outs=() names=()
  local p out
  for p in "${pkgs[@]}"; do
    out="${p%/v[0-9]*}"
    out="${out##*/}"
    outs+=("$out")
    case "$p" in
      go.etcd.io/etcd/server/v3) names+=(etcd) ;;
      *) names+=("$out") ;;
    esac
  done
  local stamp="$bin/.stamp-$name" hash
  hash="$(cd "$moddir" && inputs_hash "$moddir")"
  if up_to_date "$stamp" "$hash" "${names[@]}"; then
    log "$name: up to date (${names[*]})"
    return 0
  fi
  local entry="$store/$name-$hash"
  if ((!force)) && [[ -f "$entry/.complete" ]]; then
    for n in "${names[@]}"; do place "$entry/$n" "$bin/$n"; done
    echo "$hash" >"$stamp"
    RESTORED+=("${names[@]}")
    log "$name: restored ${names[*]} from $entry"
    return 0
  fi
  log "$name: building ${names[*]} ..."
  local start=$SECONDS tmp i
  tmp="$(mktemp -d "$out_dir/build.XXXXXX")"
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp'" EXIT
  (cd "$moddir" && go build -ldflags "$ldflags" -o "$tmp/" "${pkgs[@]}")
  for i in "${!outs[@]}"; do
    [[ -x "$tmp/${outs[$i]}" ]] || { echo "controlplane: go build produced no ${outs[$i]}" >&2; exit 1; }
  done
  for i in "${!outs[@]}"; do mv -f "$tmp/${outs[$i]}" "$bin/${names[$i]}"; done
  rm -rf "$tmp"
  trap - EXIT
  echo "$hash" >"$stamp"
  BUILT+=("${names[@]}")
  log "$name: built ${names[*]} in $(human $((SECONDS - start)))"
  save_to_store "$entry" "${names[@]}" || log "$name: could not save to $store (ignored)"
}

# Hard link when on the same file system (no extra disk), else copy.
place() {
  local src="$1" dst="$2"
  if ! ln -f "$src" "$dst" 2>/dev/null; then
    cp -f "$src" "$dst.tmp.$$" && mv -f "$dst.tmp.$$" "$dst"
  fi
}

save_to_store() {
  local entry="$1" tmp n
  shift
  mkdir -p "$store" || return 1
  tmp="$(mktemp -d "$store/.tmp.XXXXXX")" || return 1
  for n in "$@"; do place "$bin/$n" "$tmp/$n" || { rm -rf "$tmp"; return 1; }; done
  chmod 755 "$tmp"
  touch "$tmp/.complete"
  rm -rf "$entry"
  mv "$tmp" "$entry"
  # Keep the three newest entries of this group: enough for a branch switch or two.
  local group="${entry##*/}" old
  group="${group%-*}"
  # shellcheck disable=SC2012
  for old in $(ls -1dt "$store/$group"-* 2>/dev/null | tail -n +4); do rm -rf "$old"; done
}

total_start=$SECONDS
BUILT=()
RESTORED=()

if ((sync)); then sync_modules; fi
check_modules

# What hack/lib/version.sh sets for a release build, so the server reports its
# real version (kubectl and client libraries compare it). The commit is not in the
# module archive, so the tree state is "archive", as for a build from a source tarball.
build_date="$(cd "$here" && go list -m -f '{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}' k8s.io/kubernetes)"
k8s_ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  k8s_ldflags+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  k8s_ldflags+=" -X $pkg.gitCommit= -X $pkg.gitTreeState=archive -X $pkg.buildDate=$build_date"
done

# One go build for the four Kubernetes binaries and etcd: they share most packages.
build_group kubernetes "$here" "$k8s_ldflags" \
  k8s.io/kubernetes/cmd/kube-apiserver \
  k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler \
  k8s.io/kubernetes/cmd/kubectl \
  go.etcd.io/etcd/server/v3

build_group kwok "$here/kwok" "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v}" \
  sigs.k8s.io/kwok/cmd/kwok

# kwok 0.8 does nothing without Stage objects: take the upstream "fast" set
# (node-initialize, node heartbeat with lease, pod-ready/complete/delete) from
# the very module version that was built.
stages="$out_dir/kwok-stages.yaml"
if [[ ! -s "$stages" || "$bin/.stamp-kwok" -nt "$stages" ]]; then
  kwok_dir="$(cd "$here/kwok" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)"
  {
    for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
      pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
      echo "---"
      cat "$kwok_dir/kustomize/stage/$f"
    done
  } >"$stages.tmp"
  mv -f "$stages.tmp" "$stages"
fi

# Prove the version ldflags took: kubectl refuses a server that reports v0.0.0-master.
reported="$("$bin/kube-apiserver" --version)"
if [[ "$reported" != "Kubernetes $KUBERNETES_VERSION" ]]; then
  echo "controlplane: kube-apiserver reports '$reported', expected 'Kubernetes $KUBERNETES_VERSION'" >&2
  exit 1
fi
etcd_reported="$("$bin/etcd" --version | sed -n 's/^etcd Version: //p')"
if [[ "v$etcd_reported" != "$ETCD_VERSION" ]]; then
  echo "controlplane: etcd reports '$etcd_reported', expected '$ETCD_VERSION'" >&2
  exit 1
fi

if ((${#BUILT[@]})); then
  log "built ${BUILT[*]} in $(human $((SECONDS - total_start))) into ${bin#"$root"/}"
elif ((${#RESTORED[@]})); then
  log "restored ${RESTORED[*]} in $(human $((SECONDS - total_start))) into ${bin#"$root"/}"
else
  log "nothing to build ($(human $((SECONDS - total_start)))): ${bin#"$root"/} has Kubernetes $KUBERNETES_VERSION, etcd $ETCD_VERSION, kwok $KWOK_VERSION"
fi
