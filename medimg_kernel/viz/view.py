"""``mk.view()``: one call to look at a volume with labels, a heat map and other modalities.

Backends: ``"niivue"`` (default; WebGL2, multiplanar + 3D), ``"light"`` (our 2D-canvas viewer, no
WebGL), ``"itk"`` (opt-in, itkwidgets >= 1.0 installed by the user). With ``backend="auto"`` a probe
asks the browser for WebGL2 the first time; without it the view swaps NiiVue for the light viewer and
says so. The returned :class:`View` has the same methods whatever the backend.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import ipywidgets
import numpy as np

from ..errors import ConfigError
from .scene import Scene, prepare_scene

__all__ = ["View", "view", "BACKENDS"]

log = logging.getLogger(__name__)

BACKENDS = ("auto", "niivue", "light", "itk")

#: With backend="auto", multiplanar views of volumes larger than this go to the light viewer first: NiiVue's
#: first paint of a 256³ volume in software WebGL (texture upload, gradients for the 3D tile) takes
#: 10-15 s on 2 cores, the light viewer's well under 2 s (benchmarks/widget_first_paint.py).
AUTO_NIIVUE_MAX_VOXELS = 2 * 128**3
_SCENE_OPTIONS = ("resample", "max_voxels", "affine", "spacing", "overlay_colormap")


class View(ipywidgets.VBox):
    """A displayed view: the backend widget (plus, until the browser answered, a WebGL2 probe).

    Methods change the picture from Python: :meth:`set_slice`, :meth:`set_opacity`,
    :meth:`set_label_opacity`, :meth:`show_labels`, :meth:`hide_labels`, :meth:`set_overlay_threshold`,
    :meth:`set_window`, :meth:`set_render`. ``backend_name`` says which backend draws.
    """

    def __init__(
        self,
        scene: Scene,
        *,
        backend: str,
        render: str,
        height: int,
        options: dict[str, Any],
        auto: bool,
        note: str = "",
        rows: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__()
        self._rows = rows
        self.scene = scene
        self._render = render
        self._height = height
        self._options = options
        self._auto = auto
        self.probe = None
        self.note = ""
        if backend == "niivue":
            from .niivue import NiivueBackend
            from .probe import WebGL2Probe, webgl2_status

            self.backend: Any = NiivueBackend(scene, render=render, height=height, **options)
            children: list[Any] = [self.backend.widget]
            if webgl2_status()["webgl2"] is None:
                self.probe = WebGL2Probe()
                self.probe.observe(self._on_probe, names="webgl2")
                children.insert(0, self.probe)
            self.children = tuple(children)
        else:
            self._use_light(note=note)

    # ------------------------------------------------------------------------------ backends
    def _use_light(self, note: str, position: tuple[int, int, int] | None = None) -> None:
        from .light import LightViewer

        self.note = note
        self.backend = LightViewer(self.scene, height=self._height, note=note, rows=self._rows)
        self.backend.name = "light"
        if position is not None:
            self.backend.slice_index = list(position)
        self.children = (self.backend,)

    def _on_probe(self, change: dict) -> None:
        if change["new"] != "no" or self.backend_name != "niivue":
            return
        from .probe import FALLBACK_NOTE

        if not self._auto:  # NiiVue was asked for by name: keep it, the probe shows the note
            log.warning("%s (backend='niivue' was requested explicitly)", FALLBACK_NOTE)
            return
        position = self.backend.get_slice()
        self.backend.close()
        self._use_light(FALLBACK_NOTE, position)

    @property
    def backend_name(self) -> str:
        """``"niivue"`` or ``"light"``."""
        return self.backend.name

    @property
    def widget(self) -> Any:
        """The backend's own widget (``ipyniivue.NiiVue`` or :class:`~medimg_kernel.viz.light.LightViewer`)."""
        return getattr(self.backend, "widget", self.backend)

    # -------------------------------------------------------------------------------- public
    def set_slice(self, axis: int | str, index: int) -> View:
        """Move the crosshair to slice ``index`` along ``axis`` (0/'x'/'sagittal', 1/'y'/'coronal', 2/'z'/'axial')."""
        self.backend.set_slice(axis, index)
        return self

    def get_slice(self) -> tuple[int, int, int]:
        """The crosshair voxel (i, j, k) in the canonical RAS voxel order of ``scene``."""
        return self.backend.get_slice()

    def set_opacity(self, layer: str | int = "labels", value: float = 0.5) -> View:
        """Set the opacity (0..1) of ``"labels"``, ``"overlay"``, ``"image"`` (NiiVue) or a modality name."""
        self.backend.set_opacity(layer, value)
        return self

    def set_label_opacity(self, label: int, value: float, layer: int = 0) -> View:
        """Set the opacity factor (0..1) of one label value; it multiplies the layer opacity."""
        self.backend.set_label_opacity(label, value, layer)
        return self

    def show_labels(self, labels: int | list[int] | None = None, layer: int = 0) -> View:
        """Show label values (``None``: all)."""
        self.backend.show_labels(labels, True, layer)
        return self

    def hide_labels(self, labels: int | list[int] | None = None, layer: int = 0) -> View:
        """Hide label values (``None``: all)."""
        self.backend.show_labels(labels, False, layer)
        return self

    def set_overlay_threshold(self, threshold: float | None) -> View:
        """Draw the heat map only where it is >= ``threshold``."""
        self.backend.set_overlay_threshold(threshold)
        return self

    def set_window(self, window: None | str | tuple[float, float]) -> View:
        """Re-window the image: a preset name (see ``WINDOW_PRESETS``), ``(center, width)`` or None (auto)."""
        self.backend.set_window(window)
        return self

    def set_render(self, render: str) -> View:
        """``"multiplanar"`` or ``"3d"`` (NiiVue; the light viewer draws planes only)."""
        self.backend.set_render(render)
        self._render = render
        return self

    def __repr__(self) -> str:  # short text/plain: never voxel bytes in saved outputs
        return (
            f"View(backend={self.backend_name!r}, shape={self.scene.shape}, labels={len(self.scene.labels)}, "
            f"overlay={self.scene.heat is not None}, modalities={len(self.scene.modalities)})"
        )


def view(
    image: Any,
    labels: Any = None,
    overlay: Any = None,
    *,
    backend: str = "auto",
    render: str = "multiplanar",
    window: None | str | tuple[float, float] = None,
    colormap: str = "gray",
    label_opacity: float | dict[int, float] = 0.5,
    overlay_threshold: float | None = None,
    overlay_opacity: float = 0.5,
    modalities: Any = None,
    meshes: Any = None,
    preset: str | None = None,
    height: int = 400,
    **options: Any,
) -> Any:
    """Show a 3D image with optional labels, heat map and co-registered modalities in the notebook.

    Parameters
    ----------
    image
        numpy array / torch tensor / MetaTensor (3D, or with one channel axis), nibabel or SimpleITK
        image, NIfTI/NRRD/MHA path, DICOM series folder, or a dataset item dict (``"image"`` and
        optionally ``"label"``, ``"affine"``/``"spacing"``). Bare arrays take ``spacing=``/``affine=``.
    labels
        Integer label map (0 = background), or a list of them; bare arrays must match the image grid,
        images with geometry are resampled onto it (``resample=False`` refuses instead).
    overlay
        Continuous map (saliency, uncertainty, PET) drawn with ``overlay_colormap`` (default ``"warm"``, red to yellow)
        where it is >= ``overlay_threshold``, with ``overlay_opacity``.
    backend
        ``"auto"`` (NiiVue, or the light viewer where the browser lacks WebGL2), ``"niivue"``,
        ``"light"`` or ``"itk"`` (opt-in; returns itkwidgets' own viewer).
    render
        ``"multiplanar"`` (three planes + 3D tile) or ``"3d"`` (volume rendering); NiiVue only.
    window
        ``None`` (0.5–99.5 percentile), a CT preset (``"brain"``, ``"lung"``, ``"bone"``, ``"abdomen"``,
        ``"liver"``, ... see :data:`~medimg_kernel.viz.windowing.WINDOW_PRESETS`) or ``(center, width)``.
    colormap
        Colour map of the image (see :data:`~medimg_kernel.viz.colors.COLORMAPS`).
    label_opacity
        One opacity for all labels, or ``{label: opacity}``.
    modalities
        Other co-registered images, ``{name: image}`` or a list, blended over the image (fusion view).
    meshes
        Surfaces drawn with the volume (NiiVue): a LabelMesh or list of them (``mk.meshes.label_meshes``),
        trimeshes or fsaverage surfaces (``mk.meshes.fsaverage``), all in world mm.
    preset
        Volume-rendering transfer function for ``render="3d"`` (NiiVue): ``"ct_bone"``,
        ``"ct_soft_tissue"``, ``"ct_vessels"``, ``"ct_artery"`` or ``"mr"``
        (see :data:`~medimg_kernel.viz.presets.VOLUME_PRESETS`); it sets the window and colour/opacity map.
    height
        Height in pixels.
    **options
        ``resample``, ``max_voxels`` (display budget, default 32 M voxels), ``affine``, ``spacing``,
        ``overlay_colormap``; anything else goes to ``ipyniivue.NiiVue`` (e.g. ``is_colorbar=True``).

    Returns
    -------
    View
        An ipywidgets box to display; ``.set_slice(axis, index)``, ``.set_opacity(layer, value)``,
        ``.show_labels()/.hide_labels()``, ``.set_overlay_threshold()``, ``.set_window()``, ``.set_render()``.
    """
    if backend not in BACKENDS:
        raise ConfigError(f"backend must be one of {', '.join(BACKENDS)}; got {backend!r}")
    scene_kwargs = {k: options.pop(k) for k in _SCENE_OPTIONS if k in options}
    if preset is not None:
        from .presets import VOLUME_PRESETS, preset_window

        if "hu" in VOLUME_PRESETS.get(preset, {}) or preset not in VOLUME_PRESETS:
            window = preset_window(preset)
    scene = prepare_scene(
        image,
        labels,
        overlay,
        window=window,
        colormap=colormap,
        label_opacity=label_opacity,
        overlay_threshold=overlay_threshold,
        overlay_opacity=overlay_opacity,
        modalities=modalities,
        **scene_kwargs,
    )
    if preset is not None and window is None:  # MR: the window comes from the image's own quantiles
        scene.rewindow(preset_window(preset, scene.image.data))
    if backend == "itk":
        from .itk import view_itk

        return view_itk(scene, **options)
    from .probe import webgl2_status

    known = webgl2_status()["webgl2"]
    chosen = backend
    big_note = ""
    if backend == "auto":
        chosen = "light" if known is False else "niivue"
        n_vox = int(np.prod(scene.shape))
        fast = render == "multiplanar" and meshes is None and preset is None
        if chosen == "niivue" and fast and n_vox > AUTO_NIIVUE_MAX_VOXELS:
            chosen = "light"  # the fast path: a first paint in about a second instead of 10+ s
            big_note = (
                f"large volume ({' x '.join(map(str, scene.shape))}): shown in the fast 2D viewer; "
                "pass backend='niivue' (or render='3d') for NiiVue's 3D views"
            )
    elif backend == "niivue" and known is False:
        warnings.warn(
            "this browser reported no WebGL2: NiiVue will show a blank box; use backend='light'", stacklevel=2
        )
    if chosen == "light" and render != "multiplanar":
        if backend == "light":
            raise ConfigError(
                "the light viewer draws the three planes only; use backend='niivue' for render='3d'"
            )
        log.info("no WebGL2: showing planes instead of render=%r", render)
    if chosen == "light" and options:
        log.info("NiiVue options ignored by the light viewer: %s", ", ".join(options))
    from .probe import FALLBACK_NOTE

    note = FALLBACK_NOTE if backend == "auto" and known is False else big_note
    if chosen == "niivue":
        options.update({k: v for k, v in (("meshes", meshes), ("preset", preset)) if v is not None})
    elif meshes is not None:
        log.info("the light viewer draws no meshes; use mk.view_mesh() or mk.view_xr() for surfaces")
    return View(
        scene,
        backend=chosen,
        render=render,
        height=height,
        options=options if chosen == "niivue" else {},
        auto=backend == "auto",
        note=note,
    )
