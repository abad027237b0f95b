"""The NiiVue backend (ipyniivue, WebGL2): multiplanar and 3D volume rendering with overlays.

Every layer of a :class:`~medimg_kernel.viz.scene.Scene` goes to the browser as in-memory NIfTI bytes
(no temp files) in one byte per voxel: the windowed uint8 image and the heat map keep their real units
through the NIfTI ``scl_slope``/``scl_inter``, labels are uint8/uint16 with a label colour table whose
alpha carries the per-label opacity. The ipyniivue 2.4.4 shared-buffer bug is patched on import
(:mod:`._ipyniivue_fix`).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from ..errors import ConfigError
from . import _ipyniivue_fix
from .scene import Scene, axis_index, check_index, check_opacity

__all__ = ["NiivueBackend", "nifti_bytes", "RENDER_MODES"]

log = logging.getLogger(__name__)

_ipyniivue_fix.apply()

RENDER_MODES = ("multiplanar", "3d", "axial", "coronal", "sagittal")


def nifti_bytes(data: np.ndarray, affine: np.ndarray, slope: float = 1.0, inter: float = 0.0) -> bytes:
    """Serialise ``data`` (kept in its dtype) with ``affine`` and scaling as single-file NIfTI-1 bytes, in memory."""
    import nibabel as nib

    hdr = nib.Nifti1Header()
    hdr.set_data_shape(data.shape)
    hdr.set_data_dtype(data.dtype)
    hdr.set_qform(np.asarray(affine, dtype=float), code="scanner")
    hdr.set_sform(np.asarray(affine, dtype=float), code="scanner")
    hdr.set_slope_inter(float(slope), float(inter))
    hdr.set_xyzt_units("mm")
    hdr["vox_offset"] = 352
    # header (348 bytes) + empty extension flag (4 bytes) + voxels in Fortran order (one copy)
    return hdr.binaryblock + b"\x00" * 4 + np.asarray(data).tobytes(order="F")


def _heat_as_uint8(scene: Scene) -> tuple[np.ndarray, float, float]:
    """The float16 heat map quantised to uint8 over [vmin, vmax] (NIfTI has no float16), with scaling."""
    h = scene.heat
    assert h is not None
    slope = (h.vmax - h.vmin) / 255.0
    q = np.rint((h.data.astype(np.float32) - h.vmin) / slope)
    return np.clip(q, 0, 255).astype(np.uint8), slope, h.vmin


class NiivueBackend:
    """Builds and drives one ``ipyniivue.NiiVue`` widget for a scene (``.widget`` is what is displayed)."""

    name = "niivue"

    def __init__(
        self,
        scene: Scene,
        *,
        render: str = "multiplanar",
        height: int = 400,
        meshes: Any = None,
        preset: str | None = None,
        **options: Any,
    ) -> None:
        import ipyniivue

        if render not in RENDER_MODES:
            raise ConfigError(f"render must be one of {', '.join(RENDER_MODES)}; got {render!r}")
        self.scene = scene
        self.preset = preset
        opts = {
            "back_color": (0.0, 0.0, 0.0, 1.0),
            "show_3d_crosshair": True,
            "crosshair_color": (0.0, 1.0, 0.0, 0.6),
            **options,
        }
        self.widget = ipyniivue.NiiVue(height=int(height), **opts)
        self._index: dict[str, int] = {}
        self.widget.load_volumes(self._volume_dicts())
        if meshes is not None:
            from .meshlayer import niivue_mesh_dicts

            self.widget.load_meshes(niivue_mesh_dicts(meshes))
        self._pos = [s // 2 for s in scene.shape]
        self.set_render(render)

    # ------------------------------------------------------------------ volumes
    def _volume_dicts(self) -> list[dict[str, Any]]:
        s = self.scene
        w = s.window
        vols: list[dict[str, Any]] = [
            {
                "data": nifti_bytes(s.base, s.affine, w.slope, w.low),
                "name": f"{s.image.name}.nii",
                "colormap": self._base_colormap(),
                "cal_min": w.low,
                "cal_max": w.high,
                "opacity": 1.0,
            }
        ]
        self._index = {"image": 0}
        for m in s.modalities:
            self._index[f"mod:{m.name}"] = len(vols)
            vols.append(
                {
                    "data": nifti_bytes(m.data, s.affine, m.window.slope, m.window.low),
                    "name": f"{m.name.replace(' ', '_')}.nii",
                    "colormap": m.colormap,
                    "cal_min": m.window.low + m.window.width * 0.05,
                    "cal_max": m.window.high,
                    "opacity": m.opacity,
                }
            )
        if s.heat is not None:
            q, slope, inter = _heat_as_uint8(s)
            h = s.heat
            self._index["overlay"] = len(vols)
            vols.append(
                {
                    "data": nifti_bytes(q, s.affine, slope, inter),
                    "name": "overlay.nii",
                    "colormap": h.colormap,
                    "cal_min": h.threshold if h.threshold is not None else h.vmin + slope,
                    "cal_max": h.vmax,
                    "opacity": h.opacity,
                }
            )
        for i, lay in enumerate(s.labels):
            self._index[f"labels:{i}"] = len(vols)
            vols.append(
                {
                    "data": nifti_bytes(lay.data, s.affine),
                    "name": f"labels{i}.nii",
                    "opacity": lay.opacity,
                    "colormap_label": self._lut(lay),
                }
            )
        return vols

    def _base_colormap(self) -> str:
        """The image's colormap: the volume-rendering preset's NiiVue transfer function when one is set."""
        if self.preset is None:
            return self.scene.colormap
        from .presets import preset_colormap

        return preset_colormap(self.preset)

    @staticmethod
    def _lut(lay: Any) -> Any:
        from ipyniivue import LUT

        lut = lay.lut()
        return LUT(
            lut=[int(v) for v in lut.ravel()],
            min=0,
            max=int(lay.n_labels),
            labels=[str(i) for i in range(lay.n_labels + 1)],
        )

    def _volume(self, key: str) -> Any:
        return self.widget.volumes[self._index[key]]

    # ------------------------------------------------------------------- public
    def set_render(self, render: str) -> None:
        from ipyniivue import SliceType

        kinds = {
            "multiplanar": SliceType.MULTIPLANAR,
            "3d": SliceType.RENDER,
            "axial": SliceType.AXIAL,
            "coronal": SliceType.CORONAL,
            "sagittal": SliceType.SAGITTAL,
        }
        if render not in kinds:
            raise ConfigError(f"render must be one of {', '.join(kinds)}; got {render!r}")
        self.render = render
        self.widget.set_slice_type(kinds[render])

    def set_slice(self, axis: int | str, index: int) -> None:
        ax = axis_index(axis)
        self._pos[ax] = check_index(self.scene, ax, index)
        self.widget.scene.crosshair_pos = [(p + 0.5) / n for p, n in zip(self._pos, self.scene.shape)]

    def get_slice(self) -> tuple[int, int, int]:
        frac = self.widget.scene.crosshair_pos
        return tuple(int(min(n - 1, max(0, np.floor(f * n)))) for f, n in zip(frac, self.scene.shape))  # type: ignore[return-value]

    def set_opacity(self, layer: str | int = "labels", value: float = 0.5) -> None:
        v = check_opacity(value)
        if layer == "labels" or isinstance(layer, int):
            idx = range(len(self.scene.labels)) if layer == "labels" else [int(layer)]
            for i in idx:
                self.scene.labels[i].opacity = v
                self._volume(f"labels:{i}").opacity = v
        elif layer in ("overlay", "heat"):
            if "overlay" not in self._index:
                raise ConfigError("this view has no overlay; pass overlay=... to view()")
            self._volume("overlay").opacity = v
        elif layer == "image":
            self._volume("image").opacity = v
        elif f"mod:{layer}" in self._index:
            self._volume(f"mod:{layer}").opacity = v
        else:
            mods = [k[4:] for k in self._index if k.startswith("mod:")]
            raise ConfigError(
                f"unknown layer {layer!r}; choose 'labels', 'overlay', 'image' or one of {mods}"
            )

    def _refresh_labels(self, layer: int) -> None:
        self._volume(f"labels:{layer}").colormap_label = self._lut(self.scene.labels[layer])

    def set_label_opacity(self, label: int, value: float, layer: int = 0) -> None:
        self.scene.labels[layer].label_alpha[int(label)] = check_opacity(value)
        self._refresh_labels(layer)

    def show_labels(
        self, labels: int | list[int] | None = None, visible: bool = True, layer: int = 0
    ) -> None:
        lay = self.scene.labels[layer]
        values = lay.all_labels() if labels is None else [int(v) for v in np.atleast_1d(labels)]
        lay.hidden = (lay.hidden - set(values)) if visible else (lay.hidden | set(values))
        self._refresh_labels(layer)

    def set_overlay_threshold(self, threshold: float | None) -> None:
        h = self.scene.heat
        if h is None:
            raise ConfigError("this view has no overlay; pass overlay=... to view()")
        h.threshold = None if threshold is None else float(threshold)
        self._volume("overlay").cal_min = h.threshold if h.threshold is not None else h.vmin

    def set_window(self, window: Any) -> None:
        """Re-window the image; the image volume is rebuilt (NiiVue volumes are immutable)."""
        self.scene.rewindow(window)
        w = self.scene.window
        from ipyniivue import Volume

        old = self.widget.volumes
        first = Volume(
            data=nifti_bytes(self.scene.base, self.scene.affine, w.slope, w.low),
            name=f"{self.scene.image.name}.nii",
            colormap=self._base_colormap(),
            cal_min=w.low,
            cal_max=w.high,
        )
        self.widget.volumes = [first, *old[1:]]

    def close(self) -> None:
        self.widget.close()
