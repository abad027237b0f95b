"""Benchmark: is the device policy's precision/memory-format choice the fast one on this machine?

Trains MONAI's DenseNet121 (2D, 1 -> 6 classes, 64x64, batch 64) on device-resident random tensors with
four settings -- fp32, fp32 + channels_last, bf16 autocast, bf16 autocast + channels_last -- interleaving
the settings round by round so background load hits them alike, and prints images/s and the ratio of
each to fp32, all measured in this one run. The policy's own choice is marked.

    python benchmarks/precision_policy.py [--steps 5] [--rounds 3] [--batch 64] [--size 64] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
from monai.networks.nets import DenseNet121

from medimg_kernel.device import device_policy

SETTINGS = {
    "fp32": (None, False),
    "fp32+channels_last": (None, True),
    "bf16": (torch.bfloat16, False),
    "bf16+channels_last": (torch.bfloat16, True),
}


def make_step(dtype, channels_last, batch, size, device):
    torch.manual_seed(0)
    model = DenseNet121(spatial_dims=2, in_channels=1, out_channels=6).to(device)
    x = torch.randn(batch, 1, size, size, device=device)
    y = torch.randint(0, 6, (batch,), device=device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def step():
        with torch.autocast(device_type=device.type, dtype=dtype, enabled=dtype is not None):
            loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()

    step()  # warm-up (allocations, kernel selection)
    return step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=5, help="timed steps per setting per round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    policy = device_policy()
    policy.apply_threads()
    device = policy.torch_device()
    steps = {name: make_step(dt, cl, args.batch, args.size, device) for name, (dt, cl) in SETTINGS.items()}
    rates: dict[str, list[float]] = {name: [] for name in SETTINGS}
    for _ in range(args.rounds):
        for name, step in steps.items():
            t0 = time.perf_counter()
            for _ in range(args.steps):
                step()
            rates[name].append(args.steps * args.batch / (time.perf_counter() - t0))
    med = {k: statistics.median(v) for k, v in rates.items()}
    chosen = ("bf16" if policy.precision == "bf16" else "fp32") + (
        "+channels_last" if policy.memory_format == "channels_last" else "")
    result = {
        "device": policy.device, "cpu": policy.cpu["model"], "amx_bf16": policy.cpu["amx_bf16"],
        "avx512_bf16": policy.cpu["avx512_bf16"], "batch": args.batch, "size": args.size,
        "images_per_s": {k: round(v, 1) for k, v in med.items()},
        "ratio_vs_fp32": {k: round(v / med["fp32"], 3) for k, v in med.items()},
        "policy_choice": chosen, "policy_vs_fp32": round(med[chosen] / med["fp32"], 3),
        "fastest": max(med, key=med.get),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"DenseNet121 2D {args.size}x{args.size}, batch {args.batch}, device {policy.device} "
          f"({policy.cpu['model'] if policy.gpu is None else policy.gpu['name']})")
    for k, v in med.items():
        mark = "  <- policy" if k == chosen else ""
        print(f"  {k:20s} {v:8.1f} img/s   x{v / med['fp32']:.2f} vs fp32{mark}")
    print(f"policy choice {chosen}: x{result['policy_vs_fp32']:.2f} vs fp32; fastest here: {result['fastest']}")


if __name__ == "__main__":
    main()
