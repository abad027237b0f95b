"""Install the prebuilt front end and enable the server extension in an environment (editable installs).

A wheel carries both as data files (``share/jupyter/labextensions/medimg-labextension`` and
``etc/jupyter/jupyter_server_config.d/medimg_kernel.json``). An editable install (``pip install -e .``)
does not install data files, so ``medimg labextension install`` does what ``jupyter labextension
develop`` does: it links the environment's labextension folder to ``medimg_kernel/labextension`` in the
source tree (so a rebuild shows up on reload) and writes the server-extension config.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from . import LABEXTENSION_NAME

__all__ = ["install_labextension", "labextension_status", "built_labextension_dir", "SERVER_CONFIG_NAME"]

SERVER_CONFIG_NAME = "medimg_kernel.json"
_SERVER_CONFIG = {"ServerApp": {"jpserver_extensions": {"medimg_kernel.server": True}}}


def built_labextension_dir() -> Path:
    """The prebuilt front end inside the package (``medimg_kernel/labextension``, committed to the repository)."""
    return Path(__file__).resolve().parents[1] / "labextension"


def _check_built(src: Path) -> dict[str, Any]:
    try:
        meta = json.loads((src / "package.json").read_text(encoding="utf-8"))
        load = meta["jupyterlab"]["_build"]["load"]
    except (OSError, ValueError, KeyError) as err:
        raise ConfigError(
            f"the prebuilt front end is missing or incomplete in {src}; build it with "
            "`widgets/labextension/build.sh` (needs node and npm) or reinstall medimg-kernel"
        ) from err
    if not (src / load).is_file():
        raise ConfigError(f"{src / load} is missing; rebuild with `widgets/labextension/build.sh`")
    return meta


def install_labextension(prefix: str | os.PathLike[str] | None = None, copy: bool = False,
                         overwrite: bool = False) -> dict[str, str]:
    """Link (or ``copy``) the front end into ``<prefix>/share/jupyter/labextensions`` and enable the server extension.

    ``prefix`` defaults to this environment (``sys.prefix``). An existing real folder (from a wheel) is
    kept unless ``overwrite``. Returns ``{"labextension": dest, "server_config": path}``.
    """
    prefix = Path(prefix or sys.prefix)
    src = built_labextension_dir()
    _check_built(src)
    dest = prefix / "share" / "jupyter" / "labextensions" / LABEXTENSION_NAME
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.is_symlink():
        if dest.resolve() != src or copy:
            dest.unlink()
    elif dest.exists() and (overwrite or copy):
        shutil.rmtree(dest)
    if not dest.exists():
        if copy:
            shutil.copytree(src, dest)
        else:
            dest.symlink_to(src, target_is_directory=True)
    cfg = prefix / "etc" / "jupyter" / "jupyter_server_config.d" / SERVER_CONFIG_NAME
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text(json.dumps(_SERVER_CONFIG, indent=2) + "\n", encoding="utf-8")
    return {"labextension": str(dest), "server_config": str(cfg)}


def labextension_status() -> dict[str, Any]:
    """Where the front end is installed (first match on Jupyter's data path) and whether the server extension is on."""
    from jupyter_core.paths import jupyter_config_path, jupyter_path

    found = None
    for d in jupyter_path("labextensions"):
        cand = Path(d) / LABEXTENSION_NAME
        if (cand / "package.json").is_file():
            found = cand
            break
    version = None
    if found is not None:
        try:
            version = json.loads((found / "package.json").read_text(encoding="utf-8")).get("version")
        except (OSError, ValueError):
            version = None
    server = False
    for d in jupyter_config_path():
        cfg = Path(d) / "jupyter_server_config.d" / SERVER_CONFIG_NAME
        try:
            doc = json.loads(cfg.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        server = server or bool(doc.get("ServerApp", {}).get("jpserver_extensions", {}).get("medimg_kernel.server"))
    return {"name": LABEXTENSION_NAME, "installed": found is not None, "path": str(found) if found else None,
            "symlink": bool(found and found.is_symlink()), "version": version, "server_extension": server}
