"""Prepare what a viewer shows: one base image (windowed to uint8), label maps, a heat map and extra
co-registered modalities, all on the base image's voxel grid and in the smallest faithful dtype.

Every backend (NiiVue, the light viewer, snapshots, compare) draws from a :class:`Scene`, so geometry
checks, NaN handling and dtype choices happen once, here.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ConfigError, ShapeMismatchError
from .volume import DEFAULT_MAX_VOXELS, Volume, VolumeWarning, as_volume, resample_like, split_item
from .windowing import Window, apply_window, resolve_window

__all__ = [
    "Scene",
    "LabelLayer",
    "HeatLayer",
    "ModalityLayer",
    "prepare_scene",
    "label_dtype",
    "axis_index",
    "check_index",
    "check_opacity",
]

log = logging.getLogger(__name__)

_MODALITY_COLORMAPS = ("hot", "winter", "green", "cool", "red", "blue")


@dataclass(eq=False)
class LabelLayer:
    """Integer labels (0 = background) in uint8/uint16, with a layer opacity, per-label alpha and hidden labels.

    A label's drawn opacity is ``opacity * label_alpha.get(label, default_alpha)``; hidden labels are not drawn.
    """

    data: np.ndarray
    name: str = "labels"
    opacity: float = 0.5
    label_alpha: dict[int, float] = field(default_factory=dict)
    default_alpha: float = 1.0
    hidden: set[int] = field(default_factory=set)
    n_labels: int = 0
    colors: dict[int, tuple[int, int, int]] = field(default_factory=dict)

    @classmethod
    def from_option(cls, data: np.ndarray, name: str, opacity: float | dict[int, float]) -> LabelLayer:
        """Build from ``label_opacity``: a float for all labels or ``{label: opacity}`` (others 0.5)."""
        top = int(data.max()) if data.size else 0
        if isinstance(opacity, dict):
            alpha = {int(k): check_opacity(v) for k, v in opacity.items()}
            return cls(data, name, 1.0, alpha, 0.5, set(), top)
        return cls(data, name, check_opacity(opacity), {}, 1.0, set(), top)

    def lut(self) -> np.ndarray:
        """RGBA uint8 (n_labels + 1, 4): label colours with per-label alpha (0 for hidden labels)."""
        from .colors import label_lut

        alpha = {lab: self.label_alpha.get(lab, self.default_alpha) for lab in range(1, self.n_labels + 1)}
        lut = label_lut(self.n_labels, alpha, frozenset(self.hidden))
        for lab, rgb in self.colors.items():
            if 0 < lab <= self.n_labels:
                lut[lab, :3] = rgb
        return lut

    def all_labels(self) -> list[int]:
        """Label values 1..n_labels (what ``None`` means in show/hide calls)."""
        return list(range(1, self.n_labels + 1))


@dataclass(eq=False)
class HeatLayer:
    """A continuous map (saliency, uncertainty, PET) as float16, drawn where value >= threshold."""

    data: np.ndarray
    name: str = "overlay"
    threshold: float | None = None
    opacity: float = 0.5
    colormap: str = "warm"
    vmin: float = 0.0
    vmax: float = 1.0


@dataclass(eq=False)
class ModalityLayer:
    """Another co-registered image, windowed to uint8, blended over the base with its colour map."""

    data: np.ndarray
    window: Window
    name: str
    colormap: str = "hot"
    opacity: float = 0.5


@dataclass(eq=False)
class Scene:
    """The base image plus overlays, all on ``image``'s grid (canonical RAS voxel order)."""

    image: Volume
    base: np.ndarray  # uint8, windowed
    window: Window
    colormap: str = "gray"
    labels: list[LabelLayer] = field(default_factory=list)
    heat: HeatLayer | None = None
    modalities: list[ModalityLayer] = field(default_factory=list)
    rgb: np.ndarray | None = None  # (X, Y, Z, 3) uint8 true colour, when the image is an RGB picture

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.image.shape

    @property
    def spacing(self) -> tuple[float, float, float]:
        return self.image.spacing

    @property
    def affine(self) -> np.ndarray:
        return self.image.affine

    def rewindow(self, window: None | str | tuple[float, float]) -> None:
        """Re-window the base image from the kept original values."""
        self.window = resolve_window(window, self.image.data)
        self.base = apply_window(_finite(self.image.data, self.image.name, warn=False), self.window)

    def nbytes(self) -> int:
        """Bytes of voxel data a front end receives for this scene."""
        total = self.base.nbytes + sum(lay.data.nbytes for lay in self.labels)
        total += sum(m.data.nbytes for m in self.modalities)
        return total + (self.heat.data.nbytes if self.heat is not None else 0)


def label_dtype(max_label: int) -> np.dtype:
    """Smallest unsigned dtype that holds ``max_label``."""
    for dt in (np.uint8, np.uint16, np.uint32):
        if max_label <= np.iinfo(dt).max:
            return np.dtype(dt)
    raise ConfigError(f"label value {max_label} is too large to display; expected integers below 2**32")


def _finite(data: np.ndarray, name: str, *, warn: bool = True) -> np.ndarray:
    """Replace NaN by the smallest finite value and ±Inf by the finite extremes (warns with counts)."""
    if data.dtype.kind != "f":
        return data
    ok = np.isfinite(data)
    if ok.all():
        return data
    bad = int(ok.size - np.count_nonzero(ok))
    finite = data[ok]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
    if warn:
        warnings.warn(
            f"{name} has {bad} NaN/Inf voxels ({100 * bad / ok.size:.2g}%): shown as {lo:g} (NaN, -Inf) "
            f"and {hi:g} (+Inf)",
            VolumeWarning,
            stacklevel=4,
        )
    return np.nan_to_num(data, nan=lo, posinf=hi, neginf=lo)


def _align(moving: Volume, reference: Volume, *, order: int, what: str, resample: bool) -> Volume:
    """Bring ``moving`` onto ``reference``'s grid: same grid as is, else resample or refuse."""
    if moving.same_grid(reference):
        return moving
    if not moving.has_geometry and moving.shape == reference.shape:
        return Volume(moving.data, reference.affine.copy(), moving.name, False)
    both = f"image geometry [{reference.geometry()}] vs {what} geometry [{moving.geometry()}]"
    if not (moving.has_geometry and reference.has_geometry):
        raise ShapeMismatchError(
            f"{what} does not match the image and carries no spacing/orientation to resample it with: {both}. "
            f"Pass {what} on the same voxel grid, or as a nibabel/SimpleITK image or with affine=..."
        )
    if not resample:
        raise ShapeMismatchError(
            f"{what} is on another voxel grid: {both}; pass resample=True to resample it"
        )
    log.info("resampling %s onto the image grid (%s)", what, both)
    return resample_like(moving, reference, order=order)


def _convert(
    obj: Any, ref_raw: tuple[tuple[int, ...], np.ndarray] | None, name: str, max_voxels: int
) -> Volume:
    """as_volume, letting a bare array with the image's original shape borrow the image's geometry."""
    vol = as_volume(obj, name=name, max_voxels=max_voxels)
    if vol.has_geometry or ref_raw is None:
        return vol
    raw_shape, raw_affine = ref_raw
    arr = np.asarray(obj.detach().cpu().numpy() if hasattr(obj, "detach") else obj)
    while arr.ndim > 3 and arr.shape[0] == 1:
        arr = arr[0]
    if tuple(arr.shape[:3]) == tuple(raw_shape[:3]):
        borrowed = as_volume(arr, affine=raw_affine, name=name, max_voxels=max_voxels)
        borrowed.has_geometry = False
        return borrowed
    return vol


def _raw_geometry(obj: Any) -> tuple[tuple[int, ...], np.ndarray] | None:
    """(shape, affine) of the image before reorientation, for bare overlays given in the same voxel order."""
    from .volume import _squeeze_to_3d, _to_array

    if isinstance(obj, Volume):
        return None
    try:
        arr, aff, _ = _to_array(obj)
    except Exception:  # noqa: BLE001 - the real conversion reports the error
        return None
    arr = _squeeze_to_3d(arr, "image")
    return (tuple(arr.shape[:3]), aff if aff is not None else np.eye(4))


def _labels_layer(
    obj: Any,
    image: Volume,
    ref_raw: Any,
    *,
    opacity: Any,
    resample: bool,
    max_voxels: int,
    name: str = "labels",
) -> LabelLayer | None:
    vol = _convert(obj, ref_raw, name, max_voxels)
    if vol.data.ndim != 3:
        raise ShapeMismatchError(f"{name} must be one 3D label map (X, Y, Z); got shape {vol.data.shape}")
    data = np.asarray(vol.data)
    if data.dtype.kind == "f":
        if not np.all(np.isfinite(data)):
            raise ConfigError(f"{name} contain NaN/Inf; labels must be integers >= 0")
        if not np.array_equal(data, np.round(data)):
            raise ConfigError(
                f"{name} have fractional values (dtype {data.dtype}); labels must be integers >= 0. "
                "For a probability or saliency map use overlay=... instead (a heat map)"
            )
    if data.size and data.min() < 0:
        raise ConfigError(f"{name} contain negative values (min {data.min()}); labels must be integers >= 0")
    vol = Volume(data, vol.affine, vol.name, vol.has_geometry)
    vol = _align(vol, image, order=0, what=name, resample=resample)
    top = int(vol.data.max()) if vol.data.size else 0
    if top == 0:
        warnings.warn(f"{name} are empty (every voxel is 0): nothing to overlay", VolumeWarning, stacklevel=4)
    return LabelLayer.from_option(
        np.ascontiguousarray(vol.data.astype(label_dtype(top), copy=False)), name, opacity
    )


def _heat_layer(
    obj: Any,
    image: Volume,
    ref_raw: Any,
    *,
    threshold: float | None,
    opacity: float,
    colormap: str,
    resample: bool,
    max_voxels: int,
) -> HeatLayer:
    vol = _convert(obj, ref_raw, "overlay", max_voxels)
    if vol.data.ndim != 3:
        raise ShapeMismatchError(f"overlay must be one 3D map (X, Y, Z); got shape {vol.data.shape}")
    data = _finite(np.asarray(vol.data, dtype=np.float32), "overlay")
    vol = _align(
        Volume(data, vol.affine, "overlay", vol.has_geometry),
        image,
        order=1,
        what="overlay",
        resample=resample,
    )
    data = np.asarray(vol.data, dtype=np.float32)
    vmin, vmax = (float(data.min()), float(data.max())) if data.size else (0.0, 1.0)
    f16 = np.finfo(np.float16)
    if max(abs(vmin), abs(vmax)) > float(f16.max):
        scale = max(abs(vmin), abs(vmax)) / float(f16.max)
        warnings.warn(
            f"overlay values reach {max(abs(vmin), abs(vmax)):g}, beyond float16: divided by {scale:g}",
            VolumeWarning,
            stacklevel=4,
        )
        data, vmin, vmax = data / scale, vmin / scale, vmax / scale
        threshold = None if threshold is None else threshold / scale
    if vmax <= vmin:
        vmax = vmin + 1.0
    return HeatLayer(
        np.ascontiguousarray(data.astype(np.float16)), "overlay", threshold, opacity, colormap, vmin, vmax
    )


def prepare_scene(
    image: Any,
    labels: Any = None,
    overlay: Any = None,
    *,
    window: Any = None,
    colormap: str = "gray",
    label_opacity: float | dict[int, float] = 0.5,
    overlay_threshold: float | None = None,
    overlay_opacity: float = 0.5,
    overlay_colormap: str = "warm",
    modalities: Any = None,
    resample: bool = True,
    max_voxels: int = DEFAULT_MAX_VOXELS,
    affine: Any = None,
    spacing: Any = None,
) -> Scene:
    """Convert and check every input of :func:`medimg_kernel.view` into a :class:`Scene`."""
    from .colors import COLORMAPS

    for cm in (colormap, overlay_colormap):
        if cm not in COLORMAPS:
            raise ConfigError(f"unknown colormap {cm!r}; choose one of {', '.join(COLORMAPS)}")
    if isinstance(image, dict):
        img, item_labels, geo = split_item(image)
        labels = item_labels if labels is None else labels
        affine = geo.get("affine") if affine is None else affine
        spacing = geo.get("spacing") if spacing is None else spacing
        image = img
    vol = as_volume(image, affine=affine, spacing=spacing, max_voxels=max_voxels)
    ref_raw = _raw_geometry(image)
    if ref_raw is not None and (affine is not None or spacing is not None):
        from .volume import _spacing_affine

        ref_raw = (
            ref_raw[0],
            np.asarray(affine, dtype=float) if affine is not None else _spacing_affine(spacing),
        )
    extra: list[tuple[str, Any]] = []
    rgb = _true_colour(vol.data)
    if rgb is not None:  # an RGB picture: drawn in colour, windowed as its luminance
        lum = rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
        vol = Volume(lum, vol.affine, vol.name, vol.has_geometry)
    if vol.data.ndim == 4:  # channels: the first is the image, up to 5 more become modalities
        n = vol.data.shape[3]
        if n > 6:
            warnings.warn(
                f"image has {n} channels/frames; showing the first only", VolumeWarning, stacklevel=3
            )
        for c in range(1, min(n, 6)):
            extra.append(
                (f"channel {c}", Volume(vol.data[..., c], vol.affine, f"channel {c}", vol.has_geometry))
            )
        vol = Volume(vol.data[..., 0], vol.affine, vol.name, vol.has_geometry)
    if vol.data.dtype == np.float16:
        vol = Volume(vol.data.astype(np.float32), vol.affine, vol.name, vol.has_geometry)
    data = _finite(np.asarray(vol.data), vol.name)
    win = resolve_window(window, data)
    scene = Scene(vol, apply_window(data, win), win, colormap, rgb=rgb)

    if labels is not None:
        layers = labels if isinstance(labels, (list, tuple)) else [labels]
        for i, lab in enumerate(layers):
            name = "labels" if len(layers) == 1 else f"labels {i + 1}"
            layer = _labels_layer(
                lab, vol, ref_raw, opacity=label_opacity, resample=resample, max_voxels=max_voxels, name=name
            )
            if layer is not None:
                scene.labels.append(layer)
    if overlay is not None:
        scene.heat = _heat_layer(
            overlay,
            vol,
            ref_raw,
            threshold=overlay_threshold,
            opacity=overlay_opacity,
            colormap=overlay_colormap,
            resample=resample,
            max_voxels=max_voxels,
        )
    if modalities is not None:
        items = (
            list(modalities.items())
            if isinstance(modalities, dict)
            else [(f"modality {i + 1}", m) for i, m in enumerate(modalities)]
        )
        extra.extend(items)
    for i, (name, obj) in enumerate(extra):
        mv = obj if isinstance(obj, Volume) else _convert(obj, ref_raw, str(name), max_voxels)
        if mv.data.ndim != 3:
            raise ShapeMismatchError(f"modality {name!r} must be 3D; got shape {mv.data.shape}")
        mdata = _finite(np.asarray(mv.data, dtype=np.float32), str(name))
        mv = _align(
            Volume(mdata, mv.affine, str(name), mv.has_geometry),
            vol,
            order=1,
            what=f"modality {name!r}",
            resample=resample,
        )
        mwin = resolve_window(None, mv.data)
        scene.modalities.append(
            ModalityLayer(
                apply_window(mv.data, mwin),
                mwin,
                str(name),
                _MODALITY_COLORMAPS[i % len(_MODALITY_COLORMAPS)],
            )
        )
    return scene


def _true_colour(data: np.ndarray) -> np.ndarray | None:
    """(X, Y, Z, 3) uint8 for RGB pictures (3 integer samples, as the kit's readers give them), else None."""
    if data.ndim != 4 or data.shape[3] != 3 or data.dtype.kind != "u" or data.dtype.itemsize > 4:
        return None
    if data.dtype.itemsize > 1:  # 16/32-bit samples: the full range maps to 0..255
        return np.rint(data.astype(np.float64) * (255.0 / np.iinfo(data.dtype).max)).astype(np.uint8)
    return np.ascontiguousarray(data)


_AXES = {"x": 0, "sagittal": 0, "y": 1, "coronal": 1, "z": 2, "axial": 2}


def axis_index(axis: int | str) -> int:
    """0/1/2 for ``axis`` given as an index, ``'x'/'y'/'z'`` or ``'sagittal'/'coronal'/'axial'``."""
    if isinstance(axis, str) and axis.lower() in _AXES:
        return _AXES[axis.lower()]
    if isinstance(axis, (int, np.integer)) and 0 <= int(axis) <= 2:
        return int(axis)
    raise ConfigError(f"axis must be 0, 1, 2 or one of {', '.join(_AXES)}; got {axis!r}")


def check_index(scene: Scene, axis: int, index: int) -> int:
    """Validate a slice index along ``axis`` (negative counts from the end, like numpy)."""
    n = scene.shape[axis]
    idx = int(index)
    if idx < 0:
        idx += n
    if not 0 <= idx < n:
        raise ConfigError(f"slice index {index} is outside 0..{n - 1} along axis {axis}")
    return idx


def check_opacity(value: float) -> float:
    v = float(value)
    if not 0.0 <= v <= 1.0:
        raise ConfigError(f"opacity must be between 0 and 1, got {value!r}")
    return v
