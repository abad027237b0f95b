#!/usr/bin/env bash
# Build the JupyterLab/Notebook front end into medimg_kernel/labextension (committed, so installs need no node).
# Needs node >= 18 and npm (npm registry only: @jupyter/builder, not @jupyterlab/builder, which needs GitHub).
#   widgets/labextension/build.sh            install node_modules if missing (npm ci), compile, bundle
#   PYTHON=/path/to/python build.sh          the Python environment whose jupyter-builder to use
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
PYTHON="${PYTHON:-$repo/.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON="$(command -v python3)"
export PATH="$(dirname "$PYTHON"):$PATH"
command -v jupyter-builder >/dev/null || { echo "error: jupyter-builder not found next to $PYTHON (pip install jupyter_builder)" >&2; exit 1; }
cd "$here"
[ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error
rm -rf lib tsconfig.tsbuildinfo "$repo/medimg_kernel/labextension"
npx tsc
jupyter-builder build . >/dev/null
"$here/fingerprint.sh" >"$repo/medimg_kernel/labextension/source.sha256"
du -sb "$repo/medimg_kernel/labextension/static" | awk '{printf "built medimg_kernel/labextension (%d bytes of static assets)\n", $1}'
