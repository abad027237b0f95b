"""Worker for the resume-after-kill test: trains a seeded model and saves its weights.

usage: python _resume_worker.py CKPT_DIR OUT.pt HOLD_AT RESUME(0|1)

With HOLD_AT > 0 the worker writes CKPT_DIR.held after HOLD_AT steps and blocks there until killed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _helpers import HoldNet, blobs2d  # noqa: E402

from medimg_kernel.models import build_model  # noqa: E402
from medimg_kernel.train import Trainer  # noqa: E402

ckpt, out, hold_at, resume = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
torch.manual_seed(0)
model = HoldNet(build_model("simplecnn", 2, 1, 3, channels=(4, 8)), hold_at, ckpt + ".held")
x, y = blobs2d(96, 16)
trainer = Trainer(model, max_epochs=3, batch_size=16, precision="fp32", device="cpu", augment=True, seed=3,
                  scheduler="cosine", checkpoint_dir=ckpt, checkpoint_every=1, progress=False)
trainer.fit((x, y), resume=resume)
torch.save(model.inner.state_dict(), out)
print("steps", trainer.global_step)
