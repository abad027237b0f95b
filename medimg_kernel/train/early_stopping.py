"""Best-value tracking and early stopping on one history column (the monitor)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError

__all__ = ["EarlyStopping", "monitor_mode", "default_monitor"]

#: substrings of metric names where lower is better
_LOWER_IS_BETTER = ("loss", "mae", "rmse", "hausdorff")


def monitor_mode(name: str) -> str:
    """``"min"`` for losses and distances, ``"max"`` for scores such as accuracy or Dice."""
    return "min" if any(k in name for k in _LOWER_IS_BETTER) else "max"


def default_monitor(task: str, metric_names: list[str], has_val: bool) -> str:
    """The history column to watch: ``val_accuracy``/``val_dice`` when computed, else ``val_loss``/``train_loss``."""
    if not has_val:
        return "train_loss"
    primary = {"classification": "accuracy", "segmentation": "dice"}.get(task)
    return f"val_{primary}" if primary in metric_names else "val_loss"


@dataclass
class EarlyStopping:
    """Track the best monitored value and count epochs without improvement (``patience=None``: never stop)."""

    monitor: str = "val_loss"
    mode: str = "min"
    patience: int | None = None
    min_delta: float = 0.0
    best_value: float | None = None
    best_epoch: int | None = None
    bad_epochs: int = 0

    @staticmethod
    def parse(spec: int | dict[str, Any] | None) -> dict[str, Any]:
        """Split ``early_stopping=`` (patience or ``{"patience", "monitor", "min_delta", "mode"}``) into fields."""
        if spec is None or spec is False:
            return {}
        if spec is True:
            return {"patience": 5}
        if isinstance(spec, int) and not isinstance(spec, bool):
            return {"patience": spec}
        if isinstance(spec, dict):
            unknown = set(spec) - {"patience", "monitor", "min_delta", "mode"}
            if unknown:
                raise ConfigError(f"early_stopping has unknown keys {sorted(unknown)}: use patience, monitor, "
                                  "min_delta and mode")
            out: dict[str, Any] = {"patience": int(spec.get("patience", 5)),
                                   "min_delta": float(spec.get("min_delta", 0.0))}
            out.update({k: spec[k] for k in ("monitor", "mode") if spec.get(k)})
            return out
        raise ConfigError(f"early_stopping={spec!r}: pass a patience in epochs or a dict with patience/monitor/"
                          "min_delta/mode")

    def configure(self, monitor: str, mode: str | None, patience: int | None, min_delta: float = 0.0) -> None:
        """Set what to watch for a new ``fit``; the best value so far is kept, the bad-epoch count restarts."""
        self.monitor, self.mode = monitor, mode or monitor_mode(monitor)
        self.patience, self.min_delta, self.bad_epochs = patience, float(min_delta), 0

    def update(self, row: dict[str, Any], epoch: int) -> bool:
        """Read the monitor from one history ``row`` of ``epoch`` (1-based); return True when it improved."""
        value = row.get(self.monitor)
        if value is None:
            raise ConfigError(f"monitor {self.monitor!r} is not in the history columns {sorted(row)}: pass "
                              "monitor= with one of them")
        best = self.best_value
        improved = best is None or (value > best + self.min_delta if self.mode == "max"
                                    else value < best - self.min_delta)
        if improved and not math.isnan(value):
            self.best_value, self.best_epoch, self.bad_epochs = float(value), epoch, 0
            return True
        self.bad_epochs += 1
        return False

    @property
    def should_stop(self) -> bool:
        """True once ``patience`` epochs in a row brought no improvement."""
        return self.patience is not None and self.bad_epochs >= self.patience
