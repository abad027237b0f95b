"""The Trainer's data path: device-resident cached tensors when the data fit, streaming otherwise.

:func:`as_source` turns what a student passes (``(x, y)`` arrays, a Dataset of ``{"image", "label"}``
dicts such as ``mk.load(...)`` returns, or a DataLoader) into a *source* that yields ``(x, y)`` batches on
the training device. Datasets that fit the memory budget are decoded once (deterministic transforms
only) and kept on the device as tensors, so an epoch is a few tensor indexing operations; random
augmentation then runs on whole batches on the device (:mod:`.augment`). Larger datasets stream through
a DataLoader with pinned memory and non-blocking copies. Shuffling uses ``DistributedSampler`` (also in a
single process), so a batch order depends only on (seed, epoch) and DDP ranks see disjoint shards whose
union per step equals the single-process batch.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from ..data.items import IMAGE_KEYS, LABEL_KEYS, image_key, label_key
from ..errors import ConfigError
from .distributed import DistInfo

__all__ = ["TensorSource", "LoaderSource", "as_source", "to_device", "batch_len", "index_batch",
           "cache_budget_bytes"]

log = logging.getLogger(__name__)



def to_device(obj: Any, device: torch.device, non_blocking: bool = False) -> Any:
    """Move tensors (recursively inside dicts, lists, tuples) to ``device``; MONAI MetaTensors become plain tensors."""
    if isinstance(obj, torch.Tensor):
        if hasattr(obj, "as_tensor"):
            obj = obj.as_tensor()
        return obj.to(device, non_blocking=non_blocking)
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(obj)).to(device, non_blocking=non_blocking)
    if isinstance(obj, Mapping):
        return {k: to_device(v, device, non_blocking) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_device(v, device, non_blocking) for v in obj)
    return obj


def batch_len(x: Any) -> int:
    """Number of samples in a batch (first tensor's first dimension, looking inside dicts)."""
    if isinstance(x, torch.Tensor):
        return int(x.shape[0])
    if isinstance(x, Mapping):
        return batch_len(next(iter(x.values())))
    if isinstance(x, (list, tuple)):
        return batch_len(x[0])
    raise ConfigError(f"cannot find the batch size of an input of type {type(x).__name__}")


def index_batch(x: Any, idx: Any) -> Any:
    """Index the sample dimension of a tensor or of every tensor in a dict/list."""
    if x is None:
        return None
    if isinstance(x, torch.Tensor):
        return x[idx]
    if isinstance(x, Mapping):
        return {k: index_batch(v, idx) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(index_batch(v, idx) for v in x)
    return x


def _as_tensor(a: Any) -> Any:
    if a is None:
        return None
    if isinstance(a, Mapping):
        return {k: _as_tensor(v) for k, v in a.items()}
    if isinstance(a, torch.Tensor):
        t = a.as_tensor() if hasattr(a, "as_tensor") else a
    else:
        arr = np.asarray(a)
        if arr.dtype == object:
            raise ConfigError("data arrays must be numeric; got an object array (ragged images?): resize "
                              "them to one shape or pass a Dataset")
        t = torch.from_numpy(np.ascontiguousarray(arr))
    if t.dtype == torch.float64:
        t = t.float()
    return t


def cache_budget_bytes(device: torch.device) -> int:
    """Bytes the Trainer may use to keep a dataset resident: 40% of free GPU memory, 25% of host RAM."""
    env = os.environ.get("MEDIMG_CACHE_BYTES")
    if env:
        return int(float(env))
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free * 0.4)
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover
        total = 8 * 2**30
    return int(total * 0.25)


def _nbytes(obj: Any) -> int:
    if isinstance(obj, torch.Tensor):
        return obj.numel() * 4  # cached as float32 / int
    if isinstance(obj, np.ndarray):
        return obj.size * 4
    if isinstance(obj, Mapping):
        return sum(_nbytes(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(_nbytes(v) for v in obj)
    return 8


def split_item(item: Any) -> tuple[Any, Any]:
    """Split one dataset item or collated batch into ``(image, label)`` (label may be None)."""
    if isinstance(item, Mapping):
        lkey = label_key(item)
        return item[image_key(item)], (item[lkey] if lkey else None)
    if isinstance(item, (list, tuple)):
        if len(item) == 2:
            return item[0], item[1]
        if len(item) == 1:
            return item[0], None
        raise ConfigError(f"dataset items are sequences of length {len(item)}: expected (image, label)")
    return item, None


def _collate(items: list[Any]) -> tuple[Any, Any]:
    from torch.utils.data import default_collate

    pairs = [split_item(it) for it in items]
    xs = default_collate([_as_tensor(p[0]) for p in pairs])
    ys = None if pairs[0][1] is None else default_collate([_as_tensor(p[1]) for p in pairs])
    return xs, ys


class TensorSource:
    """A dataset held as tensors on the training device, served in shuffled batches without copies to host."""

    def __init__(self, x: Any, y: Any, *, device: torch.device, batch_size: int, shuffle: bool, seed: int = 0,
                 dist: DistInfo | None = None, shard: bool = True) -> None:
        self.x = to_device(_as_tensor(x), device)
        self.y = to_device(_as_tensor(y), device)
        self.device = device
        self.n = batch_len(self.x)
        if self.y is not None and batch_len(self.y) != self.n:
            from ..errors import ShapeMismatchError

            raise ShapeMismatchError(f"images and labels differ in length: {self.n} images vs "
                                     f"{batch_len(self.y)} labels")
        self.dist = dist if (dist and shard) else DistInfo()
        self.batch_size = max(1, batch_size // self.dist.world_size)
        self.shuffle = shuffle
        self.seed = seed
        self.resident = True

    def _indices(self, epoch: int) -> torch.Tensor:
        sampler = DistributedSampler(range(self.n), num_replicas=self.dist.world_size, rank=self.dist.rank,
                                     shuffle=self.shuffle, seed=self.seed)
        sampler.set_epoch(epoch)
        return torch.as_tensor(list(sampler), dtype=torch.long)

    def __len__(self) -> int:
        per_rank = -(-self.n // self.dist.world_size)
        return -(-per_rank // self.batch_size)

    def batches(self, epoch: int = 0, start: int = 0) -> Iterator[tuple[Any, Any]]:
        """Yield the ``(x, y)`` batches of ``epoch``, beginning at batch number ``start``."""
        idx = self._indices(epoch)
        if self.device.type == "cuda":  # pinned + non_blocking: no device sync at the epoch start
            idx = idx.pin_memory().to(self.device, non_blocking=True)
        else:
            idx = idx.to(self.device)
        for k in range(start, len(self)):
            sel = idx[k * self.batch_size:(k + 1) * self.batch_size]
            yield index_batch(self.x, sel), index_batch(self.y, sel)

    def peek(self, n: int = 2) -> tuple[Any, Any]:
        """The first ``n`` samples (for shape checks)."""
        sel = slice(0, min(n, self.n))
        return index_batch(self.x, sel), index_batch(self.y, sel)

    def describe(self) -> str:
        return f"{self.n} samples resident on {self.device}"


class LoaderSource:
    """Batches streamed from a DataLoader, copied to the device with non-blocking transfers."""

    def __init__(self, data: Dataset | DataLoader, *, device: torch.device, batch_size: int, shuffle: bool,
                 seed: int = 0, dist: DistInfo | None = None, num_workers: int = 0, shard: bool = True) -> None:
        self.device = device
        self.dist = dist if (dist and shard) else DistInfo()
        self.resident = False
        if isinstance(data, DataLoader):
            self.loader = data
            if self.dist.enabled and not isinstance(data.sampler, DistributedSampler):
                log.warning("a DataLoader without DistributedSampler under DDP: every rank sees all data; pass "
                            "the Dataset instead and the Trainer shards it")
        else:
            sampler = DistributedSampler(data, num_replicas=self.dist.world_size, rank=self.dist.rank,
                                         shuffle=shuffle, seed=seed)
            self.loader = DataLoader(
                data, batch_size=max(1, batch_size // self.dist.world_size), sampler=sampler,
                num_workers=num_workers, pin_memory=device.type == "cuda", collate_fn=_collate,
                persistent_workers=num_workers > 0,
            )

    def __len__(self) -> int:
        return len(self.loader)

    def batches(self, epoch: int = 0, start: int = 0) -> Iterator[tuple[Any, Any]]:
        """Yield device batches of ``epoch`` from batch ``start`` (earlier batches are skipped)."""
        sampler = getattr(self.loader, "sampler", None)
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)
        nb = self.device.type == "cuda"
        for batch in itertools.islice(iter(self.loader), start, None):
            x, y = batch if (isinstance(batch, tuple) and len(batch) == 2 and self.loader.collate_fn is _collate) \
                else split_item(batch)
            yield to_device(_as_tensor(x), self.device, nb), to_device(_as_tensor(y), self.device, nb)

    def peek(self, n: int = 2) -> tuple[Any, Any]:
        x, y = next(iter(self.batches(0)))
        sel = slice(0, n)
        return index_batch(x, sel), index_batch(y, sel)

    def describe(self) -> str:
        return f"streaming {len(self)} batches per epoch"


def _cache_dataset(ds: Dataset, num_workers: int) -> tuple[Any, Any]:
    loader = DataLoader(ds, batch_size=64, shuffle=False, num_workers=num_workers, collate_fn=_collate)
    xs, ys = [], []
    for x, y in loader:
        xs.append(x)
        ys.append(y)

    def cat(parts: list[Any]) -> Any:
        if parts[0] is None:
            return None
        if isinstance(parts[0], Mapping):
            return {k: cat([p[k] for p in parts]) for k in parts[0]}
        return torch.cat([p.as_tensor() if hasattr(p, "as_tensor") else p for p in parts])

    return cat(xs), cat(ys)


def as_source(data: Any, *, device: torch.device, batch_size: int, shuffle: bool, seed: int = 0,
              dist: DistInfo | None = None, cache: bool | str = "auto", num_workers: int = 0,
              shard: bool = True) -> TensorSource | LoaderSource:
    """Turn training/evaluation data into a batch source on ``device``.

    Parameters
    ----------
    data
        ``(x, y)`` arrays or tensors (``x`` may be a dict of tensors), an ``x`` array alone, a dict with
        ``"image"``/``"label"`` arrays, a ``torch.utils.data.Dataset`` of ``{"image", "label"}`` dicts or
        ``(image, label)`` tuples, or a ``DataLoader``.
    cache
        ``"auto"`` keeps a Dataset resident on the device when it fits :func:`cache_budget_bytes`;
        ``True`` forces it, ``False`` streams.
    shard
        Split the data between DDP ranks (training); evaluation uses ``shard=False``.
    """
    kw: dict[str, Any] = {"device": device, "batch_size": batch_size, "shuffle": shuffle, "seed": seed,
                          "dist": dist, "shard": shard}
    if isinstance(data, DataLoader):
        return LoaderSource(data, num_workers=num_workers, **kw)
    if isinstance(data, Mapping):
        if any(k in data for k in IMAGE_KEYS) and (any(k in data for k in LABEL_KEYS) or len(data) == 1):
            x, y = split_item(data)  # {"image": X, "label": Y} or {"image": X}
            return TensorSource(x, y, **kw)
        return TensorSource(data, None, **kw)  # a dict of input tensors (multimodal models), no targets
    if isinstance(data, (tuple, list)) and len(data) == 2 and not isinstance(data[0], (int, float)):
        return TensorSource(data[0], data[1], **kw)
    if isinstance(data, (np.ndarray, torch.Tensor)):
        return TensorSource(data, None, **kw)
    if isinstance(data, Dataset) or (hasattr(data, "__getitem__") and hasattr(data, "__len__")):
        n = len(data)
        if n == 0:
            raise ConfigError("the dataset is empty")
        if cache == "auto":
            est = _nbytes(split_item(data[0])) * n
            cache = est <= cache_budget_bytes(device)
            log.info("dataset of %d items (~%.1f MB): %s", n, est / 2**20, "cached on device" if cache else "streamed")
        if cache:
            x, y = _cache_dataset(data, num_workers)
            return TensorSource(x, y, **kw)
        return LoaderSource(data, num_workers=num_workers, **kw)
    if isinstance(data, Sequence):
        raise ConfigError(f"data given as a {type(data).__name__} of length {len(data)}: pass (x, y), a Dataset "
                          "or a DataLoader")
    raise ConfigError(f"cannot train on data of type {type(data).__name__}: pass (x, y) arrays, a torch Dataset "
                      "of {'image', 'label'} dicts, or a DataLoader")
