"""The keys of a dataset item: which entries of an item dict hold the image and which the label.

Training (:func:`medimg_kernel.train.data.split_item`) and viewing (:mod:`medimg_kernel.viz.volume`) read
items through this one table, so an item that trains also shows, with the same image and label.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError

__all__ = ["IMAGE_KEYS", "LABEL_KEYS", "image_key", "label_key"]

#: keys that hold the image, in order of preference (the first present wins)
IMAGE_KEYS = ("image", "img", "x", "input", "inputs", "volume", "ct", "mri", "t1")
#: keys that hold the label (class index, mask or segmentation), in order of preference
LABEL_KEYS = ("label", "labels", "y", "target", "targets", "seg", "segmentation", "mask")


def image_key(item: Mapping[str, Any]) -> str:
    """Return the key of ``item`` that holds the image, or raise :class:`ConfigError` listing the keys tried."""
    key = next((k for k in IMAGE_KEYS if k in item), None)
    if key is None:
        raise ConfigError(f"the dataset item has no image: name it one of {', '.join(IMAGE_KEYS)} "
                          f"(found keys {sorted(item)})")
    return key


def label_key(item: Mapping[str, Any]) -> str | None:
    """Return the key of ``item`` that holds the label, or None when it has none."""
    return next((k for k in LABEL_KEYS if k in item), None)
