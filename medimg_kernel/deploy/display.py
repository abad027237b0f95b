"""A live notebook view of a stream: the frame with the model's overlay, the fps and the latency.

One ``ipywidgets.Image`` and one ``HTML`` label are created once and updated in place (PNG bytes replace
the previous ones), and updates are throttled to ``max_hz``, so a long stream does not grow the memory
of the kernel or of the browser.
"""

from __future__ import annotations

import io
import time
from typing import Any

import numpy as np

__all__ = ["overlay_rgb", "LiveView"]


def overlay_rgb(image: np.ndarray, output: Any = None, *, alpha: float = 0.45,
                color: tuple[int, int, int] = (255, 64, 32)) -> np.ndarray:
    """Blend a segmentation ``output`` (logits ``(1, K, h, w)`` or a mask) over ``image`` as uint8 RGB."""
    from PIL import Image

    a = np.asarray(image)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    if a.dtype != np.uint8:
        lo, hi = float(a.min()), float(a.max())
        a = ((a - lo) / (hi - lo) * 255 if hi > lo else np.zeros_like(a)).astype(np.uint8)
    rgb = a[..., :3].astype(np.float32)
    if output is not None:
        out = np.asarray(output)
        mask = out[0].argmax(0) > 0 if out.ndim == 4 else (out.reshape(out.shape[-2:]) > 0)
        m = np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize((a.shape[1], a.shape[0]),
                                                                            Image.NEAREST)) > 0
        rgb[m] = (1 - alpha) * rgb[m] + alpha * np.asarray(color, np.float32)
    return rgb.astype(np.uint8)


class LiveView:
    """An in-place notebook display for :class:`~medimg_kernel.deploy.stream.RealtimeStream` results.

    Pass it as ``on_result``; show it with ``display(view)`` (or as a cell's last expression).
    """

    def __init__(self, *, width: int = 320, max_hz: float = 15.0, title: str = "live inference",
                 clock: Any = None) -> None:
        import ipywidgets as widgets

        self.image = widgets.Image(format="png", width=width)
        self.label = widgets.HTML(value=f"<b>{title}</b>: waiting for frames")
        self.widget = widgets.VBox([self.image, self.label])
        self.title = title
        self.min_interval = 1.0 / max_hz if max_hz > 0 else 0.0
        self._clock = clock or time.perf_counter
        self._last = -np.inf
        self.updates = 0

    def __call__(self, frame: Any, output: Any, stats: Any) -> None:
        """Update the view with a processed frame (throttled to ``max_hz``)."""
        now = self._clock()
        if now - self._last < self.min_interval:
            return
        self._last = now
        self.show(frame.image, output, stats)

    def show(self, image: np.ndarray, output: Any, stats: Any = None) -> None:
        """Draw ``image`` with ``output`` overlaid and the stream figures, replacing what was shown."""
        from PIL import Image

        buf = io.BytesIO()
        Image.fromarray(overlay_rgb(image, output)).save(buf, format="PNG", compress_level=1)
        self.image.value = buf.getvalue()
        if stats is not None:
            self.label.value = (f"<b>{self.title}</b>: {stats.fps:.1f} fps · latency p50 {stats.latency(50):.1f} ms"
                                f" / p95 {stats.latency(95):.1f} ms · dropped {stats.dropped} · corrupt "
                                f"{stats.corrupt} · frame {stats.received}")
        self.updates += 1

    def _repr_mimebundle_(self, **kw: Any) -> Any:
        return self.widget._repr_mimebundle_(**kw)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
