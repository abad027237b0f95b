"""Smoothing keeps the volume; decimation honours the budget and refuses one below the topology."""

from __future__ import annotations

import numpy as np
import pytest

import medimg_kernel.meshes as mm
from medimg_kernel.errors import MeshError


@pytest.fixture
def ball(two_balls):
    lab, aff = two_balls
    return mm.label_mesh(lab, 1, aff)


def test_smoothing_preserves_volume_and_moves_vertices(ball):
    sm = mm.smooth(ball, 10)
    assert sm.volume_mm3 == pytest.approx(ball.volume_mm3, rel=1e-3)
    assert np.abs(sm.vertices - ball.vertices).max() > 0.05
    assert sm.area_mm2 < ball.area_mm2  # the staircase is smoothed away


def test_decimation_to_a_budget_keeps_shape(ball):
    d = mm.decimate(ball, 1000)
    assert 0 < d.n_faces <= 1000 and d.volume_mm3 > 0
    assert d.meta["decimated_from"] == ball.n_faces
    assert abs(d.volume_mm3 - ball.volume_mm3) / ball.volume_mm3 < 0.03
    assert mm.surface_distance(ball, d)["hausdorff"] < 2.0


def test_budget_below_the_topology_says_the_minimum(ball, two_balls):
    assert mm.min_faces(ball) == 4
    with pytest.raises(MeshError, match="minimum of 4"):
        mm.decimate(ball, 3)
    # a torus needs 14 faces
    x, y, z = np.ogrid[:30, :30, :12]
    ring = (np.hypot(np.hypot(x - 15, y - 15) - 9, z - 6) < 3.5).astype(np.uint8)
    torus = mm.label_mesh(ring, 1)
    assert torus.mesh.euler_number == 0 and mm.min_faces(torus) == 14
    with pytest.raises(MeshError, match="minimum of 14"):
        mm.decimate(torus, 10)


def test_label_meshes_pass_smoothing_and_budget_through(two_balls):
    lab, aff = two_balls
    ms = mm.label_meshes(lab, aff, smooth=5, faces=800)
    assert all(m.n_faces <= 800 for m in ms)


def test_surface_distance_of_a_shifted_mesh(ball):
    moved = ball.copy()
    moved.mesh.apply_translation((2.0, 0.0, 0.0))
    d = mm.surface_distance(ball, moved)
    assert 0.5 < d["mean"] < 2.0 and d["hausdorff"] == pytest.approx(2.0, abs=0.3)
    same = mm.surface_distance(ball, ball)
    assert same["hausdorff"] < 0.5
