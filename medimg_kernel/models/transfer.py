"""Transfer learning: load local or registered weights, replace the head, freeze by stage,
discriminative learning rates, and adapt the first layer to a new number of input channels.

Nothing here downloads: weights come from a local file or a name registered with
:func:`register_checkpoint` (a course can register files it ships or fetched with ``mk.fetch``).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import CheckpointError, ChecksumError, ConfigError

__all__ = [
    "register_checkpoint", "registered_checkpoints", "load_weights", "LoadReport", "find_head",
    "replace_head", "model_stages", "freeze", "unfreeze", "discriminative_param_groups",
    "adapt_input_channels", "first_conv",
]

log = logging.getLogger(__name__)

_CHECKPOINTS: dict[str, dict[str, Any]] = {}


def register_checkpoint(name: str, path: str | Path, *, sha256: str | None = None, description: str = "") -> None:
    """Register a local weights file under ``name`` so ``load_weights(model, name)`` finds it."""
    _CHECKPOINTS[name] = {"path": Path(path), "sha256": sha256, "description": description}


def registered_checkpoints() -> dict[str, dict[str, Any]]:
    """Return a copy of the checkpoint registry (name -> path, sha256, description)."""
    return {k: dict(v) for k, v in _CHECKPOINTS.items()}


@dataclass
class LoadReport:
    """What :func:`load_weights` did: tensors loaded, and the keys it skipped and why."""

    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    shape_mismatch: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        return (f"LoadReport(loaded={len(self.loaded)}, missing={self.missing[:4]}{'...' if len(self.missing) > 4 else ''}, "
                f"unexpected={len(self.unexpected)}, shape_mismatch={self.shape_mismatch})")


def _resolve_source(source: str | Path) -> Path:
    entry = _CHECKPOINTS.get(str(source))
    path = Path(entry["path"]) if entry else Path(source).expanduser()
    if not path.is_file():
        raise CheckpointError(
            f"weights {str(source)!r} not found: expected a local file or one of the registered names "
            f"({', '.join(sorted(_CHECKPOINTS)) or 'none registered'}); register one with "
            "medimg_kernel.models.register_checkpoint(name, path)"
        )
    if entry and entry.get("sha256"):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != entry["sha256"]:
            raise ChecksumError(f"weights {source!r} at {path}: sha256 {digest} differs from the registered "
                                f"{entry['sha256']}; the file is corrupt or was replaced, fetch it again")
    return path


def _extract_state_dict(obj: Any) -> dict[str, torch.Tensor]:
    if isinstance(obj, nn.Module):
        return obj.state_dict()
    if isinstance(obj, dict):
        for key in ("model", "state_dict", "model_state", "model_state_dict", "network"):
            if key in obj and isinstance(obj[key], dict):
                return _extract_state_dict(obj[key])
        if all(isinstance(v, torch.Tensor) for v in obj.values()):
            return obj
    raise CheckpointError("the weights file holds no state dict (looked for a tensor dict or the keys "
                          "'model', 'state_dict', 'model_state')")


def load_weights(model: nn.Module, source: str | Path | dict[str, torch.Tensor], *, strict: bool = False) -> LoadReport:
    """Load weights into ``model`` from a file, a registered name or a state dict.

    Keys prefixed by ``module.`` (DDP) or ``_orig_mod.`` (torch.compile) are matched; tensors whose shape
    differs (e.g. a head with another number of classes) are skipped and reported. With ``strict=True``
    any missing, unexpected or mismatched key raises :class:`CheckpointError`.
    """
    if isinstance(source, dict):
        state = _extract_state_dict(source)
    else:
        path = _resolve_source(source)
        try:
            state = _extract_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        except CheckpointError:
            raise
        except Exception as err:
            raise CheckpointError(f"could not read weights from {path}: {err}") from err
    own = model.state_dict()
    report = LoadReport()
    filtered: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        k = key
        for prefix in ("module.", "_orig_mod."):
            if k.startswith(prefix):
                k = k[len(prefix):]
        if k not in own:
            report.unexpected.append(k)
        elif tuple(own[k].shape) != tuple(value.shape):
            report.shape_mismatch.append(f"{k}: file {tuple(value.shape)} vs model {tuple(own[k].shape)}")
        else:
            filtered[k] = value
    report.loaded = sorted(filtered)
    report.missing = sorted(set(own) - set(filtered) - {m.split(":")[0] for m in report.shape_mismatch})
    if strict and (report.missing or report.unexpected or report.shape_mismatch):
        raise CheckpointError(f"strict load failed: {report!r}")
    model.load_state_dict(filtered, strict=False)
    log.info("loaded %d tensors; %r", len(filtered), report)
    return report


def _get_parent(model: nn.Module, dotted: str) -> tuple[nn.Module, str]:
    parts = dotted.split(".")
    parent = model
    for p in parts[:-1]:
        parent = getattr(parent, p)
    return parent, parts[-1]


def find_head(model: nn.Module) -> str:
    """Return the dotted name of the classification head (the last ``nn.Linear``)."""
    names = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not names:
        raise ConfigError(f"{type(model).__name__} has no nn.Linear head to replace; segmentation networks "
                          "change their output channels when built: build_model(..., out_channels=K)")
    return names[-1]


def replace_head(model: nn.Module, out_features: int, *, bias: bool = True) -> nn.Module:
    """Replace the classification head with a fresh ``nn.Linear(in_features, out_features)``; returns it."""
    name = find_head(model)
    parent, attr = _get_parent(model, name)
    old = getattr(parent, attr)
    new = nn.Linear(old.in_features, int(out_features), bias=bias).to(old.weight.device)
    setattr(parent, attr, new)
    if isinstance(getattr(model, "medimg_spec", None), dict):
        model.medimg_spec["out_channels"] = int(out_features)
    return new


def model_stages(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Return the model's stages from input to output (top-level children; a big ``features`` block is
    expanded one level), keeping only stages with parameters."""
    stages: list[tuple[str, nn.Module]] = []
    children = list(model.named_children())
    for name, child in children:
        grand = list(child.named_children())
        if isinstance(child, nn.Sequential) and len(grand) > 3 and len(children) <= 4:
            stages.extend((f"{name}.{g}", m) for g, m in grand)
        else:
            stages.append((name, child))
    return [(n, m) for n, m in stages if any(True for _ in m.parameters())]


def _stage_count(model: nn.Module, upto: int | str | None) -> int:
    stages = model_stages(model)
    if upto is None:  # everything but the stage holding the head
        head = find_head(model)
        for i, (name, _) in enumerate(stages):
            if head == name or head.startswith(name + "."):
                return i
        return len(stages) - 1
    if isinstance(upto, int):
        return max(0, min(len(stages), upto if upto >= 0 else len(stages) + upto))
    names = [n for n, _ in stages]
    if upto not in names:
        raise ConfigError(f"unknown stage {upto!r}: the stages are {', '.join(names)}")
    return names.index(upto) + 1


def freeze(model: nn.Module, upto: int | str | None = None, *, freeze_bn: bool = True) -> list[str]:
    """Freeze the first stages of ``model`` (default: all but the head) and return their names.

    ``upto`` is a number of stages, a negative count from the end, or a stage name (frozen inclusively).
    With ``freeze_bn`` the frozen stages' BatchNorm layers are also kept in eval mode during training.
    """
    count = _stage_count(model, upto)
    frozen = []
    for name, stage in model_stages(model)[:count]:
        for p in stage.parameters():
            p.requires_grad_(False)
        if freeze_bn:
            for m in stage.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.medimg_frozen = True
        frozen.append(name)
    return frozen


def unfreeze(model: nn.Module, stages: int | list[str] | None = None) -> list[str]:
    """Unfreeze all stages (default), the last ``stages`` stages, or the named ones; returns their names."""
    all_stages = model_stages(model)
    if stages is None:
        chosen = all_stages
    elif isinstance(stages, int):
        chosen = all_stages[-stages:] if stages > 0 else []
    else:
        valid = dict(all_stages)
        bad = [s for s in stages if s not in valid]
        if bad:
            raise ConfigError(f"unknown stage(s) {bad}: the stages are {', '.join(valid)}")
        chosen = [(s, valid[s]) for s in stages]
    for _, stage in chosen:
        for p in stage.parameters():
            p.requires_grad_(True)
        for m in stage.modules():
            if hasattr(m, "medimg_frozen"):
                del m.medimg_frozen
    return [n for n, _ in chosen]


def discriminative_param_groups(model: nn.Module, lr: float, *, decay: float = 0.5,
                                weight_decay: float | None = None) -> list[dict[str, Any]]:
    """Return optimizer parameter groups: the last stage gets ``lr``, each earlier stage ``decay`` times less.

    Only trainable parameters are included. Pass the result to any torch optimizer, e.g.
    ``torch.optim.AdamW(discriminative_param_groups(model, 1e-3))``.
    """
    stages = model_stages(model)
    groups: list[dict[str, Any]] = []
    seen: set[int] = set()
    for depth, (name, stage) in enumerate(reversed(stages)):
        params = [p for p in stage.parameters() if p.requires_grad and id(p) not in seen]
        seen.update(id(p) for p in params)
        if params:
            group: dict[str, Any] = {"params": params, "lr": lr * decay**depth, "name": name}
            if weight_decay is not None:
                group["weight_decay"] = weight_decay
            groups.append(group)
    rest = [p for p in model.parameters() if p.requires_grad and id(p) not in seen]
    if rest:
        groups.append({"params": rest, "lr": lr, "name": "other"})
    return groups[::-1]


def first_conv(model: nn.Module) -> tuple[str, nn.Module]:
    """Return the dotted name and module of the first convolution (the layer that sees the input)."""
    for name, m in model.named_modules():
        if isinstance(m, nn.modules.conv._ConvNd):
            return name, m
    raise ConfigError(f"{type(model).__name__} has no convolution layer to adapt")


def adapt_input_channels(model: nn.Module, in_channels: int, *, mode: str = "repeat") -> nn.Module:
    """Change the first convolution to take ``in_channels`` channels, keeping its learned filters.

    ``mode="repeat"`` copies the mean filter over the old channels to every new channel, scaled so the
    response to an image repeated over channels is unchanged (1-channel → 4-channel MRI);
    ``"zero"`` keeps the old channels and sets the new ones to zero. Returns ``model`` (changed in place).
    """
    if mode not in ("repeat", "zero"):
        raise ConfigError(f"mode {mode!r} is not valid: choose 'repeat' or 'zero'")
    name, old = first_conv(model)
    if old.groups != 1:
        raise ConfigError("the first convolution is grouped; adapt_input_channels needs groups=1")
    new = type(old)(in_channels, old.out_channels, old.kernel_size, stride=old.stride, padding=old.padding,
                    dilation=old.dilation, bias=old.bias is not None, padding_mode=old.padding_mode)
    new = new.to(device=old.weight.device, dtype=old.weight.dtype)
    with torch.no_grad():
        w = old.weight
        if mode == "repeat":
            mean = w.sum(dim=1, keepdim=True) / in_channels
            new.weight.copy_(mean.expand(-1, in_channels, *w.shape[2:]))
        else:
            new.weight.zero_()
            k = min(in_channels, w.shape[1])
            new.weight[:, :k].copy_(w[:, :k])
        if old.bias is not None:
            new.bias.copy_(old.bias)
    parent, attr = _get_parent(model, name)
    setattr(parent, attr, new)
    if isinstance(getattr(model, "medimg_spec", None), dict):
        model.medimg_spec["in_channels"] = int(in_channels)
    return model
