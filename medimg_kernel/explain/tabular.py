"""Feature importance for tabular (clinical/genomic) models: permutation importance (scikit-learn) and
Shapley-value attributions (captum ``ShapleyValueSampling``).

A model is a scikit-learn estimator, a torch module mapping ``(N, F)`` floats to logits, or any callable
returning one score per row; :func:`as_score_fn` turns each into ``f(X: ndarray) -> scores``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..errors import ConfigError

__all__ = ["as_score_fn", "permutation_importance", "shapley_values", "shapley_summary"]


def as_score_fn(model: Any, target: int = 1) -> Callable[[np.ndarray], np.ndarray]:
    """Return ``f(X) -> (N,)`` scores: ``predict_proba[:, target]``, a torch module's probability, or ``model(X)``."""
    if hasattr(model, "predict_proba"):
        names = getattr(model, "feature_names_in_", None)

        def proba(X: Any) -> np.ndarray:
            if names is not None and not hasattr(X, "columns"):
                import pandas as pd

                X = pd.DataFrame(np.asarray(X), columns=names)
            return np.asarray(model.predict_proba(X))[:, target]

        return proba
    try:
        import torch

        if isinstance(model, torch.nn.Module):

            def f(X: np.ndarray) -> np.ndarray:
                dev = next(model.parameters()).device
                was = model.training
                model.eval()
                with torch.no_grad():
                    o = model(torch.as_tensor(np.asarray(X, dtype=np.float32), device=dev))
                model.train(was)
                o = o.reshape(o.shape[0], -1)
                p = torch.sigmoid(o[:, 0]) if o.shape[1] == 1 else o.softmax(1)[:, target]
                return p.cpu().numpy()

            return f
    except ImportError:  # pragma: no cover
        pass
    if callable(model):
        return lambda X: np.asarray(model(X)).reshape(len(X), -1)[:, -1 if target else 0]
    raise ConfigError(
        f"cannot score with a {type(model).__name__}: give an estimator with predict_proba, "
        "a torch module or a callable X -> scores"
    )


def _score_estimator(fn: Callable[[np.ndarray], np.ndarray]) -> Any:
    """A fitted scikit-learn classifier around a score function (so ``permutation_importance`` accepts it)."""
    from sklearn.base import BaseEstimator, ClassifierMixin

    class _ScoreEstimator(ClassifierMixin, BaseEstimator):
        def __init__(self, fn: Callable[[np.ndarray], np.ndarray] | None = None) -> None:
            self.fn = fn

        def fit(self, X: Any, y: Any) -> Any:  # pragma: no cover - never refit
            return self

        def predict_proba(self, X: Any) -> np.ndarray:
            p = self.fn(np.asarray(X, dtype=np.float64))
            return np.stack([1 - p, p], 1)

        def decision_function(self, X: Any) -> np.ndarray:
            return self.fn(np.asarray(X, dtype=np.float64))

        def predict(self, X: Any) -> np.ndarray:
            return (self.fn(np.asarray(X, dtype=np.float64)) >= 0.5).astype(int)

    est = _ScoreEstimator(fn)
    est.classes_ = np.array([0, 1])
    return est


def _names(X: Any, feature_names: Sequence[str] | None) -> list[str]:
    if feature_names is not None:
        return list(feature_names)
    if hasattr(X, "columns"):
        return [str(c) for c in X.columns]
    return [f"x{i}" for i in range(np.asarray(X).shape[1])]


def permutation_importance(
    model: Any,
    X: Any,
    y: Any,
    *,
    scoring: str = "roc_auc",
    n_repeats: int = 10,
    seed: int = 0,
    feature_names: Sequence[str] | None = None,
) -> Any:
    """Drop in ``scoring`` when each feature is shuffled (scikit-learn), sorted most important first.

    Returns a DataFrame with ``feature``, ``importance_mean``, ``importance_std``.
    """
    import pandas as pd
    from sklearn.inspection import permutation_importance as _pi

    names = _names(X, feature_names)
    sk = hasattr(model, "predict_proba") and hasattr(model, "fit")
    est = model if sk else _score_estimator(as_score_fn(model))
    Xin = X if sk and hasattr(X, "columns") else np.asarray(X, dtype=np.float64)
    r = _pi(est, Xin, np.asarray(y), scoring=scoring, n_repeats=n_repeats, random_state=seed)
    df = pd.DataFrame(
        {"feature": names, "importance_mean": r.importances_mean, "importance_std": r.importances_std}
    )
    return df.sort_values("importance_mean", ascending=False, ignore_index=True)


def shapley_values(
    model: Any,
    X: Any,
    *,
    background: Any | None = None,
    n_samples: int = 25,
    seed: int = 0,
    feature_names: Sequence[str] | None = None,
    target: int = 1,
) -> Any:
    """Shapley-value attributions of each feature to each row's score (captum ``ShapleyValueSampling``).

    A feature "absent" takes its ``background`` value (default: the column means of ``X``). Returns an
    ``(N, F)`` DataFrame; each row's values sum approximately to ``score(row) - score(background)``.
    """
    import pandas as pd
    import torch
    from captum.attr import ShapleyValueSampling

    names = _names(X, feature_names)
    Xa = np.asarray(X, dtype=np.float64)
    fn = as_score_fn(model, target)
    base = np.asarray(background, dtype=np.float64) if background is not None else Xa.mean(0, keepdims=True)
    if base.ndim == 2 and base.shape[0] > 1:
        base = base.mean(0, keepdims=True)

    def forward(t: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(fn(t.detach().cpu().numpy()), dtype=torch.float64)

    torch.manual_seed(seed)
    attr = ShapleyValueSampling(forward).attribute(
        torch.as_tensor(Xa),
        baselines=torch.as_tensor(base.reshape(1, -1)),
        n_samples=int(n_samples),
        perturbations_per_eval=1,
    )
    return pd.DataFrame(attr.numpy(), columns=names)


def shapley_summary(values: Any) -> Any:
    """Mean absolute Shapley value per feature (global importance), sorted."""
    import pandas as pd

    v = values.abs().mean(0)
    return pd.DataFrame({"feature": v.index, "mean_abs_shapley": v.to_numpy()}).sort_values(
        "mean_abs_shapley", ascending=False, ignore_index=True
    )
