"""Small co-registered MRI + PET volumes for assignment 07 (from the course's synthetic cohort).

Shipped with assignment 07; the grader restores this file, so editing it does not change your grade.
"""

from __future__ import annotations

import numpy as np


def make_patient(seed: int = 0, size: int = 16) -> dict:
    """Return one synthetic patient on a ``size``³ grid.

    Keys: ``t1``, ``t1c``, ``t2``, ``flair``, ``pet`` float32 (size, size, size) on the MRI grid with
    ``affine`` (4, 4); ``pet_lowres`` (size//2)³ on its own grid ``pet_lowres_affine``; ``seg`` uint8
    tumour labels (1 core, 2 oedema, 3 enhancing rim).
    """
    from medimg_kernel.data.synthetic import generate

    c = generate("multimodal_cohort", 1, seed=seed, size=size)
    out = {m: np.array(c[m][0]) for m in c["modalities"]}
    out.update(
        seg=np.array(c["seg"][0]),
        affine=np.array(c["affine"]),
        pet_lowres=np.array(c["pet_lowres"][0]),
        pet_lowres_affine=np.array(c["pet_lowres_affine"]),
    )
    return out
