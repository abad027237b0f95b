"""Opt-in itkwidgets backend, for users who install itkwidgets >= 1.0 themselves and are online.

itkwidgets is deliberately *not* a dependency: 0.32.x downgrades ipywidgets to 7 and has no
JupyterLab 4 front end ("Error displaying widget: model not found"), and 1.0 (pre-release) loads its
viewer from an IPFS gateway and a CDN, so it shows a blank box offline or behind a firewall.
NiiVue (bundled in the ipyniivue wheel) is the default for that reason.
"""

from __future__ import annotations

import importlib.metadata
from typing import Any

from ..errors import ConfigError, MedimgKernelError
from .scene import Scene

__all__ = ["itk_available", "view_itk"]

_WHY = (
    "itkwidgets is an opt-in backend: install itkwidgets>=1.0 yourself (pip install 'itkwidgets[all]>=1.0a55'); "
    "it needs internet access because it loads its viewer from IPFS/CDN. Without it use backend='niivue' "
    "(default, offline) or backend='light' (no WebGL)."
)


def itk_available() -> tuple[bool, str]:
    """(usable, reason): whether itkwidgets >= 1.0 is importable here."""
    try:
        version = importlib.metadata.version("itkwidgets")
    except importlib.metadata.PackageNotFoundError:
        return False, "itkwidgets is not installed. " + _WHY
    major = int(version.split(".")[0]) if version.split(".")[0].isdigit() else 0
    if major < 1:
        return False, (
            f"itkwidgets {version} is installed but only >= 1.0 works with JupyterLab 4 "
            "(0.32 has no JupyterLab 4 front end and downgrades ipywidgets). " + _WHY
        )
    return True, f"itkwidgets {version}"


def view_itk(scene: Scene, **options: Any) -> Any:
    """Show ``scene`` with ``itkwidgets.view`` (image with spacing, first label map); returns its viewer."""
    ok, reason = itk_available()
    if not ok:
        raise MedimgKernelError(reason)
    try:
        import itkwidgets
    except Exception as err:  # installed but broken (e.g. missing extras)
        raise MedimgKernelError(f"itkwidgets is installed but cannot be imported ({err}). " + _WHY) from err
    if not hasattr(itkwidgets, "view"):
        raise ConfigError("this itkwidgets has no view(); " + _WHY)
    import itk
    import numpy as np

    def to_itk(arr: np.ndarray) -> Any:
        img = itk.image_view_from_array(np.ascontiguousarray(np.transpose(arr, (2, 1, 0))))
        img.SetSpacing([float(s) for s in scene.spacing])
        return img

    kwargs: dict[str, Any] = {"image": to_itk(scene.base)}
    if scene.labels:
        kwargs["label_image"] = to_itk(scene.labels[0].data)
    return itkwidgets.view(**kwargs, **options)
