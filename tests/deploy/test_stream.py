"""Real-time streaming: frames dropped and counted when inference falls behind, on a deterministic clock."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from medimg_kernel.deploy.stream import (
    Frame,
    ManualClock,
    RealtimeStream,
    cine_frames,
    folder_frames,
    to_model_input,
)
from medimg_kernel.errors import ConfigError


class SlowModel:
    """A simulated model: each call takes ``cost_s`` of the manual clock."""

    name = "slow"

    def __init__(self, clock: ManualClock, cost_s: float) -> None:
        self.clock, self.cost_s, self.calls = clock, cost_s, 0

    def predict(self, x):
        self.calls += 1
        self.clock.advance(self.cost_s)
        return np.zeros((1, 2, *x.shape[-2:]), np.float32)


def frames(n, size=16):
    rng = np.random.default_rng(0)
    return [rng.random((size, size)).astype(np.float32) for _ in range(n)]


def test_slow_model_drops_frames_and_keeps_the_budget():
    clock = ManualClock()
    model = SlowModel(clock, cost_s=0.050)  # 20 fps model, 30 fps source
    stream = RealtimeStream(model, fps=30, latency_budget_ms=100, queue_size=2, input_size=16, clock=clock,
                            warmup=False)
    st = stream.run(frames(90))
    assert st.received == 90
    assert st.processed + st.dropped + st.corrupt == 90
    assert st.dropped > 0 and model.calls == st.processed
    assert st.max_queue <= 2  # bounded: never more than queue_size waiting
    assert st.over_budget == 0 and max(st.latencies_ms) <= 100.0 + 1e-9
    # a 50 ms model on 33 ms frames can process at most 2 frames in 3
    assert st.processed <= 90 * 2 / 3 + 1
    assert st.fps == pytest.approx(st.processed / st.elapsed_s)
    # deterministic: the same run gives the same counts
    clock2 = ManualClock()
    st2 = RealtimeStream(SlowModel(clock2, 0.050), fps=30, latency_budget_ms=100, queue_size=2, input_size=16,
                         clock=clock2, warmup=False).run(frames(90))
    assert (st2.processed, st2.dropped_queue, st2.dropped_late) == (st.processed, st.dropped_queue, st.dropped_late)


def test_fast_model_drops_nothing_and_waits_for_frames():
    clock = ManualClock()
    st = RealtimeStream(SlowModel(clock, 0.005), fps=30, latency_budget_ms=50, clock=clock, input_size=16,
                        warmup=False).run(frames(60))
    assert (st.processed, st.dropped, st.corrupt) == (60, 0, 0)
    assert st.elapsed_s == pytest.approx(59 / 30 + 0.005)  # paced by the source, not run flat out
    assert st.latency(95) == pytest.approx(5.0)


def test_tight_budget_drops_late_frames_rather_than_show_them_stale():
    clock = ManualClock()
    st = RealtimeStream(SlowModel(clock, 0.045), fps=30, latency_budget_ms=60, queue_size=4, clock=clock,
                        input_size=16, warmup=False).run(frames(60))
    assert st.dropped_late > 0 and st.over_budget == 0


def test_corrupt_frames_are_skipped_and_counted():
    clock = ManualClock()
    src = frames(10)
    src[3] = None
    src[7] = np.zeros((0,))
    st = RealtimeStream(SlowModel(clock, 0.001), fps=30, clock=clock, input_size=16, warmup=False).run(src)
    assert st.corrupt == 2 and st.processed == 8 and len(st.errors) == 2


def test_memory_stays_bounded_on_a_long_stream():
    clock = ManualClock()
    st = RealtimeStream(SlowModel(clock, 0.001), fps=1000, latency_budget_ms=50, clock=clock, input_size=8,
                        warmup=False).run(iter(np.zeros((8, 8), np.float32) + i for i in range(5000)))
    assert st.processed == 5000 and len(st.latencies_ms) <= 512 and len(st.infer_ms) <= 512


def test_bad_settings():
    with pytest.raises(ConfigError, match="bounded"):
        RealtimeStream(lambda x: x, queue_size=0)
    with pytest.raises(ConfigError):
        RealtimeStream(lambda x: x, fps=0)


def test_real_ultrasound_cine_frames():
    fs = list(cine_frames())
    assert len(fs) == 120 and all(f.error is None for f in fs)
    assert fs[0].image.shape == (480, 640, 3) and fs[0].image.dtype == np.uint8
    assert not np.array_equal(fs[0].image, fs[60].image)  # it moves
    x = to_model_input(fs[0].image, 128)
    assert x.shape == (1, 1, 128, 128) and 0.0 <= x.min() and x.max() <= 1.0


def test_corrupt_frame_in_a_real_cine_is_skipped(tmp_path):
    import pydicom
    from pydicom.data import get_testdata_file
    from pydicom.encaps import encapsulate, generate_frames

    ds = pydicom.dcmread(get_testdata_file("color3d_jpeg_baseline.dcm"))
    fr = list(generate_frames(ds.PixelData, number_of_frames=ds.NumberOfFrames))[:8]
    fr[4] = fr[4][:200] + b"\x00" * 50  # a truncated JPEG: the frame cannot be decoded
    ds.PixelData = encapsulate(fr)
    ds.NumberOfFrames = 8
    path = tmp_path / "cine8.dcm"
    ds.save_as(path)
    got = list(cine_frames(path))
    assert [f.error is None for f in got] == [True] * 4 + [False] + [True] * 3
    clock = ManualClock()
    st = RealtimeStream(SlowModel(clock, 0.001), fps=30, clock=clock, input_size=32, warmup=False).run(path)
    assert st.corrupt == 1 and st.processed == 7


def test_folder_of_frames(tmp_path):
    from PIL import Image

    for i in range(5):
        Image.fromarray((np.random.default_rng(i).random((20, 30)) * 255).astype(np.uint8)).save(tmp_path / f"f{i}.png")
    (tmp_path / "f5.png").write_bytes(b"not a png")
    got = list(folder_frames(tmp_path))
    assert len(got) == 6 and got[5].error and got[0].image.shape == (20, 30)
    assert isinstance(got[0], Frame)


def test_live_view_updates_in_place_without_memory_growth():
    from medimg_kernel.deploy.display import LiveView, overlay_rgb
    from medimg_kernel.deploy.stream import StreamStats

    t = [0.0]
    view = LiveView(max_hz=10, clock=lambda: t[0])
    img = (np.random.default_rng(0).random((120, 160, 3)) * 255).astype(np.uint8)
    out = np.zeros((1, 2, 32, 32), np.float32)
    out[0, 1, 8:16, 8:16] = 1.0
    rgb = overlay_rgb(img, out)
    assert rgb.shape == img.shape and not np.array_equal(rgb, img)
    stats = StreamStats(processed=1, received=1, elapsed_s=1.0)
    stats.latencies_ms.append(12.0)
    frame = Frame(0, img)
    for _ in range(30):  # warm-up: caches, first PNG encoder set-up
        t[0] += 0.2
        view(frame, out, stats)
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for _ in range(300):
        t[0] += 0.2
        view(frame, out, stats)
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    growth = sum(s.size_diff for s in after.compare_to(before, "filename"))
    assert growth < 512 * 1024, f"live view grew by {growth} bytes over 300 updates"
    assert view.updates == 330 and view.image.value[:4] == b"\x89PNG" and "fps" in view.label.value
    t[0] += 0.01
    view(frame, out, stats)  # throttled: too soon after the last update
    assert view.updates == 330
