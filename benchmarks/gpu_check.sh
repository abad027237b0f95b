#!/usr/bin/env bash
# One-shot GPU check for the Trainer (issue 4), ~3-5 min on an H100: `medimg bench train --json` for the
# 2D (DenseNet121 64x64, batch 512) and 3D (UNet 96^3, batch 4) cases, then `pytest -m gpu` for
# tests/train and tests/models. Outputs go to $OUT (default ./gpu_out).
# Needs torch with CUDA, monai, nibabel, einops; wheels in ./.whl are installed to /tmp/site if present.
set -u
cd "$(dirname "$0")/.."
OUT="${OUT:-$PWD/gpu_out}"
mkdir -p "$OUT"
PY="${PYTHON:-python3}"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if compgen -G ".whl/*.whl" > /dev/null; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH="$PYTHONPATH:/tmp/site"
fi
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1
  "$PY" -c "import torch, monai; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'monai', monai.__version__)"
  "$PY" -m medimg_kernel env 2>/dev/null | head -20
} > "$OUT/env.txt" 2>&1
cat "$OUT/env.txt"
status=0
echo "== bench 2D"
timeout 240 "$PY" -m medimg_kernel bench train --json --dims 2 > "$OUT/bench_2d.json" 2> "$OUT/bench_2d.err" || status=1
cat "$OUT/bench_2d.json"; tail -5 "$OUT/bench_2d.err"
echo "== bench 3D"
timeout 150 "$PY" -m medimg_kernel bench train --json --dims 3 > "$OUT/bench_3d.json" 2> "$OUT/bench_3d.err" || status=1
cat "$OUT/bench_3d.json"; tail -5 "$OUT/bench_3d.err"
echo "== pytest -m gpu"
timeout 150 "$PY" -m pytest tests/train tests/models -m gpu -q -p no:cacheprovider > "$OUT/pytest_gpu.txt" 2>&1 || status=1
tail -25 "$OUT/pytest_gpu.txt"
exit $status
