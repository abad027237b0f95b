"""``medimg bench train``: the Trainer against the model-bound ceiling and a naive loop, in one run.

On the same model, batch and data size it measures

(a) **ceiling** – bare optimisation steps on device-resident random tensors with the fastest of fp32 and
    the measured precision policy's choice for this model and batch (:mod:`.calibrate`, cached);
(b) **trainer** – :class:`~medimg_kernel.train.Trainer` end to end from image files on disk (decoding and
    caching once, on-device augmentation, training steps), all included in the time;
(c) **naive** – an fp32 PyTorch loop over a ``DataLoader`` with per-sample MONAI load/augment transforms
    (the MONAI MedNIST tutorial pipeline), ``num_workers=min(10, cores)``.

The Trainer's ratios come twice: end to end (``trainer_vs_*``: the whole fit, one-time decoding and
first-epoch caching included) and steady state (``trainer_steady_vs_*``: its last epoch alone).
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..models import build_model
from .calibrate import StepRunner
from .losses import build_loss

__all__ = ["bench_train", "default_case", "write_dataset"]

log = logging.getLogger(__name__)


def default_case(dims: int, on_gpu: bool) -> dict[str, Any]:
    """Default model, sizes and run lengths of the 2D classification and 3D segmentation cases."""
    if dims == 2:
        case = {"model": "densenet121", "task": "classification", "size": 64, "out_channels": 6,
                "model_kwargs": {}}
        case.update({"batch_size": 512, "n_samples": 16384, "epochs": 8, "ceiling_steps": 50} if on_gpu else
                    {"batch_size": 64, "n_samples": 384, "epochs": 2, "ceiling_steps": 5})
    else:
        case = {"model": "unet", "task": "segmentation", "out_channels": 2, "model_kwargs": {}}
        case.update({"size": 96, "batch_size": 4, "n_samples": 64, "epochs": 30, "ceiling_steps": 300} if on_gpu else
                    {"size": 48, "batch_size": 2, "n_samples": 16, "epochs": 2, "ceiling_steps": 4,
                     "model_kwargs": {"channels": (16, 32, 64, 128), "num_res_units": 1}})
    return case


def write_dataset(folder: Path, dims: int, n: int, size: int, classes: int, seed: int = 0) -> list[dict[str, Any]]:
    """Write ``n`` synthetic images to ``folder`` (PNG for 2D classification, NIfTI image+mask for 3D
    segmentation) and return MONAI-style ``[{"image": path, "label": ...}]`` records."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    records: list[dict[str, Any]] = []
    grid = np.indices((size,) * dims).astype(np.float32)
    if dims == 2:
        from PIL import Image

        for i in range(n):
            label = int(rng.integers(classes))
            c = rng.uniform(size * 0.3, size * 0.7, 2)
            r = size * (0.1 + 0.05 * label)
            d = np.sqrt(((grid - c[:, None, None]) ** 2).sum(0))
            img = np.clip(60 + 150 * (d < r) + rng.normal(0, 20, d.shape), 0, 255).astype(np.uint8)
            path = folder / f"img{i:06d}.png"
            Image.fromarray(img).save(path)
            records.append({"image": str(path), "label": label})
    else:
        import nibabel as nib

        for i in range(n):
            c = rng.uniform(size * 0.3, size * 0.7, 3)
            d = np.sqrt(((grid - c[:, None, None, None]) ** 2).sum(0))
            mask = (d < size * rng.uniform(0.12, 0.25)).astype(np.uint8)
            img = (mask * 1.0 + rng.normal(0, 0.3, mask.shape)).astype(np.float32)
            ip, mp = folder / f"vol{i:04d}.nii", folder / f"seg{i:04d}.nii"
            nib.save(nib.Nifti1Image(img, np.eye(4)), ip)
            nib.save(nib.Nifti1Image(mask, np.eye(4)), mp)
            records.append({"image": str(ip), "label": str(mp)})
    return records


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _case_batch(case: dict[str, Any], dims: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """A random device batch of the case's shape, with labels for its task."""
    bs, size = case["batch_size"], case["size"]
    x = torch.randn(bs, 1, *(size,) * dims, device=device)
    if case["task"] == "segmentation":
        return x, (torch.rand(bs, 1, *(size,) * dims, device=device) > 0.5).long()
    return x, torch.randint(0, case["out_channels"], (bs,), device=device)


def _measure_policy(case: dict[str, Any], policy: Any, dims: int) -> Any:
    """The measured precision choice for the case's model and batch (read from the cache when there)."""
    from .calibrate import calibrate

    torch.manual_seed(0)
    model = build_model(case["model"], dims, 1, case["out_channels"], **case["model_kwargs"]).to(policy.torch_device())
    x, y = _case_batch(case, dims, policy.torch_device())
    loss = build_loss(case["task"], "index", out_channels=case["out_channels"])
    return calibrate(model, x, y, loss, policy, task=case["task"], batch_size=case["batch_size"], measure_short=True)


def _ceiling(case: dict[str, Any], policy: Any, dims: int, steps: int) -> dict[str, Any]:
    """Samples/s of bare optimisation steps on device tensors, for fp32 and the policy's precision."""
    device = policy.torch_device()
    bs = case["batch_size"]
    x, y = _case_batch(case, dims, device)
    loss_fn = build_loss(case["task"], "index", out_channels=case["out_channels"])
    candidates = [("fp32", "contiguous"), (policy.precision, policy.memory_format)]
    results: dict[str, float] = {}
    for prec, fmt in dict.fromkeys(candidates):
        torch.manual_seed(0)
        model = build_model(case["model"], dims, 1, case["out_channels"], **case["model_kwargs"]).to(device)
        run = StepRunner(model, policy.with_setting(prec, fmt, "ceiling"), x, y, loss_fn,
                         lambda params: torch.optim.AdamW(params, 1e-4), copy_model=False)
        for _ in range(2):  # warm-up
            run.step(sync=False)
        _sync(device)
        t0 = time.perf_counter()
        for _ in range(steps):
            run.step(sync=False)
        _sync(device)
        results[f"{prec}+{fmt}"] = steps * bs / (time.perf_counter() - t0)
    best = max(results, key=results.get)
    return {"ceiling_samples_per_s": results[best], "ceiling_config": best, "ceiling_candidates": results}


def _dataset(records: list[dict[str, Any]], dims: int, task: str, augment: bool) -> Any:
    from monai.data import Dataset
    from monai.transforms import (
        Compose,
        EnsureChannelFirstd,
        LoadImaged,
        RandFlipd,
        RandRotated,
        RandZoomd,
        ScaleIntensityd,
    )

    keys = ["image", "label"] if task == "segmentation" else ["image"]
    tf: list[Any] = [LoadImaged(keys=keys, image_only=True), EnsureChannelFirstd(keys=keys),
                     ScaleIntensityd(keys="image")]
    if augment:
        mode = ["bilinear", "nearest"] if task == "segmentation" else "bilinear"
        tf += [RandRotated(keys=keys, range_x=math.pi / 12, prob=0.5, keep_size=True, mode=mode),
               RandFlipd(keys=keys, spatial_axis=0, prob=0.5),
               RandZoomd(keys=keys, min_zoom=0.9, max_zoom=1.1, prob=0.5,
                         mode=["bilinear", "nearest"] if task == "segmentation" else "bilinear")]
    return Dataset(records, transform=Compose(tf))


def _trainer(case: dict[str, Any], records: list[dict[str, Any]], dims: int, policy: Any,
             precision: str | None) -> dict[str, Any]:
    """The Trainer end to end from the files; ``precision=None`` lets it read the measured (cached) choice."""
    from .trainer import Trainer

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    torch.manual_seed(0)
    model = build_model(case["model"], dims, 1, case["out_channels"], **case["model_kwargs"])
    tr = Trainer(model, task=case["task"], max_epochs=case["epochs"], batch_size=case["batch_size"], lr=1e-4,
                 augment=True, progress=False, device=policy.device, precision=precision, cache=True,
                 num_workers=min(16, cores) if cores > 4 and len(records) > 256 else 0)
    ds = _dataset(records, dims, case["task"], augment=False)
    t0 = time.perf_counter()
    hist = tr.fit(ds)
    _sync(policy.torch_device())
    elapsed = time.perf_counter() - t0
    n = case["epochs"] * len(records)
    return {"trainer_samples_per_s": n / elapsed, "trainer_seconds": elapsed, "trainer_precision":
            f"{tr.policy.precision}+{tr.policy.memory_format}",
            "trainer_data_prep_s": tr.timings.get("data_s", float("nan")),
            "trainer_steady_samples_per_s": float(hist["samples_per_s"].iloc[-1]),
            "trainer_epoch_samples_per_s": [round(float(v), 1) for v in hist["samples_per_s"]],
            "trainer_final_loss": float(hist["train_loss"].iloc[-1])}


def _naive(case: dict[str, Any], records: list[dict[str, Any]], dims: int, device: torch.device,
           workers: int) -> dict[str, Any]:
    from torch.utils.data import DataLoader

    torch.manual_seed(0)
    model = build_model(case["model"], dims, 1, case["out_channels"], **case["model_kwargs"]).to(device)
    opt = torch.optim.AdamW(model.parameters(), 1e-4)
    loss_fn = build_loss(case["task"], "index", out_channels=case["out_channels"])
    loader = DataLoader(_dataset(records, dims, case["task"], augment=True), batch_size=case["batch_size"],
                        shuffle=True, num_workers=workers, pin_memory=device.type == "cuda")
    model.train()
    t0 = time.perf_counter()
    count = 0
    for batch in loader:
        x, y = batch["image"].to(device), batch["label"].to(device)
        loss = loss_fn(model(x), y.long() if case["task"] == "classification" else y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        count += x.shape[0]
    _sync(device)
    return {"naive_samples_per_s": count / (time.perf_counter() - t0), "naive_workers": workers}


def bench_train(*, dims: int = 2, model: str | None = None, size: int | None = None, batch_size: int | None = None,
                n_samples: int | None = None, epochs: int | None = None, ceiling_steps: int | None = None,
                device: str | None = None, precision: str | None = None, workers: int | None = None,
                workdir: str | Path | None = None) -> dict[str, Any]:
    """Run the three measurements for one case and return a JSON-ready dict.

    Keys include ``ceiling_samples_per_s``, ``trainer_samples_per_s``, ``naive_samples_per_s``,
    ``trainer_vs_ceiling`` (b/a), ``trainer_vs_naive`` (b/c) and a description of the model, batch,
    precision and device. ``None`` arguments take :func:`default_case` values for the device.
    """
    import monai

    from ..device import device_policy

    policy = device_policy(device, precision)
    policy.apply_threads()
    policy.apply_backend_flags()  # same kernel selection for all three measurements (the Trainer sets these too)
    dev = policy.torch_device()
    case = default_case(dims, dev.type == "cuda")
    for key, value in {"model": model, "size": size, "batch_size": batch_size, "n_samples": n_samples,
                       "epochs": epochs, "ceiling_steps": ceiling_steps}.items():
        if value is not None:
            case[key] = value
    if model is not None and model != default_case(dims, dev.type == "cuda")["model"]:
        case["model_kwargs"] = {}
    calibration_s, policy_why, measured = 0.0, policy.reason, policy.auto_precision
    if measured:  # the measured choice (cached: the Trainer below reads the same entry)
        t_cal = time.perf_counter()
        cal = _measure_policy(case, policy, dims)
        calibration_s = time.perf_counter() - t_cal
        if cal is not None:
            policy, policy_why = policy.with_setting(cal.precision, cal.memory_format, cal.why), cal.why
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    workers = min(10, cores) if workers is None else workers
    res: dict[str, Any] = {
        "case": f"{dims}d-{case['task']}", "model": case["model"], "model_kwargs": {k: list(v) if isinstance(v, tuple)
                                                                                   else v for k, v in case["model_kwargs"].items()},
        "spatial_dims": dims, "image_size": [case["size"]] * dims, "batch_size": case["batch_size"],
        "n_samples": case["n_samples"], "trainer_epochs": case["epochs"], "device": policy.device,
        "device_name": policy.gpu["name"] if policy.gpu else policy.cpu["model"], "cpu_cores": cores,
        "precision": policy.precision, "memory_format": policy.memory_format, "policy_why": policy_why,
        "policy_calibration_s": calibration_s,
        "naive_precision": "fp32", "data_on_disk": "PNG files" if dims == 2 else "NIfTI files (image + mask)",
        "torch": torch.__version__, "monai": monai.__version__,
    }
    log.info("bench %s: ceiling", res["case"])
    res.update(_ceiling(case, policy, dims, case["ceiling_steps"]))
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        records = write_dataset(Path(tmp), dims, case["n_samples"], case["size"], case["out_channels"])
        log.info("bench %s: trainer", res["case"])
        res.update(_trainer(case, records, dims, policy, None if measured else policy.precision))
        log.info("bench %s: naive", res["case"])
        res.update(_naive(case, records, dims, dev, workers))
    # end to end: the Trainer's whole fit, one-time data preparation and first-epoch caching included
    res["trainer_vs_ceiling"] = res["trainer_samples_per_s"] / res["ceiling_samples_per_s"]
    res["trainer_vs_naive"] = res["trainer_samples_per_s"] / res["naive_samples_per_s"]
    # steady state: the Trainer's last epoch alone (what every further epoch costs)
    res["trainer_steady_vs_ceiling"] = res["trainer_steady_samples_per_s"] / res["ceiling_samples_per_s"]
    res["trainer_steady_vs_naive"] = res["trainer_steady_samples_per_s"] / res["naive_samples_per_s"]
    return res
