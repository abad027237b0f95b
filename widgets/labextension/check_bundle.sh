#!/usr/bin/env bash
# CI check that the committed front end in medimg_kernel/labextension is built from today's sources.
#   check_bundle.sh                 fingerprint check, then rebuild (npm ci when node_modules is absent, tsc,
#                                   jupyter-builder) and compare byte for byte, then the 500 kB budget
#   check_bundle.sh --sources-only  fingerprint check and budget only (no node needed)
# Stale means: the sha256 over the build's inputs (fingerprint.sh) differs from the one stored with the bundle
# (source.sha256). That is an error; the rebuild is then left in the working tree: commit it.
# A rebuild from unchanged sources that still differs in bytes means this machine's toolchain builds
# differently (a note, printed with the first differences). With unchanged sources the shipped bundle is
# always put back untouched, so the check leaves a clean working tree.
# remoteEntry.*.js embeds module ids derived from the checkout's absolute path and is never compared.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
limit=${MEDIMG_BUNDLE_LIMIT:-500000}
shipped="$repo/medimg_kernel/labextension"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
[ -d "$shipped" ] || { echo "error: $shipped is missing; run widgets/labextension/build.sh and commit it" >&2; exit 1; }
[ -f "$shipped/source.sha256" ] || { echo "error: $shipped/source.sha256 is missing; run widgets/labextension/build.sh and commit the result" >&2; exit 1; }
want="$(cat "$shipped/source.sha256")"
have="$("$here/fingerprint.sh")"
stale=0
[ "$want" = "$have" ] || stale=1
if [ "${1:-}" != "--sources-only" ]; then
  cp -r "$shipped" "$scratch/shipped"
  "$here/build.sh" >/dev/null
  if ! diff -r -x "remoteEntry.*.js" -I "\"load\": \"static/remoteEntry" "$scratch/shipped" "$shipped" >"$scratch/diff.txt"; then
    if [ "$stale" = 0 ]; then
      echo "note: a rebuild from the same sources differs in bytes on this machine (node $(node --version), $(uname -m)); the shipped bundle is kept:"
      head -8 "$scratch/diff.txt" | cut -c1-200
    fi
  fi
  # Sources unchanged: put the shipped bundle back byte for byte (remoteEntry's name depends on the checkout
  # path, so even an identical build renames it). Stale: leave the fresh build in place to be committed.
  if [ "$stale" = 0 ]; then
    rm -rf "$shipped" && cp -r "$scratch/shipped" "$shipped"
  fi
fi
if [ "$stale" = 1 ]; then
  echo "error: the shipped front end in medimg_kernel/labextension is stale: its sources changed since it was built (run widgets/labextension/build.sh and commit medimg_kernel/labextension)" >&2
  exit 1
fi
size=$(du -sb "$shipped/static" | cut -f1)
if [ "$size" -gt "$limit" ]; then
  echo "error: the front end bundle is $size bytes, over the budget of $limit" >&2
  exit 1
fi
echo "bundle up to date: sources sha256 ${have:0:12}, $size bytes of static assets (budget $limit)"
