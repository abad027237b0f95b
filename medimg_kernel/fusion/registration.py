"""Registration of two modalities with SimpleITK: rigid, then affine, by Mattes mutual information.

Early fusion needs every modality on one voxel grid *and* aligned anatomy. Resampling (``resample_to``)
fixes the grid when the scanner's affines are right; when the patient moved between sequences, or two
scanners' frames disagree, the images must be **registered**: a transform is searched that makes the moving
image look most like the fixed one. Across contrasts (T1 vs T2, MR vs PET) intensities differ, so the
similarity is mutual information, not a difference of intensities.

Arrays are ``(x, y, z)`` with 4×4 voxel-to-world affines, as everywhere in the kit; SimpleITK's images and
transforms are built from them. A transform here maps **fixed** physical points to **moving** ones (ITK's
convention), which is what resampling the moving image onto the fixed grid needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ConfigError, ShapeMismatchError

__all__ = ["register", "misalign", "RegistrationResult", "target_registration_error"]


def _image(arr: np.ndarray, affine: np.ndarray | None) -> Any:
    import SimpleITK as sitk

    arr = np.asarray(arr)
    if arr.ndim != 3:
        raise ShapeMismatchError(f"registration needs 3D (x, y, z) arrays, got shape {arr.shape}")
    img = sitk.GetImageFromArray(np.ascontiguousarray(arr.transpose(2, 1, 0)).astype(np.float32))
    a = np.eye(4) if affine is None else np.asarray(affine, dtype=np.float64)
    spacing = np.linalg.norm(a[:3, :3], axis=0)
    img.SetSpacing(tuple(float(s) for s in spacing))
    img.SetDirection(tuple(float(v) for v in (a[:3, :3] / spacing).ravel()))
    img.SetOrigin(tuple(float(v) for v in a[:3, 3]))
    return img


def _array(img: Any) -> np.ndarray:
    import SimpleITK as sitk

    return sitk.GetArrayFromImage(img).transpose(2, 1, 0)


def _resample(moving: Any, reference: Any, transform: Any, labels: bool) -> Any:
    import SimpleITK as sitk

    interp = sitk.sitkNearestNeighbor if labels else sitk.sitkLinear
    return sitk.Resample(moving, reference, transform, interp, 0.0, moving.GetPixelID())


@dataclass
class RegistrationResult:
    """A fitted registration: the transform (fixed → moving points), the registered image and the metric."""

    transform: Any
    registered: np.ndarray
    stages: list[dict[str, Any]] = field(default_factory=list)
    _fixed: Any = None
    _moving_affine: np.ndarray | None = None

    def apply(self, moving_array: np.ndarray, *, labels: bool = False) -> np.ndarray:
        """Resample another array on the moving image's grid onto the fixed grid (nearest for ``labels``)."""
        out = _array(_resample(_image(moving_array, self._moving_affine), self._fixed, self.transform, labels))
        return np.rint(out).astype(np.asarray(moving_array).dtype) if labels else out

    def map_points(self, points_mm: np.ndarray) -> np.ndarray:
        """Map fixed-image world points ``(n, 3)`` (mm) to where the registration puts them in the moving image."""
        return np.array([self.transform.TransformPoint(tuple(float(v) for v in p)) for p in np.asarray(points_mm)])


def register(
    fixed: np.ndarray,
    moving: np.ndarray,
    fixed_affine: np.ndarray | None = None,
    moving_affine: np.ndarray | None = None,
    *,
    stages: Sequence[str] = ("rigid", "affine"),
    bins: int = 32,
    sampling: float = 0.3,
    iterations: int = 200,
    shrink: Sequence[int] = (2, 1),
    seed: int = 0,
) -> RegistrationResult:
    """Register ``moving`` to ``fixed`` by Mattes mutual information, one stage after another.

    ``stages`` are ``"rigid"`` (rotation + translation, 6 parameters) and/or ``"affine"`` (12, adds scaling
    and shear), each starting where the previous ended; the first starts from the images' centres aligned.
    Each stage runs a multi-resolution pyramid (``shrink`` factors) with regular-step gradient descent.
    Returns the transform, the moving image resampled onto the fixed grid and each stage's final metric.
    """
    import SimpleITK as sitk

    unknown = [s for s in stages if s not in ("rigid", "affine")]
    if unknown or not stages:
        raise ConfigError(f"stages={tuple(stages)!r}: use 'rigid' and/or 'affine', in that order")
    f_img, m_img = _image(fixed, fixed_affine), _image(moving, moving_affine)
    current: Any = sitk.CenteredTransformInitializer(
        f_img, m_img, sitk.Euler3DTransform(), sitk.CenteredTransformInitializerFilter.GEOMETRY)
    done: list[dict[str, Any]] = []
    for stage in stages:
        if stage == "rigid":
            tx = sitk.Euler3DTransform(current) if isinstance(current, sitk.Euler3DTransform) else current
        else:
            tx = sitk.AffineTransform(3)
            tx.SetMatrix(current.GetMatrix())
            tx.SetTranslation(current.GetTranslation())
            tx.SetCenter(current.GetCenter())
        reg = sitk.ImageRegistrationMethod()
        reg.SetMetricAsMattesMutualInformation(numberOfHistogramBins=bins)
        reg.SetMetricSamplingStrategy(reg.RANDOM)
        reg.SetMetricSamplingPercentage(sampling, seed)
        reg.SetInterpolator(sitk.sitkLinear)
        reg.SetOptimizerAsRegularStepGradientDescent(learningRate=1.0, minStep=1e-4, numberOfIterations=iterations,
                                                    relaxationFactor=0.6)
        reg.SetOptimizerScalesFromPhysicalShift()
        reg.SetShrinkFactorsPerLevel(list(shrink))
        reg.SetSmoothingSigmasPerLevel([max(0, s - 1) for s in shrink])
        reg.SmoothingSigmasAreSpecifiedInPhysicalUnitsOff()
        reg.SetInitialTransform(tx, inPlace=True)
        reg.Execute(f_img, m_img)
        done.append({"stage": stage, "metric": float(reg.GetMetricValue()),
                     "iterations": int(reg.GetOptimizerIteration()),
                     "stop": reg.GetOptimizerStopConditionDescription()})
        current = tx
    registered = _array(_resample(m_img, f_img, current, labels=False))
    return RegistrationResult(current, registered, done, f_img,
                              None if moving_affine is None else np.asarray(moving_affine))


def misalign(
    array: np.ndarray,
    affine: np.ndarray | None = None,
    *,
    rotation_deg: Sequence[float] = (6.0, -4.0, 8.0),
    translation_mm: Sequence[float] = (3.0, -2.0, 2.5),
    scale: Sequence[float] = (1.0, 1.0, 1.0),
    labels: bool = False,
) -> tuple[np.ndarray, Any]:
    """Simulate a patient who moved: return ``array`` seen through a known transform, and that transform.

    The transform (a SimpleITK ``AffineTransform``, fixed → moving points) rotates about the volume's centre
    by ``rotation_deg`` (about x, y, z), scales by ``scale`` and shifts by ``translation_mm``. Registration
    should recover it: :func:`target_registration_error` measures how well.
    """
    import SimpleITK as sitk

    img = _image(array, affine)
    centre = img.TransformContinuousIndexToPhysicalPoint([(s - 1) / 2 for s in img.GetSize()])
    euler = sitk.Euler3DTransform(centre, *np.deg2rad(np.asarray(rotation_deg, dtype=float)),
                                  tuple(float(t) for t in translation_mm))
    truth = sitk.AffineTransform(3)
    truth.SetCenter(centre)
    truth.SetMatrix(tuple((np.asarray(euler.GetMatrix()).reshape(3, 3) @ np.diag(scale)).ravel()))
    truth.SetTranslation(euler.GetTranslation())
    # the moving image at a point y shows what the fixed anatomy shows at truth^-1(y)
    moved = _array(_resample(img, img, truth.GetInverse(), labels))
    return (np.rint(moved).astype(np.asarray(array).dtype) if labels else moved), truth


def target_registration_error(points_mm: np.ndarray, truth: Any, estimate: Any | None = None) -> np.ndarray:
    """Distance (mm) between where ``truth`` and ``estimate`` send each fixed point (identity if None)."""
    pts = np.asarray(points_mm, dtype=float)
    true_pos = np.array([truth.TransformPoint(tuple(p)) for p in pts])
    est = pts if estimate is None else np.array([estimate.TransformPoint(tuple(p)) for p in pts])
    return np.linalg.norm(true_pos - est, axis=1)
