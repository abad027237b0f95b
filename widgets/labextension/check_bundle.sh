#!/usr/bin/env bash
# CI check: rebuild the front end from source (npm ci when node_modules is absent, tsc, jupyter-builder) and
# fail when the committed bundle in medimg_kernel/labextension differs (stale) or is over the 500 kB budget.
# The rebuild happens in place, so after a failure the working tree holds the fresh build: commit it.
# remoteEntry.*.js (the federation entry) embeds module ids derived from the checkout's absolute path, so
# it and the package.json line naming it are left out of the comparison; every code chunk (content-hashed
# names), the style and the licences must match byte for byte.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
limit=${MEDIMG_BUNDLE_LIMIT:-500000}
shipped="$repo/medimg_kernel/labextension"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
[ -d "$shipped" ] || { echo "error: $shipped is missing; run widgets/labextension/build.sh and commit it" >&2; exit 1; }
cp -r "$shipped" "$scratch/shipped"
"$here/build.sh" >/dev/null
if ! diff -r -x "remoteEntry.*.js" -I "\"load\": \"static/remoteEntry" "$scratch/shipped" "$shipped" >"$scratch/diff.txt"; then
  echo "error: the shipped front end in medimg_kernel/labextension was stale (rebuilt now from widgets/labextension; commit it)" >&2
  head -20 "$scratch/diff.txt" >&2
  exit 1
fi
size=$(du -sb "$shipped/static" | cut -f1)
if [ "$size" -gt "$limit" ]; then
  echo "error: the front end bundle is $size bytes, over the budget of $limit" >&2
  exit 1
fi
echo "bundle up to date: $size bytes of static assets (budget $limit)"
