"""The ipyniivue 2.4.4 shared chunk-buffer bug, reproduced without our workaround and fixed with it.

The browser echoes each volume's voxels back in chunks (``chunk_img_<n>`` state updates). Two volumes
loading at the same time interleave their chunks; ipyniivue reassembles them in a dict shared by every
widget, so the volumes get each other's bytes. These tests feed the widgets exactly such messages.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("ipyniivue")

from medimg_kernel.viz import _ipyniivue_fix  # noqa: E402


def _chunks(arr: np.ndarray, n: int) -> list[dict]:
    raw = arr.tobytes()
    size = -(-len(raw) // n)
    return [
        {
            f"chunk_img_{i}": {
                "chunk_index": i,
                "total_chunks": n,
                "data_type": str(arr.dtype),
                "chunk": memoryview(raw[i * size : (i + 1) * size]),
            }
        }
        for i in range(n)
    ]


def _load_two_interleaved() -> tuple[np.ndarray, np.ndarray, object, object]:
    from ipyniivue import Volume

    a = np.arange(4000, dtype=np.uint8)
    b = (np.arange(4000) * 7 % 251).astype(np.uint8)
    va = Volume(data=b"\x00", name="a.nii")
    vb = Volume(data=b"\x00", name="b.nii")
    for ca, cb in zip(_chunks(a, 3), _chunks(b, 3)):  # both volumes stream at the same time
        va.set_state(ca)
        vb.set_state(cb)
    return a, b, va, vb


@pytest.fixture
def without_fix():
    _ipyniivue_fix.remove()
    yield
    _ipyniivue_fix.apply()


def test_upstream_bug_corrupts_interleaved_volumes(without_fix):
    if not _ipyniivue_fix.upstream_has_bug():
        pytest.skip("this ipyniivue keeps per-widget buffers: the workaround can be deleted")
    a, b, va, vb = _load_two_interleaved()
    ok_a = va.img is not None and np.array_equal(va.img, a)
    ok_b = vb.img is not None and np.array_equal(vb.img, b)
    assert not (ok_a and ok_b), (
        "upstream no longer mixes the volumes: drop medimg_kernel/viz/_ipyniivue_fix.py"
    )


def test_workaround_keeps_each_volume_intact():
    import medimg_kernel.viz.niivue  # noqa: F401 - importing the backend applies the fix

    assert _ipyniivue_fix.is_applied() or not _ipyniivue_fix.upstream_has_bug()
    a, b, va, vb = _load_two_interleaved()
    np.testing.assert_array_equal(va.img, a)
    np.testing.assert_array_equal(vb.img, b)


def test_apply_is_idempotent_and_instances_do_not_share():
    from ipyniivue import Volume

    assert _ipyniivue_fix.apply() is True
    assert _ipyniivue_fix.apply() is True
    va, vb = Volume(data=b"\x00", name="a.nii"), Volume(data=b"\x00", name="b.nii")
    va._data_handlers["img"] = "pending"
    assert "img" not in vb._data_handlers
