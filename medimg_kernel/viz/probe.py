"""WebGL2 detection: a tiny anywidget that asks the browser and reports back to the kernel.

NiiVue needs WebGL2 and shows a silent white box without it. ``view()`` puts a probe next to a NiiVue
viewer until the browser has answered once; when the answer is "no" it swaps in the light viewer with a
visible note. The last answer is kept for the session (:func:`webgl2_status`).
"""

from __future__ import annotations

import logging
from typing import Any

import anywidget
import traitlets as t

from ._assets import asset_path

__all__ = ["WebGL2Probe", "webgl2_status", "check_browser"]

log = logging.getLogger(__name__)

_SESSION: dict[str, Any] = {"webgl2": None, "renderer": ""}

FALLBACK_NOTE = (
    "WebGL2 is not available in this browser, so the 3D viewer (NiiVue) cannot draw: "
    "showing the light 2D viewer instead."
)


class WebGL2Probe(anywidget.AnyWidget):
    """Invisible (or one-line) widget whose front end reports ``webgl2`` = ``"yes"``/``"no"``."""

    _esm = asset_path("webgl_probe.js")
    _css = asset_path("webgl_probe.css")
    webgl2 = t.Unicode("unknown").tag(sync=True)
    renderer = t.Unicode("").tag(sync=True)
    show_result = t.Bool(False).tag(sync=True)
    fallback_note = t.Unicode(FALLBACK_NOTE).tag(sync=True)

    @t.observe("webgl2")
    def _record(self, change: dict) -> None:
        if change["new"] in ("yes", "no"):
            _SESSION["webgl2"] = change["new"] == "yes"
            _SESSION["renderer"] = self.renderer
            log.info("browser reports WebGL2 %s (%s)", change["new"], self.renderer)

    def __repr__(self) -> str:
        return f"WebGL2Probe(webgl2={self.webgl2!r})"


def webgl2_status() -> dict[str, Any]:
    """``{"webgl2": True/False/None, "renderer": str}``; None until a browser has shown a medimg widget."""
    return dict(_SESSION)


def check_browser() -> WebGL2Probe:
    """A probe that prints in the notebook whether this browser has WebGL2 (for the welcome notebook)."""
    return WebGL2Probe(show_result=True)
