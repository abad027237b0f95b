"""``medimg train CONFIG.yaml``: train from a YAML file, alone or under ``torchrun`` (DDP).

The same Trainer the notebooks use runs here, so scaling out needs no code changes::

    medimg train run.yaml                                   # one process
    torchrun --nproc_per_node=4 -m medimg_kernel train run.yaml   # 4 GPUs (NCCL) or CPU processes (gloo)

Config sections (only ``model`` and ``data`` are required)::

    model:   {name: densenet121, spatial_dims: 2, in_channels: 1, out_channels: 6, kwargs: {}, weights: FILE}
    data:    {dataset: synthetic-lesions2d, split: train, val_split: val, tier: smoke, options: {}}
             # or {synthetic: mednist_like, n: 512, val_n: 128, options: {size: 64}}
             # or {npz: FILE.npz, image_key: images, label_key: labels, val_fraction: 0.2}
    trainer: {task: classification, max_epochs: 2, batch_size: 64, lr: 1e-3, checkpoint_dir: runs/x, ...}
    fit:     {resume: false}
    output:  {weights: runs/x/final.pt, history: runs/x/history.csv}

Any ``Trainer`` keyword goes under ``trainer``; ``--set trainer.max_epochs=5`` overrides a value.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

from ..errors import ConfigError


def register(subparsers: Any) -> None:
    """Add ``medimg train``."""
    p = subparsers.add_parser("train", help="train a model from a YAML config (torchrun-ready)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", help="YAML config file")
    p.add_argument("--resume", action="store_true", help="continue from trainer.checkpoint_dir/last.pt")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. trainer.max_epochs=5 (YAML-parsed value)")
    p.add_argument("--json", action="store_true", help="print the final history row and paths as JSON")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress")
    p.set_defaults(func=run)


def load_config(path: str | Path, overrides: list[str] = ()) -> dict[str, Any]:
    """Read the YAML config and apply ``section.key=value`` overrides."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} not found")
    try:
        cfg = yaml.safe_load(path.read_text()) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        where = getattr(err, "problem_mark", None)
        at = f" (line {where.line + 1}, column {where.column + 1})" if where is not None else ""
        raise ConfigError(f"{path} is not a valid YAML file{at}: fix the syntax or start from a lesson's config") from err
    if not isinstance(cfg, dict):
        raise ConfigError(f"{path}: the config must be a mapping with sections model, data, trainer")
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. trainer.max_epochs=5")
        key, value = item.split("=", 1)
        node = cfg
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        try:
            node[parts[-1]] = yaml.safe_load(value)
        except yaml.YAMLError as err:
            raise ConfigError(f"--set {item!r}: the value is not valid YAML") from err
    for section in ("model", "data"):
        if not isinstance(cfg.get(section), dict):
            raise ConfigError(f"{path}: missing section {section!r} (sections: model, data, trainer, fit, output)")
    return cfg


def _data(spec: dict[str, Any]) -> tuple[Any, Any]:
    import numpy as np

    if "dataset" in spec:
        from ..data import load

        opts = dict(spec.get("options", {}))
        train = load(spec["dataset"], split=spec.get("split", "train"), tier=spec.get("tier"), **opts)
        val = None
        if spec.get("val_split"):
            val = load(spec["dataset"], split=spec["val_split"], tier=spec.get("tier"), **opts)
        return train, val
    if "synthetic" in spec:
        from ..data.synthetic import generate

        ik, lk = spec.get("image_key", "images"), spec.get("label_key", "labels")
        opts = dict(spec.get("options", {}))
        tr = generate(spec["synthetic"], int(spec.get("n", 256)), seed=int(spec.get("seed", 0)), **opts)
        if ik not in tr or lk not in tr:
            raise ConfigError(f"synthetic generator {spec['synthetic']!r} returned keys {sorted(tr)}: set "
                              "data.image_key and data.label_key")
        val = None
        if spec.get("val_n"):
            v = generate(spec["synthetic"], int(spec["val_n"]), seed=int(spec.get("seed", 0)) + 1, **opts)
            val = (v[ik], v[lk])
        return (tr[ik], tr[lk]), val
    if "npz" in spec:
        from ..data.io import read_arrays

        ik, lk = spec.get("image_key", "images"), spec.get("label_key", "labels")
        arrays = read_arrays(spec["npz"], (ik, lk))  # DataError naming the file and the missing keys
        x, y = arrays[ik], arrays[lk]
        frac = float(spec.get("val_fraction", 0))
        if frac:
            idx = np.random.default_rng(int(spec.get("seed", 0))).permutation(len(x))
            k = int(len(x) * (1 - frac))
            return (x[idx[:k]], y[idx[:k]]), (x[idx[k:]], y[idx[k:]])
        return (x, y), None
    raise ConfigError("data: give one of 'dataset' (a registry name for mk.load), 'synthetic' (a generator "
                      "name) or 'npz' (a file path)")


def run(args: argparse.Namespace) -> int:
    """Build the model and data from the config, train, and save weights/history on rank 0."""
    if args.verbose:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    cfg = load_config(args.config, args.set)
    import torch

    from ..models import build_model, load_weights
    from ..train import Trainer, seed_everything
    from ..train.distributed import cleanup, dist_info

    m = cfg["model"]
    # seed before the model is built: its initial weights come from the same generator as the training
    seed_everything(int(cfg.get("trainer", {}).get("seed", 0)))
    model = build_model(m["name"], int(m.get("spatial_dims", 2)), int(m.get("in_channels", 1)),
                        int(m.get("out_channels", 2)), **dict(m.get("kwargs", {})))
    if m.get("weights"):
        load_weights(model, m["weights"])
    train, val = _data(cfg["data"])
    tkw = dict(cfg.get("trainer", {}))
    tkw.setdefault("progress", not args.json)
    trainer = Trainer(model, **tkw)
    resume = args.resume or cfg.get("fit", {}).get("resume", False)
    try:
        hist = trainer.fit(train, val, resume=resume)
        out = cfg.get("output", {})
        info = dist_info()
        result: dict[str, Any] = {"world_size": info.world_size, "steps": trainer.global_step,
                                  "device": str(trainer.device), "precision": trainer.policy.precision,
                                  "last": hist.iloc[-1].to_dict() if len(hist) else {}}
        if info.is_main:
            if out.get("weights"):
                Path(out["weights"]).parent.mkdir(parents=True, exist_ok=True)
                torch.save(model.state_dict(), out["weights"])
                result["weights"] = str(out["weights"])
            if out.get("history"):
                Path(out["history"]).parent.mkdir(parents=True, exist_ok=True)
                hist.to_csv(out["history"], index=False)
                result["history"] = str(out["history"])
            if args.json:
                print(json.dumps(result, default=float))
            else:
                print(hist.to_string(index=False))
    finally:
        cleanup()
    return 0
