"""Synthetic multimodal patient cohort: co-registered MRI + PET with a tumour, clinical and genomic
tables, and survival drawn from a known model (``multimodal_cohort``).

Images derive from the MNI152 template's tissue maps (nilearn, offline), cropped to the brain and
resampled to a small cube (``size``³, 32 by default). Each patient gets a small random affine, a bias
field, noise and an ellipsoidal tumour with three sub-regions (necrotic core, enhancing rim, oedema) whose
appearance differs per modality: dark core and bright rim on T1c, bright oedema on T2 and FLAIR (CSF dark
on FLAIR), subtle on T1, and a hot rim with a cold core on the PET-like uptake map.

Survival follows a Weibull proportional-hazards model whose log hazard ratio is the sum of three
independent parts of similar size: imaging (tumour volume and rim uptake), clinical (age, performance
status) and genomic (IDH, MGMT, EGFR, an expression signature). Each source alone explains part of the
risk, so a model fusing all three beats every single source. Everything is deterministic in ``seed``,
and patient ``i`` is the same whatever ``n``.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from ...errors import ConfigError
from . import register_generator

__all__ = ["multimodal_cohort", "MODALITIES", "DATA_DICTIONARY", "SEG_LABELS"]

#: image channels in their canonical order
MODALITIES = ("t1", "t1c", "t2", "flair", "pet")
#: labels of the ``seg`` map
SEG_LABELS = {0: "background", 1: "necrotic core", 2: "oedema", 3: "enhancing rim"}

# tissue contrasts (CSF, GM, WM) and tumour sub-region values (core, oedema, rim) per modality
_TISSUE = {
    "t1": (0.20, 0.55, 0.85),
    "t1c": (0.22, 0.57, 0.85),
    "t2": (1.00, 0.62, 0.45),
    "flair": (0.08, 0.62, 0.48),
    "pet": (0.08, 1.00, 0.40),
}
_TUMOUR = {
    "t1": (0.30, 0.62, 0.50),
    "t1c": (0.28, 0.62, 1.25),
    "t2": (0.95, 0.90, 0.70),
    "flair": (0.55, 1.05, 0.80),
    "pet": (0.15, 0.55, None),  # rim uptake is the patient's activity
}
_N_GENES = 16

# (column, table, type, unit, description)
_DICTIONARY = [
    ("patient_id", "both", "str", "", "patient identifier (row key of both tables)"),
    ("age", "clinical", "float", "years", "age at diagnosis; risk rises with age"),
    ("sex", "clinical", "int 0/1", "", "1 = male, 0 = female; no effect on survival"),
    (
        "ecog",
        "clinical",
        "int 0-3",
        "",
        "ECOG performance status (0 fully active ... 3 limited self-care); higher = worse",
    ),
    ("bmi", "clinical", "float", "kg/m^2", "body-mass index; no effect on survival (a distractor)"),
    ("steroids", "clinical", "int 0/1", "", "on corticosteroids at baseline; no effect on survival"),
    ("idh_mutant", "genomic", "int 0/1", "", "IDH1/2 mutation; strongly protective"),
    ("mgmt_methylated", "genomic", "int 0/1", "", "MGMT promoter methylation; protective"),
    (
        "egfr_amplified",
        "genomic",
        "int 0/1",
        "",
        "EGFR amplification (more frequent if IDH wild-type); harmful",
    ),
    ("tert_promoter", "genomic", "int 0/1", "", "TERT promoter mutation; no direct effect"),
    (
        "gene_00 ... gene_15",
        "genomic",
        "float",
        "log2 expr (z)",
        "expression signature: gene_00-07 load on a "
        "proliferation score that raises risk, gene_08-15 are noise",
    ),
]
DATA_DICTIONARY = pd.DataFrame(_DICTIONARY, columns=["column", "table", "type", "unit", "description"])


@functools.lru_cache(maxsize=4)
def _template(size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tissue maps (3, S, S, S) of the MNI brain on a ``size``³ grid, its brain mask and affine."""
    from ..geometry import Geometry, resample_to
    from ..samples import load_mni152

    mni = load_mni152(2)
    idx = np.argwhere(mni.mask)
    lo, hi = idx.min(0), idx.max(0)
    centre_vox = (lo + hi) / 2.0
    extent_mm = float(((hi - lo + 1) * np.asarray(mni.spacing)).max()) * 1.02
    spacing = extent_mm / size
    centre_mm = mni.affine[:3, :3] @ centre_vox + mni.affine[:3, 3]
    affine = np.diag([spacing, spacing, spacing, 1.0])
    affine[:3, 3] = centre_mm - spacing * (size - 1) / 2.0
    grid = Geometry.of((size,) * 3, affine)
    maps = np.stack([resample_to(m, mni.affine, grid) for m in (mni.csf, mni.gm, mni.wm)])
    maps = np.clip(maps, 0.0, 1.0).astype(np.float32)
    mask = maps.sum(0) > 0.5
    return maps, mask, affine


def _random_affine(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    ang = np.deg2rad(rng.uniform(-5, 5, 3))
    cx, cy, cz = np.cos(ang)
    sx, sy, sz = np.sin(ang)
    rot = (
        np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
        @ np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
        @ np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    )
    mat = rot * rng.uniform(0.95, 1.05)
    centre = np.full(3, (size - 1) / 2.0)
    offset = centre - mat @ centre + rng.uniform(-1.0, 1.0, 3) * size / 32
    return mat, offset


def _bias_field(rng: np.random.Generator, size: int) -> np.ndarray:
    g = np.linspace(-1, 1, size)
    x, y, z = np.meshgrid(g, g, g, indexing="ij")
    c = rng.normal(0, 0.06, 6)
    return (1.0 + c[0] * x + c[1] * y + c[2] * z + c[3] * x * y + c[4] * y * z + c[5] * x * x).astype(
        np.float32
    )


def _patient_images(
    rng: np.random.Generator, size: int, radius: float, activity: float, necrosis: float, oedema: float
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    from scipy import ndimage

    maps, mask, _ = _template(size)
    mat, offset = _random_affine(rng, size)
    tissue = np.stack([ndimage.affine_transform(m, mat, offset=offset, order=1) for m in maps])
    brain = tissue.sum(0) > 0.5
    # tumour centre: a random deep white-matter voxel, far enough from the brain edge
    depth = ndimage.distance_transform_edt(brain)
    candidates = np.argwhere((tissue[2] > 0.4) & (depth > radius * 0.9))
    if candidates.size == 0:
        candidates = np.argwhere(depth >= depth.max() * 0.7)
    centre = candidates[rng.integers(len(candidates))].astype(float)
    axes = radius * rng.uniform(0.8, 1.2, 3)
    grid = np.indices((size,) * 3, dtype=np.float32)
    d = np.sqrt((((grid - centre[:, None, None, None]) / axes[:, None, None, None]) ** 2).sum(0))
    seg = np.zeros((size,) * 3, np.uint8)
    seg[(d <= 1.0 + oedema) & brain] = 2
    seg[d <= 1.0] = 3
    seg[d <= necrosis] = 1
    soft = {k: ndimage.gaussian_filter((seg == k).astype(np.float32), 0.6) for k in (1, 2, 3)}
    tumour_w = soft[1] + soft[2] + soft[3]
    bias = _bias_field(rng, size)
    images = {}
    for name in MODALITIES:
        base = np.tensordot(np.asarray(_TISSUE[name], np.float32), tissue, axes=1)
        core, oed, rim = _TUMOUR[name]
        rim = activity if rim is None else rim
        img = base * (1 - tumour_w) + core * soft[1] + oed * soft[2] + rim * soft[3]
        if name == "pet":
            img = ndimage.gaussian_filter(img, 1.0) * rng.uniform(0.9, 1.1)
            img = img + rng.normal(0, 0.03, img.shape)
        else:
            img = img * bias + rng.normal(0, 0.025, img.shape)
        images[name] = np.clip(img, 0, None).astype(np.float32)
    return images, seg


@register_generator("multimodal_cohort")
def multimodal_cohort(
    n: int, *, seed: int = 0, size: int = 32, images: bool = True, censoring: float = 0.3
) -> dict:
    """Generate ``n`` patients with co-registered MRI/PET, a tumour mask, tables and survival.

    Parameters
    ----------
    n : int
        Number of patients.
    seed : int
        Master seed; patient ``i`` depends only on ``(seed, i)``.
    size : int
        Edge of the cubic image grid (voxels); the brain fills it (≈ 5.4 mm voxels at 32).
    images : bool
        False skips image synthesis (tables and survival only, much faster).
    censoring : float
        Approximate fraction of censored patients (uniform censoring times).

    Returns
    -------
    dict with
        ``images``: float32 (n, 5, size, size, size), channels in ``modalities`` order, and the views
        ``t1``, ``t1c``, ``t2``, ``flair``, ``pet``: float32 (n, size, size, size), co-registered;
        ``seg`` (= ``labels``): uint8 (n, size, size, size), labels in ``SEG_LABELS`` (``class_names``);
        ``affine`` (4, 4), ``spacing``;
        ``pet_lowres``: float32 (n, size//2, …) PET on its own coarser grid, ``pet_lowres_affine``;
        ``modalities``: the channel names; ``clinical``, ``genomic``: DataFrames indexed by patient_id;
        ``data_dictionary``: DataFrame; ``time`` float32 (n,), ``event`` uint8 (n,); ``risk`` float32 (n,)
        the true log hazard ratio and ``risk_parts`` a DataFrame of its imaging/clinical/genomic parts;
        ``tumour``: DataFrame of the latent tumour parameters (radius, activity, ...).
    """
    if n < 1:
        raise ConfigError(f"n must be at least 1, got {n}: ask for one or more subjects")
    if size < 16:
        raise ConfigError(f"size must be at least 16 voxels, got {size}: the lesion model needs room (use size=16 or more)")
    rows_c, rows_g, rows_t, parts = [], [], [], []
    imgs: dict[str, list[np.ndarray]] = {m: [] for m in MODALITIES}
    segs: list[np.ndarray] = []
    gene_load = np.array([0.9, 0.8, 0.8, 0.7, -0.7, -0.8, 0.6, 0.9] + [0.0] * (_N_GENES - 8))
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        # clinical
        age = float(np.clip(rng.normal(58, 12), 20, 90))
        sex = int(rng.random() < 0.55)
        ecog = int(rng.choice(4, p=[0.35, 0.35, 0.2, 0.1]))
        bmi = float(np.clip(rng.normal(26, 4), 16, 45))
        steroids = int(rng.random() < 0.4)
        # genomic
        idh = int(rng.random() < 0.3)
        mgmt = int(rng.random() < 0.45)
        egfr = int(rng.random() < (0.1 if idh else 0.4))
        tert = int(rng.random() < 0.5)
        prolif = rng.normal()
        genes = gene_load * prolif + rng.normal(0, 0.6, _N_GENES)
        # imaging
        radius = float(rng.uniform(1.6, 4.6) * size / 32)
        activity = float(np.exp(rng.normal(np.log(1.6), 0.3)))
        necrosis = float(rng.uniform(0.3, 0.6))
        oedema = float(rng.uniform(0.4, 0.9))
        # risk parts, each with a standard deviation near 0.75
        vol_z = (np.log(radius * 32 / size) - 1.05) / 0.30
        act_z = (np.log(activity) - np.log(1.6)) / 0.3
        r_img = 0.55 * vol_z + 0.55 * act_z
        r_clin = 0.045 * (age - 58) + 0.45 * (ecog - 1.05)
        r_gen = -1.1 * (idh - 0.3) - 0.5 * (mgmt - 0.45) + 0.35 * (egfr - 0.3) + 0.45 * prolif
        parts.append((r_img, r_clin, r_gen))
        rows_c.append(dict(age=round(age, 1), sex=sex, ecog=ecog, bmi=round(bmi, 1), steroids=steroids))
        rows_g.append(
            dict(
                idh_mutant=idh,
                mgmt_methylated=mgmt,
                egfr_amplified=egfr,
                tert_promoter=tert,
                **{f"gene_{k:02d}": float(g) for k, g in enumerate(genes)},
            )
        )
        rows_t.append(
            dict(radius_vox=radius, activity=activity, necrosis_fraction=necrosis, oedema_margin=oedema)
        )
        if images:
            im, seg = _patient_images(rng, size, radius, activity, necrosis, oedema)
            for m in MODALITIES:
                imgs[m].append(im[m])
            segs.append(seg)
    parts_arr = np.asarray(parts, dtype=np.float64)
    risk = parts_arr.sum(1)
    # Weibull PH survival (shape 1.5, median ≈ 24 months at risk 0) and uniform censoring
    srng = np.random.default_rng([seed, 10**9])
    u = srng.random(n)
    shape, scale = 1.5, 30.0
    t_event = scale * (-np.log(u) * np.exp(-risk)) ** (1 / shape)
    c_max = np.quantile(t_event, 1.0) * 2 if censoring > 0 else np.inf
    t_cens = srng.uniform(0, c_max, n) if censoring > 0 else np.full(n, np.inf)
    if censoring > 0:  # scale censoring times so about `censoring` of patients are censored
        lo, hi = 0.01, 100.0
        for _ in range(40):
            mid = np.sqrt(lo * hi)
            frac = np.mean(t_cens * mid < t_event)
            lo, hi = (mid, hi) if frac > censoring else (lo, mid)
        t_cens = t_cens * np.sqrt(lo * hi)
    time = np.minimum(t_event, t_cens).astype(np.float32)
    event = (t_event <= t_cens).astype(np.uint8)
    ids = [f"P{seed:03d}-{i:04d}" for i in range(n)]
    out: dict = {
        "modalities": MODALITIES,
        "clinical": pd.DataFrame(rows_c, index=pd.Index(ids, name="patient_id")),
        "genomic": pd.DataFrame(rows_g, index=pd.Index(ids, name="patient_id")),
        "data_dictionary": DATA_DICTIONARY.copy(),
        "time": time,
        "event": event,
        "risk": risk.astype(np.float32),
        "risk_parts": pd.DataFrame(
            parts_arr, columns=["imaging", "clinical", "genomic"], index=pd.Index(ids, name="patient_id")
        ),
        "tumour": pd.DataFrame(rows_t, index=pd.Index(ids, name="patient_id")),
        "patient_id": np.asarray(ids),
    }
    if images:
        from ..geometry import Geometry, resample_to

        _, mask, affine = _template(size)
        stacked = np.stack([np.stack(imgs[m]) for m in MODALITIES], axis=1)
        out["images"] = stacked  # (n, 5, S, S, S); the per-modality keys below are views of it
        for i, m in enumerate(MODALITIES):
            out[m] = stacked[:, i]
        out["seg"] = np.stack(segs)
        out["labels"] = out["seg"]
        out["class_names"] = list(SEG_LABELS.values())
        out["affine"] = affine
        out["spacing"] = tuple(float(s) for s in np.sqrt((affine[:3, :3] ** 2).sum(0)))
        # PET as a scanner would store it: coarser voxels on a grid of its own
        low_aff = affine.copy()
        low_aff[:3, :3] *= 2.0
        low_aff[:3, 3] += affine[:3, :3] @ np.full(3, 0.5)
        low = Geometry.of((size // 2,) * 3, low_aff)
        out["pet_lowres"] = np.stack([resample_to(p, affine, low) for p in out["pet"]]).astype(np.float32)
        out["pet_lowres_affine"] = low_aff
    return out
