"""The course's Jupyter kernelspec: "Python 3 (medimg)".

The kernel runs this environment's Python with the ``medimg_kernel`` IPython extension loaded and the
course environment variables (data folder, tier) set, so every notebook starts with ``%medimg``
available and the same defaults as the command line.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from ..paths import data_dir

__all__ = [
    "install_kernelspec",
    "kernelspec_dict",
    "kernelspec_status",
    "DISPLAY_NAME",
    "KERNEL_NAME",
    "SHARED_DATA_ENV",
]

#: name of the course's Jupyter kernelspec
KERNEL_NAME = "medimg"
DISPLAY_NAME = "Python 3 (medimg)"


def kernelspec_status() -> dict[str, Any]:
    """Return whether the course kernelspec is installed: ``{"installed", "name", "path"}`` (plus ``error``)."""
    try:
        from jupyter_client.kernelspec import KernelSpecManager

        specs = KernelSpecManager().find_kernel_specs()
    except Exception as err:  # pragma: no cover - jupyter_client broken
        return {"installed": False, "name": KERNEL_NAME, "path": None, "error": str(err)}
    path = specs.get(KERNEL_NAME)
    return {"installed": path is not None, "name": KERNEL_NAME, "path": path}


#: set at install time to give every user of a shared install one course cache on purpose (often read-only)
SHARED_DATA_ENV = "MEDIMG_SHARED_DATA"


def kernelspec_dict(python: str | None = None, *, shared_data: str | os.PathLike[str] | None = None) -> dict:
    """Return the kernel.json content for the course kernel using ``python`` (default: this interpreter).

    The data folder is not frozen into the spec: each kernel resolves it when it starts, for the user who
    runs it (``$MEDIMG_DATA``, else that user's cache dir), so one install (e.g. on a JupyterHub) serves
    many users. Only an instructor's explicit ``shared_data`` (or ``$MEDIMG_SHARED_DATA`` at install time),
    a course cache prepared for everyone, is written into the spec as ``MEDIMG_DATA``.
    """
    env = {"MEDIMG_KERNEL": "1", "PYTHONUNBUFFERED": "1"}
    shared = shared_data if shared_data is not None else os.environ.get(SHARED_DATA_ENV) or None
    if shared is not None:
        env["MEDIMG_DATA"] = str(data_dir(shared).resolve())
    if os.environ.get("MEDIMG_TIER"):
        env["MEDIMG_TIER"] = os.environ["MEDIMG_TIER"]
    return {
        "argv": [python or sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}",
                 "--ext=medimg_kernel"],
        "display_name": DISPLAY_NAME,
        "language": "python",
        "env": env,
        "metadata": {"debugger": True, "medimg": {"version": _version(),
                                                  "data": env.get("MEDIMG_DATA", "per-user")}},
    }


def _version() -> str:
    from .. import __version__

    return __version__


def install_kernelspec(
    user: bool = False,
    sys_prefix: bool = False,
    prefix: str | None = None,
    *,
    shared_data: str | os.PathLike[str] | None = None,
) -> str:
    """Install the "Python 3 (medimg)" kernelspec and return the folder it was written to.

    With neither ``user`` nor ``sys_prefix`` the spec goes into this environment (``sys.prefix``), which
    is what a virtual environment wants; ``user`` writes to the user's Jupyter data dir. ``shared_data``:
    see :func:`kernelspec_dict` (default: every user gets their own cache).
    """
    from jupyter_client.kernelspec import KernelSpecManager

    if not user and prefix is None:
        sys_prefix = True
    if sys_prefix:
        prefix = sys.prefix
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / KERNEL_NAME
        src.mkdir()
        (src / "kernel.json").write_text(json.dumps(kernelspec_dict(shared_data=shared_data), indent=2))
        logo = _logo_dir()
        if logo is not None:
            for f in logo.glob("logo-*.png"):
                shutil.copy(f, src / f.name)
        return KernelSpecManager().install_kernel_spec(
            str(src), kernel_name=KERNEL_NAME, user=user, prefix=None if user else prefix
        )


def _logo_dir() -> Path | None:
    try:
        import ipykernel

        d = Path(ipykernel.__file__).parent / "resources"
        return d if d.is_dir() else None
    except ImportError:  # pragma: no cover
        return None
