"""medimg_kernel: the helper package of the medimg course kit.

Lessons write ``import medimg_kernel as mk``. Every public name lives in the module of its concern and
is re-exported here lazily, so ``import medimg_kernel`` stays fast and imports torch, MONAI or the
widget libraries only when a name that needs them is first used.

In IPython, ``%load_ext medimg_kernel`` adds the ``%medimg`` magic (``env``, ``tier``, ``banner``).
"""

from __future__ import annotations

from typing import Any

from ._lazy import lazy_exports

__version__ = "0.1.0"

# public name -> "module:attribute" (module relative to this package)
_EXPORTS: dict[str, str] = {
    # foundation
    "device_policy": "device:device_policy",
    "DevicePolicy": "device:DevicePolicy",
    "get_tier": "tiers:get_tier",
    "tier_params": "tiers:tier_params",
    "TIERS": "tiers:TIERS",
    "environment_report": "runtime.envinfo:environment_report",
    "banner": "runtime.envinfo:banner",
    "record_metrics": "runtime.lesson_metrics:record_metrics",
    "run_course": "runtime.runner:run_course",
    # data layer
    "fetch": "data:fetch",
    "load": "data:load",
    "datasets": "data:datasets",
    "dataset_info": "data:dataset_info",
    "read_image": "data.io:read_image",  # the one reading boundary (issue 14/21)
    "synthetic": "data.synthetic:",
    # models and training
    "build_model": "models:build_model",
    "Trainer": "train:Trainer",
    "seed_everything": "train:seed_everything",
    "infer": "train.placement:infer",
    "dice_per_class": "train.dice:dice_per_class",
    "available_models": "models:available_models",
    # viewing
    "view": "viz:view",
    "compare": "viz:compare",
    "snapshot": "viz:snapshot",
    "view_mesh": "viz:view_mesh",  # meshes/XR (issue 18)
    "view_xr": "viz:view_xr",
    "meshes": "meshes:",
    # grading
    "check": "grading:check",
    "CheckFailed": "grading:CheckFailed",
    "student_id": "grading.variants:student_id",
    "variant_seed": "grading.variants:variant_seed",
    "variant_rng": "grading.variants:variant_rng",
    # explainability, fusion
    "explain": "explain:",  # a callable module: mk.explain(model, image, ...) and mk.explain.checks
    "fusion": "fusion:",
    # lessons 04-05: detection (peaks, FROC) and domain shift/adaptation helpers
    "detection": "lessons.detection:",
    "domain": "lessons.domain:",
    # lesson 11: edge deployment (ONNX export, int8, latency, streaming, DICOM node)
    "deploy": "deploy:",
    # large-scale and cloud analytics on Dask (issue 17)
    "cohort": "cohort:",
    # errors
    "MedimgKernelError": "errors:MedimgKernelError",
}

__all__ = sorted([*_EXPORTS, "__version__", "load_ipython_extension"])


# mk.<name> resolves _EXPORTS, then any submodule (mk.models, mk.train, mk.viz, ...), on first use
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, any_submodule=True, listed=__all__)


def load_ipython_extension(ipython: Any) -> None:
    """Register the ``%medimg`` magic and the course defaults (``%load_ext medimg_kernel``)."""
    from .runtime.ipython_ext import load_ipython_extension as _load

    _load(ipython)
