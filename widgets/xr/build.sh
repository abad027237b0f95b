#!/usr/bin/env bash
# Rebuild widgets/xr_viewer.js (three.js + our front end, one minified offline ES module) and the browser
# tests' WebXR emulator (IWER, tests/meshes/fixtures/). Needs node >= 18 and the npm registry once; the
# built files are committed, so users and CI never run this.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
npm run build
npm run test-fixture
ls -l ../xr_viewer.js ../../tests/meshes/fixtures/iwer-2.5.0.min.js
