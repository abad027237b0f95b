"""Benchmark: eager torch vs ONNX Runtime fp32 vs int8 for lesson 11's models, the cine stream, the DICOM node.

For each model (the lesson's 2D segmentation UNet and lesson-02-style classifier, trained briefly on the
synthetic lesion images, and the reference MONAI UNet(16, 32, 64, 128) at 128^2 untrained), it exports a
bundle (fp32 ONNX with parity, int8 static QDQ calibrated on training images), then times eager fp32,
ORT fp32 and ORT int8 interleaved in one run (warm-up excluded) and prints p50/p95/p99, sizes, accuracy
and the ratios the issue asks for:

* ORT fp32 vs eager fp32 (p50 speed-up; target >= 2x on 2 cores);
* int8 file size reduction (target >= 2.5x) and accuracy delta (target <= 0.5 pt Dice / 1 pt AUC);
* ORT int8 vs ORT fp32 speed (no target: on CPUs without int8 matrix units it is ~1x or slower);
* the real 120-frame ultrasound cine streamed at 30 fps through the 128^2 model (fps, drops);
* the DICOM node round trip of a 20-slice CT series (seconds).

Absolute times depend on the machine's load (printed with the results): trust the ratios.

    python benchmarks/deploy_bench.py [--runs 40] [--warmup 5] [--epochs 10] [--json benchmarks/results/deploy_bench.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import medimg_kernel as mk
from medimg_kernel.deploy import benchmark, export_bundle, size_breakdown
from medimg_kernel.deploy.bundle import synthetic_split
from medimg_kernel.deploy.node import InferenceNode, send_series
from medimg_kernel.deploy.series import ct_series
from medimg_kernel.deploy.stream import RealtimeStream

MODELS = {
    # the lesson's models (notebooks/11_edge_realtime.ipynb, smoke tier)
    "lesson seg UNet(16,32,64,128) 64^2": {"name": "unet", "task": "segmentation", "size": 64, "train": True,
                                           "kwargs": {"channels": [16, 32, 64, 128], "strides": [2, 2, 2],
                                                      "num_res_units": 1}},
    "lesson cls SimpleCNN 64^2": {"name": "simplecnn", "task": "classification", "size": 64, "train": True,
                                  "kwargs": {}},
    # the reference measured in the issue (MONAI UNet(16,32,64,128), batch 1, 2 threads)
    "UNet(16,32,64,128) 128^2": {"name": "unet", "task": "segmentation", "size": 128, "train": False,
                                 "kwargs": {"channels": [16, 32, 64, 128], "strides": [2, 2, 2],
                                            "num_res_units": 2}},
}


def run_model(label, spec, folder, args):
    mk.seed_everything(0)
    net = mk.build_model(spec["name"], 2, 1, 2, **spec["kwargs"])
    data = synthetic_split(spec["task"], spec["size"], n_train=128, n_heldout=48, seed=0)
    if spec["train"]:  # as in the lesson's smoke tier: 128 images, batch 8, lr 3e-3, 10 epochs
        mk.Trainer(net, task=spec["task"], max_epochs=args.epochs, batch_size=8, lr=3e-3, progress=False,
                   precision="fp32", seed=0).fit((data["train_images"], data["train_targets"]))
    arch = {"name": spec["name"], "spatial_dims": 2, "in_channels": 1, "out_channels": 2, "kwargs": spec["kwargs"]}
    b = export_bundle(net, folder, task=spec["task"], arch=arch, **data,
                      class_names=["background", "lesion"] if spec["task"] == "segmentation" else ["no", "yes"])
    preds = {"eager fp32": b.predictor("eager"), "ORT fp32": b.predictor("fp32"), "ORT int8": b.predictor("int8")}
    acc = {n: b.info["accuracy"][k] for n, k in zip(preds, ("eager", "fp32", "int8"))} if spec["train"] else None
    rep = benchmark(preds, data["heldout_images"][:1], runs=args.runs, warmup=args.warmup, accuracy=acc,
                    sizes_bytes={"ORT fp32": b.fp32_path.stat().st_size, "ORT int8": b.int8_path.stat().st_size},
                    progress=False)
    print(f"\n== {label}  (parity max|err| {b.info['parity_max_abs_err']:.1e})")
    print(rep)
    return b, rep


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--json", help="write the results as JSON here (e.g. benchmarks/results/deploy_bench.json)")
    args = ap.parse_args(argv)
    out = {"machine": mk.deploy.machine_info(), "models": {}, "targets": {}}
    with tempfile.TemporaryDirectory(prefix="deploy_bench_") as tmp:
        bundles = {}
        for i, (label, spec) in enumerate(MODELS.items()):
            b, rep = run_model(label, spec, Path(tmp) / f"m{i}", args)
            bundles[label] = b
            out["models"][label] = {**rep.as_dict(), "bundle": {k: b.info[k] for k in
                                    ("parity_max_abs_err", "sizes_mb", "accuracy", "accuracy_delta_pt") if k in b.info}}
            out["models"][label].pop("machine")
            parts = {k: size_breakdown(path) for k, path in (("fp32", b.fp32_path), ("int8", b.int8_path))}
            out["models"][label]["size_breakdown"] = {**parts, "weights_ratio": parts["fp32"]["weight_bytes"] /
                                                      max(1, parts["int8"]["weight_bytes"])}
        # real-time stream: the real ultrasound cine at 30 fps, 128^2, ORT fp32, 100 ms budget
        big = bundles["UNet(16,32,64,128) 128^2"]
        st = RealtimeStream(big.predictor("fp32"), fps=30, latency_budget_ms=100, input_size=128).run("cine")
        out["stream"] = {"source": "color3d_jpeg_baseline.dcm (120 frames, US)", "input": "128x128",
                         "target_fps": 30, "budget_ms": 100, **st.as_dict()}
        print(f"\n== cine stream 30 fps, 128^2, ORT fp32, budget 100 ms: {st}")
        # DICOM round trip: a 20-slice CT series through the node (lesson seg model, ORT fp32)
        seg = bundles["lesson seg UNet(16,32,64,128) 64^2"]
        vol = mk.synthetic.generate("lesions2d", 20, seed=4, size=64)["images"][:, 0]
        series = ct_series(vol)
        with InferenceNode(seg, Path(tmp) / "node", port=0) as node:
            node.ready()
            t0 = time.perf_counter()
            send_series(series, "127.0.0.1", node.port)
            node.wait_idle(300)
            rt = time.perf_counter() - t0
        out["dicom_round_trip_s"] = rt
        print(f"== DICOM node: 20-slice CT series -> DICOM SEG in {rt:.2f} s")
    print("\n== figures vs targets")
    for label, m in out["models"].items():
        r = m["ratios"]
        sp = r.get("ORT fp32 vs eager fp32 (p50 speed-up)")
        sz = r.get("int8 size reduction (fp32 / int8 file)")
        q = r.get("ORT int8 vs ORT fp32 (p50 speed-up)")
        delta = m["bundle"].get("accuracy_delta_pt", {}).get("int8", {})
        sb = m["size_breakdown"]
        print(f"{label:<34} ORT/eager x{sp:.2f} (>=2)   int8 size x{sz:.2f} (>=2.5)   int8/ORT speed x{q:.2f}   "
              f"int8 accuracy delta {', '.join(f'{k} {v:+.2f}' for k, v in delta.items()) or 'n/a (untrained)'}")
        print(f"{'':<34} {sb['fp32']['n_weights']:,} weights: weight bytes x{sb['weights_ratio']:.2f} smaller in int8; "
              f"the rest of the file {sb['fp32']['other_bytes'] / 1e3:.0f} KB fp32 -> {sb['int8']['other_bytes'] / 1e3:.0f} KB int8")
        out["targets"][label] = {"ort_vs_eager_ge_2": sp >= 2, "int8_size_ge_2.5": sz >= 2.5,
                                 "int8_delta_ok": all(abs(v) <= (0.5 if k.startswith("dice") else 1.0)
                                                      for k, v in delta.items())}
    print(f"cine stream: {out['stream']['fps']:.1f} fps (>=30), {out['stream']['dropped']} dropped, "
          f"{out['stream']['corrupt']} corrupt; DICOM 20-slice round trip {out['dicom_round_trip_s']:.2f} s (<=5)")
    m = out["machine"]
    print(f"machine: {m['cpu'].get('model')}, {m['threads']} threads, load {m.get('load_avg_1m')}"
          f"{' -- LOADED: absolute times are inflated, trust the ratios' if m.get('loaded') else ''}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=2, default=str))
        print(f"saved {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
