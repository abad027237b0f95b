"""The measured precision policy: time a few training steps of each candidate setting and keep the fastest.

Candidates are fp32 and the device's reduced precision (bf16 on CPUs with bf16 instructions and on GPUs
that support it, fp16 with loss scaling on older GPUs), each with contiguous and channels_last memory
(conv nets only). Every candidate trains its own copy of the user's model, from the same weights, on the
user's own batch; rounds are interleaved so background load hits all candidates alike. A setting is
picked only when it beats fp32 by at least :data:`MIN_GAIN`, and reduced precision only when its first
losses are finite and close to fp32's (the numerics guard). The choice is cached per machine, torch
version, model signature and shape class (:func:`medimg_kernel.device.cached_choices`).
"""

from __future__ import annotations

import copy
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ..device import DevicePolicy, cached_choices, store_choice
from .contract import first_conv
from .data import batch_len, index_batch

__all__ = ["MIN_GAIN", "BUDGET_S", "Calibration", "calibrate", "candidates", "decide", "StepRunner", "signature", "choose_policy"]

log = logging.getLogger(__name__)

#: a setting must be at least this much faster than fp32 to be picked
MIN_GAIN = 0.05
#: upper bound on the time one calibration takes (seconds)
BUDGET_S = 10.0
#: measuring must cost at most this share of the fit's estimated fp32 time (else the fit is too short to pay)
MAX_SHARE = 0.15
#: relative/absolute tolerance of the numerics guard on the first losses
LOSS_RTOL, LOSS_ATOL = 0.05, 0.01
_TARGET_STEP_S = 0.25  # time one timed step at about this long (a sub-batch of the user's batch)
_MAX_ROUNDS = 12
ENV = "MEDIMG_CALIBRATE"  # "off": never measure; "force": measure even short fits and ignore the cache


@dataclass
class Calibration:
    """One measurement: samples/s per setting, the choice and why, the losses the guard compared."""

    key: str
    choice: str
    precision: str
    memory_format: str
    why: str
    samples_per_s: dict[str, float] = field(default_factory=dict)
    losses: dict[str, list[float]] = field(default_factory=dict)
    rejected: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    timed_batch: int = 0
    rounds: int = 0
    cached: bool = False

    def ratio_vs_fp32(self) -> dict[str, float]:
        """Each setting's speed relative to fp32 + contiguous."""
        base = self.samples_per_s.get("fp32+contiguous") or float("nan")
        return {k: v / base for k, v in self.samples_per_s.items()}

    def as_entry(self, machine: str, model: str, shape: str) -> dict[str, Any]:
        """The JSON entry stored in the calibration cache."""
        return {"machine": machine, "model": model, "shape": shape, "choice": self.choice,
                "precision": self.precision, "memory_format": self.memory_format, "why": self.why,
                "samples_per_s": {k: round(v, 2) for k, v in self.samples_per_s.items()},
                "rejected": self.rejected, "seconds": round(self.seconds, 2), "timed_batch": self.timed_batch,
                "rounds": self.rounds}


def candidates(policy: DevicePolicy, x: Any, model: nn.Module) -> list[tuple[str, str]]:
    """The (precision, memory format) pairs worth timing for ``model`` on ``x`` with ``policy``'s device."""
    precs = ["fp32"]
    if policy.device_type == "cuda":
        precs.append("bf16" if policy.gpu and policy.gpu.get("bf16") else "fp16")
    elif policy.device_type == "cpu" and policy.cpu.get("bf16"):
        precs.append("bf16")
    fmts = ["contiguous"]
    if isinstance(x, torch.Tensor) and x.ndim in (4, 5) and first_conv(model) is not None:
        fmts.append("channels_last")
    return [(p, f) for p in precs for f in fmts]


def _shape_class(x: Any, n: int) -> str:
    """Per-sample shape and a power-of-two batch bucket: batches of 48 and 64 share a class."""
    def one(t: Any) -> str:
        return "x".join(str(s) for s in t.shape[1:]) if isinstance(t, torch.Tensor) else type(t).__name__

    body = ",".join(f"{k}:{one(v)}" for k, v in sorted(x.items())) if isinstance(x, dict) else one(x)
    return f"{body}|b{2 ** max(0, math.ceil(math.log2(max(1, n))))}"


def signature(model: nn.Module, x: Any, batch_size: int, task: str) -> tuple[str, str]:
    """Return ``(model signature, shape class)``: class name, parameter count and spec; sample shape, batch."""
    n_params = sum(p.numel() for p in model.parameters())
    spec = getattr(model, "medimg_spec", None)
    extra = f"|{spec.get('name', '')}" if isinstance(spec, dict) else ""
    return f"{type(model).__name__}{extra}|{n_params}p|{task}", _shape_class(x, batch_size)


def _setting(policy: DevicePolicy, prec: str, fmt: str) -> DevicePolicy:
    return policy.with_setting(prec, fmt, policy.reason)


def _to(x: Any, fmt: torch.memory_format | None) -> Any:
    if fmt is not None and isinstance(x, torch.Tensor) and x.ndim in (4, 5):
        return x.contiguous(memory_format=fmt)
    return x


class StepRunner:
    """One setting's training steps: its own model copy (or the model itself), optimizer and loss scaler."""

    def __init__(self, model: nn.Module, pol: DevicePolicy, x: Any, y: Any, loss_fn: Callable[..., torch.Tensor],
                 make_opt: Callable[[Any], torch.optim.Optimizer], *, copy_model: bool = True) -> None:
        self.pol = pol
        self.model = copy.deepcopy(model) if copy_model else model
        ndim = x.ndim if isinstance(x, torch.Tensor) else 0
        self.fmt = pol.memory_format_for(ndim) if ndim in (4, 5) and pol.memory_format == "channels_last" else None
        if self.fmt is not None:
            self.model = self.model.to(memory_format=self.fmt)
        self.model.train()
        self.x, self.y = _to(x, self.fmt), y
        self.opt = make_opt(self.model.parameters())
        self.scaler = torch.amp.GradScaler("cuda") if pol.needs_grad_scaler else None
        self.loss_fn = loss_fn
        self.losses: list[float] = []
        self.times: list[float] = []

    def step(self, seed: int | None = None, *, sync: bool = True) -> float:
        """Run one optimisation step; return its seconds (with ``sync``, after the loss reached the host)."""
        if seed is not None:
            torch.manual_seed(seed)  # same dropout/augmentation draws for every candidate at the same step
        t0 = time.perf_counter()
        self.opt.zero_grad(set_to_none=True)
        with self.pol.autocast():
            out = self.model(self.x)
        out = out.float() if isinstance(out, torch.Tensor) and out.is_floating_point() else out
        loss = self.loss_fn(out, self.y)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.opt)
            self.scaler.update()
        else:
            loss.backward()
            self.opt.step()
        if sync:
            self.losses.append(float(loss.detach()))  # a host sync: the step is finished when the clock stops
        return time.perf_counter() - t0


def _guard(losses: list[float], ref: list[float]) -> str | None:
    """Return why reduced-precision losses fail the numerics guard against fp32's, or None when they pass."""
    if not all(math.isfinite(v) for v in losses):
        return f"a loss was not finite in the first steps ({losses[:3]})"
    for i, (a, b) in enumerate(zip(losses[:2], ref[:2])):
        if abs(a - b) > LOSS_RTOL * abs(b) + LOSS_ATOL:
            return f"step {i + 1} loss {a:.4g} differs from fp32's {b:.4g} by more than {LOSS_RTOL:.0%}"
    return None


def _too_slow(t_start: float) -> None:
    log.warning("precision not measured: steps took too long on this machine now (%.1f s spent); is it shared "
                "with other jobs? MEDIMG_NUM_THREADS=1 helps there", time.perf_counter() - t_start)


def decide(rates: dict[str, float], rejected: dict[str, str] | None = None) -> str:
    """Pick the fastest setting not rejected by the guard, but only if it beats fp32 + contiguous by MIN_GAIN."""
    allowed = {k: v for k, v in rates.items() if k not in (rejected or {})}
    best = max(allowed, key=allowed.get)
    return best if allowed[best] >= (1 + MIN_GAIN) * rates["fp32+contiguous"] else "fp32+contiguous"


def calibrate(model: nn.Module, x: Any, y: Any, loss_fn: Callable[..., torch.Tensor], policy: DevicePolicy, *,
              task: str = "custom", batch_size: int | None = None, total_steps: int | None = None,
              make_optimizer: Callable[[Any], torch.optim.Optimizer] | None = None, force: bool = False,
              budget_s: float | None = None, use_cache: bool = True, measure_short: bool = False) -> Calibration | None:
    """Measure the candidate settings on ``model`` with the batch ``(x, y)`` and return the choice.

    Returns None (nothing measured) when there is only one candidate, or when the fit is so short
    (``total_steps`` of fp32) that measuring would cost more than :data:`MAX_SHARE` of it, unless
    ``force``. A cached choice for the same machine, model signature and shape class is returned without
    measuring (``use_cache=False`` measures again). The user's model is never changed.
    """
    n = batch_len(x)
    batch_size = batch_size or n
    budget_s = BUDGET_S if budget_s is None else float(budget_s)
    machine = policy.signature()
    model_sig, shape = signature(model, x, batch_size, task)
    key = f"{machine}||{model_sig}||{shape}"
    if use_cache and not force:
        hit = cached_choices(machine).get(key)
        if hit is not None:
            return Calibration(key, hit["choice"], hit["precision"], hit["memory_format"], hit["why"],
                               dict(hit.get("samples_per_s", {})), {}, dict(hit.get("rejected", {})),
                               float(hit.get("seconds", 0.0)), int(hit.get("timed_batch", 0)),
                               int(hit.get("rounds", 0)), cached=True)
    cands = candidates(policy, x, model)
    if len(cands) < 2:
        return None
    make_opt = make_optimizer or (lambda params: torch.optim.AdamW(params, lr=1e-3))
    t_start = time.perf_counter()
    is2d = isinstance(x, torch.Tensor) and x.ndim == 4
    # probe: fp32 steps on a few samples estimate the fit's length and size the timed sub-batch
    n_p = min(n, 8 if is2d else 1)
    probe = StepRunner(model, _setting(policy, "fp32", "contiguous"), index_batch(x, slice(0, n_p)),
                    index_batch(y, slice(0, n_p)), loss_fn, make_opt)
    t_p = probe.step(0)
    if t_p < budget_s / 4:
        t_p = min(t_p, probe.step(0))  # the first step carries one-time costs
    del probe
    if time.perf_counter() - t_start > budget_s / 2:
        return _too_slow(t_start)
    est_fit = t_p * n / n_p * (total_steps or 1)
    n_t = max(n_p, min(n, math.ceil(n_p * _TARGET_STEP_S / max(t_p, 1e-6))))
    t_sub = t_p * n_t / n_p
    short_ok = force or measure_short
    budget = budget_s if short_ok else min(budget_s, MAX_SHARE * est_fit)
    minimal = len(cands) * 3 * t_sub  # warm-up + two timed rounds per candidate
    if not short_ok and budget < minimal:
        log.info("precision not measured: this fit is short (about %.0f s in fp32), measuring would cost %.1f s",
                 est_fit, minimal)
        return None
    xs, ys = index_batch(x, slice(0, n_t)), index_batch(y, slice(0, n_t))
    runners = {f"{p}+{f}": StepRunner(model, _setting(policy, p, f), xs, ys, loss_fn, make_opt) for p, f in cands}
    for r in runners.values():
        if time.perf_counter() - t_start + t_sub > budget_s:
            return _too_slow(t_start)
        r.step(1)  # warm-up (allocation, kernel selection), also the first loss for the guard
    t_warm = time.perf_counter() - t_start
    rounds = 0
    while rounds < _MAX_ROUNDS:
        names = list(runners)
        names = names[rounds % len(names):] + names[:rounds % len(names)]  # rotate the order each round
        for name in names:
            runners[name].times.append(runners[name].step(2 + rounds))
        rounds += 1
        elapsed = time.perf_counter() - t_start
        per_round = (elapsed - t_warm) / rounds
        if elapsed + per_round > budget:
            break
    # the best round of each: interleaved rounds share the background load, and its bursts only slow a step
    rates = {name: n_t / min(r.times) for name, r in runners.items()}
    losses = {name: r.losses for name, r in runners.items()}
    rejected: dict[str, str] = {}
    ref = losses["fp32+contiguous"]
    for name in rates:
        if not name.startswith("fp32"):
            why_not = _guard(losses[name], ref)
            if why_not:
                rejected[name] = why_not
    best = decide(rates, rejected)
    base = rates["fp32+contiguous"]
    gain = rates[best] / base - 1
    prec, fmt = best.split("+")
    ranking = ", ".join(f"{k} x{v / base:.2f}" for k, v in sorted(rates.items(), key=lambda kv: -kv[1]))
    why = (f"measured {len(rates)} settings on {model_sig.split('|')[0]} ({shape}, {n_t} of {n} samples per "
           f"timed step, {rounds} rounds): {ranking} vs fp32; ")
    why += (f"{best} is {gain:+.0%} over fp32 (>= {MIN_GAIN:.0%} needed)" if best != "fp32+contiguous" else
            f"nothing beat fp32 by {MIN_GAIN:.0%}")
    for name, reason in rejected.items():
        why += f"; {name} rejected by the numerics guard: {reason}"
        log.warning("precision %s not used for %s: %s; falling back", name, model_sig, reason)
    cal = Calibration(key, best, prec, fmt, why, rates, losses, rejected, time.perf_counter() - t_start, n_t, rounds)
    store_choice(key, cal.as_entry(machine, model_sig, shape))
    log.info("precision policy: %s", why)
    return cal


def choose_policy(policy: DevicePolicy, model: nn.Module, x: Any, y: Any, loss_fn: Callable[..., torch.Tensor], *,
                  task: str, batch_size: int, total_steps: int,
                  make_optimizer: Callable[[Any], torch.optim.Optimizer] | None = None,
                  distributed: bool = False) -> tuple[DevicePolicy, Calibration | None]:
    """Apply the measured choice to ``policy`` when its precision is ``auto``; return it with the calibration.

    ``$MEDIMG_CALIBRATE=off`` keeps the starting point, ``force`` measures every fit. Under DDP only a
    cached choice is used (ranks must agree, and each measuring alone would disagree).
    """
    if not policy.auto_precision:
        return policy, None
    mode = os.environ.get(ENV, "").strip().lower()
    if mode in ("off", "0", "no", "false"):
        return policy.with_setting(policy.precision, policy.memory_format,
                                   policy.reason + f"; not measured (${ENV}={mode})"), None
    cal = None
    try:
        if distributed:
            machine = policy.signature()
            model_sig, shape = signature(model, x, batch_size, task)
            hit = cached_choices(machine).get(f"{machine}||{model_sig}||{shape}")
            if hit is not None:
                cal = Calibration("", hit["choice"], hit["precision"], hit["memory_format"], hit["why"], cached=True)
        else:
            cal = calibrate(model, x, y, loss_fn, policy, task=task, batch_size=batch_size, total_steps=total_steps,
                            make_optimizer=make_optimizer, force=mode == "force", use_cache=mode != "force")
    except (RuntimeError, ValueError, TypeError) as err:  # measuring must never stop a fit: keep the start
        log.warning("precision measurement failed (%s: %s): training in %s", type(err).__name__, err,
                    policy.precision)
        return policy.with_setting(policy.precision, policy.memory_format,
                                   policy.reason + f"; measuring failed ({type(err).__name__})"), None
    if cal is None:
        return policy.with_setting(policy.precision, policy.memory_format,
                                   policy.reason + "; not measured (short fit or a single candidate)"), None
    src = "cached measurement" if cal.cached else "measured now"
    return policy.with_setting(cal.precision, cal.memory_format, f"{src}: {cal.why}"), cal


def representative_cases(on_gpu: bool) -> dict[str, dict[str, Any]]:
    """The model and batch per task that ``medimg env --recalibrate`` measures (``medimg bench train``'s cases)."""
    from .bench import default_case

    return {f"{dims}d-{case['task']}": case for dims in (2, 3) for case in [default_case(dims, on_gpu)]}


def recalibrate(device: str | None = None, *, budget_s: float | None = None) -> list[Calibration]:
    """Forget this machine's cached choices and measure the representative model of each task again.

    Models met since are measured again at their next ``fit``.
    """
    from ..device import clear_choices
    from ..models import build_model
    from .losses import build_loss

    policy = device_policy_for_calibration(device)
    clear_choices(policy.signature())
    dev = policy.torch_device()
    out = []
    for name, case in representative_cases(dev.type == "cuda").items():
        dims = 2 if name.startswith("2d") else 3
        torch.manual_seed(0)
        model = build_model(case["model"], dims, 1, case["out_channels"], **case["model_kwargs"]).to(dev)
        bs, size = case["batch_size"], case["size"]
        x = torch.randn(bs, 1, *(size,) * dims, device=dev)
        if case["task"] == "segmentation":
            y, mode = (torch.rand(bs, 1, *(size,) * dims, device=dev) > 0.5).long(), "index"
        else:
            y, mode = torch.randint(0, case["out_channels"], (bs,), device=dev), "index"
        loss = build_loss(case["task"], mode, out_channels=case["out_channels"], device=dev)
        cal = calibrate(model, x, y, loss, policy, task=case["task"], force=True, budget_s=budget_s)
        if cal is not None:
            out.append(cal)
    return out


def device_policy_for_calibration(device: str | None = None) -> DevicePolicy:
    """The device policy with precision left on ``auto`` and its threads applied (what a fit would measure with)."""
    from ..device import device_policy

    policy = device_policy(device, "auto")
    policy.apply_threads()
    policy.apply_backend_flags()
    return policy
