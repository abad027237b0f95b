"""The course Trainer: ``fit`` / ``evaluate`` / ``predict`` with the fast-training recipe built in.

The Trainer composes small modules of this package: the device policy and torch's process knobs
(:mod:`medimg_kernel.device`), the measured precision choice (:mod:`.calibrate`), data sources kept on
the device (:mod:`.data`, :mod:`.augment`), the data/model contract check (:mod:`.contract`), loss,
optimizer and scheduler factories (:mod:`.losses`, :mod:`.optim`), early stopping
(:mod:`.early_stopping`), RNG state (:mod:`.rng`), CUDA out-of-memory back-off (:mod:`.oom`), atomic
resumable checkpoints (:mod:`.checkpoint`) and DDP under ``torchrun`` (:mod:`.distributed`).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import CheckpointError, ConfigError, TrainingError
from . import distributed as D
from .augment import BatchAugment, MonaiAugment, make_augment
from .checkpoint import CheckpointManager, check_resumable, load_checkpoint, state_dict_mismatch
from .contract import check_batch, first_conv, fit_resident_layout
from .data import as_source, batch_len, index_batch
from .early_stopping import EarlyStopping, default_monitor
from .losses import build_loss, model_out_channels
from .metrics import MetricSet
from .oom import OOMBackoff, is_oom
from .optim import build_optimizer, build_scheduler, step_epoch_end, steps_per_batch
from .placement import place
from .progress import LivePlot, ProgressBar
from .rng import rng_state, seed_everything, set_rng_state

__all__ = ["Trainer", "seed_everything", "TASKS"]

log = logging.getLogger(__name__)
TASKS = ("classification", "segmentation", "regression", "custom")


class Trainer:
    """Train, evaluate and run a model with the device-aware fast-training recipe.

    Parameters
    ----------
    model
        Any ``torch.nn.Module`` (e.g. from :func:`medimg_kernel.build_model`); multimodal models may take
        a dict of tensors. Or a function without arguments that builds one: the Trainer then seeds with
        ``seed`` before calling it, so two fresh processes start from the same weights (bitwise identical
        on CPU with the same torch and thread count; use ``deterministic=True`` on a GPU).
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
        ``None``, ``True``/``"default"``, ``"flip"``, a dict of :class:`BatchAugment` options, a MONAI
        random transform (array, dictionary or ``Compose``; applied per sample, seeded per batch), or a
        callable ``f(x, y, generator) -> (x, y)`` applied on the device to each training batch.
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
    everywhere), and only rank 0 shows progress and writes checkpoints. Pass a model factory, or call
    :func:`seed_everything` before building the model, for reproducible initial weights.

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
        model: nn.Module | Callable[[], nn.Module],
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
        if not isinstance(model, nn.Module):
            if not callable(model):
                raise ConfigError(f"model must be an nn.Module or a function that builds one, got {type(model).__name__}")
            seed_everything(int(seed))  # seed first, then build: the initial weights follow the seed
            model = model()
            if not isinstance(model, nn.Module):
                raise ConfigError(f"the model factory returned a {type(model).__name__}, not an nn.Module")
        self._stop_spec = EarlyStopping.parse(early_stopping)  # validate now too
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
        self.calibration = None  # the precision measurement of the last fit (see .calibrate), if any
        self.device: torch.device | None = None
        self.optimizer: torch.optim.Optimizer | None = None
        self.scheduler: Any = None
        self.scaler: Any = None
        self.history_rows: list[dict[str, Any]] = []
        self.epoch = 0
        self.global_step = 0
        self.stopped_early = False
        self.patch_size: tuple[int, ...] | None = None
        self._stopper = EarlyStopping()
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

    @property
    def best_value(self) -> float | None:
        """The best monitored value so far (None before the first epoch)."""
        return self._stopper.best_value

    @property
    def best_epoch(self) -> int | None:
        """The epoch (1-based) of :attr:`best_value`."""
        return self._stopper.best_epoch

    def _setup_device(self) -> None:
        if self.policy is not None:
            return
        from ..device import device_policy

        env = D.dist_info()
        self.policy = device_policy(self.device_req, self.precision_req,
                                    local_rank=env.local_rank if env.enabled else None)
        self.device = self.policy.torch_device()
        self._dist = D.init_distributed(self.policy.device_type)
        self.policy.apply_threads(processes=self._dist.local_world_size)
        self.policy.apply_backend_flags(self.deterministic)
        place(self.model, self.device, autocast_dtype=self.policy.autocast_dtype)  # strict-device guard too
        self._is_main = self._dist.is_main

    def _choose_precision(self, src: Any, total_steps: int) -> None:
        """With precision ``auto``, measure (or read the cached) fastest setting on this model and batch."""
        from .calibrate import choose_policy

        x, y = src.peek(self.batch_size)
        spec = self.optimizer_spec if self.optimizer_spec is None or isinstance(self.optimizer_spec, str) else None
        self.policy, self.calibration = choose_policy(
            self.policy, self.model, x, y, self._loss, task=self.task, batch_size=self.batch_size,
            total_steps=total_steps, distributed=self._dist.enabled,
            make_optimizer=lambda params: build_optimizer(spec, params, lr=self.lr, weight_decay=self.weight_decay))
        place(self.model, self.device, autocast_dtype=self.policy.autocast_dtype)  # mk.infer follows the choice

    def _apply_memory_format(self, ndim: int) -> None:
        self._mem_fmt = self.policy.memory_format_for(ndim) if ndim in (4, 5) else torch.contiguous_format
        if self._mem_fmt is not torch.contiguous_format and first_conv(self.model) is not None:
            self.model.to(memory_format=self._mem_fmt)
        else:
            self._mem_fmt = torch.contiguous_format

    # ------------------------------------------------------------------ data checks
    def _source(self, data: Any, *, train: bool) -> Any:
        src = as_source(data, device=self.device, batch_size=self.batch_size if train else
                        max(1, self.batch_size // max(1, self._dist.world_size)) * 2,
                        shuffle=train, seed=self.seed, dist=self._dist, cache=self.cache,
                        num_workers=self.num_workers, shard=train)
        fit_resident_layout(src, self.model, self.task)
        return src

    def _check(self, src: Any) -> None:
        """Fail before training when data and model disagree (shape, channels, label range)."""
        x, y = src.peek(2)
        contract = check_batch(
            self.model, self._fmt(x), y, task=self.task, num_classes=self.num_classes, autocast=self.policy.autocast,
            labels=lambda: src.y if getattr(src, "resident", False) else src.peek(10**9)[1])
        if contract.patch_size is not None:
            self.patch_size = contract.patch_size
        if contract.label_mode is not None:
            self._label_mode = contract.label_mode

    # ------------------------------------------------------------------ loss
    def _build_loss(self) -> None:
        if self._loss_fn is not None:
            return
        if self.user_loss is not None:
            self._loss_fn = self.user_loss
            return
        self._loss_fn = build_loss(self.task, self._label_mode, class_weights=self.class_weights,
                                   out_channels=model_out_channels(self.model), device=self.device)

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
        if self._stop_spec.get("monitor"):
            return self._stop_spec["monitor"]
        return default_monitor(self.task, MetricSet(self.task, self.metrics_spec).names, has_val)

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
        net = D.unwrap(self.model)
        diff = state_dict_mismatch(net.state_dict(), state.get("model") or {})
        if diff:
            raise CheckpointError(f"{self.best_checkpoint} does not fit this {type(net).__name__}: {diff}",
                                  advice="load it into the model it was trained with")
        net.load_state_dict(state["model"])

    # ------------------------------------------------------------------ checkpoint state
    def _state(self, epoch: int, batch: int, acc: dict[str, float]) -> dict[str, Any]:
        return {
            "model": D.unwrap(self.model).state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "epoch": epoch, "batch": batch, "global_step": self.global_step,
            "epoch_acc": dict(acc), "history": list(self.history_rows),
            "best_value": self._stopper.best_value, "best_epoch": self._stopper.best_epoch,
            "bad_epochs": self._stopper.bad_epochs,
            "micro_batch": self._oom.micro_batch, "rng": rng_state(),
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
        where = resume if isinstance(resume, (str, Path)) else self._ckpt.resume_path()
        check_resumable(state, where, model=D.unwrap(self.model), task=self.task)
        D.unwrap(self.model).load_state_dict(state["model"])
        try:
            self.optimizer.load_state_dict(state["optimizer"])
        except (ValueError, KeyError, RuntimeError) as err:
            raise CheckpointError(
                f"{where}: the optimizer state does not fit this run's optimizer ({' '.join(str(err).split())})",
                advice="use the optimizer the checkpoint was written with, or another checkpoint_dir",
                cli_advice="use the trainer.optimizer the checkpoint was written with, or a new "
                           "trainer.checkpoint_dir",
            ) from err
        if self.scheduler is not None and state["scheduler"] is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        if self.scaler is not None and state["scaler"] is not None:
            self.scaler.load_state_dict(state["scaler"])
        self.global_step = int(state["global_step"])
        self.history_rows = list(state["history"])
        self._stopper.best_value, self._stopper.best_epoch = state["best_value"], state["best_epoch"]
        self._stopper.bad_epochs = int(state["bad_epochs"])
        self._oom.micro_batch = int(state.get("micro_batch", self._oom.micro_batch))
        set_rng_state(state["rng"])
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
        src, val_src = self._prepare(train, val)
        steps_per_epoch = len(src)
        start_epoch, start_batch, acc = 0, 0, _new_acc()
        if resume:
            restored = self._restore(resume)
            if restored is not None:
                start_epoch, start_batch, acc = restored
                if start_batch >= steps_per_epoch:
                    start_epoch, start_batch = start_epoch + 1, 0
        if self._is_main and self._ckpt is not None:
            self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        total_steps = self.max_steps or self.max_epochs * steps_per_epoch
        bar = ProgressBar(total_steps, bool(self.progress) and self._is_main, initial=self.global_step)
        plot = LivePlot() if self.live_plot and self._is_main else None
        log.info("training %s on %s (%s, %s); %s", type(self.model).__name__, self.device, self.policy.precision,
                 self.policy.memory_format, src.describe())
        done = self.max_steps is not None and self.global_step >= self.max_steps
        try:
            for epoch in range(start_epoch, self.max_epochs):
                if done:
                    break
                self.epoch = epoch
                acc, done = self._train_epoch(src, epoch, start_batch if epoch == start_epoch else 0, acc, bar)
                row = self._epoch_row(epoch, acc, val_src)
                acc = _new_acc()
                self._end_epoch(row, epoch, bar, plot)
                if self._stopper.should_stop:
                    self.stopped_early = True
                    log.info("early stopping at epoch %d: %s did not improve for %d epochs", epoch + 1,
                             self._stopper.monitor, self._stopper.patience)
                    break
        finally:
            bar.close()
        return self.history

    def _prepare(self, train: Any, val: Any) -> tuple[Any, Any]:
        """Everything before the first step: device, data sources, contract checks, precision, loss, optimizer."""
        self._setup_device()
        seed_everything(self.seed)  # a resumed run then restores the checkpoint's RNG state
        t_data = time.perf_counter()
        src = self._source(train, train=True)
        val_src = self._source(val, train=False) if val is not None else None
        self.timings["data_s"] = time.perf_counter() - t_data
        self._check(src)
        if val_src is not None:
            self._check(val_src)
        self._build_loss()
        steps_per_epoch = len(src)
        total_steps = self.max_steps or self.max_epochs * steps_per_epoch
        t_cal = time.perf_counter()
        self._choose_precision(src, total_steps)
        self.timings["precision_s"] = time.perf_counter() - t_cal
        x0, _ = src.peek(1)
        self._apply_memory_format(x0.ndim if isinstance(x0, torch.Tensor) else 0)
        if self.optimizer is None:
            spec = self.optimizer_spec
            self.optimizer = build_optimizer(spec, self.model.parameters(), lr=self.lr,
                                             weight_decay=self.weight_decay)
        monitor = self._monitor_name(val_src is not None)
        self._stopper.configure(monitor, self._stop_spec.get("mode"), self._stop_spec.get("patience"),
                                self._stop_spec.get("min_delta", 0.0))
        if self.scheduler is None:
            self.scheduler = build_scheduler(self.scheduler_spec, self.optimizer, lr=self.lr,
                                             max_epochs=self.max_epochs, total_steps=total_steps,
                                             mode=self._stopper.mode)
        if self.policy.needs_grad_scaler and self.scaler is None:
            self.scaler = torch.amp.GradScaler("cuda")
        self._net = D.wrap_ddp(self.model, self.device) if self._dist.enabled else self.model
        if self.compile:
            self._net = torch.compile(self._net)
        self._gen = torch.Generator(device=self.device)
        return src, val_src

    def _train_epoch(self, src: Any, epoch: int, k: int, acc: dict[str, float],
                     bar: ProgressBar) -> tuple[dict[str, float], bool]:
        """Run one epoch's steps from batch ``k``; return the epoch totals and whether ``max_steps`` was hit."""
        self.model.train()
        for m in self.model.modules():
            if getattr(m, "medimg_frozen", False):
                m.eval()
        seg = self.task == "segmentation"
        step_sched = steps_per_batch(self.scheduler)
        pending: list[tuple[int, torch.Tensor, int]] = []
        done = False
        t0 = time.perf_counter()
        for x, y in src.batches(epoch, start=k):
            if self.augment is not None:
                g = self._aug_generator(epoch, k)
                if isinstance(self.augment, (BatchAugment, MonaiAugment)):
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
        return acc, done

    def _epoch_row(self, epoch: int, acc: dict[str, float], val_src: Any) -> dict[str, Any]:
        row: dict[str, Any] = {"epoch": epoch + 1, "step": self.global_step,
                               "train_loss": acc["loss_sum"] / max(acc["n"], 1),
                               "lr": self.optimizer.param_groups[0]["lr"],
                               "samples_per_s": acc["n"] / max(acc["time"], 1e-9),
                               "epoch_time_s": acc["time"]}
        if val_src is not None:
            row.update({f"val_{k}": v for k, v in self._evaluate_source(val_src).items()})
        return row

    def _end_epoch(self, row: dict[str, Any], epoch: int, bar: ProgressBar, plot: LivePlot | None) -> None:
        """Record the row, step the scheduler, track the best value (saving ``best.pt``) and save ``last.pt``."""
        self.history_rows.append(row)
        monitor = self._stopper.monitor
        step_epoch_end(self.scheduler, row.get(monitor, row["train_loss"]))
        if self._stopper.update(row, epoch + 1) and self._ckpt is not None and self._is_main:
            self._ckpt.save_best({"model": D.unwrap(self.model).state_dict(), "monitor": monitor,
                                  "value": float(row[monitor]), "epoch": epoch + 1})
        bar.update(0, loss=row["train_loss"], **{monitor: row[monitor]} if monitor != "train_loss" else {})
        self._save_last(epoch + 1, 0, _new_acc())
        if plot is not None:
            plot.update(self.history)

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


def _new_acc() -> dict[str, float]:
    return {"loss_sum": 0.0, "n": 0.0, "time": 0.0}
