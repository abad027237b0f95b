"""Isolated workaround for an ipyniivue 2.4.4 bug; delete this module once upstream is fixed.

The bug: ``ipyniivue.widget.BaseAnyWidget._data_handlers`` is a *class-level* dict keyed only by the
property name (``"img"``). The browser echoes every loaded volume's voxels back to the kernel in chunks,
and the half-assembled chunks of all widgets share that one dict, so volumes that load at the same time
interleave: the kernel-side ``Volume.img`` comes back wrong, NaN or never, and ``on_image_loaded`` may
not fire. What the browser draws is unaffected.

The fix: replace the class attribute with a descriptor that hands every widget instance its own dict.
:func:`apply` is idempotent and does nothing when the installed ipyniivue no longer has the shared dict.
``tests/viz/test_ipyniivue_fix.py`` reproduces the corruption without the fix and checks it with it.
"""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["apply", "remove", "is_applied", "upstream_has_bug"]

log = logging.getLogger(__name__)

_ORIGINAL: dict[str, Any] = {}


class _PerInstanceDict:
    """Descriptor: ``instance._data_handlers`` is a dict private to that instance."""

    _slot = "_medimg_data_handlers"

    def __get__(self, obj: Any, owner: type | None = None) -> dict:
        if obj is None:  # class access: a fresh dict, never shared
            return {}
        handlers = obj.__dict__.get(self._slot)
        if handlers is None:
            handlers = obj.__dict__[self._slot] = {}
        return handlers

    def __set__(self, obj: Any, value: dict) -> None:
        obj.__dict__[self._slot] = value


def _base_class() -> type | None:
    try:
        from ipyniivue.widget import BaseAnyWidget
    except ImportError:  # ipyniivue missing or restructured: nothing to patch
        return None
    return BaseAnyWidget


def upstream_has_bug() -> bool:
    """True when the installed ipyniivue (unpatched) keeps chunk buffers in one class-level dict."""
    base = _base_class()
    if base is None:
        return False
    current = base.__dict__.get("_data_handlers")
    if isinstance(current, _PerInstanceDict):
        return "_data_handlers" in _ORIGINAL
    return isinstance(current, dict)


def is_applied() -> bool:
    """True when the per-instance descriptor is in place."""
    base = _base_class()
    return base is not None and isinstance(base.__dict__.get("_data_handlers"), _PerInstanceDict)


def apply() -> bool:
    """Give every ipyniivue widget its own chunk-buffer dict; return True when the patch is active."""
    base = _base_class()
    if base is None:
        return False
    current = base.__dict__.get("_data_handlers")
    if isinstance(current, _PerInstanceDict):
        return True
    if not isinstance(current, dict):
        log.debug("ipyniivue no longer has a class-level _data_handlers dict; no workaround needed")
        return False
    _ORIGINAL["_data_handlers"] = current
    base._data_handlers = _PerInstanceDict()  # type: ignore[assignment]
    log.debug("patched ipyniivue BaseAnyWidget._data_handlers to a per-instance dict")
    return True


def remove() -> None:
    """Undo :func:`apply` (tests use it to show the upstream bug)."""
    base = _base_class()
    if base is not None and "_data_handlers" in _ORIGINAL:
        base._data_handlers = _ORIGINAL.pop("_data_handlers")  # type: ignore[assignment]
