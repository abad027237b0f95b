"""Static snapshots: PNG content checked pixel by pixel."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from medimg_kernel.viz.scene import prepare_scene
from medimg_kernel.viz.snapshot import compose_plane, snapshot


def test_compose_plane_left_is_left_and_label_colour(phantom):
    # marker at low x = the patient's LEFT in RAS order: it must be drawn on the left half (neurological)
    labels = (phantom > 50).astype(np.uint8)
    scene = prepare_scene(phantom, labels, label_opacity=1.0, window=(50, 100))
    rgb = compose_plane(scene, 2, (4, 12, 8))
    ys, xs = np.nonzero((rgb[..., 0] > 200) & (rgb[..., 1] < 60))
    assert xs.size == 16 and xs.max() < rgb.shape[1] / 2
    # anterior is up: y = 10..13 of 24 -> rows 24-1-13 .. 24-1-10
    assert ys.min() == 10 and ys.max() == 13
    sag = compose_plane(scene, 0, (4, 12, 8))
    assert sag.shape == (16, 24, 3)


def test_snapshot_png_has_overlay_where_the_label_is(tmp_path, mni):
    lab = (mni.gm > 0.5).astype(np.uint8)
    path = tmp_path / "snap.png"
    png = snapshot(mni.t1, lab, affine=mni.affine, label_opacity=1.0, path=path)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and path.read_bytes() == png
    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    red = (img[..., 0] > 200) & (img[..., 1] < 80) & (img[..., 2] < 80)
    gray = (abs(img[..., 0] - img[..., 1]) < 8) & (img[..., 0] > 60) & (img[..., 0] < 250)
    assert red.mean() > 0.02  # label colour present
    assert gray.mean() > 0.02  # the T1 itself shows where no label is
    no_label = np.asarray(
        Image.open(io.BytesIO(snapshot(mni.t1, affine=mni.affine, as_bytes=True))).convert("RGB")
    )
    nl = no_label.astype(int)
    assert ((nl[..., 0] > 200) & (nl[..., 1] < 80)).mean() < 0.001


def test_snapshot_returns_a_figure_by_default_with_aspect_from_spacing(phantom):
    from matplotlib.figure import Figure

    fig = snapshot(phantom, spacing=(1.0, 1.0, 4.0))
    assert isinstance(fig, Figure)
    axes = fig.axes
    assert len(axes) == 3
    coronal = axes[1].images[0]
    x0, x1, y0, y1 = coronal.get_extent()
    assert (x1 - x0, y1 - y0) == pytest.approx((20.0, 64.0))  # 20 x 1 mm wide, 16 x 4 mm tall


def test_snapshot_heat_map_threshold(phantom):
    heat = np.zeros_like(phantom)
    heat[10:14, 10:14, 6:10] = 0.9
    heat[14:18, 10:14, 6:10] = 0.2
    scene = prepare_scene(phantom, overlay=heat, overlay_threshold=0.5, overlay_opacity=1.0, window=(50, 100))
    rgb = compose_plane(scene, 2, (12, 12, 8)).astype(int)
    coloured = (rgb[..., 0] > 200) & (rgb[..., 2] < 100)  # warm colour map: red to yellow
    cols = np.nonzero(coloured)[1]
    assert cols.size and cols.min() >= 10 and cols.max() <= 13  # the 0.2 block is below the threshold
