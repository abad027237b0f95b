"""Two small trained lesion classifiers (2D and 3D) for assignment 09, exercises 5 and 6.

Shipped with assignment 09; the grader restores this file (and ``lesion_cnn2d.pt`` / ``lesion_cnn3d.pt``), so
editing them does not change your grade. Instructors rebuild the weights with ``python lesion_models.py``
(trains both nets for a few seconds on synthetic lesion images).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

HERE = Path(__file__).resolve().parent
WEIGHTS = {2: HERE / "lesion_cnn2d.pt", 3: HERE / "lesion_cnn3d.pt"}
SIZE = {2: 24, 3: 16}


class LesionCNN(nn.Module):
    """Two convolutions, global max pooling and a linear head: logits (no lesion, lesion)."""

    def __init__(self, spatial_dims: int = 2) -> None:
        super().__init__()
        conv = nn.Conv2d if spatial_dims == 2 else nn.Conv3d
        pool = nn.AdaptiveMaxPool2d if spatial_dims == 2 else nn.AdaptiveMaxPool3d
        self.features = nn.Sequential(conv(1, 8, 3, padding=1), nn.ReLU(), conv(8, 8, 3, padding=1), nn.ReLU())
        self.head = nn.Sequential(pool(1), nn.Flatten(), nn.Linear(8, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def lesion_data(spatial_dims: int, n: int, seed: int = 0, prevalence: float = 0.5) -> dict:
    """Synthetic lesion images of the size the net was trained on (``images``, ``masks``, ``labels``)."""
    from medimg_kernel.data.synthetic import generate

    kind = "lesions2d" if spatial_dims == 2 else "lesions3d"
    return generate(kind, n, seed=seed, size=SIZE[spatial_dims], prevalence=prevalence,
                    contrast=0.4 if spatial_dims == 2 else 0.5, radius=(0.1, 0.15) if spatial_dims == 2 else (0.15, 0.22))


def load_model(spatial_dims: int = 2) -> LesionCNN:
    """The trained net for 2D or 3D images, in eval mode."""
    model = LesionCNN(spatial_dims)
    model.load_state_dict(torch.load(WEIGHTS[spatial_dims], map_location="cpu", weights_only=True))
    return model.eval()


def build_files(seed: int = 0, dims: tuple[int, ...] = (2, 3)) -> None:
    """Train both nets on synthetic lesions and write their weights next to this file."""
    for d_ in dims:
        torch.manual_seed(seed)
        d = lesion_data(d_, 400, seed=100 + d_)
        x, y = torch.from_numpy(d["images"]), torch.from_numpy(d["labels"]).long()
        model = LesionCNN(d_)
        opt = torch.optim.Adam(model.parameters(), lr=1e-2 if d_ == 2 else 3e-3)
        for _step in range(400 if d_ == 2 else 250):
            idx = torch.randint(0, len(x), (32,))
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        test = lesion_data(d_, 200, seed=900 + d_)
        with torch.no_grad():
            acc = (model(torch.from_numpy(test["images"])).argmax(1).numpy() == test["labels"]).mean()
        print(f"{d_}D: held-out accuracy {acc:.3f}")
        torch.save(model.state_dict(), WEIGHTS[d_])


if __name__ == "__main__":
    build_files()
