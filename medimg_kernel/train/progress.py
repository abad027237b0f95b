"""Notebook-aware progress bar (tqdm.auto) and an optional live plot of the training history."""

from __future__ import annotations

from typing import Any

__all__ = ["ProgressBar", "LivePlot"]


class ProgressBar:
    """One bar over all training steps, with loss and the latest validation metric as postfix."""

    def __init__(self, total: int, enabled: bool, initial: int = 0) -> None:
        self.bar = None
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True, leave=True)

    def update(self, n: int = 1, **postfix: Any) -> None:
        if self.bar is not None:
            self.bar.update(n)
            if postfix:
                self.bar.set_postfix({k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in postfix.items()},
                                     refresh=False)

    def describe(self, text: str) -> None:
        if self.bar is not None:
            self.bar.set_description(text, refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class LivePlot:
    """Redraw loss and metric curves after each epoch in one notebook output (no-op outside IPython)."""

    def __init__(self) -> None:
        self.handle = None
        self.fig = None

    def update(self, history: Any) -> None:
        try:
            from IPython import get_ipython
            from IPython.display import display
        except ImportError:  # pragma: no cover
            return
        if get_ipython() is None or history.empty:
            return
        import matplotlib.pyplot as plt

        if self.fig is None:
            self.fig, self.axes = plt.subplots(1, 2, figsize=(9, 3))
            plt.close(self.fig)
        ax_loss, ax_metric = self.axes
        ax_loss.clear()
        ax_metric.clear()
        for col in history.columns:
            if col.endswith("loss"):
                ax_loss.plot(history["epoch"], history[col], marker="o", label=col)
            elif col.startswith("val_") and history[col].dtype.kind == "f":
                ax_metric.plot(history["epoch"], history[col], marker="o", label=col)
        ax_loss.set_xlabel("epoch")
        ax_metric.set_xlabel("epoch")
        ax_loss.legend(fontsize=8)
        if ax_metric.lines:
            ax_metric.legend(fontsize=8)
        self.fig.tight_layout()
        if self.handle is None:
            self.handle = display(self.fig, display_id=True)
        else:
            self.handle.update(self.fig)
