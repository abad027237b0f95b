"""Late (decision) fusion: one model per modality, their outputs averaged, weighted or stacked.

Because every model sees only its own input, a patient with a missing modality still gets a prediction
from the models that have data: the aggregate is taken over the available outputs (Huang et al. 2020:
only late fusion tolerates a missing modality). Outputs are combined as given (logits or log-risk
scores), so train the per-modality models with the same task and loss.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

import torch
from torch import nn

from ..errors import ConfigError
from ._errors import MissingModalityError

__all__ = ["LateFusion", "STRATEGIES"]

log = logging.getLogger(__name__)

#: aggregation strategies of :class:`LateFusion`
STRATEGIES = ("mean", "weighted", "stacking")


class LateFusion(nn.Module):
    """Combine per-modality models ``models[name](x[name])`` into one prediction.

    Parameters
    ----------
    models : mapping name -> nn.Module
        One trained model per input key, all with the same output shape (B, K).
    strategy : {"mean", "weighted", "stacking"}
        ``mean``: average of available outputs. ``weighted``: ``weights``-weighted average, renormalised
        over the available models. ``stacking``: a learned linear combination (fit with
        :meth:`fit_stacking`); a missing model's output is replaced by its training mean.
    weights : mapping name -> float, optional
        Weights for ``strategy="weighted"``.
    """

    def __init__(
        self,
        models: Mapping[str, nn.Module],
        strategy: str = "mean",
        weights: Mapping[str, float] | None = None,
    ) -> None:
        super().__init__()
        if not models:
            raise ConfigError("LateFusion needs at least one model")
        if strategy not in STRATEGIES:
            raise ConfigError(
                f"unknown late-fusion strategy {strategy!r}: choose one of {', '.join(STRATEGIES)}"
            )
        self.modalities = list(models)
        self.models = nn.ModuleDict(dict(models))
        self.strategy = strategy
        w = torch.ones(len(self.modalities))
        if strategy == "weighted":
            if not weights:
                raise ConfigError("strategy='weighted' needs weights={name: value}")
            unknown = set(weights) - set(self.modalities)
            if unknown:
                raise ConfigError(f"weights for unknown models {sorted(unknown)}; models: {self.modalities}")
            w = torch.tensor([float(weights.get(m, 0.0)) for m in self.modalities])
            if (w < 0).any() or w.sum() <= 0:
                raise ConfigError(f"weights must be non-negative with a positive sum, got {dict(weights)}")
        self.register_buffer("weights", w)
        self.stacker: nn.Linear | None = None
        self.register_buffer("fill", torch.zeros(len(self.modalities)))

    def member_outputs(self, x: Mapping[str, object]) -> dict[str, torch.Tensor]:
        """Return ``{name: models[name](x[name])}`` for every model whose input is present."""
        out = {m: self.models[m](x[m]) for m in self.modalities if x.get(m) is not None}
        if not out:
            raise MissingModalityError(
                f"no input for any model; late fusion expects some of {self.modalities}"
            )
        return out

    def forward(self, x: Mapping[str, object]) -> torch.Tensor:
        """Aggregate the available members' outputs."""
        outs = self.member_outputs(x)
        if self.strategy == "stacking":
            if self.stacker is None:
                raise ConfigError(
                    "stacking weights are not fitted: call fit_stacking(inputs, targets, loss) first"
                )
            ref = next(iter(outs.values()))
            cols = []
            for i, m in enumerate(self.modalities):
                o = outs.get(m)
                cols.append(
                    o.reshape(ref.shape[0], 1)
                    if o is not None
                    else self.fill[i].expand(ref.shape[0], 1).to(ref)
                )
            return self.stacker(torch.cat(cols, dim=1))
        names = list(outs)
        w = torch.stack([self.weights[self.modalities.index(m)] for m in names])
        if w.sum() <= 0:
            raise MissingModalityError(f"only zero-weight models have input ({names}); cannot aggregate")
        w = w / w.sum()
        stacked = torch.stack([outs[m] for m in names], dim=0)
        return (stacked * w.view(-1, *([1] * (stacked.dim() - 1))).to(stacked)).sum(dim=0)

    def fit_stacking(
        self,
        inputs: Mapping[str, object],
        targets: torch.Tensor,
        loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        *,
        steps: int = 200,
        lr: float = 0.05,
    ) -> LateFusion:
        """Fit the stacking layer on held-out ``inputs``/``targets`` with ``loss(outputs, targets)``.

        The members are frozen (evaluated once, no gradient); only a linear layer over their (first)
        outputs is trained with Adam for ``steps`` full-batch steps. Needs every modality and members with
        one output each (a risk score, a binary logit or a regression value).
        """
        if self.strategy != "stacking":
            raise ConfigError(f"fit_stacking needs strategy='stacking', this model uses {self.strategy!r}")
        absent = [m for m in self.modalities if inputs.get(m) is None]
        if absent:
            raise MissingModalityError(f"fit stacking on data with every modality; missing {absent}")
        was_training = self.training
        self.eval()
        with torch.no_grad():
            outs = self.member_outputs(inputs)
            wide = {m: o.shape[1] for m, o in outs.items() if o.dim() > 1 and o.shape[1] != 1}
            if wide:
                raise ConfigError(
                    f"stacking combines one output per model; {wide} have several. Use 'mean' "
                    "or 'weighted' for multi-class logits"
                )
            z = torch.cat([outs[m].reshape(outs[m].shape[0], 1) for m in self.modalities], dim=1)
        self.fill = z.mean(dim=0).detach()
        stacker = nn.Linear(len(self.modalities), 1).to(z)
        with torch.no_grad():
            stacker.weight.fill_(1.0 / len(self.modalities))
            stacker.bias.zero_()
        opt = torch.optim.Adam(stacker.parameters(), lr=lr)
        for _ in range(steps):
            opt.zero_grad()
            value = loss(stacker(z), targets)
            value.backward()
            opt.step()
        self.stacker = stacker
        log.info("stacking weights %s", dict(zip(self.modalities, stacker.weight.detach()[0].tolist())))
        self.train(was_training)
        return self

    def extra_repr(self) -> str:
        return f"modalities={self.modalities}, strategy={self.strategy!r}"
