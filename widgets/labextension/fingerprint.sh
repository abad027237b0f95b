#!/usr/bin/env bash
# Print one sha256 over every input of the front-end build (sources, styles, package.json, lockfile, tsconfig).
# build.sh stores it beside the bundle as medimg_kernel/labextension/source.sha256; check_bundle.sh compares.
set -euo pipefail
cd "$(dirname "$0")"
find src style package.json package-lock.json tsconfig.json -type f | LC_ALL=C sort | xargs sha256sum \
  | sha256sum | cut -d' ' -f1
