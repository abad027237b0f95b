"""Lazy exports for the package ``__init__`` modules: a name is imported the first time it is used.

Each package lists ``name -> "module:attribute"`` (``"module:"`` for the module itself, ``"module"`` for the
attribute of the same name) and binds the two functions this returns as its ``__getattr__`` and
``__dir__`` (PEP 562), so ``import medimg_kernel`` stays fast and torch loads only when needed.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, exports: Mapping[str, str], *, submodules: Iterable[str] = (),
                 any_submodule: bool = False, listed: Iterable[str] | None = None
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return ``(__getattr__, __dir__)`` for ``package`` resolving ``exports`` and ``submodules`` on first use.

    ``any_submodule`` also resolves every importable submodule by name; ``listed`` is what ``dir()``
    shows (default: the export names and submodules).
    """
    subs = tuple(submodules)
    shown = sorted(listed) if listed is not None else sorted({*exports, *subs})

    def __getattr__(name: str) -> Any:
        target = exports.get(name)
        if target is None:
            if name in subs or (any_submodule and not name.startswith("_")
                                and importlib.util.find_spec(f"{package}.{name}") is not None):
                target = f"{name}:"
            else:
                raise AttributeError(f"module {package!r} has no attribute {name!r}")
        mod_name, colon, attr = target.partition(":")
        module = importlib.import_module(f".{mod_name}", package)
        value = (getattr(module, attr) if attr else module) if colon else getattr(module, name)
        setattr(sys.modules[package], name, value)  # later look-ups skip this function
        return value

    def __dir__() -> list[str]:
        return shown

    return __getattr__, __dir__
