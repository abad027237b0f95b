# Assignment 11 - Edge deployment: parity check, int8 within an accuracy budget, p95 latency, a frame-dropping scheduler,
# C-STORE to a DICOM node.
# Authoring source of assignments/source/11_edge_realtime/11_edge_realtime.ipynb
# (regenerate with `medimg grade build`; format: assignments/README.md).

# %% [markdown] readonly id=intro
# # Assignment 11 — Taking a model to the bedside
#
# Lesson 11 exported a U-Net to ONNX, quantised it to int8, timed it and streamed a cine through it. Here
# you write the four checks that make such a deployment trustworthy, and the DICOM link that delivers its images:
#
# * a **parity check** between eager torch and ONNX Runtime;
# * a **calibration set** and int8 quantisation that stays **within an accuracy budget**;
# * a **p95 latency** measured correctly (warm-up excluded, back ends interleaved);
# * a **frame-dropping scheduler** that keeps a latency budget when the model is too slow;
# * a **C-STORE** client that sends images to a DICOM node (with `pynetdicom`).
#
# The model is a tiny trained segmentation net shipped with the assignment (`edge_data.py`,
# `tiny_seg.pt`, `tiny_seg.onnx`). Use `numpy`, `torch` and `onnxruntime` in your answers (not
# `medimg_kernel.deploy`: the point is to write what it does).
#
# | Exercise | Points |
# |---|---|
# | 1. Parity check | 3 |
# | 2. Calibration set and int8 within a budget | 3 |
# | 3. p95 latency, interleaved | 3 |
# | 4. Frame-dropping scheduler | 4 |
# | 5. Written answer | 2 |
# | 6. Send images to a DICOM node | 3 |

# %% readonly id=setup
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from edge_data import ONNX_PATH, load_model, make_images  # helper file shipped with this assignment
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

import medimg_kernel as mk
from medimg_kernel.deploy.stream import ManualClock  # a simulated clock for exercise 4

torch.set_num_threads(1)
model = load_model()
# your own variant: the seed comes from your student id (mk.student_id()), so your images differ from
# your neighbour's; solve the general problem and the tests pass for every variant
variant = mk.variant_seed("11_edge_realtime") % 100_000
train = make_images(48, seed=variant)
held = make_images(32, seed=variant + 1)
work = Path(tempfile.mkdtemp(prefix="a11_"))
print("variant of", mk.student_id(), "- ONNX file:", ONNX_PATH.name, f"{ONNX_PATH.stat().st_size / 1e3:.1f} kB",
      "| train", train["images"].shape, "with", int(train["labels"].sum()), "lesion images | held-out",
      held["images"].shape, "with", int(held["labels"].sum()), f"| mean train intensity {train['images'].mean():.4f}")


def dice(pred, truth):
    """Foreground Dice of two label arrays (1.0 when both are empty)."""
    p, t = np.asarray(pred) > 0, np.asarray(truth) > 0
    s = p.sum() + t.sum()
    return 1.0 if s == 0 else float(2 * (p & t).sum() / s)


def ort_predict(path, x):
    """Run an ONNX file on a float32 batch with ONNX Runtime (CPU, 1 thread)."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: np.asarray(x, np.float32)})[0]

# %% [markdown] readonly id=ex1_text
# ## Exercise 1 — Parity check (3 points)
#
# Write `parity_check(model, onnx_path, inputs, atol=1e-4)`: run `model` (eager torch, in eval mode, without
# gradients) and the ONNX file (ONNX Runtime; `ort_predict` above does it) on the same float32 `inputs`
# (N, C, H, W), and return the **maximum absolute difference** of their outputs as a Python `float`. If it
# is above `atol`, or the outputs differ in shape, or it is not finite, raise a `ValueError` whose message
# contains the error. A deployment that fails parity must stop, not warn.

# %% solution id=ex1_answer exercise=parity
def parity_check(model, onnx_path, inputs, atol=1e-4):
    """Max abs difference between eager torch and ONNX Runtime on ``inputs``; ValueError above ``atol``."""
    ### BEGIN SOLUTION
    x = np.ascontiguousarray(np.asarray(inputs, dtype=np.float32))
    model.eval()
    with torch.no_grad():
        eager = model(torch.from_numpy(x)).numpy()
    onnx_out = ort_predict(onnx_path, x)
    if eager.shape != onnx_out.shape:
        raise ValueError(f"shapes differ: eager {eager.shape} vs onnx {onnx_out.shape}")
    err = float(np.max(np.abs(eager.astype(np.float64) - onnx_out.astype(np.float64))))
    if not np.isfinite(err) or err > atol:
        raise ValueError(f"parity failed: max abs error {err:.3g} > {atol}")
    return err
    ### END SOLUTION

# %% tests id=ex1_tests points=3
def test_exported_model_passes():
    """the shipped ONNX file matches its model. Hint: np.max(np.abs(eager - onnx)) on the same inputs"""
    err = parity_check(model, ONNX_PATH, held["images"][:8])
    assert isinstance(err, float) and 0.0 <= err <= 1e-4


def test_changed_model_fails():
    """a model whose weights moved fails loudly. Hint: raise ValueError when err > atol"""
    other = load_model()
    with torch.no_grad():
        other.head.bias.add_(0.01)
    try:
        parity_check(other, ONNX_PATH, held["images"][:4])
    except ValueError:
        return
    raise AssertionError("no ValueError for a model that differs from the file by 0.01")


mk.check("parity", test_exported_model_passes, test_changed_model_fails, budget=20)
### BEGIN HIDDEN TESTS
def _par_value_is_the_max():
    err = parity_check(model, ONNX_PATH, train["images"][:6], atol=1.0)
    with torch.no_grad():
        ref = model(torch.from_numpy(train["images"][:6])).numpy()
    assert np.isclose(err, np.abs(ref - ort_predict(ONNX_PATH, train["images"][:6])).max(), atol=1e-9)


def _par_tolerance_used():
    other = load_model()
    with torch.no_grad():
        other.head.bias.add_(0.01)
    assert 0.005 < parity_check(other, ONNX_PATH, held["images"][:2], atol=0.1) < 0.1


def _par_shape_mismatch():
    class Wrong(torch.nn.Module):
        def forward(self, x):
            return model(x)[:, :1]

    try:
        parity_check(Wrong(), ONNX_PATH, held["images"][:2], atol=10.0)
    except ValueError:
        return
    raise AssertionError("shape mismatch accepted")


mk.check("parity", _par_value_is_the_max, _par_tolerance_used, _par_shape_mismatch, budget=20, hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=ex2_text
# ## Exercise 2 — A calibration set, and int8 within an accuracy budget (3 points)
#
# Static int8 fixes each activation's scale from a calibration set. Write `quantize_int8(fp32_path, out_path,
# images, labels, n=16, seed=0)`:
#
# 1. draw `n` calibration images **from `images`** (the training set), stratified by `labels` (0/1: half of
#    them, rounded, from each class) and reproducible for a `seed` (use `np.random.default_rng(seed)`);
# 2. quantise with `onnxruntime.quantization.quantize_static`, in the QDQ format with signed int8 weights
#    and activations (`quant_format=QuantFormat.QDQ`, `activation_type=QuantType.QInt8`,
#    `weight_type=QuantType.QInt8`), feeding the images one at a time through a `CalibrationDataReader`
#    (a class with `get_next()` returning `{input_name: (1, C, H, W) array}`, then `None` at the end);
# 3. return the calibration images (n, C, H, W).
#
# The tests check that the int8 model loses **at most 2 Dice points** against fp32 on held-out images.

# %% solution id=ex2_answer exercise=quantize
def quantize_int8(fp32_path, out_path, images, labels, n=16, seed=0):
    """Write a static int8 QDQ copy of ``fp32_path``; return the stratified calibration images used."""
    ### BEGIN SOLUTION
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    pos, neg = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    n_pos = min(len(pos), int(round(n / 2)))
    n_neg = min(len(neg), n - n_pos)
    idx = np.sort(np.r_[rng.choice(pos, n_pos, replace=False), rng.choice(neg, n_neg, replace=False)])
    calib = np.ascontiguousarray(np.asarray(images, np.float32)[idx])
    name = ort.InferenceSession(str(fp32_path), providers=["CPUExecutionProvider"]).get_inputs()[0].name

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.i = 0

        def get_next(self):
            if self.i >= len(calib):
                return None
            self.i += 1
            return {name: calib[self.i - 1:self.i]}

    quantize_static(str(fp32_path), str(out_path), Reader(), quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)
    return calib
    ### END SOLUTION

# %% tests id=ex2_tests points=3
def test_int8_within_budget():
    """int8 loses <= 2 Dice points on held-out images. Hint: quantize_static(..., QuantFormat.QDQ, QInt8, QInt8)"""
    out = work / "visible.int8.onnx"
    quantize_int8(ONNX_PATH, out, train["images"], train["labels"])
    fp32 = dice(ort_predict(ONNX_PATH, held["images"]).argmax(1), held["masks"][:, 0])
    int8 = dice(ort_predict(out, held["images"]).argmax(1), held["masks"][:, 0])
    print(f"held-out Dice fp32 {fp32:.4f}, int8 {int8:.4f}")
    assert out.stat().st_size < ONNX_PATH.stat().st_size * 1.5 and int8 >= fp32 - 0.02


def test_calibration_from_training_images():
    """n stratified training images. Hint: index images with the chosen rows of both classes"""
    calib = quantize_int8(ONNX_PATH, work / "v2.int8.onnx", train["images"], train["labels"], n=10)
    rows = [int(np.flatnonzero((train["images"] == c).all(axis=(1, 2, 3)))[0]) for c in calib]
    assert len(calib) == 10 and sorted(train["labels"][rows]) == [0] * 5 + [1] * 5


mk.check("quantize", test_int8_within_budget, test_calibration_from_training_images, budget=60)
### BEGIN HIDDEN TESTS
def _q_graph_is_qdq_int8():
    import onnx

    out = work / "h1.int8.onnx"
    quantize_int8(ONNX_PATH, out, train["images"], train["labels"], n=12, seed=3)
    g = onnx.load(str(out)).graph
    ops = {nd.op_type for nd in g.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    int8_inits = [t for t in g.initializer if t.data_type == onnx.TensorProto.INT8]
    assert int8_inits, "weights are not signed int8"


def _q_reproducible_and_seeded():
    a = quantize_int8(ONNX_PATH, work / "h2.int8.onnx", train["images"], train["labels"], n=8, seed=5)
    b = quantize_int8(ONNX_PATH, work / "h3.int8.onnx", train["images"], train["labels"], n=8, seed=5)
    c = quantize_int8(ONNX_PATH, work / "h4.int8.onnx", train["images"], train["labels"], n=8, seed=6)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


mk.check("quantize", _q_graph_is_qdq_int8, _q_reproducible_and_seeded, budget=60, hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=ex3_text
# ## Exercise 3 — p95 latency, measured correctly (3 points)
#
# Write `interleaved_p95(backends, x, runs=20, warmup=3, clock=time.perf_counter)`: `backends` is a dict
# `{name: callable}`. Run `warmup + runs` **rounds**; in each round call **every** back end once on `x`
# (so a slow-down of the machine hits all of them alike), timing each call with `clock()` (seconds).
# Return `{name: p95 in milliseconds}` computed **without the warm-up rounds** (`np.percentile(..., 95)`).

# %% solution id=ex3_answer exercise=p95
def interleaved_p95(backends, x, runs=20, warmup=3, clock=time.perf_counter):
    """p95 latency (ms) of each back end over ``runs`` interleaved rounds after ``warmup`` rounds."""
    ### BEGIN SOLUTION
    times = {name: [] for name in backends}
    for _ in range(warmup + runs):
        for name, fn in backends.items():
            t0 = clock()
            fn(x)
            times[name].append(1000.0 * (clock() - t0))
    return {name: float(np.percentile(t[warmup:], 95)) for name, t in times.items()}
    ### END SOLUTION

# %% tests id=ex3_tests points=3
class FakeClock:
    """Simulated time: it moves only when a simulated back end says it worked."""

    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def simulated(clock, name, costs, log):
    """A back end taking costs[k] seconds on its k-th call (k from 0), logging its name."""
    calls = [0]

    def run(x):
        log.append(name)
        clock.t += costs[min(calls[0], len(costs) - 1)]
        calls[0] += 1
    return run


def test_warmup_excluded():
    """a slow first call does not reach the p95. Hint: drop the first `warmup` timings"""
    clock, log = FakeClock(), []
    p95 = interleaved_p95({"a": simulated(clock, "a", [1.0, 0.010], log)}, None, runs=10, warmup=1, clock=clock)
    assert np.isclose(p95["a"], 10.0)


def test_interleaved_rounds():
    """each round calls every back end once. Hint: loop over rounds outside, back ends inside"""
    clock, log = FakeClock(), []
    b = {n: simulated(clock, n, [0.001], log) for n in ("x", "y", "z")}
    interleaved_p95(b, None, runs=4, warmup=2, clock=clock)
    assert len(log) == 18 and all(sorted(log[i:i + 3]) == ["x", "y", "z"] for i in range(0, 18, 3))


mk.check("p95", test_warmup_excluded, test_interleaved_rounds, budget=5)
### BEGIN HIDDEN TESTS
def _p_values():
    clock, log = FakeClock(), []
    costs = [0.5, 0.5] + [0.001 * (k % 20 + 1) for k in range(40)]
    p95 = interleaved_p95({"m": simulated(clock, "m", costs, log), "n": simulated(clock, "n", [0.002], log)},
                          None, runs=40, warmup=2, clock=clock)
    assert np.isclose(p95["m"], np.percentile([1000 * c for c in costs[2:42]], 95))
    assert np.isclose(p95["n"], 2.0)


def _p_default_clock():
    res = interleaved_p95({"sleep": lambda x: time.sleep(0.002)}, None, runs=3, warmup=1)
    assert 1.5 < res["sleep"] < 500


mk.check("p95", _p_values, _p_default_clock, budget=5, hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=ex4_text
# ## Exercise 4 — A frame-dropping scheduler (4 points)
#
# A probe delivers frame `i` at time `t0 + i / fps` (`t0 = clock.now()` when your function starts). Write
# `run_stream(frames, model, clock, fps, budget_ms, queue_size=2)` that processes a list of frames in real
# time with a single worker:
#
# * take in every frame that has arrived by `clock.now()` into a queue of at most `queue_size` frames; when it
#   is full, drop the **oldest** (count it);
# * if no frame is waiting, `clock.sleep(...)` until the next arrival (or stop when all have arrived);
# * take the oldest waiting frame; if its waiting time so far plus the **last** inference time would exceed
#   the budget, drop it (count it); otherwise call `model(frame)` and record the latency `finish − arrival`.
#
# Return `{"processed": [frame indices], "dropped": int, "latencies_ms": [one per processed frame]}`.
# `clock` has `now()` and `sleep(seconds)`; in the tests time moves only when the model works or you sleep,
# so the results are exact. Never let the queue grow beyond `queue_size`.

# %% solution id=ex4_answer exercise=scheduler
def run_stream(frames, model, clock, fps, budget_ms, queue_size=2):
    """Process ``frames`` arriving at ``fps`` within ``budget_ms``; drop (and count) what falls behind."""
    ### BEGIN SOLUTION
    t0, period, budget = clock.now(), 1.0 / fps, budget_ms / 1000.0
    queue, processed, latencies = [], [], []
    dropped, nxt, last = 0, 0, 0.0
    while True:
        now = clock.now()
        while nxt < len(frames) and t0 + nxt * period <= now:
            if len(queue) >= queue_size:
                queue.pop(0)
                dropped += 1
            queue.append((nxt, t0 + nxt * period))
            nxt += 1
        if not queue:
            if nxt >= len(frames):
                break
            clock.sleep(t0 + nxt * period - now)
            continue
        i, arrival = queue.pop(0)
        if now - arrival + last > budget:
            dropped += 1
            continue
        start = clock.now()
        model(frames[i])
        end = clock.now()
        last = end - start
        processed.append(i)
        latencies.append(1000.0 * (end - arrival))
    return {"processed": processed, "dropped": dropped, "latencies_ms": latencies}
    ### END SOLUTION

# %% tests id=ex4_tests points=4
def slow_model(clock, cost_s, seen):
    """A simulated model: each call takes cost_s of the manual clock."""
    def run(frame):
        seen.append(frame)
        clock.advance(cost_s)
    return run


frames = [np.full((4, 4), i, np.float32) for i in range(60)]


def test_fast_model_keeps_everything():
    """a 5 ms model on a 30 fps stream drops nothing. Hint: sleep until the next arrival when idle"""
    clock, seen = ManualClock(), []
    res = run_stream(frames, slow_model(clock, 0.005, seen), clock, fps=30, budget_ms=50)
    assert res["processed"] == list(range(60)) and res["dropped"] == 0
    assert np.allclose(res["latencies_ms"], 5.0)


def test_slow_model_drops_and_keeps_the_budget():
    """a 50 ms model on 30 fps: drops counted, every latency within 100 ms. Hint: check wait + last inference time"""
    clock, seen = ManualClock(), []
    res = run_stream(frames, slow_model(clock, 0.050, seen), clock, fps=30, budget_ms=100)
    assert len(res["processed"]) + res["dropped"] == 60 and res["dropped"] > 0
    assert max(res["latencies_ms"]) <= 100.0 + 1e-6
    assert len(res["processed"]) >= 30  # it still uses the worker: about 2 frames in 3 are possible


mk.check("scheduler", test_fast_model_keeps_everything, test_slow_model_drops_and_keeps_the_budget, budget=10)
### BEGIN HIDDEN TESTS
def _s_order_and_counts():
    clock, seen = ManualClock(), []
    res = run_stream(frames, slow_model(clock, 0.080, seen), clock, fps=30, budget_ms=120, queue_size=1)
    assert res["processed"] == sorted(res["processed"]) and len(set(res["processed"])) == len(res["processed"])
    assert len(res["processed"]) + res["dropped"] == 60 and len(seen) == len(res["processed"])
    assert max(res["latencies_ms"]) <= 120.0 + 1e-6 and len(res["processed"]) >= 18


def _s_tight_budget_drops_late():
    clock, seen = ManualClock(), []
    res = run_stream(frames[:30], slow_model(clock, 0.045, seen), clock, fps=30, budget_ms=60, queue_size=5)
    assert max(res["latencies_ms"]) <= 60.0 + 1e-6 and res["dropped"] > 0 and len(res["processed"]) >= 10


def _s_matches_reference():
    from medimg_kernel.deploy.stream import RealtimeStream

    clock, seen = ManualClock(), []
    cost_rng = np.random.default_rng(mk.variant_seed("11_edge_realtime", salt="scheduler"))
    cost = round(float(cost_rng.uniform(0.035, 0.065)), 4)  # this student's model time per frame, in seconds
    res = run_stream(frames, slow_model(clock, cost, seen), clock, fps=30, budget_ms=100, queue_size=2)
    c2 = ManualClock()
    ref = RealtimeStream(lambda x: c2.advance(cost), fps=30, latency_budget_ms=100, queue_size=2, clock=c2,
                         preprocess=lambda f: f, warmup=False).run(frames)
    assert len(res["processed"]) == ref.processed and res["dropped"] == ref.dropped


mk.check("scheduler", _s_order_and_counts, _s_tight_budget_drops_late, _s_matches_reference, budget=10, hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=q5_text
# ## Exercise 5 — Written answer (2 points, graded by your instructor)
#
# On a 2-core AMD EPYC without AMX, the int8 model of lesson 11 was 3.5× smaller than fp32 but ran at
# 0.92–1.01× its speed. In two or three sentences: why did int8 not make it faster there, on which hardware
# would it, and what must be done before the int8 model replaces the fp32 one in a clinic?

# %% [markdown] manual id=q5_answer points=2
# ### BEGIN SOLUTION
# Speed-ups from int8 need hardware that multiplies int8 faster than fp32 (VNNI/AMX CPUs, TensorRT on NVIDIA
# GPUs, NPUs); without it the QDQ graph adds quantise/dequantise work and the convolutions fall back to
# similar-cost kernels, so only the file and memory traffic shrink. Because int8 is a different function,
# its accuracy must be re-validated on held-out (ideally clinical) data and on the target hardware, and the
# quantised file is the locked artefact that has to go through validation and change control.
# ### END SOLUTION

# %% [markdown] rubric id=q5_rubric for=q5_answer
# - 1: names the missing fast int8 arithmetic (no VNNI/AMX; overhead of quantise/dequantise) and hardware where it pays (AMX/VNNI CPUs, TensorRT GPUs, NPUs)
# - 1: says the int8 model must be re-validated (held-out/clinical data, target hardware) as the deployed artefact before use

# %% [markdown] readonly id=ex6_text
# ## Exercise 6 — Send images to a DICOM node (3 points)
#
# In a hospital, images reach a model by DICOM networking: a scanner or PACS *associates* with the model's
# node (an application entity, AE) and sends each object with **C-STORE**; the node answers every object with
# a status (0x0000 = success). Implement `c_store(datasets, port, host="127.0.0.1", ae_title="STUDENT")` with
# `pynetdicom`: create an `AE`, request a presentation context for the SOP class of every dataset, associate
# with the node at `(host, port)`, send every dataset with `send_c_store`, release the association, and return
# the list of status codes (integers, one per dataset, in order). If the association is not established,
# raise a `ConnectionError`. Never assume success: the node below refuses objects without pixel data.

# %% readonly id=ex6_setup
import socket  # noqa: E402

from pydicom import dcmread  # noqa: E402
from pydicom.data import get_testdata_file  # noqa: E402
from pynetdicom import AE, evt  # noqa: E402
from pynetdicom.sop_class import CTImageStorage, MRImageStorage  # noqa: E402


class TinyNode:
    """A C-STORE node on 127.0.0.1 that keeps what it receives and refuses objects without pixel data."""

    def __init__(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.received = []
        ae = AE(ae_title="NODE")
        for sop in (CTImageStorage, MRImageStorage):
            ae.add_supported_context(sop)
        self.server = ae.start_server(("127.0.0.1", self.port), block=False,
                                      evt_handlers=[(evt.EVT_C_STORE, self._on_store)])

    def _on_store(self, event):
        ds = event.dataset
        if "PixelData" not in ds:
            return 0xA900  # "dataset does not match SOP class": no image to store
        self.received.append(str(ds.SOPInstanceUID))
        return 0x0000

    def stop(self):
        self.server.shutdown()


ct, mr = dcmread(get_testdata_file("CT_small.dcm")), dcmread(get_testdata_file("MR_small.dcm"))
print("CT", ct.Modality, ct.SOPInstanceUID, "| MR", mr.Modality, mr.SOPInstanceUID)

# %% solution id=ex6_answer exercise=dicom_store
def c_store(datasets, port, host="127.0.0.1", ae_title="STUDENT"):
    """C-STORE every dataset to the node at (host, port); return the status code of each."""
    ### BEGIN SOLUTION
    ae = AE(ae_title=ae_title)
    for sop in {str(ds.SOPClassUID) for ds in datasets}:
        ae.add_requested_context(sop)
    assoc = ae.associate(host, port)
    if not assoc.is_established:
        raise ConnectionError(f"no association with {host}:{port}")
    try:
        return [int(assoc.send_c_store(ds).Status) for ds in datasets]
    finally:
        assoc.release()
    ### END SOLUTION

# %% tests id=ex6_tests points=3
def test_node_receives_ct_and_mr():
    """both objects stored, status 0x0000 each. Hint: AE.add_requested_context(ds.SOPClassUID), associate, send_c_store"""
    node = TinyNode()
    try:
        statuses = c_store([ct, mr], node.port)
    finally:
        node.stop()
    assert list(statuses) == [0, 0]
    assert node.received == [str(ct.SOPInstanceUID), str(mr.SOPInstanceUID)]


def test_no_node_raises():
    """nothing listening: a ConnectionError. Hint: check assoc.is_established"""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    try:
        c_store([ct], free)
    except ConnectionError:
        return
    raise AssertionError("no ConnectionError without a node")


mk.check("dicom_store", test_node_receives_ct_and_mr, test_no_node_raises, budget=60)
### BEGIN HIDDEN TESTS
def _store_reports_the_refusal():
    import copy as _copy

    empty = _copy.deepcopy(ct)
    del empty.PixelData
    empty.SOPInstanceUID = "1.2.826.0.1.3680043.8.498.1"
    node = TinyNode()
    try:
        statuses = c_store([mr, empty, ct], node.port, ae_title="GRADER")
    finally:
        node.stop()
    assert list(statuses) == [0, 0xA900, 0] and len(node.received) == 2


mk.check("dicom_store", _store_reports_the_refusal, budget=60, hidden=True)
### END HIDDEN TESTS
