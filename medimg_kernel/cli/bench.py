"""``medimg bench``: measured performance of this machine for the course's training path.

``medimg bench train`` runs the Trainer against the model-bound ceiling and a naive PyTorch loop on the
same model, batch and data (see :mod:`medimg_kernel.train.bench`); ``--json`` prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import logging
from typing import Any


def register(subparsers: Any) -> None:
    """Add ``medimg bench`` and its ``train`` sub-command."""
    p = subparsers.add_parser("bench", help="benchmark training on this machine",
                              description="Benchmarks of the course's training path on this machine.")
    sub = p.add_subparsers(dest="bench_command", metavar="BENCH")
    t = sub.add_parser(
        "train", help="Trainer vs model-bound ceiling vs naive DataLoader loop",
        description=("In one run, on the same model, batch and data size: (a) the model-bound ceiling (bare "
                     "steps on device tensors, best precision), (b) the Trainer end to end from files on disk, "
                     "(c) a naive fp32 DataLoader loop; prints samples/s and the ratios b/a and b/c."))
    t.add_argument("--dims", type=int, choices=(2, 3), default=2,
                   help="2: DenseNet121 classification (default); 3: UNet segmentation")
    t.add_argument("--model", help="model name from medimg_kernel.models.available_models()")
    t.add_argument("--size", type=int, help="image edge length (default 64 in 2D; 48 on CPU / 96 on GPU in 3D)")
    t.add_argument("--batch", type=int, help="batch size (default 64 on CPU, 512 on GPU in 2D)")
    t.add_argument("--n", type=int, dest="n_samples", help="images written to disk for (b) and (c)")
    t.add_argument("--epochs", type=int, help="Trainer epochs over those images (cache cost included)")
    t.add_argument("--steps", type=int, dest="ceiling_steps", help="timed steps per ceiling configuration")
    t.add_argument("--workers", type=int, help="DataLoader workers of the naive loop (default min(10, cores))")
    t.add_argument("--device", help="override MEDIMG_DEVICE (cpu, cuda, cuda:N)")
    t.add_argument("--precision", help="override MEDIMG_PRECISION (fp32, bf16, fp16)")
    t.add_argument("--json", action="store_true", help="print one JSON object")
    t.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    t.set_defaults(func=_run_train)
    p.set_defaults(func=lambda args: (p.print_help(), 0)[1] if args.bench_command is None else 0)


def _run_train(args: argparse.Namespace) -> int:
    from ..train.bench import bench_train

    if args.verbose:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    res = bench_train(dims=args.dims, model=args.model, size=args.size, batch_size=args.batch,
                      n_samples=args.n_samples, epochs=args.epochs, ceiling_steps=args.ceiling_steps,
                      device=args.device, precision=args.precision, workers=args.workers)
    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    print(f"medimg bench train: {res['case']} {res['model']} {'x'.join(map(str, res['image_size']))} "
          f"batch {res['batch_size']} on {res['device']} ({res['device_name']}), Trainer precision "
          f"{res['precision']}/{res['memory_format']}")
    print(f"  (a) ceiling  {res['ceiling_samples_per_s']:9.1f} samples/s  ({res['ceiling_config']}; "
          + ", ".join(f"{k} {v:.1f}" for k, v in res["ceiling_candidates"].items()) + ")")
    print(f"  (b) trainer  {res['trainer_samples_per_s']:9.1f} samples/s  ({res['trainer_epochs']} epochs over "
          f"{res['n_samples']} {res['data_on_disk']}, data prep {res['trainer_data_prep_s']:.1f} s included)")
    print(f"  (c) naive    {res['naive_samples_per_s']:9.1f} samples/s  (fp32 DataLoader, "
          f"{res['naive_workers']} workers)")
    print(f"  end to end:   b/a = {res['trainer_vs_ceiling']:.2f}   b/c = {res['trainer_vs_naive']:.2f}")
    print(f"  steady state: b/a = {res['trainer_steady_vs_ceiling']:.2f}   b/c = {res['trainer_steady_vs_naive']:.2f}"
          "  (the Trainer's last epoch)")
    print(f"  precision policy: {res['policy_why']} ({res['policy_calibration_s']:.1f} s)")
    return 0
