"""Lesson metrics: a running notebook records its key figures; the course runner reads them back.

Lessons call :func:`record_metrics`; under ``medimg course run`` each record is also appended as one JSON
line to the file named by ``$MEDIMG_METRICS_FILE``, which :func:`recorded_metrics` reads.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from ..errors import ArgumentTypeError, ConfigError

__all__ = ["record_metrics", "recorded_metrics", "METRICS_ENV"]

#: environment variable naming the JSON-lines file where a running notebook's metrics go
METRICS_ENV = "MEDIMG_METRICS_FILE"

_RECORDED: dict[str, float] = {}


def record_metrics(**metrics: float) -> dict[str, float]:
    """Record a lesson's key figures (numbers) so ``medimg course run --report`` shows them.

    Values must be finite real numbers. Returns everything recorded so far in this kernel.
    """
    clean: dict[str, float] = {}
    for name, value in metrics.items():
        try:
            num = float(value)
        except (TypeError, ValueError) as err:
            raise ArgumentTypeError(f"metric {name!r} must be a number, got {type(value).__name__}: pass a float "
                                    "(e.g. float(x) or x.item() for a tensor)") from err
        if not math.isfinite(num):
            raise ConfigError(f"metric {name!r} is not finite ({num}): record a finite number (check the "
                              "computation that produced it, e.g. a mean over an empty set)")
        clean[name] = num
    _RECORDED.update(clean)
    path = os.environ.get(METRICS_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(clean) + "\n")
    return dict(_RECORDED)


def recorded_metrics(path: str | Path | None = None) -> dict[str, float]:
    """Return the metrics recorded in this kernel, or those stored in a metrics file ``path``."""
    if path is None:
        return dict(_RECORDED)
    out: dict[str, float] = {}
    p = Path(path)
    if p.exists():
        for line in p.read_text(encoding="utf-8").splitlines():
            if line.strip():
                out.update(json.loads(line))
    return out
