"""Synthetic data with ground truth, deterministic given a seed and fast on 2 cores.

Each generator family lives in its own module and registers its generators with
:func:`register_generator`, so the data layer (``mk.load("synthetic-...")``) and the lessons find them
by name. A generator is a function ``gen(n: int, *, seed: int = 0, **options) -> dict`` returning numpy
arrays (and, for tabular families, pandas DataFrames) under documented keys.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from ...errors import ConfigError

__all__ = ["register_generator", "generator", "generators", "generate"]

_GENERATORS: dict[str, Callable[..., dict[str, Any]]] = {}

# modules holding generator families; each registers its generators at import
_FAMILIES = ("images2d", "volumes3d", "multimodal", "spurious")


def register_generator(name: str) -> Callable[[Callable[..., dict[str, Any]]], Callable[..., dict[str, Any]]]:
    """Decorator registering a synthetic generator under ``name`` (e.g. ``"lesions2d"``)."""

    def deco(fn: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
        if name in _GENERATORS and _GENERATORS[name] is not fn:
            raise ConfigError(f"synthetic generator {name!r} is registered twice: give the new generator another name")
        _GENERATORS[name] = fn
        return fn

    return deco


def _load_families() -> None:
    for fam in _FAMILIES:
        try:
            importlib.import_module(f".{fam}", __name__)
        except ModuleNotFoundError as err:
            if err.name != f"{__name__}.{fam}":
                raise


def generators() -> list[str]:
    """Return the names of all registered synthetic generators."""
    _load_families()
    return sorted(_GENERATORS)


def generator(name: str) -> Callable[..., dict[str, Any]]:
    """Return the generator registered as ``name``; the error lists the valid names."""
    _load_families()
    try:
        return _GENERATORS[name]
    except KeyError:
        from ...errors import UnknownDatasetError

        raise UnknownDatasetError(
            f"no synthetic generator {name!r}; available: {', '.join(sorted(_GENERATORS)) or '(none)'}"
        ) from None


def generate(name: str, n: int, *, seed: int = 0, **options: Any) -> dict[str, Any]:
    """Run the generator ``name`` for ``n`` samples with ``seed`` and return its dict of arrays."""
    return generator(name)(n, seed=seed, **options)


def __getattr__(attr: str) -> Any:
    # expose generators as attributes: mk.synthetic.lesions2d(...)
    _load_families()
    if attr in _GENERATORS:
        return _GENERATORS[attr]
    raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")
