#!/usr/bin/env bash
# Rebuild widgets/xr_viewer.js (three.js + our front end, one minified offline ES module).
# Needs node >= 18 and the npm registry once; the built file is committed, so users never run this.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
npm run build
ls -l ../xr_viewer.js
