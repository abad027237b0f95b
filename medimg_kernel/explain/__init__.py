"""Explainability, quality checks, bias and calibration for medimg models.

``mk.explain(model, image, method=..., target=...)`` returns a saliency map aligned with the image. Submodules:
:mod:`.checks` (randomisation sanity check, deletion/insertion, pointing game, IoU/hit rate), :mod:`.tabular`
(permutation importance, Shapley values), :mod:`.bias` (subgroup metrics), :mod:`.calibration` (ECE/MCE,
reliability diagrams, temperature scaling), :mod:`.model_card` and :mod:`.plots`.

``medimg_kernel.explain`` is itself callable (``mk.explain(...)`` works whether Python resolved it to this
module or to the function).
"""

from __future__ import annotations

import sys
import types
from typing import Any

from .._lazy import lazy_exports
from ._model import RegionScore, conv_layers
from .api import estimate_chunk_size, explain, last_run
from .methods import METHODS, get_method, register_method

__all__ = [
    "explain",
    "methods",
    "conv_layers",
    "RegionScore",
    "estimate_chunk_size",
    "last_run",
    "register_method",
    "get_method",
    "checks",
    "tabular",
    "bias",
    "calibration",
    "model_card",
    "plots",
]

_SUBMODULES = ("checks", "tabular", "bias", "calibration", "model_card", "plots")


def methods() -> dict[str, str]:
    """Return the available methods and a one-line description of each."""
    return {name: m.description for name, m in sorted(METHODS.items())}


__getattr__, _ = lazy_exports(__name__, {}, submodules=_SUBMODULES)


class _CallableModule(types.ModuleType):
    """Lets ``mk.explain(...)`` call :func:`explain` even after the import system bound the module there."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return explain(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
