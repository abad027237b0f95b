"""Benchmark: label map → mesh speed, accuracy, and the size of what a headset downloads.

Measures, in one run (interleaved repeats, median), on 2 cores:

* meshing a 128³ label (a lumpy ellipsoid, 1 mm voxels) with ``mk.meshes.label_mesh`` — target ≤ 1 s —
  and how much of that is scikit-image's marching cubes itself (the ratio);
* volume error of closed labels vs their voxel count (target ≤ 1 %), watertightness, and the bounding box
  vs the label's world box (target: within one voxel), on the 128³ label and on MNI152 1 mm GM/WM;
* the GLB size after decimating MNI152 1 mm grey + white matter to 50k faces each — target ≤ 2 MB — and
  the HD95 that decimation costs.

Run: ``.venv/bin/python benchmarks/mesh_bench.py [--repeats 5] [--json benchmarks/results/mesh_bench.json]``.
Timings on a shared machine are noisy: the load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def lumpy_label(n: int = 128) -> np.ndarray:
    x, y, z = np.ogrid[:n, :n, :n]
    c = (n - 1) / 2
    r = np.sqrt(((x - c) / 0.42) ** 2 + ((y - c) / 0.36) ** 2 + ((z - c) / 0.3) ** 2) / n
    bumps = 0.04 * np.sin(x / 5.0) * np.cos(y / 7.0) * np.sin(z / 6.0)
    return (r + bumps < 0.98).astype(np.uint8)


def bbox_error_vox(mesh, labels, value, affine) -> float:
    w = np.argwhere(labels == value) @ affine[:3, :3].T + affine[:3, 3]
    vox = np.abs(affine[:3, :3]).sum(1)
    err = np.maximum(np.abs(mesh.bounds[0] - w.min(0)), np.abs(mesh.bounds[1] - w.max(0))) / vox
    return float(err.max())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None, help="write the figures here as JSON")
    args = parser.parse_args()

    from skimage.measure import marching_cubes

    import medimg_kernel.meshes as mm
    from medimg_kernel.data.samples import load_mni152

    lab = lumpy_label(128)
    affine = np.eye(4)
    mm.label_mesh(lab, 1, affine)  # warm-up (imports, caches)
    t_mesh, t_mc = [], []
    for _ in range(args.repeats):  # interleaved: both see the same load
        t = time.perf_counter()
        marching_cubes(np.pad(lab, 1), 0.5, method="lorensen", allow_degenerate=False)
        t_mc.append(time.perf_counter() - t)
        t = time.perf_counter()
        mesh = mm.label_mesh(lab, 1, affine)
        t_mesh.append(time.perf_counter() - t)
    ball = {
        "voxels": int(lab.sum()),
        "faces": mesh.n_faces,
        "label_mesh_s": statistics.median(t_mesh),
        "marching_cubes_s": statistics.median(t_mc),
        "volume_error_pct": 100 * mesh.volume_error,
        "watertight": mesh.is_watertight,
        "bbox_error_voxels": bbox_error_vox(mesh, lab, 1, affine),
    }

    mni = load_mni152(1)
    seg = np.zeros(mni.gm.shape, np.uint8)
    seg[mni.gm > 0.5] = 1
    seg[mni.wm > 0.5] = 2
    t = time.perf_counter()
    brain = mm.label_meshes(seg, mni.affine, names={1: "grey matter", 2: "white matter"})
    t_brain = time.perf_counter() - t
    labels = {
        m.name: {
            "faces": m.n_faces,
            "volume_error_pct": 100 * m.volume_error,
            "watertight": m.is_watertight,
            "bbox_error_voxels": bbox_error_vox(m, seg, m.label, mni.affine),
        }
        for m in brain
    }
    t = time.perf_counter()
    small = [mm.decimate(m, 50_000) for m in brain]
    t_dec = time.perf_counter() - t
    hd95 = {m.name: mm.surface_distance(d, m, samples=10_000)["hd95"] for m, d in zip(brain, small)}
    with tempfile.TemporaryDirectory() as tmp:
        glb = mm.export_meshes(small, Path(tmp) / "brain.glb")
        glb_bytes = glb.stat().st_size
        one = mm.export_meshes(small[0], Path(tmp) / "gm.glb").stat().st_size
        full = mm.export_meshes(brain, Path(tmp) / "full.glb").stat().st_size

    load = os.getloadavg()[0]
    res = {
        "machine": {"cpus": os.cpu_count(), "load_avg_1min": load, "python": platform.python_version()},
        "ball_128": ball,
        "mni152_1mm": {
            "mesh_s": t_brain,
            "labels": labels,
            "decimate_to_50k_s": t_dec,
            "hd95_after_50k_mm": hd95,
        },
        "glb": {
            "two_labels_50k_faces_each_mb": glb_bytes / 1e6,
            "grey_matter_50k_faces_mb": one / 1e6,
            "full_resolution_mb": full / 1e6,
            "faces_full": sum(m.n_faces for m in brain),
        },
    }
    print(
        f"meshing a 128³ label ({ball['voxels']:,} voxels, {ball['faces']:,} faces), median of {args.repeats}:"
    )
    print(
        f"  label_mesh {ball['label_mesh_s']:.2f} s (target <= 1 s); marching cubes alone "
        f"{ball['marching_cubes_s']:.2f} s = {ball['marching_cubes_s'] / ball['label_mesh_s']:.0%} of it"
    )
    print(
        f"  volume error {ball['volume_error_pct']:+.3f} % | watertight {ball['watertight']} | "
        f"bbox within {ball['bbox_error_voxels']:.2f} voxel"
    )
    print(f"MNI152 1 mm ({t_brain:.1f} s for both labels):")
    for name, r in labels.items():
        print(
            f"  {name:12s} {r['faces']:>9,} faces  volume error {r['volume_error_pct']:+.2f} %  "
            f"watertight {r['watertight']}  bbox within {r['bbox_error_voxels']:.2f} voxel  "
            f"HD95 after 50k faces {hd95[name]:.2f} mm"
        )
    g = res["glb"]
    print(
        f"GLB: full resolution {g['full_resolution_mb']:.1f} MB ({g['faces_full']:,} faces) -> "
        f"{g['grey_matter_50k_faces_mb']:.2f} MB for grey matter at 50k faces (target <= 2 MB), "
        f"{g['two_labels_50k_faces_each_mb']:.2f} MB for both labels; decimation took {t_dec:.1f} s"
    )
    print(
        f"machine: {os.cpu_count()} CPUs, 1-min load average {load:.1f} (other jobs running: times are noisy)"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
