"""Small survival cohorts for assignment 08 (from the course's synthetic multimodal cohort).

Shipped with assignment 08; the grader restores this file, so editing it does not change your grade.
"""

from __future__ import annotations


def make_cohort(n: int = 120, seed: int = 0) -> dict:
    """Return ``time`` float (n,), ``event`` int 0/1 (n,), the true ``risk`` (n,), its ``parts``
    (DataFrame: imaging, clinical, genomic) and the ``clinical``/``genomic`` tables (no images)."""
    from medimg_kernel.data.synthetic import generate

    c = generate("multimodal_cohort", n, seed=seed, images=False)
    return {
        "time": c["time"].astype(float),
        "event": c["event"].astype(int),
        "risk": c["risk"].astype(float),
        "parts": c["risk_parts"],
        "clinical": c["clinical"],
        "genomic": c["genomic"],
    }
