"""Real-time inference on a frame stream with a latency budget: drop frames, never queue without bound.

A frame source (a DICOM cine, a folder of frames, or any generator) delivers frame ``i`` at time
``t0 + i / fps``, as an ultrasound scanner or an endoscope would. :class:`RealtimeStream` runs the model on
the frames as they arrive:

* arrived frames wait in a queue of at most ``queue_size``; when it is full the oldest is dropped (counted);
* a frame that would finish later than ``latency_budget_ms`` after its arrival (its wait so far plus the
  recent inference time) is dropped as late (counted) rather than shown stale;
* a frame that cannot be decoded is skipped and counted as corrupt; the stream goes on.

Time comes from a :class:`Clock`, so tests drive the scheduler with a deterministic :class:`ManualClock`
and a simulated slow model instead of wall-clock thresholds.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..errors import ConfigError

__all__ = ["Frame", "cine_frames", "folder_frames", "generator_frames", "frames_from", "to_model_input",
           "Clock", "SystemClock", "ManualClock", "StreamStats", "RealtimeStream", "CINE_FILE"]

CINE_FILE = "color3d_jpeg_baseline.dcm"  # pydicom-data: 120-frame ultrasound cine, 480x640 RGB, JPEG baseline


@dataclass
class Frame:
    """One frame of a stream: its index, the pixels (``None`` if it could not be decoded) and why not."""

    index: int
    image: np.ndarray | None
    error: str | None = None


def cine_frames(path: str | Path | None = None, *, repeat: int = 1) -> Iterator[Frame]:
    """Frames of a multi-frame DICOM (default: the real 120-frame ultrasound cine from ``pydicom-data``).

    Frames are decoded one at a time (a corrupt frame yields ``Frame(error=...)``); ``repeat`` loops the
    cine to make a longer stream.
    """
    import pydicom

    if path is None:
        from pydicom.data import get_testdata_file

        path = get_testdata_file(CINE_FILE)
        if path is None:
            raise ConfigError(f"{CINE_FILE} not found: pip install pydicom-data (the offline DICOM test files)")
    ds = pydicom.dcmread(path)
    if "PixelData" not in ds:
        raise ConfigError(f"{path} has no pixel data: a cine needs a multi-frame image object")
    n = int(getattr(ds, "NumberOfFrames", 1) or 1)
    decode = _frame_decoder(ds, n)
    k = 0
    for _ in range(max(1, int(repeat))):
        for i in range(n):
            try:
                yield Frame(k, decode(i))
            except Exception as err:  # noqa: BLE001 - any decoder failure is a corrupt frame
                yield Frame(k, None, f"frame {i}: {type(err).__name__}: {str(err)[:120]}")
            k += 1


def _frame_decoder(ds: Any, n: int) -> Callable[[int], np.ndarray]:
    """A per-frame decoder: Pillow for JPEG baseline/extended cines (fast), pydicom otherwise."""
    from pydicom.pixels import pixel_array

    if ds.file_meta.TransferSyntaxUID in ("1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51") and n > 1:
        from PIL import Image
        from pydicom.encaps import generate_frames

        fragments = list(generate_frames(ds.PixelData, number_of_frames=n))

        def decode(i: int) -> np.ndarray:
            with Image.open(io.BytesIO(fragments[i])) as im:
                return np.asarray(im.convert("RGB") if im.mode not in ("L", "RGB") else im)

        return decode
    return lambda i: np.asarray(pixel_array(ds, index=i) if n > 1 else pixel_array(ds))


def folder_frames(folder: str | Path, pattern: str = "*") -> Iterator[Frame]:
    """Frames from the image files (PNG/JPEG/TIFF via Pillow, ``.dcm`` via pydicom) of a folder, sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"{folder} is not a folder of frames")
    files = sorted(p for p in folder.glob(pattern) if p.is_file())
    for i, p in enumerate(files):
        try:
            if p.suffix.lower() == ".dcm":
                import pydicom

                img = pydicom.dcmread(p).pixel_array
            else:
                from PIL import Image

                with Image.open(p) as im:
                    img = np.asarray(im.convert("RGB") if im.mode not in ("L", "I;16", "RGB") else im)
            yield Frame(i, img)
        except Exception as err:  # noqa: BLE001
            yield Frame(i, None, f"{p.name}: {type(err).__name__}: {str(err)[:120]}")


def generator_frames(frames: Iterable[Any]) -> Iterator[Frame]:
    """Wrap any iterable of arrays (``None`` or a non-array counts as a corrupt frame) as frames."""
    for i, f in enumerate(frames):
        if isinstance(f, Frame):
            yield f
        elif isinstance(f, np.ndarray) and f.size:
            yield Frame(i, f)
        else:
            yield Frame(i, None, f"frame {i}: not an image ({type(f).__name__})")


def frames_from(source: Any) -> Iterator[Frame]:
    """Frames from a DICOM file, a folder, ``"cine"`` (the real cine) or an iterable of arrays."""
    if isinstance(source, (str, Path)):
        if str(source) == "cine":
            return cine_frames()
        p = Path(source)
        return folder_frames(p) if p.is_dir() else cine_frames(p)
    return generator_frames(source)


def to_model_input(image: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """Turn a frame (H, W) or (H, W, 3) into a ``(1, 1, size, size)`` float32 grey image in [0, 1]."""
    from PIL import Image

    hw = (size, size) if isinstance(size, int) else tuple(size)
    a = np.asarray(image)
    if a.ndim == 3:
        a = a[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    a = a.astype(np.float32)
    lo, hi = float(a.min()), float(a.max())
    a = (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
    resized = np.asarray(Image.fromarray(a, mode="F").resize((hw[1], hw[0]), Image.BILINEAR), np.float32)
    return resized[None, None]


class Clock(Protocol):
    """Where the stream reads time: ``now()`` in seconds and ``sleep(seconds)``."""

    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock (``time.perf_counter`` / ``time.sleep``)."""

    def now(self) -> float:
        """Seconds from a monotonic clock."""
        return time.perf_counter()

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``."""
        if seconds > 0:
            time.sleep(seconds)


class ManualClock:
    """A deterministic clock for tests and simulations: time moves only by ``sleep`` or ``advance``."""

    def __init__(self, start: float = 0.0) -> None:
        self.t = float(start)

    def now(self) -> float:
        """The simulated time in seconds."""
        return self.t

    def sleep(self, seconds: float) -> None:
        """Advance the simulated time by ``seconds``."""
        self.t += max(0.0, float(seconds))

    advance = sleep


@dataclass
class StreamStats:
    """Counters and a bounded window of latencies (memory stays flat however long the stream)."""

    received: int = 0
    processed: int = 0
    dropped_queue: int = 0
    dropped_late: int = 0
    corrupt: int = 0
    over_budget: int = 0
    max_queue: int = 0
    elapsed_s: float = 0.0
    latencies_ms: deque = field(default_factory=lambda: deque(maxlen=512))
    infer_ms: deque = field(default_factory=lambda: deque(maxlen=512))
    errors: deque = field(default_factory=lambda: deque(maxlen=20))

    @property
    def dropped(self) -> int:
        """Frames dropped because inference fell behind (queue full or too late)."""
        return self.dropped_queue + self.dropped_late

    @property
    def fps(self) -> float:
        """Processed frames per second over the stream (first arrival to the last result or arrival)."""
        return self.processed / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def latency(self, q: float = 50) -> float:
        """Percentile ``q`` of the recent end-to-end latencies (arrival to result), in ms."""
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else float("nan")

    def as_dict(self) -> dict[str, Any]:
        """Counts, fps and p50/p95 latency as a JSON-friendly dict."""
        return {"received": self.received, "processed": self.processed, "dropped": self.dropped,
                "dropped_queue": self.dropped_queue, "dropped_late": self.dropped_late,
                "corrupt": self.corrupt, "over_budget": self.over_budget, "max_queue": self.max_queue,
                "fps": self.fps, "p50_ms": self.latency(50), "p95_ms": self.latency(95),
                "infer_p50_ms": float(np.median(self.infer_ms)) if self.infer_ms else float("nan"),
                "elapsed_s": self.elapsed_s}

    def __str__(self) -> str:
        return (f"{self.processed}/{self.received} frames processed, {self.dropped} dropped "
                f"({self.dropped_queue} queue, {self.dropped_late} late), {self.corrupt} corrupt, "
                f"{self.fps:.1f} fps, latency p50 {self.latency(50):.1f} ms / p95 {self.latency(95):.1f} ms")


class RealtimeStream:
    """Run ``model`` on frames arriving at ``fps`` within ``latency_budget_ms``, dropping what falls behind.

    ``model`` is a predictor (``.predict``) or a callable ``batch -> output``; ``preprocess`` turns a frame
    into the model's input (default :func:`to_model_input` at ``input_size``). ``on_result(frame, output,
    stats)`` is called for each processed frame (e.g. a :class:`~medimg_kernel.deploy.display.LiveView`).
    With ``warmup`` the source is opened and the model run once on the first frame before the clock
    starts (file opening and first-call set-up are not part of the real-time budget).
    """

    def __init__(self, model: Any, *, fps: float = 30.0, latency_budget_ms: float = 100.0, queue_size: int = 2,
                 input_size: int | tuple[int, int] = 128, preprocess: Callable[[np.ndarray], Any] | None = None,
                 on_result: Callable[[Frame, Any, StreamStats], None] | None = None,
                 clock: Clock | None = None, warmup: bool = True) -> None:
        if fps <= 0 or latency_budget_ms <= 0:
            raise ConfigError(f"fps and latency_budget_ms must be > 0, got {fps} and {latency_budget_ms}")
        if int(queue_size) < 1:
            raise ConfigError(f"queue_size must be >= 1 (a bounded queue), got {queue_size}")
        self.predict = model.predict if hasattr(model, "predict") else model
        self.fps = float(fps)
        self.budget_s = float(latency_budget_ms) / 1000.0
        self.queue_size = int(queue_size)
        self.preprocess = preprocess or (lambda img: to_model_input(img, input_size))
        self.on_result = on_result
        self.clock = clock or SystemClock()
        self.warmup = bool(warmup)

    def run(self, source: Any, *, max_frames: int | None = None) -> StreamStats:
        """Stream ``source`` (see :func:`frames_from`) to the end (or ``max_frames``); return the stats."""
        frames = frames_from(source)
        stats = StreamStats()
        if self.warmup:  # open the source and run the model once before the clock starts
            first = next(frames, None)
            if first is not None:
                if first.image is not None:
                    with contextlib.suppress(Exception):
                        self.predict(self.preprocess(first.image))
                frames = itertools.chain([first], frames)
        queue: deque[tuple[float, Frame]] = deque()
        clock, period = self.clock, 1.0 / self.fps
        t0 = clock.now()
        next_i, exhausted, expected_s, last_arrival = 0, False, 0.0, t0
        while True:
            now = clock.now()
            # 1. take in every frame that has arrived by now (bounded queue: drop the oldest)
            while not exhausted and t0 + next_i * period <= now:
                if max_frames is not None and next_i >= max_frames:
                    exhausted = True
                    break
                frame = next(frames, None)
                if frame is None:
                    exhausted = True
                    break
                arrival = t0 + next_i * period
                last_arrival = arrival
                next_i += 1
                stats.received += 1
                if frame.image is None:
                    stats.corrupt += 1
                    stats.errors.append(frame.error)
                    continue
                if len(queue) >= self.queue_size:
                    queue.popleft()
                    stats.dropped_queue += 1
                queue.append((arrival, frame))
                stats.max_queue = max(stats.max_queue, len(queue))
            if not queue:
                if exhausted:
                    break
                clock.sleep(t0 + next_i * period - clock.now())  # idle until the next frame arrives
                continue
            # 2. oldest waiting frame: drop it if it can no longer make the budget
            arrival, frame = queue.popleft()
            if (now - arrival) + expected_s > self.budget_s:
                stats.dropped_late += 1
                continue
            try:
                x = self.preprocess(frame.image)
                t_start = clock.now()
                out = self.predict(x)
                t_end = clock.now()
            except Exception as err:  # noqa: BLE001 - a frame the model cannot take is skipped, not fatal
                stats.corrupt += 1
                stats.errors.append(f"frame {frame.index}: {type(err).__name__}: {str(err)[:120]}")
                continue
            expected_s = t_end - t_start
            latency = t_end - arrival
            stats.processed += 1
            stats.infer_ms.append(1000.0 * expected_s)
            stats.latencies_ms.append(1000.0 * latency)
            stats.over_budget += int(latency > self.budget_s)
            stats.elapsed_s = t_end - t0
            if self.on_result is not None:
                self.on_result(frame, out, stats)
        stats.elapsed_s = max(stats.elapsed_s, last_arrival - t0)  # the stream lasted until its last frame
        return stats
