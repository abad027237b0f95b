"""Compute tiers: one profile of notebook parameters per class of hardware.

``smoke`` runs the whole course on a 2-core CPU in minutes with synthetic or shipped data;
``standard`` fits a laptop GPU or a Colab T4 with real, subsampled data; ``full`` is a data-centre GPU
at published-result scale. Notebooks read their parameters with :func:`tier_params`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigError

__all__ = ["TIERS", "Tier", "get_tier", "tier_params", "auto_tier", "register_lesson_params", "known_keys",
           "OVERRIDES_ENV"]

#: environment variable holding a JSON object of parameter overrides (``medimg course run --set KEY=VALUE``)
OVERRIDES_ENV = "MEDIMG_SET"


@dataclass(frozen=True)
class Tier:
    """A named compute tier and the defaults every lesson may read."""

    name: str
    description: str
    defaults: dict[str, Any] = field(default_factory=dict)


TIERS: dict[str, Tier] = {
    "smoke": Tier(
        "smoke",
        "2-core CPU, minutes for the whole course; synthetic or shipped data",
        {"max_epochs": 2, "max_steps": 60, "batch_size": 32, "image_size": 32, "volume_size": 32,
         "n_samples": 256, "data": "synthetic", "num_workers": 0, "time_budget_s": 90},
    ),
    "standard": Tier(
        "standard",
        "laptop GPU or Colab T4; real but subsampled data",
        {"max_epochs": 10, "max_steps": None, "batch_size": 128, "image_size": 64, "volume_size": 96,
         "n_samples": 5000, "data": "real-subset", "num_workers": 4, "time_budget_s": 1800},
    ),
    "full": Tier(
        "full",
        "data-centre GPU; full data at published-result scale",
        {"max_epochs": 100, "max_steps": None, "batch_size": 512, "image_size": 64, "volume_size": 96,
         "n_samples": None, "data": "real", "num_workers": 8, "time_budget_s": None},
    ),
}

# Per-lesson overrides: lesson key -> tier name -> params. Lessons register theirs at import time
# (see ``register_lesson_params``) or put them in their notebook's parameters cell.
_LESSON_PARAMS: dict[str, dict[str, dict[str, Any]]] = {}


def auto_tier() -> str:
    """Pick a tier from the hardware: ``standard`` on any GPU (CUDA or MPS), else ``smoke``.

    ``auto`` never picks ``full``: that tier downloads the whole datasets (several GB for some lessons),
    so it runs only when asked for by name (``--tier full`` or ``MEDIMG_TIER=full``).
    """
    try:
        import torch

        if torch.cuda.is_available():
            return "standard"
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return "standard"
    except Exception:  # pragma: no cover - torch missing or broken
        pass
    return "smoke"


def get_tier(name: str | None = None) -> Tier:
    """Return the tier named ``name``, else ``$MEDIMG_TIER``, else the hardware's automatic choice."""
    name = name or os.environ.get("MEDIMG_TIER") or auto_tier()
    key = name.strip().lower()
    if key == "auto":
        key = auto_tier()
    if key not in TIERS:
        raise ConfigError(f"unknown tier {name!r}: choose one of {', '.join(TIERS)} (or 'auto')")
    return TIERS[key]


def register_lesson_params(lesson: str, params: dict[str, dict[str, Any]]) -> None:
    """Register per-tier parameter overrides for one lesson (``{"smoke": {...}, "full": {...}}``)."""
    for tier in params:
        if tier not in TIERS:
            raise ConfigError(f"unknown tier {tier!r} for lesson {lesson!r}: choose from {', '.join(TIERS)}")
    _LESSON_PARAMS[lesson] = params


def known_keys(tier: str, lesson_params: dict[str, dict[str, Any]] | None = None) -> list[str]:
    """Return the parameter names a lesson knows in ``tier``: the tier's defaults plus the lesson's own."""
    t = get_tier(tier)
    return sorted({"tier", *t.defaults, *((lesson_params or {}).get(t.name, {}))})


def env_overrides() -> dict[str, Any]:
    """Return the overrides in ``$MEDIMG_SET`` (a JSON object), or ``{}`` when it is unset."""
    raw = os.environ.get(OVERRIDES_ENV, "").strip()
    if not raw:
        return {}
    try:
        val = json.loads(raw)
    except json.JSONDecodeError as err:
        raise ConfigError(f"${OVERRIDES_ENV} is not a JSON object ({err.msg}): unset it or fix it") from None
    if not isinstance(val, dict):
        raise ConfigError(f"${OVERRIDES_ENV} must be a JSON object of parameter overrides: unset it or fix it")
    return val


def tier_params(lesson: str | None = None, tier: str | None = None, **overrides: Any) -> dict[str, Any]:
    """Return the parameter dict for ``lesson`` in ``tier``: tier defaults, lesson overrides, then ``overrides``.

    For a lesson, the overrides in ``$MEDIMG_SET`` (set by ``medimg course run --set KEY=VALUE``) come last;
    a key the lesson does not know raises :class:`~medimg_kernel.errors.ConfigError` listing the keys it knows.
    """
    t = get_tier(tier)
    params: dict[str, Any] = {"tier": t.name, **t.defaults}
    if lesson is not None:
        own = _LESSON_PARAMS.get(lesson, {})
        params.update(own.get(t.name, {}))
        params.update(overrides)
        env = env_overrides()
        unknown = sorted(set(env) - set(known_keys(t.name, own)) - set(overrides))
        if unknown:
            raise ConfigError(
                f"--set key(s) {', '.join(unknown)} unknown to lesson {lesson!r} in tier {t.name!r}; "
                f"it knows: {', '.join(known_keys(t.name, own))}"
            )
        params.update(env)
        return params
    params.update(overrides)
    return params
