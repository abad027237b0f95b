"""Published weights from the registry: ``build_model(..., pretrained=NAME or True)``.

A weights entry (``loader: weights`` in ``_datasets/weights.yaml``) names a release file with its hash, the
architecture the weights belong to (``options.model`` + ``model_kwargs``) and the checkpoint inside it. The file
is fetched and verified like a dataset (mirrors, resume, course packs, format twins), then loaded with
:func:`~medimg_kernel.models.transfer.load_weights`: tensors whose shape differs (a head with another number of
classes) are skipped and reported, so the same weights start a fine-tune for a new task.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ..errors import CheckpointError, ConfigError

__all__ = ["weights_entries", "resolve_pretrained", "checkpoint_path"]

log = logging.getLogger(__name__)


def weights_entries() -> dict[str, Any]:
    """Return ``{name: DatasetEntry}`` of every registered weights entry."""
    from ..data.registry import registry

    return {n: e for n, e in registry().items() if e.loader == "weights"}


def resolve_pretrained(pretrained: str | bool, model: str, spatial_dims: int) -> Any:
    """The weights entry for ``pretrained`` (a name, or True: the one entry for this model and dimension)."""
    from ..data.registry import dataset_info

    entries = weights_entries()
    if pretrained is True:
        hits = [e for e in entries.values()
                if e.options.get("model") == model and int(e.options.get("spatial_dims", 0)) == spatial_dims]
        if len(hits) != 1:
            known = ", ".join(f"{n} ({e.options.get('model')}, {e.options.get('spatial_dims')}D)"
                              for n, e in sorted(entries.items())) or "none"
            raise ConfigError(
                f"pretrained=True: {'no' if not hits else 'more than one'} registered weights for {model!r} in "
                f"{spatial_dims}D; pass pretrained=NAME, one of: {known}"
            )
        return hits[0]
    entry = dataset_info(str(pretrained))
    if entry.loader != "weights":
        raise ConfigError(f"pretrained={pretrained!r} is a dataset, not weights; registered weights: "
                          f"{', '.join(sorted(entries)) or 'none'}")
    if entry.options.get("model") != model or int(entry.options.get("spatial_dims", 0)) != spatial_dims:
        raise ConfigError(
            f"weights {entry.name!r} belong to {entry.options.get('model')!r} in "
            f"{entry.options.get('spatial_dims')}D, not {model!r} in {spatial_dims}D"
        )
    return entry


def checkpoint_path(entry: Any) -> Path:
    """Fetch (verified, extracted) the release of weights ``entry`` and return its checkpoint file."""
    from ..data.fetcher import fetch

    folder = fetch(entry)
    rel = entry.options.get("checkpoint")
    path = folder / rel if rel else next(iter(sorted(folder.rglob("*.pt"))), None)
    if path is None or not Path(path).is_file():
        raise CheckpointError(f"{entry.name}: no checkpoint {rel!r} in {folder}; fetch it again "
                              f"(`medimg data fetch {entry.name}`) or fix the registry entry")
    return Path(path)


def architecture_kwargs(entry: Any, user_kwargs: dict[str, Any]) -> dict[str, Any]:
    """The entry's architecture keywords, refusing user keywords that contradict them."""
    arch = dict(entry.options.get("model_kwargs") or {})
    clash = {k: (v, arch[k]) for k, v in user_kwargs.items()
             if k in arch and _norm(v) != _norm(arch[k])}
    if clash:
        details = "; ".join(f"{k}={v!r} but the weights need {w!r}" for k, (v, w) in clash.items())
        raise ConfigError(f"weights {entry.name!r} were trained with another architecture: {details}; "
                          "drop those arguments")
    return {**arch, **user_kwargs}


def _norm(v: Any) -> Any:
    return tuple(v) if isinstance(v, (list, tuple)) else v
