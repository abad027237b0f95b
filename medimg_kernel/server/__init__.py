"""The Jupyter server extension of the course kit: REST handlers for the JupyterLab/Notebook front end.

Enabled by ``etc/jupyter/jupyter_server_config.d/medimg_kernel.json`` (shipped in the wheel; written by
``medimg labextension install`` for an editable install). The front end itself is the prebuilt
labextension in ``medimg_kernel/labextension`` (sources in ``widgets/labextension``). The course folder
is the server's root directory, or ``$MEDIMG_COURSE_DIR``.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["_jupyter_server_extension_points", "_load_jupyter_server_extension", "LABEXTENSION_NAME"]

#: the npm name of the front end, also its folder under ``share/jupyter/labextensions``
LABEXTENSION_NAME = "medimg-labextension"


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "medimg_kernel.server"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    """Add the ``/medimg/...`` handlers to the running Jupyter server."""
    from .handlers import MedimgContext, handlers

    root = os.environ.get("MEDIMG_COURSE_DIR") or serverapp.root_dir
    ctx = MedimgContext(root)
    web_app = serverapp.web_app
    web_app.add_handlers(".*$", handlers(web_app.settings["base_url"], ctx))
    serverapp.log.info("medimg: course server extension on %s", ctx.root)
