"""``medimg deploy``: export a model to ONNX (+ int8), benchmark eager vs ORT vs int8, serve it as a DICOM node.

* ``medimg deploy export MODEL --out DIR`` builds a factory model (``--weights`` to load trained weights,
  ``--train-epochs`` to train it briefly on synthetic lesions), exports fp32 ONNX with a parity check,
  quantises to int8 on a calibration set and writes a bundle folder (see :mod:`medimg_kernel.deploy.bundle`).
* ``medimg deploy bench BUNDLE [--json]`` measures p50/p95/p99, fps, peak memory, size and accuracy delta of
  eager fp32, ORT fp32 and ORT int8, interleaved in one run, plus the machine.
* ``medimg deploy serve BUNDLE --port N`` runs the DICOM C-STORE inference node until interrupted.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import Any

from ..errors import ConfigError


def register(subparsers: Any) -> None:
    """Add ``medimg deploy`` and its ``export``, ``bench`` and ``serve`` sub-commands."""
    p = subparsers.add_parser("deploy", help="export, benchmark and serve models (ONNX Runtime, DICOM node)",
                              description="Edge deployment: ONNX export with parity, int8, latency, DICOM node.")
    sub = p.add_subparsers(dest="deploy_command", metavar="DEPLOY")

    e = sub.add_parser("export", help="export a model to a bundle (fp32 ONNX + int8, parity-checked)",
                       description="Build MODEL from the factory, export it to ONNX (dynamo exporter, one "
                                   "self-contained file), check parity with eager torch, quantise to int8 "
                                   "(static QDQ S8S8) and record sizes and held-out accuracy in DIR/bundle.json.")
    e.add_argument("model", metavar="MODEL", help="factory model name (see medimg_kernel.available_models())")
    e.add_argument("--out", required=True, help="bundle folder to write")
    e.add_argument("--weights", help="trained weights: a state dict or Trainer checkpoint (.pt)")
    e.add_argument("--train-epochs", type=int, default=0,
                   help="train this many epochs on synthetic lesion images first (default 0)")
    e.add_argument("--in-channels", type=int, default=1)
    e.add_argument("--out-channels", type=int, default=2)
    e.add_argument("--size", type=int, default=64, help="input edge length in pixels (default 64)")
    e.add_argument("--n-calibration", type=int, default=32, help="calibration images for int8 (default 32)")
    e.add_argument("--no-int8", action="store_true", help="skip int8 quantisation")
    e.add_argument("--json", action="store_true", help="print bundle.json")
    e.set_defaults(func=_run_export)

    b = sub.add_parser("bench", help="latency of eager fp32 vs ORT fp32 vs ORT int8, interleaved",
                       description="p50/p95/p99 latency, fps, peak memory, file size and accuracy delta of "
                                   "eager fp32, ORT fp32 and ORT int8 measured interleaved in one run.")
    b.add_argument("model", metavar="MODEL", help="a bundle folder from 'medimg deploy export' (or model.onnx)")
    b.add_argument("--runs", type=int, default=50, help="timed rounds (default 50)")
    b.add_argument("--warmup", type=int, default=5, help="warm-up rounds excluded (default 5)")
    b.add_argument("--batch", type=int, default=1, help="images per call (default 1)")
    b.add_argument("--json", action="store_true", help="print one JSON object")
    b.add_argument("--save", help="also write the JSON to this file")
    b.set_defaults(func=_run_bench)

    s = sub.add_parser("serve", help="run the DICOM C-STORE inference node",
                       description="Listen for DICOM C-STORE; segment each received series with the bundle's "
                                   "ONNX model and store a DICOM SEG (or a JSON result for classifiers).")
    s.add_argument("model", metavar="MODEL", help="a bundle folder (or model.onnx)")
    s.add_argument("--port", type=int, required=True, help="TCP port (0 = any free port)")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    s.add_argument("--aet", default="MEDIMG", help="the node's AE title (default MEDIMG)")
    s.add_argument("--out-dir", default="deploy_results", help="results and studies.jsonl (default ./deploy_results)")
    s.add_argument("--int8", action="store_true", help="serve the int8 model")
    s.add_argument("--forward", metavar="HOST:PORT:AET", help="C-STORE each SEG to this AE (e.g. the PACS)")
    s.add_argument("--max-seconds", type=float, help="stop after this many seconds (default: until Ctrl-C)")
    s.set_defaults(func=_run_serve)
    p.set_defaults(func=lambda args: (p.print_help(), 0)[1] if args.deploy_command is None else 0)


def _run_export(args: argparse.Namespace) -> int:
    from ..deploy.bundle import export_factory_model

    bundle = export_factory_model(args.model, args.out, in_channels=args.in_channels,
                                  out_channels=args.out_channels, size=args.size, weights=args.weights,
                                  train_epochs=args.train_epochs, n_calibration=args.n_calibration,
                                  int8=not args.no_int8)
    info = bundle.info
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    sizes = info.get("sizes_mb", {})
    print(f"medimg deploy export: {args.model} -> {bundle.folder} ({info['task']}, input {info['input_shape']})")
    print(f"  parity max|err| {info['parity_max_abs_err']:.2e} (atol {info['parity_atol']:g}), "
          f"export {info['export_seconds']:.1f} s")
    print("  sizes: " + ", ".join(f"{k} {v:.3f} MB" for k, v in sizes.items())
          + (f" (int8 x{sizes['fp32'] / sizes['int8']:.2f} smaller)" if "int8" in sizes else ""))
    if "accuracy" in info:
        print("  held-out: " + "; ".join(f"{k} {v}" for k, v in info["accuracy"].items())
              + f"; delta vs eager {info['accuracy_delta_pt']}")
    if not args.weights and args.train_epochs == 0:
        print("  note: untrained weights (pass --weights or --train-epochs): accuracy figures mean nothing")
    return 0


def _run_bench(args: argparse.Namespace) -> int:
    import numpy as np

    from ..deploy.bench import benchmark
    from ..deploy.bundle import load_bundle, synthetic_split
    from ..errors import DeployError

    if args.runs < 1 or args.warmup < 0 or args.batch < 1:
        raise ConfigError("--runs and --batch must be >= 1 and --warmup >= 0")
    bundle = load_bundle(args.model)
    predictors, sizes, acc = {}, {}, {}
    try:
        predictors["eager fp32"] = bundle.predictor("eager")
    except DeployError as err:
        logging.getLogger(__name__).warning("eager skipped: %s", err)
    predictors["ORT fp32"] = bundle.predictor("fp32")
    sizes["ORT fp32"] = bundle.fp32_path.stat().st_size
    if bundle.int8_path is not None:
        predictors["ORT int8"] = bundle.predictor("int8")
        sizes["ORT int8"] = bundle.int8_path.stat().st_size
    for key, name in (("eager", "eager fp32"), ("fp32", "ORT fp32"), ("int8", "ORT int8")):
        if key in bundle.info.get("accuracy", {}) and name in predictors:
            acc[name] = bundle.info["accuracy"][key]
    c, *spatial = bundle.input_shape
    if len(spatial) == 2 and c == 1:
        x = synthetic_split(bundle.task, spatial[0], n_train=0, n_heldout=args.batch, seed=7)["heldout_images"]
    else:
        x = np.random.default_rng(0).random((args.batch, c, *spatial), dtype=np.float32)
    report = benchmark(predictors, x, runs=args.runs, warmup=args.warmup, sizes_bytes=sizes, accuracy=acc,
                       progress=not args.json)
    out = {"bundle": str(bundle.folder), **report.as_dict()}
    if args.save:
        Path(args.save).parent.mkdir(parents=True, exist_ok=True)
        Path(args.save).write_text(json.dumps(out, indent=2, default=str))
    if args.json:
        print(json.dumps(out, indent=2, default=str))
    else:
        print(f"medimg deploy bench: {bundle.folder} input {tuple(x.shape)}, {args.runs} interleaved rounds after "
              f"{args.warmup} warm-up")
        print(report)
    return 0


def _parse_forward(text: str | None) -> tuple[str, int, str] | None:
    if not text:
        return None
    parts = text.rsplit(":", 2)
    if len(parts) != 3 or not parts[1].isdigit():
        raise ConfigError(f"--forward {text!r}: expected HOST:PORT:AET, e.g. 127.0.0.1:4242:ORTHANC")
    return parts[0], int(parts[1]), parts[2]


def _run_serve(args: argparse.Namespace) -> int:
    from ..deploy.node import InferenceNode

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("pynetdicom").setLevel(logging.WARNING)
    node = InferenceNode(args.model, args.out_dir, port=args.port, host=args.host, ae_title=args.aet,
                         kind="int8" if args.int8 else "fp32", forward_to=_parse_forward(args.forward)).start()
    try:
        ready = node.ready()
        print(f"medimg deploy serve: {node.ae_title} listening on {node.host}:{node.port} "
              f"({node.predictor.name}), C-ECHO {'ok' if ready else 'FAILED'}; log {node.log_path}", flush=True)
        t_end = time.monotonic() + args.max_seconds if args.max_seconds else None
        while t_end is None or time.monotonic() < t_end:
            time.sleep(0.2)
    finally:
        node.wait_idle(timeout=30)
        node.stop()
    return 0
