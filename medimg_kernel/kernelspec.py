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

from .envinfo import KERNEL_NAME, data_dir

__all__ = ["install_kernelspec", "kernelspec_dict", "DISPLAY_NAME"]

DISPLAY_NAME = "Python 3 (medimg)"


def kernelspec_dict(python: str | None = None) -> dict:
    """Return the kernel.json content for the course kernel using ``python`` (default: this interpreter)."""
    env = {"MEDIMG_KERNEL": "1", "MEDIMG_DATA": str(data_dir()), "PYTHONUNBUFFERED": "1"}
    if os.environ.get("MEDIMG_TIER"):
        env["MEDIMG_TIER"] = os.environ["MEDIMG_TIER"]
    return {
        "argv": [python or sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}",
                 "--ext=medimg_kernel"],
        "display_name": DISPLAY_NAME,
        "language": "python",
        "env": env,
        "metadata": {"debugger": True, "medimg": {"version": _version()}},
    }


def _version() -> str:
    from . import __version__

    return __version__


def install_kernelspec(user: bool = False, sys_prefix: bool = False, prefix: str | None = None) -> str:
    """Install the "Python 3 (medimg)" kernelspec and return the folder it was written to.

    With neither ``user`` nor ``sys_prefix`` the spec goes into this environment (``sys.prefix``), which
    is what a virtual environment wants; ``user`` writes to the user's Jupyter data dir.
    """
    from jupyter_client.kernelspec import KernelSpecManager

    if not user and prefix is None:
        sys_prefix = True
    if sys_prefix:
        prefix = sys.prefix
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / KERNEL_NAME
        src.mkdir()
        (src / "kernel.json").write_text(json.dumps(kernelspec_dict(), indent=2))
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
