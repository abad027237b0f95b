"""The course Trainer: ``fit`` / ``evaluate`` / ``predict`` with the fast-training recipe built in.

Device, autocast dtype and memory format come from :func:`medimg_kernel.device.device_policy`; data that
fit are kept on the device and augmented there in batches (:mod:`.data`, :mod:`.augment`); CUDA
out-of-memory errors halve the micro-batch and accumulate gradients (:mod:`.oom`); checkpoints are
atomic and resumable mid-epoch (:mod:`.checkpoint`); under ``torchrun`` the model runs in DDP
(:mod:`.distributed`).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import CheckpointError, ConfigError, ShapeMismatchError, TrainingError
from . import distributed as D
from .augment import BatchAugment, make_augment
from .checkpoint import CheckpointManager, load_checkpoint
from .data import as_source, batch_len, index_batch
from .metrics import MetricSet
from .oom import OOMBackoff, is_oom
from .progress import LivePlot, ProgressBar

__all__ = ["Trainer", "seed_everything", "TASKS"]

log = logging.getLogger(__name__)
TASKS = ("classification", "segmentation", "regression", "custom")
_STEP_SCHEDULERS = ("OneCycleLR", "CyclicLR")


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) random generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _rng_state() -> dict[str, Any]:
    st = np.random.get_state()
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "python": random.getstate(),
                             "numpy": {"keys": torch.from_numpy(st[1].astype(np.int64)), "pos": int(st[2]),
                                       "has_gauss": int(st[3]), "cached": float(st[4])}}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    if "cuda" in state and torch.cuda.is_available():
        with contextlib.suppress(Exception):
            torch.cuda.set_rng_state_all(state["cuda"])


def _first_conv(model: nn.Module) -> nn.Module | None:
    for m in model.modules():
        if isinstance(m, nn.modules.conv._ConvNd):
            return m
    return None


def _shape(x: Any) -> Any:
    if isinstance(x, torch.Tensor):
        return tuple(x.shape)
    if isinstance(x, dict):
        return {k: _shape(v) for k, v in x.items()}
    return type(x).__name__


class Trainer:
    """Train, evaluate and run a model with the device-aware fast-training recipe.

    Parameters
    ----------
    model
        Any ``torch.nn.Module`` (e.g. from :func:`medimg_kernel.build_model`); multimodal models may take
        a dict of tensors.
    task
        ``"classification"`` (CrossEntropy; accuracy, AUC), ``"segmentation"`` (DiceCE; Dice),
        ``"regression"`` (MSE; MAE) or ``"custom"`` (pass ``loss(outputs, targets)``; targets may be any
        tensor, e.g. an ``(N, 2)`` time/event tensor).
    loss, optimizer, lr, scheduler
        ``optimizer`` is an optimizer instance, a name (``"adamw"`` default, ``"adam"``, ``"sgd"``) or a
        callable ``params -> optimizer``; ``scheduler`` an instance, a name (``"cosine"``, ``"onecycle"``,
        ``"step"``, ``"plateau"``) or a callable ``optimizer -> scheduler``.
    max_epochs, max_steps, batch_size
        ``batch_size`` is the global batch; under DDP each of N processes takes ``batch_size // N``.
    metrics
        Names (see :data:`.metrics.VALID_METRICS`) and/or callables ``f(outputs, targets) -> float``.
    device, precision, compile
        Override the device policy; ``compile=True`` wraps the model in ``torch.compile``.
    augment
        ``None``, ``True``/``"default"``, ``"flip"``, a dict of :class:`BatchAugment` options, or a callable
        ``f(x, y, generator) -> (x, y)`` applied on the device to each training batch.
    checkpoint_dir
        Folder for ``last.pt``/``previous.pt``/``best.pt``; needed for ``fit(..., resume=True)``.
    early_stopping
        Patience in epochs, or a dict ``{"patience", "monitor", "min_delta", "mode"}``.
    seed, deterministic
        Seed for data order, augmentation and RNGs; ``deterministic=True`` asks torch for deterministic
        kernels (slower on GPU).
    num_classes, class_weights
        Classes (default: the model's output channels); per-class loss weights.
    monitor
        History column for best checkpoint and early stopping (default ``val_accuracy``, ``val_dice``,
        ``val_loss`` or ``train_loss``).
    checkpoint_every
        Also save ``last.pt`` every this many optimisation steps (default: each epoch end).

    Notes
    -----
    Under ``torchrun`` each process trains on its ``DistributedSampler`` shard (the union of the ranks'
    batches at a step is the single-process batch), gradients are averaged by DDP, the epoch loss is
    reduced over ranks, validation runs on the full validation set in every process (same numbers
    everywhere), and only rank 0 shows progress and writes checkpoints. Call :func:`seed_everything`
    before building the model for reproducible initial weights.

    Examples
    --------
    >>> import medimg_kernel as mk                                            # doctest: +SKIP
    >>> model = mk.build_model("densenet121", 2, in_channels=1, out_channels=6)  # doctest: +SKIP
    >>> trainer = mk.Trainer(model, max_epochs=3, batch_size=64, augment=True)   # doctest: +SKIP
    >>> history = trainer.fit(train_ds, val_ds)                                # doctest: +SKIP
    >>> trainer.evaluate(test_ds)                                              # doctest: +SKIP
    {'loss': 0.05, 'accuracy': 0.99, 'auc': 0.999}
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        task: str = "classification",
        loss: Callable[..., torch.Tensor] | None = None,
        optimizer: Any = None,
        lr: float = 1e-3,
        max_epochs: int = 1,
        max_steps: int | None = None,
        batch_size: int = 32,
        metrics: Any = None,
        scheduler: Any = None,
        device: str | None = None,
        precision: str | None = None,
        compile: bool = False,
        augment: Any = None,
        checkpoint_dir: str | Path | None = None,
        early_stopping: int | dict[str, Any] | None = None,
        seed: int = 0,
        deterministic: bool = False,
        progress: bool = True,
        num_classes: int | None = None,
        class_weights: Any = None,
        weight_decay: float = 1e-4,
        monitor: str | None = None,
        checkpoint_every: int | None = None,
        grad_clip: float | None = None,
        live_plot: bool = False,
        cache: bool | str = "auto",
        num_workers: int = 0,
        include_background: bool = False,
    ) -> None:
        if task not in TASKS:
            raise ConfigError(f"unknown task {task!r}: choose one of {', '.join(TASKS)}")
        if task == "custom" and loss is None:
            raise ConfigError("task='custom' needs loss=callable(outputs, targets) -> scalar tensor")
        if int(batch_size) < 1 or int(max_epochs) < 1:
            raise ConfigError(f"batch_size and max_epochs must be >= 1, got {batch_size} and {max_epochs}")
        MetricSet(task, metrics)  # validate metric names now, not after the first epoch
        self.model = model
        self.task = task
        self.user_loss = loss
        self.optimizer_spec = optimizer
        self.lr = float(lr)
        self.max_epochs = int(max_epochs)
        self.max_steps = max_steps
        self.batch_size = int(batch_size)
        self.metrics_spec = metrics
        self.scheduler_spec = scheduler
        self.device_req = device
        self.precision_req = precision
        self.compile = compile
        self.augment = make_augment(augment)
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else None
        self.early_stopping = early_stopping
        self.seed = int(seed)
        self.deterministic = deterministic
        self.progress = progress
        self.num_classes = num_classes
        self.class_weights = class_weights
        self.weight_decay = weight_decay
        self.monitor = monitor
        self.checkpoint_every = checkpoint_every
        self.grad_clip = grad_clip
        self.live_plot = live_plot
        self.cache = cache
        self.num_workers = num_workers
        self.include_background = include_background

        self.policy = None
        self.device: torch.device | None = None
        self.optimizer: torch.optim.Optimizer | None = None
        self.scheduler: Any = None
        self.scaler: Any = None
        self.history_rows: list[dict[str, Any]] = []
        self.epoch = 0
        self.global_step = 0
        self.best_value: float | None = None
        self.best_epoch: int | None = None
        self.stopped_early = False
        self.patch_size: tuple[int, ...] | None = None
        self._net: nn.Module | None = None
        self._loss_fn: Callable[..., torch.Tensor] | None = None
        self._label_mode: str | None = None
        self.timings: dict[str, float] = {}
        self._oom = OOMBackoff(self.batch_size)
        self._dist = D.DistInfo()
        self._ckpt = CheckpointManager(self.checkpoint_dir) if self.checkpoint_dir else None

    # ------------------------------------------------------------------ set-up
    def __repr__(self) -> str:
        return (f"Trainer({type(self.model).__name__}, task={self.task!r}, batch_size={self.batch_size}, "
                f"max_epochs={self.max_epochs}, device={self.device or 'auto'}, "
                f"precision={self.policy.precision if self.policy else 'auto'})")

    def _setup_device(self) -> None:
        if self.policy is not None:
            return
        from ..device import device_policy

        env = D.dist_info()
        dev = self.device_req
        if env.enabled and torch.cuda.is_available() and (dev is None or dev in ("cuda", "auto")) \
                and (os.environ.get("MEDIMG_DEVICE", "auto") in ("auto", "cuda")):
            dev = f"cuda:{env.local_rank}"
        self.policy = device_policy(dev, self.precision_req)
        self.device = self.policy.torch_device()
        self._dist = D.init_distributed(self.policy.device_type)
        if self.device.type == "cpu":
            local = int(os.environ.get("LOCAL_WORLD_SIZE", self._dist.world_size if self._dist.enabled else 1))
            torch.set_num_threads(max(1, self.policy.num_threads // max(1, local)))
        if self.deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.backends.cudnn.benchmark = False
            torch.backends.cudnn.deterministic = True
        elif self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        self.model.to(self.device)
        self._is_main = self._dist.is_main

    def _apply_memory_format(self, ndim: int) -> None:
        self._mem_fmt = self.policy.memory_format_for(ndim) if ndim in (4, 5) else torch.contiguous_format
        if self._mem_fmt is not torch.contiguous_format and _first_conv(self.model) is not None:
            self.model.to(memory_format=self._mem_fmt)
        else:
            self._mem_fmt = torch.contiguous_format

    def _build_optimizer(self) -> None:
        if self.optimizer is not None:
            return
        spec = self.optimizer_spec
        params = [p for p in self.model.parameters() if p.requires_grad]
        if not params:
            raise ConfigError("the model has no trainable parameters (all frozen?): unfreeze some with "
                              "medimg_kernel.models.unfreeze(model)")
        if isinstance(spec, torch.optim.Optimizer):
            self.optimizer = spec
        elif spec is None or isinstance(spec, str):
            name = (spec or "adamw").lower()
            kinds = {"adamw": torch.optim.AdamW, "adam": torch.optim.Adam, "sgd": torch.optim.SGD}
            if name not in kinds:
                raise ConfigError(f"unknown optimizer {spec!r}: choose one of {', '.join(kinds)} or pass an instance")
            kw: dict[str, Any] = {"lr": self.lr, "weight_decay": self.weight_decay}
            if name == "sgd":
                kw["momentum"] = 0.9
            self.optimizer = kinds[name](params, **kw)
        elif callable(spec):
            self.optimizer = spec(params)
        else:
            raise ConfigError(f"optimizer={spec!r}: pass None, a name, an optimizer instance or a callable")

    def _build_scheduler(self, steps_per_epoch: int) -> None:
        if self.scheduler is not None or self.scheduler_spec is None:
            return
        spec, opt = self.scheduler_spec, self.optimizer
        total = self.max_steps or self.max_epochs * max(1, steps_per_epoch)
        if isinstance(spec, str):
            name = spec.lower()
            if name == "cosine":
                self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=self.max_epochs)
            elif name == "onecycle":
                self.scheduler = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=self.lr, total_steps=total)
            elif name == "step":
                self.scheduler = torch.optim.lr_scheduler.StepLR(opt, step_size=max(1, self.max_epochs // 3))
            elif name == "plateau":
                self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode=self._monitor_mode())
            else:
                raise ConfigError(f"unknown scheduler {spec!r}: choose cosine, onecycle, step or plateau, or pass "
                                  "an instance or a callable optimizer -> scheduler")
        elif hasattr(spec, "step") and hasattr(spec, "state_dict"):
            self.scheduler = spec
        elif callable(spec):
            self.scheduler = spec(opt)
        else:
            raise ConfigError(f"scheduler={spec!r} is not a scheduler, a name or a callable")

    # ------------------------------------------------------------------ data checks
    def _source(self, data: Any, *, train: bool) -> Any:
        src = as_source(data, device=self.device, batch_size=self.batch_size if train else
                        max(1, self.batch_size // max(1, self._dist.world_size)) * 2,
                        shuffle=train, seed=self.seed, dist=self._dist, cache=self.cache,
                        num_workers=self.num_workers, shard=train)
        if getattr(src, "resident", False) and isinstance(src.x, torch.Tensor):
            conv = _first_conv(self.model)
            if conv is not None and src.x.ndim == len(conv.kernel_size) + 1 and conv.in_channels == 1:
                src.x = src.x.unsqueeze(1)  # (N, H, W) -> (N, 1, H, W)
            if src.x.dtype in (torch.uint8, torch.int16, torch.int32, torch.int64, torch.float16, torch.bfloat16):
                src.x = src.x.float()
            if self.task == "segmentation" and isinstance(src.y, torch.Tensor) and src.y.ndim == src.x.ndim - 1:
                src.y = src.y.unsqueeze(1)
        return src

    def _check(self, src: Any) -> None:
        """Fail before training when data and model disagree (shape, channels, label range)."""
        x, y = src.peek(2)
        name = type(self.model).__name__
        was = self.model.training
        self.model.eval()
        try:  # no cuDNN autotuning for this 2-sample probe (its shapes are never used again)
            with torch.no_grad(), self.policy.autocast(), torch.backends.cudnn.flags(
                    enabled=torch.backends.cudnn.enabled, benchmark=False,
                    deterministic=torch.backends.cudnn.deterministic):
                out = self.model(self._fmt(x))
        except (RuntimeError, ValueError, TypeError) as err:
            # explain with the first convolution's expectations when they disagree with the data (usually the
            # input layer); otherwise pass on the model's own first line
            conv = _first_conv(self.model)
            if isinstance(x, torch.Tensor) and conv is not None:
                dims, cin = len(conv.kernel_size), conv.in_channels
                if x.ndim != dims + 2 or x.shape[1] != cin:
                    want = f"(N, {cin}, " + ", ".join(["H", "W", "D"][:dims]) + ")"
                    raise ShapeMismatchError(
                        f"data batch shape {tuple(x.shape)} does not fit {name}: the model expects {dims}D "
                        f"inputs with {cin} channel(s), i.e. {want}; data has "
                        f"{x.ndim - 2 if x.ndim >= 3 else '?'} spatial dims and "
                        f"{x.shape[1] if x.ndim > 1 else '?'} channel(s). Fix the data (add a channel axis with "
                        "x[:, None], or select channels) or build the model with matching "
                        "spatial_dims/in_channels (or adapt_input_channels)") from err
            raise ShapeMismatchError(f"{name} cannot run on data of shape {_shape(x)}: "
                                     f"{str(err).splitlines()[0]}") from err
        finally:
            self.model.train(was)
        if isinstance(x, torch.Tensor) and x.ndim >= 3:
            self.patch_size = tuple(x.shape[2:])
        if y is None or self.task == "custom" or not isinstance(out, torch.Tensor):
            return
        if self.task == "classification":
            c = out.shape[1] if out.ndim == 2 else 1
            ncls = self.num_classes or (2 if c == 1 else c)
            if c not in (1, ncls):
                raise ShapeMismatchError(f"{name} outputs {c} values per sample but num_classes={ncls}: build the "
                                         f"model with out_channels={ncls} or use replace_head(model, {ncls})")
            self._check_labels(src, ncls)
            self._label_mode = "binary" if c == 1 else "index"
        elif self.task == "segmentation":
            c = out.shape[1]
            if tuple(out.shape[2:]) != tuple(y.shape[2:]) or y.ndim != out.ndim:
                raise ShapeMismatchError(f"segmentation output shape {tuple(out.shape)} and label shape "
                                         f"{tuple(y.shape)} differ: labels must be (N, 1, *spatial) indices or "
                                         f"(N, {c}, *spatial) one-hot with the image's spatial size")
            self._label_mode = "onehot" if (y.shape[1] == c and c > 1) else "index"
            if self._label_mode == "index":
                self._check_labels(src, max(2, c))
        elif self.task == "regression" and out.numel() != (y.numel() if isinstance(y, torch.Tensor) else 0):
            raise ShapeMismatchError(f"regression output shape {tuple(out.shape)} and target shape "
                                     f"{_shape(y)} hold different numbers of values")

    def _check_labels(self, src: Any, ncls: int) -> None:
        y = src.y if getattr(src, "resident", False) else src.peek(10**9)[1]
        if not isinstance(y, torch.Tensor):
            return
        yf = y.float()
        lo, hi = float(yf.min()), float(yf.max())
        if not torch.equal(yf, yf.round()) or lo < 0 or hi > ncls - 1 or math.isnan(lo + hi):
            raise TrainingError(
                f"labels out of range: the model has {ncls} classes so labels must be integers 0..{ncls - 1}, "
                f"found values from {lo:g} to {hi:g}{' (not all integers)' if not torch.equal(yf, yf.round()) else ''}. "
                f"Remap the labels, or build the model with out_channels={int(hi) + 1 if hi >= 0 else ncls}")

    # ------------------------------------------------------------------ loss
    def _build_loss(self) -> None:
        if self._loss_fn is not None:
            return
        if self.user_loss is not None:
            self._loss_fn = self.user_loss
            return
        weight = None if self.class_weights is None else torch.as_tensor(self.class_weights, dtype=torch.float32,
                                                                           device=self.device)
        if self.task == "classification":
            if self._label_mode == "binary":
                bce = nn.BCEWithLogitsLoss(pos_weight=weight)
                self._loss_fn = lambda out, y: bce(out.reshape(-1), y.float().reshape(-1))
            else:
                ce = nn.CrossEntropyLoss(weight=weight)
                self._loss_fn = lambda out, y: ce(out, y.long().reshape(-1))
        elif self.task == "segmentation":
            from monai.losses import DiceCELoss

            multi = self._label_mode == "onehot" or self._out_channels() > 1
            dce = DiceCELoss(to_onehot_y=self._label_mode == "index" and multi, softmax=multi, sigmoid=not multi,
                             include_background=True, weight=weight)
            self._loss_fn = lambda out, y: dce(out, y.float())
        elif self.task == "regression":
            mse = nn.MSELoss()
            self._loss_fn = lambda out, y: mse(out.reshape(-1), y.float().reshape(-1))

    def _out_channels(self) -> int:
        spec = getattr(self.model, "medimg_spec", None)
        return int(spec["out_channels"]) if spec else 2

    def _loss(self, out: Any, y: Any) -> torch.Tensor:
        if isinstance(out, torch.Tensor) and out.is_floating_point():
            out = out.float()
        return self._loss_fn(out, y)

    # ------------------------------------------------------------------ helpers
    def _fmt(self, x: Any) -> Any:
        fmt = getattr(self, "_mem_fmt", torch.contiguous_format)
        if isinstance(x, torch.Tensor) and x.ndim in (4, 5) and fmt is not torch.contiguous_format:
            return x.contiguous(memory_format=fmt)
        return x

    def _monitor_name(self, has_val: bool) -> str:
        if self.monitor:
            return self.monitor
        if isinstance(self.early_stopping, dict) and self.early_stopping.get("monitor"):
            return self.early_stopping["monitor"]
        if not has_val:
            return "train_loss"
        primary = {"classification": "accuracy", "segmentation": "dice"}.get(self.task)
        names = MetricSet(self.task, self.metrics_spec).names
        return f"val_{primary}" if primary in names else "val_loss"

    def _monitor_mode(self, name: str | None = None) -> str:
        if isinstance(self.early_stopping, dict) and self.early_stopping.get("mode"):
            return self.early_stopping["mode"]
        name = name or self.monitor or "loss"
        return "min" if any(k in name for k in ("loss", "mae", "rmse", "hausdorff")) else "max"

    def _aug_generator(self, epoch: int, k: int) -> torch.Generator:
        g = self._gen
        g.manual_seed((self.seed * 1_000_003 + epoch * 10_007 + k * 101 + self._dist.rank * 7 + 17) % (2**63))
        return g

    @property
    def history(self) -> Any:
        """The training history as a pandas DataFrame (one row per epoch)."""
        import pandas as pd

        return pd.DataFrame(self.history_rows)

    @property
    def best_checkpoint(self) -> Path | None:
        """Path of ``best.pt`` if it exists."""
        return self._ckpt.best if self._ckpt and self._ckpt.best.is_file() else None

    def load_best(self) -> None:
        """Load the best-metric weights saved during :meth:`fit` into the model."""
        if self.best_checkpoint is None:
            raise CheckpointError("no best checkpoint: fit(...) with checkpoint_dir= and validation data first")
        state = load_checkpoint(self.best_checkpoint)
        D.unwrap(self.model).load_state_dict(state["model"])

    # ------------------------------------------------------------------ checkpoint state
    def _state(self, epoch: int, batch: int, acc: dict[str, float]) -> dict[str, Any]:
        return {
            "model": D.unwrap(self.model).state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "epoch": epoch, "batch": batch, "global_step": self.global_step,
            "epoch_acc": dict(acc), "history": list(self.history_rows),
            "best_value": self.best_value, "best_epoch": self.best_epoch, "bad_epochs": self._bad_epochs,
            "micro_batch": self._oom.micro_batch, "rng": _rng_state(),
            "config": {"task": self.task, "batch_size": self.batch_size, "seed": self.seed,
                       "model": type(D.unwrap(self.model)).__name__},
        }

    def _save_last(self, epoch: int, batch: int, acc: dict[str, float]) -> None:
        if self._ckpt is not None and self._is_main:
            self._ckpt.save_last(self._state(epoch, batch, acc))
        D.barrier()

    def _restore(self, resume: Any) -> tuple[int, int, dict[str, float]] | None:
        if isinstance(resume, (str, Path)):
            state = load_checkpoint(resume)
        else:
            if self._ckpt is None:
                raise ConfigError("fit(..., resume=True) needs Trainer(checkpoint_dir=...) to know where to look")
            state = self._ckpt.load_resume()
            if state is None:
                log.info("no checkpoint in %s: starting from scratch", self.checkpoint_dir)
                return None
        if state["config"].get("model") != type(D.unwrap(self.model)).__name__:
            raise CheckpointError(f"the checkpoint was written for a {state['config'].get('model')}, not a "
                                  f"{type(D.unwrap(self.model)).__name__}: use another checkpoint_dir")
        D.unwrap(self.model).load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state["scheduler"] is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        if self.scaler is not None and state["scaler"] is not None:
            self.scaler.load_state_dict(state["scaler"])
        self.global_step = int(state["global_step"])
        self.history_rows = list(state["history"])
        self.best_value, self.best_epoch = state["best_value"], state["best_epoch"]
        self._bad_epochs = int(state["bad_epochs"])
        self._oom.micro_batch = int(state.get("micro_batch", self._oom.micro_batch))
        _set_rng_state(state["rng"])
        log.info("resumed at epoch %d batch %d (step %d)", state["epoch"], state["batch"], self.global_step)
        return int(state["epoch"]), int(state["batch"]), dict(state["epoch_acc"])

    # ------------------------------------------------------------------ training step
    def _train_step(self, x: Any, y: Any, step: int) -> torch.Tensor:
        opt = self.optimizer
        n = batch_len(x)
        while True:
            opt.zero_grad(set_to_none=True)
            try:
                total = torch.zeros((), device=self.device)
                slices = self._oom.split(n)
                for i, sl in enumerate(slices):
                    xm, ym = (x, y) if len(slices) == 1 else (index_batch(x, sl), index_batch(y, sl))
                    sync = contextlib.nullcontext()
                    if i < len(slices) - 1 and hasattr(self._net, "no_sync"):
                        sync = self._net.no_sync()
                    with sync:
                        with self.policy.autocast():
                            out = self._net(xm)
                        loss = self._loss(out, ym)
                        w = (sl.stop - sl.start) / n
                        scaled = loss * w if w != 1 else loss
                        (self.scaler.scale(scaled) if self.scaler is not None else scaled).backward()
                    total = total + loss.detach().float() * w
                break
            except Exception as err:
                if not is_oom(err):
                    raise
                out = loss = scaled = None  # noqa: F841 - free the graph before retrying
                opt.zero_grad(set_to_none=True)
                self._oom.on_oom(err, step)
        if self.grad_clip:
            if self.scaler is not None:
                self.scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
        if self.scaler is not None:
            self.scaler.step(opt)
            self.scaler.update()
        else:
            opt.step()
        return total

    def _flush(self, pending: list[tuple[int, torch.Tensor, int]], acc: dict[str, float], epoch: int) -> float:
        """Check the pending step losses for NaN (one device sync) and add them to the epoch totals."""
        losses = torch.stack([p[1] for p in pending]).cpu()
        bad = (~torch.isfinite(losses)).nonzero()
        if len(bad):
            raise self._nan_error(pending[int(bad[0])][0], epoch)
        sizes = torch.tensor([float(p[2]) for p in pending])
        acc["loss_sum"] += float((losses.double() * sizes).sum())
        acc["n"] += float(sizes.sum())
        pending.clear()
        return float(losses[-1])

    def _nan_error(self, step: int, epoch: int) -> TrainingError:
        where = f"; the last good checkpoint is {self._ckpt.resume_path()}" if self._ckpt and self._ckpt.resume_path() else ""
        return TrainingError(
            f"the loss became NaN/inf at step {step} (epoch {epoch + 1}){where}. Hints: lower the learning rate "
            f"(now {self.optimizer.param_groups[0]['lr']:g}), use precision='fp32' (now {self.policy.precision}), "
            "set grad_clip=1.0, and check the inputs for NaN or unscaled intensities")

    # ------------------------------------------------------------------ public API
    def fit(self, train: Any, val: Any = None, *, resume: bool | str | Path = False) -> Any:
        """Train on ``train`` (validating on ``val`` each epoch) and return the history DataFrame.

        ``resume=True`` continues from ``checkpoint_dir/last.pt`` (optimizer, scheduler, scaler, RNG and
        the position inside the epoch included); ``resume="path.pt"`` continues from that file.
        """
        self._setup_device()
        seed_everything(self.seed)  # a resumed run then restores the checkpoint's RNG state
        t_data = time.perf_counter()
        src = self._source(train, train=True)
        val_src = self._source(val, train=False) if val is not None else None
        self.timings["data_s"] = time.perf_counter() - t_data
        self._check(src)
        if val_src is not None:
            self._check(val_src)
        x0, _ = src.peek(1)
        self._apply_memory_format(x0.ndim if isinstance(x0, torch.Tensor) else 0)
        self._build_loss()
        self._build_optimizer()
        steps_per_epoch = len(src)
        self._build_scheduler(steps_per_epoch)
        if self.policy.needs_grad_scaler and self.scaler is None:
            self.scaler = torch.amp.GradScaler("cuda")
        self._net = D.wrap_ddp(self.model, self.device) if self._dist.enabled else self.model
        if self.compile:
            self._net = torch.compile(self._net)
        self._gen = torch.Generator(device=self.device)
        self._bad_epochs = 0
        start_epoch, start_batch, acc = 0, 0, {"loss_sum": 0.0, "n": 0.0, "time": 0.0}
        if resume:
            restored = self._restore(resume)
            if restored is not None:
                start_epoch, start_batch, acc = restored
                if start_batch >= steps_per_epoch:
                    start_epoch, start_batch = start_epoch + 1, 0
        if self._is_main and self._ckpt is not None:
            self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        monitor = self._monitor_name(val_src is not None)
        mode = self._monitor_mode(monitor)
        patience, min_delta = None, 0.0
        if isinstance(self.early_stopping, int) and not isinstance(self.early_stopping, bool):
            patience = self.early_stopping
        elif isinstance(self.early_stopping, dict):
            patience = int(self.early_stopping.get("patience", 5))
            min_delta = float(self.early_stopping.get("min_delta", 0.0))
        total_steps = self.max_steps or self.max_epochs * steps_per_epoch
        bar = ProgressBar(total_steps, bool(self.progress) and self._is_main, initial=self.global_step)
        plot = LivePlot() if self.live_plot and self._is_main else None
        seg = self.task == "segmentation"
        step_sched = self.scheduler is not None and type(self.scheduler).__name__ in _STEP_SCHEDULERS
        log.info("training %s on %s (%s); %s", type(self.model).__name__, self.device, self.policy.precision,
                 src.describe())
        done = self.max_steps is not None and self.global_step >= self.max_steps
        try:
            for epoch in range(start_epoch, self.max_epochs):
                if done:
                    break
                self.epoch = epoch
                self.model.train()
                for m in self.model.modules():
                    if getattr(m, "medimg_frozen", False):
                        m.eval()
                pending: list[tuple[int, torch.Tensor, int]] = []
                t0 = time.perf_counter()
                k = start_batch if epoch == start_epoch else 0
                for x, y in src.batches(epoch, start=k):
                    if self.augment is not None:
                        g = self._aug_generator(epoch, k)
                        if isinstance(self.augment, BatchAugment):
                            x, y = self.augment(x, y, g, segmentation=seg)
                        else:
                            x, y = self.augment(x, y, g)
                    x = self._fmt(x)
                    n = batch_len(x)
                    loss = self._train_step(x, y, self.global_step + 1)
                    self.global_step += 1
                    k += 1
                    pending.append((self.global_step, loss, n))
                    if step_sched:
                        self.scheduler.step()
                    last_ckpt = self.checkpoint_every and self.global_step % self.checkpoint_every == 0
                    done = self.max_steps is not None and self.global_step >= self.max_steps
                    # one host sync per 25 GPU steps; the exact NaN step is still found in `pending`
                    if len(pending) >= (1 if self.device.type == "cpu" else 25) or last_ckpt or done:
                        last = self._flush(pending, acc, epoch)
                        bar.update(0, loss=last)
                    bar.update(1)
                    bar.describe(f"epoch {epoch + 1}/{self.max_epochs}")
                    if last_ckpt:
                        acc["time"] += time.perf_counter() - t0
                        t0 = time.perf_counter()
                        self._save_last(epoch, k, acc)
                    if done:
                        break
                if pending:
                    self._flush(pending, acc, epoch)
                if self.device.type == "cuda":
                    torch.cuda.synchronize(self.device)
                acc["time"] += time.perf_counter() - t0
                if self._dist.enabled:  # loss and sample count over all ranks
                    tot = torch.tensor([acc["loss_sum"], acc["n"]], dtype=torch.float64, device=self.device)
                    torch.distributed.all_reduce(tot)
                    acc["loss_sum"], acc["n"] = float(tot[0]), float(tot[1])
                row: dict[str, Any] = {"epoch": epoch + 1, "step": self.global_step,
                                       "train_loss": acc["loss_sum"] / max(acc["n"], 1),
                                       "lr": self.optimizer.param_groups[0]["lr"],
                                       "samples_per_s": acc["n"] / max(acc["time"], 1e-9),
                                       "epoch_time_s": acc["time"]}
                acc = {"loss_sum": 0.0, "n": 0.0, "time": 0.0}
                if val_src is not None:
                    row.update({f"val_{k2}": v for k2, v in self._evaluate_source(val_src).items()})
                self.history_rows.append(row)
                if self.scheduler is not None and not step_sched:
                    if type(self.scheduler).__name__ == "ReduceLROnPlateau":
                        self.scheduler.step(row.get(monitor, row["train_loss"]))
                    else:
                        self.scheduler.step()
                value = row.get(monitor)
                if value is None:
                    raise ConfigError(f"monitor {monitor!r} is not in the history columns {sorted(row)}")
                improved = self.best_value is None or (
                    value > self.best_value + min_delta if mode == "max" else value < self.best_value - min_delta)
                if improved and not math.isnan(value):
                    self.best_value, self.best_epoch, self._bad_epochs = float(value), epoch + 1, 0
                    if self._ckpt is not None and self._is_main:
                        self._ckpt.save_best({"model": D.unwrap(self.model).state_dict(), "monitor": monitor,
                                              "value": float(value), "epoch": epoch + 1})
                else:
                    self._bad_epochs += 1
                bar.update(0, loss=row["train_loss"], **{monitor: value} if monitor != "train_loss" else {})
                self._save_last(epoch + 1, 0, acc)
                if plot is not None:
                    plot.update(self.history)
                if patience is not None and self._bad_epochs >= patience:
                    self.stopped_early = True
                    log.info("early stopping at epoch %d: %s did not improve for %d epochs", epoch + 1, monitor,
                             patience)
                    break
        finally:
            bar.close()
        return self.history

    def _evaluate_source(self, src: Any) -> dict[str, float]:
        ms = MetricSet(self.task, self.metrics_spec, num_classes=self.num_classes,
                       include_background=self.include_background)
        self.model.eval()
        total, count = 0.0, 0
        with torch.no_grad(), self.policy.autocast():
            for x, y in src.batches(0):
                out = self.model(self._fmt(x))
                n = batch_len(x)
                if y is not None:
                    total += float(self._loss(out, y)) * n
                    count += n
                    ms.update(out, y)
        res = {"loss": total / count} if count else {}
        if count:
            res.update(ms.compute())
        return res

    def evaluate(self, data: Any) -> dict[str, float]:
        """Return the loss and the task's metrics on ``data`` (e.g. ``{"loss", "accuracy", "auc"}``)."""
        self._setup_device()
        src = self._source(data, train=False)
        if not hasattr(self, "_mem_fmt"):
            self._check(src)
            x0, _ = src.peek(1)
            self._apply_memory_format(x0.ndim if isinstance(x0, torch.Tensor) else 0)
        self._build_loss()
        return self._evaluate_source(src)

    def predict(self, data: Any, *, roi_size: tuple[int, ...] | None = None, sw_batch_size: int = 4,
                overlap: float = 0.25, activation: str | None = None) -> torch.Tensor:
        """Return model outputs for ``data`` as a CPU float tensor.

        Outputs are logits unless ``activation="softmax"`` or ``"sigmoid"``. For segmentation, inputs larger
        than the training patch (or any input when ``roi_size`` is given) run through MONAI sliding-window
        inference with ``roi_size`` (default: the training patch), ``overlap`` and Gaussian blending.
        """
        self._setup_device()
        src = self._source(data, train=False)
        if not hasattr(self, "_mem_fmt"):
            x0, _ = src.peek(1)
            self._apply_memory_format(x0.ndim if isinstance(x0, torch.Tensor) else 0)
        self.model.eval()
        outs = []
        with torch.no_grad(), self.policy.autocast():
            for x, _y in src.batches(0):
                x = self._fmt(x)
                window = roi_size or self.patch_size
                if self.task == "segmentation" and isinstance(x, torch.Tensor) and window is not None and (
                        roi_size is not None or any(s > w for s, w in zip(x.shape[2:], window))):
                    from monai.inferers import sliding_window_inference

                    out = sliding_window_inference(x, tuple(window), sw_batch_size, self.model, overlap=overlap,
                                                   mode="gaussian")
                    out = out.as_tensor() if hasattr(out, "as_tensor") else out
                else:
                    out = self.model(x)
                out = out.float()
                if activation == "softmax":
                    out = torch.softmax(out, 1)
                elif activation == "sigmoid":
                    out = torch.sigmoid(out)
                elif activation is not None:
                    raise ConfigError(f"activation={activation!r}: choose None, 'softmax' or 'sigmoid'")
                outs.append(out.cpu())
        return torch.cat(outs)
