#!/usr/bin/env bash
# Builds the real programs otelwire's integrations are tested against, from Go modules.
#
# Why: an integration proven against a stand-in written here only agrees with what we believe;
# the suite runs the real partners. This machine reaches the Go module proxy (no Docker, no
# release downloads), so each partner is a small Go module under tests/partners/<name>/:
#
#   go.mod, go.sum   the partner's modules, pinned
#   *.go             a main package when the partner needs one (e.g. a collector distribution)
#   build.env        PACKAGES="pkg ..."   packages to `go build` (each becomes bin/<last element>)
#                    LDFLAGS="..."        optional
#                    MODULE_FILES="module glob ..."  optional: files to copy out of a module's
#                                         tree into files/ (pairs: module path, glob inside it)
#
# Output: .cache/partners/<name>/{bin,files}/ (gitignored). A partner whose inputs (its folder's
# files, the Go version, this recipe) are unchanged since its last build is skipped; finished
# outputs are also kept by inputs hash in a machine-wide store ($OTELWIRE_PARTNERS_STORE, default
# ~/.cache/otelwire-partners), so a fresh clone on a machine that built them once (CI's clone)
# takes them in a second. Go's build cache (~/.cache/go-build) makes any rebuild cheaper.
#
# Usage: tests/partners/build.sh [--force] [name ...]     (no name: every partner)
set -euo pipefail

# Bump when the recipe below changes, so existing caches are rebuilt.
readonly RECIPE=1

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
command -v go >/dev/null || { echo "partners: 'go' is not on PATH; install Go >= 1.26" >&2; exit 1; }

# Repo-local Go settings: never write to the user's go.env, never fetch a toolchain.
export GOFLAGS="-mod=mod -buildvcs=false -trimpath"
export GOTOOLCHAIN=local
export GOWORK=off
export CGO_ENABLED=0

store="${OTELWIRE_PARTNERS_STORE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/otelwire-partners}"
force=0
names=()
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "partners: unknown option: $arg" >&2; exit 2 ;;
    *) names+=("$arg") ;;
  esac
done
if ((${#names[@]} == 0)); then
  for dir in "$here"/*/; do [[ -f "$dir/build.env" ]] && names+=("$(basename "$dir")"); done
fi

log() { printf 'partners: %s\n' "$*"; }
human() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

inputs_hash() {
  local dir="$1"
  {
    echo "recipe=$RECIPE"
    go env GOVERSION GOOS GOARCH
    (cd "$dir" && find . -type f ! -name '*.md' -print0 | sort -z | xargs -0 sha256sum)
  } | sha256sum | cut -d' ' -f1
}

# Hard link when on the same file system (no extra disk), else copy.
place() {
  local src="$1" dst="$2"
  mkdir -p "$(dirname "$dst")"
  if ! ln -f "$src" "$dst" 2>/dev/null; then
    cp -f "$src" "$dst.tmp.$$" && mv -f "$dst.tmp.$$" "$dst"
  fi
}

copy_tree() {
  local from="$1" to="$2" f
  (cd "$from" && find . -type f -print0) | while IFS= read -r -d '' f; do place "$from/$f" "$to/$f"; done
}

build_one() {
  local name="$1" dir="$here/$1"
  [[ -f "$dir/build.env" ]] || { echo "partners: no $dir/build.env" >&2; exit 2; }
  local PACKAGES="" LDFLAGS="-s -w" MODULE_FILES=""
  # shellcheck disable=SC1091
  source "$dir/build.env"
  local out="$root/.cache/partners/$name" hash
  hash="$(inputs_hash "$dir")"
  mkdir -p "$out"
  exec 9>"$out/.lock"
  flock 9
  if ((!force)) && [[ -f "$out/.stamp" && "$(cat "$out/.stamp")" == "$hash" ]]; then
    log "$name: up to date"
    return 0
  fi
  local entry="$store/$name-$hash"
  if ((!force)) && [[ -f "$entry/.complete" ]]; then
    rm -rf "$out/bin" "$out/files"
    [[ -d "$entry/bin" ]] && copy_tree "$entry/bin" "$out/bin"
    [[ -d "$entry/files" ]] && copy_tree "$entry/files" "$out/files"
    echo "$hash" >"$out/.stamp"
    log "$name: restored from $entry"
    return 0
  fi
  log "$name: building ..."
  local start=$SECONDS tmp
  tmp="$(mktemp -d "$out/build.XXXXXX")"
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp'" EXIT
  mkdir -p "$tmp/bin" "$tmp/files"
  if [[ -n "$PACKAGES" ]]; then
    # shellcheck disable=SC2086
    (cd "$dir" && go build -ldflags "$LDFLAGS" -o "$tmp/bin/" $PACKAGES)
  fi
  if [[ -n "$MODULE_FILES" ]]; then
    local -a pairs
    read -r -a pairs <<<"$MODULE_FILES"
    local i module pattern moddir
    for ((i = 0; i < ${#pairs[@]}; i += 2)); do
      module="${pairs[$i]}"
      pattern="${pairs[$((i + 1))]}"
      # `go list -m` names the folder only once the module is in the module cache: download it
      # first (a no-op when it is there), or a fresh machine finds no files.
      (cd "$dir" && go mod download "$module")
      moddir="$(cd "$dir" && go list -m -f '{{.Dir}}' "$module")"
      [[ -n "$moddir" && -d "$moddir" ]] || { echo "partners: $name: module $module not found" >&2; exit 1; }
      local found=0 file
      for file in "$moddir"/$pattern; do
        [[ -f "$file" ]] || continue
        found=1
        # A copy, never a link: the module cache is read-only and shared.
        mkdir -p "$(dirname "$tmp/files/${file#"$moddir"/}")"
        cp "$file" "$tmp/files/${file#"$moddir"/}"
        chmod u+w "$tmp/files/${file#"$moddir"/}"
      done
      ((found)) || { echo "partners: $name: no files match $pattern in $module" >&2; exit 1; }
    done
  fi
  rm -rf "$out/bin" "$out/files"
  mv "$tmp/bin" "$out/bin"
  mv "$tmp/files" "$out/files"
  rm -rf "$tmp"
  trap - EXIT
  echo "$hash" >"$out/.stamp"
  log "$name: built in $(human $((SECONDS - start)))"
  if mkdir -p "$store" 2>/dev/null; then
    local staged
    staged="$(mktemp -d "$store/.tmp.XXXXXX")"
    copy_tree "$out/bin" "$staged/bin"
    copy_tree "$out/files" "$staged/files"
    touch "$staged/.complete"
    rm -rf "$entry"
    mv "$staged" "$entry"
    # Keep the three newest entries of this partner.
    local old
    # shellcheck disable=SC2012
    for old in $(ls -1dt "$store/$name"-* 2>/dev/null | tail -n +4); do rm -rf "$old"; done
  fi
}

for name in "${names[@]}"; do build_one "$name"; done
