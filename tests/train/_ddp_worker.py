"""Worker for the DDP test (run by torchrun with 2 gloo processes, or alone for the reference).

usage: [torchrun --nproc_per_node=2] python _ddp_worker.py OUT.pt CKPT_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _helpers import blobs2d  # noqa: E402

from medimg_kernel.models import build_model  # noqa: E402
from medimg_kernel.train import Trainer  # noqa: E402
from medimg_kernel.train.distributed import cleanup, dist_info  # noqa: E402

torch.manual_seed(0)
model = build_model("simplecnn", 2, 1, 3, channels=(4, 8), norm=None)
x, y = blobs2d(64, 16)
trainer = Trainer(model, max_epochs=2, batch_size=16, precision="fp32", device="cpu", seed=1,
                  checkpoint_dir=sys.argv[2], progress=False)
hist = trainer.fit((x, y), (x, y))
info = dist_info()
if info.is_main:
    torch.save(model.state_dict(), sys.argv[1])
    Path(sys.argv[1] + ".json").write_text(json.dumps({"world": info.world_size, "steps": trainer.global_step,
                                                       "loss": hist["train_loss"].tolist()}))
cleanup()
