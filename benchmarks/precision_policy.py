"""Benchmark: is the measured precision policy's choice the fast one on this machine?

Trains MONAI's DenseNet121 (2D, 1 -> 6 classes, 64x64, batch 64) on device-resident random tensors. First
the policy measures its candidates on that model and batch, as the first ``Trainer.fit`` would
(:func:`medimg_kernel.train.calibrate.calibrate`, cache bypassed, its own time budget). Then this script
times every setting -- fp32 / reduced precision x contiguous / channels_last -- with more steps,
interleaving the settings round by round so background load hits them alike, and prints images/s, the
ratio of each to fp32 and how close the policy's choice comes to the fastest, all in this one run.

    python benchmarks/precision_policy.py [--steps 3] [--rounds 3] [--batch 64] [--size 64] [--budget S]
                                          [--json PATH|-]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import torch
from monai.networks.nets import DenseNet121

from medimg_kernel.train.calibrate import StepRunner, calibrate, candidates, device_policy_for_calibration


def make_runner(policy, batch, size, device):
    """A fresh DenseNet121 training on one device batch with ``policy``'s precision and memory format."""
    torch.manual_seed(0)
    model = DenseNet121(spatial_dims=2, in_channels=1, out_channels=6).to(device)
    x = torch.randn(batch, 1, size, size, device=device)
    y = torch.randint(0, 6, (batch,), device=device)
    run = StepRunner(model, policy, x, y, torch.nn.functional.cross_entropy,
                     lambda params: torch.optim.AdamW(params, lr=1e-3), copy_model=False)
    run.step()  # warm-up (allocations, kernel selection)
    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=3, help="timed steps per setting per round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--budget", type=float, default=None,
                    help="the policy's measuring budget in seconds (default: the kit's, 10 s); more on a busy machine")
    ap.add_argument("--json", nargs="?", const="-", default=None,
                    help="print JSON (or write it to PATH, e.g. benchmarks/results/precision_policy_cpu.json)")
    args = ap.parse_args()
    policy = device_policy_for_calibration()
    device = policy.torch_device()
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None

    torch.manual_seed(0)
    model = DenseNet121(spatial_dims=2, in_channels=1, out_channels=6).to(device)
    x = torch.randn(args.batch, 1, args.size, args.size, device=device)
    y = torch.randint(0, 6, (args.batch,), device=device)
    t0 = time.perf_counter()
    cal = calibrate(model, x, y, torch.nn.functional.cross_entropy, policy, task="classification", force=True,
                    use_cache=False, budget_s=args.budget)
    calib_s = time.perf_counter() - t0
    if cal is None:
        sys.exit("medimg: error: the policy could not measure within its budget here (machine too loaded?)")

    settings = {f"{p}+{f}": policy.with_setting(p, f, "benchmark") for p, f in candidates(policy, x, model)}
    steps = {name: make_runner(pol, args.batch, args.size, device) for name, pol in settings.items()}
    rates: dict[str, list[float]] = {name: [] for name in settings}
    for r in range(args.rounds):
        names = list(steps)[r % len(steps):] + list(steps)[:r % len(steps)]
        for name in names:
            t1 = time.perf_counter()
            for _ in range(args.steps):
                steps[name].step()
            rates[name].append(args.steps * args.batch / (time.perf_counter() - t1))
    best = {k: max(v) for k, v in rates.items()}  # best round of each, as the policy measures
    fastest = max(best, key=best.get)
    result = {
        "device": policy.device, "device_name": policy.gpu["name"] if policy.gpu else policy.cpu["model"],
        "cores": policy.cpu["cores"], "threads": torch.get_num_threads(), "amx_bf16": policy.cpu["amx_bf16"],
        "avx512_bf16": policy.cpu["avx512_bf16"], "torch": torch.__version__, "batch": args.batch, "size": args.size,
        "load_average_1min": [load_before, os.getloadavg()[0] if hasattr(os, "getloadavg") else None],
        "images_per_s": {k: round(v, 1) for k, v in best.items()},
        "ratio_vs_fp32": {k: round(v / best["fp32+contiguous"], 3) for k, v in best.items()},
        "fastest": fastest,
        "policy_choice": cal.choice, "policy_why": cal.why, "policy_calibration_s": round(calib_s, 2),
        "policy_timed_batch": cal.timed_batch, "policy_rounds": cal.rounds, "policy_budget_s": args.budget or 10.0,
        "steps_per_round": args.steps, "rounds": args.rounds,
        "policy_vs_fastest": round(best[cal.choice] / best[fastest], 3),
        "policy_within_5pct_of_fastest": best[cal.choice] >= 0.95 * best[fastest],
    }
    if args.json is not None:
        text = json.dumps(result, indent=2)
        if args.json == "-":
            print(text)
        else:
            with open(args.json, "w", encoding="utf-8") as fh:
                fh.write(text + "\n")
            print(f"wrote {args.json}")
        return
    print(f"DenseNet121 2D {args.size}x{args.size}, batch {args.batch}, {result['device_name']}, "
          f"{result['threads']} thread(s), load average {load_before}")
    for k, v in best.items():
        mark = "  <- policy" if k == cal.choice else ""
        print(f"  {k:22s} {v:8.1f} img/s   x{v / best['fp32+contiguous']:.2f} vs fp32{mark}")
    print(f"policy measured in {calib_s:.1f} s and chose {cal.choice}: x{result['policy_vs_fastest']:.2f} of the "
          f"fastest ({fastest})")


if __name__ == "__main__":
    main()
