"""Attribution methods: thin adapters over captum (gradients, SmoothGrad, Integrated Gradients) and MONAI's
``visualize`` (Grad-CAM, Grad-CAM++, occlusion sensitivity).

Each adapter takes a score model and a chunk of images ``(B, C, *spatial)`` and returns a raw attribution
tensor ``(B, C', *spatial)``; :func:`medimg_kernel.explain.explain` aggregates channels, normalises and
chunks. Register a new method with :func:`register_method`.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..errors import ConfigError
from ._model import RegionScore

__all__ = ["METHODS", "ALIASES", "Method", "register_method", "get_method"]


@dataclass(frozen=True)
class Method:
    """An attribution method: its function, whether it needs gradients, and how it aggregates channels.

    ``expansion(options)`` is how many forward/backward passes one sample costs (for chunking).
    ``captum`` methods take the raw model plus per-sample targets (captum expands batches itself);
    the others take a :class:`RegionScore` wrapper.
    """

    name: str
    fn: Callable[..., torch.Tensor]
    needs_grad: bool
    captum: bool
    channel_reduce: str  # "absmax" | "sum" | "none"
    expansion: Callable[[dict[str, Any]], int]
    description: str


METHODS: dict[str, Method] = {}
ALIASES = {
    "saliency": "gradient",
    "vanilla": "gradient",
    "vanilla_gradient": "gradient",
    "grad": "gradient",
    "ig": "integrated_gradients",
    "integratedgradients": "integrated_gradients",
    "grad-cam": "gradcam",
    "grad_cam": "gradcam",
    "gradcam++": "gradcampp",
    "grad-cam++": "gradcampp",
    "gradcam_pp": "gradcampp",
    "occlusion_sensitivity": "occlusion",
    "smooth_grad": "smoothgrad",
}


def register_method(
    name: str,
    *,
    needs_grad: bool,
    captum: bool,
    channel_reduce: str,
    expansion: Callable[[dict[str, Any]], int] = lambda o: 1,
    description: str = "",
) -> Callable[[Callable[..., torch.Tensor]], Callable[..., torch.Tensor]]:
    """Decorator registering an attribution adapter under ``name``."""

    def deco(fn: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
        METHODS[name] = Method(name, fn, needs_grad, captum, channel_reduce, expansion, description)
        return fn

    return deco


def get_method(name: str) -> Method:
    """Return the method registered as ``name`` (aliases accepted); the error lists the valid names."""
    key = ALIASES.get(name.lower().replace(" ", "_"), name.lower().replace(" ", "_"))
    if key not in METHODS:
        raise ConfigError(
            f"unknown explanation method {name!r}; choose one of {', '.join(sorted(METHODS))} "
            f"(aliases: {', '.join(sorted(ALIASES))})"
        )
    return METHODS[key]


def _forward(model: nn.Module, region: torch.Tensor | None) -> tuple[nn.Module, tuple | None]:
    """Return (forward module, additional_forward_args) for captum, reducing segmentation logits over region."""
    if region is None:
        return model, None
    return _RegionLogits(model), (region,)


class _RegionLogits(nn.Module):
    """``(B, C, *spatial)`` segmentation logits -> ``(B, C)`` mean logits inside a per-sample region mask."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor, region: torch.Tensor) -> torch.Tensor:
        out = self.model(x)
        m = region.to(out.dtype).unsqueeze(1)  # (B, 1, *spatial)
        return (out * m).flatten(2).sum(-1) / m.flatten(2).sum(-1).clamp_min(1.0)


@register_method(
    "gradient",
    needs_grad=True,
    captum=True,
    channel_reduce="absmax",
    description="vanilla gradient of the target score w.r.t. the input (Simonyan 2014; captum Saliency)",
)
def _gradient(
    model: nn.Module, x: torch.Tensor, target: torch.Tensor, region: torch.Tensor | None, **_: Any
) -> torch.Tensor:
    from captum.attr import Saliency

    fwd, extra = _forward(model, region)
    x = x.detach().clone().requires_grad_(True)
    return Saliency(fwd).attribute(x, target=target, abs=False, additional_forward_args=extra)


@register_method(
    "smoothgrad",
    needs_grad=True,
    captum=True,
    channel_reduce="absmax",
    expansion=lambda o: int(o.get("n_samples", 25)),
    description="gradients averaged over noisy copies of the input (Smilkov 2017; captum NoiseTunnel)",
)
def _smoothgrad(
    model: nn.Module,
    x: torch.Tensor,
    target: torch.Tensor,
    region: torch.Tensor | None,
    *,
    n_samples: int = 25,
    noise: float = 0.15,
    inner_batch: int | None = None,
    **_: Any,
) -> torch.Tensor:
    from captum.attr import NoiseTunnel, Saliency

    fwd, extra = _forward(model, region)
    x = x.detach().clone().requires_grad_(True)
    stdev = float(noise) * float((x.detach().amax() - x.detach().amin()).clamp_min(1e-8))
    nt = NoiseTunnel(Saliency(fwd))
    return nt.attribute(
        x,
        nt_type="smoothgrad",
        nt_samples=int(n_samples),
        stdevs=stdev,
        target=target,
        abs=False,
        additional_forward_args=extra,
        nt_samples_batch_size=inner_batch,
    )


@register_method(
    "integrated_gradients",
    needs_grad=True,
    captum=True,
    channel_reduce="sum",
    expansion=lambda o: int(o.get("n_steps", 32)),
    description="path integral of gradients from a baseline (Sundararajan 2017; captum IntegratedGradients)",
)
def _integrated_gradients(
    model: nn.Module,
    x: torch.Tensor,
    target: torch.Tensor,
    region: torch.Tensor | None,
    *,
    n_steps: int = 32,
    baseline: float = 0.0,
    inner_batch: int | None = None,
    **_: Any,
) -> torch.Tensor:
    from captum.attr import IntegratedGradients

    fwd, extra = _forward(model, region)
    x = x.detach().clone().requires_grad_(True)
    internal = None if inner_batch is None else max(1, int(inner_batch)) * x.shape[0]
    return IntegratedGradients(fwd).attribute(
        x,
        baselines=float(baseline),
        target=target,
        n_steps=int(n_steps),
        additional_forward_args=extra,
        internal_batch_size=internal,
    )


@contextlib.contextmanager
def _scoped_hooks(model: nn.Module) -> Iterator[None]:
    """Remove, on exit, every hook added to ``model``'s modules inside the block (MONAI keeps no handles)."""
    before = {
        id(m): (set(m._forward_hooks), set(m._backward_hooks), m._is_full_backward_hook)
        for m in model.modules()
    }
    try:
        yield
    finally:
        for m in model.modules():
            fw, bw, full = before.get(id(m), (set(), set(), None))
            for k in list(m._forward_hooks):
                if k not in fw:
                    del m._forward_hooks[k]
            for k in list(m._backward_hooks):
                if k not in bw:
                    del m._backward_hooks[k]
            if not m._backward_hooks:
                m._is_full_backward_hook = full


def _cam(cls_name: str, score: RegionScore, x: torch.Tensor, layer: str) -> torch.Tensor:
    import monai.visualize as mv
    from monai.visualize.class_activation_maps import ModelWithHooks

    class _Hooks(ModelWithHooks):
        # MONAI squeezes the score to (B,); Grad-CAM++ then broadcasts exp(score) against (B, C, *spatial)
        # gradients, which fails for B > 1. Keep the score as (B, 1, 1, ...) so it broadcasts per sample.
        def class_score(self, logits: torch.Tensor, class_idx: int) -> torch.Tensor:
            return logits[:, class_idx].reshape(-1, *([1] * (x.ndim - 1)))

    with _scoped_hooks(score):
        hooked = _Hooks(score, f"model.{layer}", register_forward=True, register_backward=True)
        cam = getattr(mv, cls_name)(
            nn_module=hooked, target_layers=f"model.{layer}", postprocessing=lambda t: t
        )
        xg = x.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            out = cam(xg, class_idx=0)
    return out.detach()


@register_method(
    "gradcam",
    needs_grad=True,
    captum=False,
    channel_reduce="none",
    description="feature maps of a conv layer weighted by pooled gradients, upsampled (Selvaraju 2017; MONAI)",
)
def _gradcam(score: RegionScore, x: torch.Tensor, *, layer: str, **_: Any) -> torch.Tensor:
    return _cam("GradCAM", score, x, layer)


@register_method(
    "gradcampp",
    needs_grad=True,
    captum=False,
    channel_reduce="none",
    description="Grad-CAM with higher-order pixel weights (Chattopadhyay 2018; MONAI GradCAMpp)",
)
def _gradcampp(score: RegionScore, x: torch.Tensor, *, layer: str, **_: Any) -> torch.Tensor:
    return _cam("GradCAMpp", score, x, layer)


def _occlusion_cost(o: dict[str, Any]) -> int:
    return 1  # occlusion runs one image at a time and batches its own occluded copies (n_batch)


@register_method(
    "occlusion",
    needs_grad=False,
    captum=False,
    channel_reduce="none",
    expansion=_occlusion_cost,
    description="drop in the score when a sliding patch is occluded (Zeiler 2014; MONAI OcclusionSensitivity)",
)
def _occlusion(
    score: RegionScore,
    x: torch.Tensor,
    *,
    mask_size: int | tuple[int, ...] | None = None,
    n_batch: int = 16,
    overlap: float = 0.5,
    mode: str | float = "gaussian",
    b_box: list[int] | None = None,
    **_: Any,
) -> torch.Tensor:
    from monai.visualize import OcclusionSensitivity

    spatial = tuple(x.shape[2:])
    if mask_size is None:
        mask_size = tuple(max(3, s // 4) for s in spatial)
    occ = OcclusionSensitivity(
        nn_module=score,
        mask_size=mask_size,
        n_batch=int(n_batch),
        verbose=False,
        mode=mode,
        overlap=float(overlap),
        activate=False,
    )
    out = torch.zeros((x.shape[0], 1, *spatial), dtype=x.dtype, device=x.device)
    with torch.no_grad():
        base = score(x)[:, 0]  # (B,)
        for i in range(x.shape[0]):
            single = RegionScore(
                score.model,
                score.target[i] if score.target.numel() > 1 else score.target,
                None if score.mask is None else score.mask[i : i + 1],
                score.reduction,
            )
            occ.nn_module = single
            with warnings.catch_warnings():  # MONAI's indexing triggers torch deprecation warnings
                warnings.simplefilter("ignore", UserWarning)
                occ_map, _ = occ(x[i : i + 1], b_box=b_box)
            occ_map = torch.as_tensor(occ_map)[:, :1]
            drop = base[i] - occ_map[0, 0]
            if b_box is None:
                out[i, 0] = drop
            else:
                lo = [max(int(b), 0) for b in b_box[::2]]
                sl = tuple(slice(a, a + n) for a, n in zip(lo, drop.shape))
                out[(i, 0, *sl)] = drop
    return out
