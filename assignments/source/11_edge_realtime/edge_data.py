"""A tiny trained segmentation net and its ONNX export for assignment 11 (edge deployment).

Shipped with assignment 11; the grader restores this file (and ``tiny_seg.pt`` / ``tiny_seg.onnx``), so
editing them does not change your grade. Instructors rebuild the two model files with
``python edge_data.py`` (trains for a few seconds on synthetic lesion images, exports with torch's
dynamo exporter).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

HERE = Path(__file__).resolve().parent
WEIGHTS = HERE / "tiny_seg.pt"
ONNX_PATH = HERE / "tiny_seg.onnx"
SIZE = 32


class TinySegNet(nn.Module):
    """Two 3x3 convolutions and a 1x1 head: background / lesion logits per pixel."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU())
        self.head = nn.Conv2d(8, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def make_images(n: int, seed: int = 0) -> dict:
    """``images`` (n, 1, 32, 32) float32 in [0, 1], ``masks`` (n, 1, 32, 32) int64, ``labels`` (n,) 0/1."""
    from medimg_kernel.data.synthetic import generate

    d = generate("lesions2d", n, seed=seed, size=SIZE, prevalence=0.6, contrast=0.6)
    return {"images": d["images"], "masks": d["masks"].astype(np.int64), "labels": d["labels"]}


def load_model() -> TinySegNet:
    """The trained tiny net in eval mode (the model that ``tiny_seg.onnx`` was exported from)."""
    model = TinySegNet()
    model.load_state_dict(torch.load(WEIGHTS, map_location="cpu", weights_only=True))
    return model.eval()


def build_files(steps: int = 300, seed: int = 0) -> None:
    """Train the tiny net on synthetic lesions and write ``tiny_seg.pt`` and ``tiny_seg.onnx``."""
    torch.manual_seed(seed)
    d = make_images(256, seed=100)
    x, y = torch.from_numpy(d["images"]), torch.from_numpy(d["masks"][:, 0])
    model = TinySegNet()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    w = torch.tensor([1.0, 4.0])
    for _step in range(steps):
        idx = torch.randint(0, len(x), (32,))
        loss = nn.functional.cross_entropy(model(x[idx]), y[idx], weight=w)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    torch.save(model.state_dict(), WEIGHTS)
    from medimg_kernel.deploy import export_onnx

    print(export_onnx(model, d["images"][:1], ONNX_PATH, parity_inputs=d["images"][:16]))


if __name__ == "__main__":
    build_files()
