"""Worker for the resume-after-kill test: trains a seeded model, optionally slowly, and saves weights.

usage: python _resume_worker.py CKPT_DIR OUT.pt DELAY RESUME(0|1)
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _helpers import SlowNet, blobs2d  # noqa: E402

from medimg_kernel.models import build_model  # noqa: E402
from medimg_kernel.train import Trainer  # noqa: E402

ckpt, out, delay, resume = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4] == "1"
torch.manual_seed(0)
model = SlowNet(build_model("simplecnn", 2, 1, 3, channels=(4, 8)), delay)
x, y = blobs2d(96, 16)
trainer = Trainer(model, max_epochs=3, batch_size=16, precision="fp32", device="cpu", augment=True, seed=3,
                  scheduler="cosine", checkpoint_dir=ckpt, checkpoint_every=1, progress=False)
trainer.fit((x, y), resume=resume)
torch.save(model.inner.state_dict(), out)
print("steps", trainer.global_step)
