"""Is the widget front end installed? (``medimg env`` and the welcome notebook call :func:`frontend_status`.)"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path
from typing import Any

__all__ = ["frontend_status", "labextension_path"]

#: Python distribution -> JupyterLab prebuilt extension folder it must ship (None: needs none of its own)
_LABEXTENSIONS = {
    "ipywidgets": "@jupyter-widgets/jupyterlab-manager",
    "anywidget": "anywidget",
    "ipyniivue": None,  # runs on anywidget's front end; its JavaScript is bundled in the wheel
}


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def labextension_path(name: str) -> Path | None:
    """Folder of the installed prebuilt JupyterLab extension ``name`` (e.g. ``"anywidget"``), or None."""
    try:
        from jupyter_core.paths import jupyter_path
    except ImportError:  # pragma: no cover - jupyter_core is a JupyterLab dependency
        return None
    for root in jupyter_path("labextensions"):
        candidate = Path(root) / name
        if (candidate / "package.json").is_file():
            return candidate
    return None


def frontend_status() -> dict[str, Any]:
    """Report, per widget component, whether its Python side and its browser side are installed.

    Returns
    -------
    dict
        ``{"ipywidgets": {...}, "anywidget": {...}, "ipyniivue": {...}, "light_viewer": {...},
        "webgl2": {...}}``. Boolean fields are ``False`` when something is missing: ``python`` (the
        package imports), ``labextension`` (JupyterLab's prebuilt extension is on the Jupyter path),
        ``bundled_js`` (ipyniivue's own JavaScript), ``esm`` (our light viewer's source).
        ``webgl2.reported`` is ``None`` until a browser has shown a medimg widget in this kernel, then
        whether that browser has WebGL2 (without it ``view()`` uses the light viewer).
    """
    out: dict[str, Any] = {}
    for dist, ext in _LABEXTENSIONS.items():
        version = _version(dist)
        entry: dict[str, Any] = {"python": version is not None, "version": version}
        if ext is not None:
            path = labextension_path(ext)
            entry["labextension"] = path is not None
            entry["labextension_path"] = str(path) if path else None
        out[dist] = entry
    spec = importlib.util.find_spec("ipyniivue")
    if spec is not None and spec.submodule_search_locations:
        js = Path(next(iter(spec.submodule_search_locations))) / "static" / "widget.js"
        out["ipyniivue"]["bundled_js"] = js.is_file()
    from ._assets import asset_dirs

    found = [d for d in asset_dirs() if (d / "light_viewer.js").is_file()]
    out["light_viewer"] = {"python": True, "esm": bool(found), "path": str(found[0]) if found else None}
    from ..errors import MedimgKernelError

    try:
        from .probe import webgl2_status

        status = webgl2_status()
    except MedimgKernelError:  # the probe's own source is missing (reported above as esm False)
        status = {"webgl2": None, "renderer": ""}
    out["webgl2"] = {"reported": status["webgl2"], "renderer": status["renderer"]}
    return out
