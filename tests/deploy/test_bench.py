"""The latency benchmark: warm-up excluded, backends interleaved, percentiles and ratios from one run."""

from __future__ import annotations

import numpy as np
import pytest

from medimg_kernel.deploy import benchmark, latency_summary
from medimg_kernel.deploy.stream import ManualClock
from medimg_kernel.errors import ConfigError


def test_latency_summary_excludes_warmup():
    lat = [500.0, 400.0] + [10.0] * 90 + [20.0] * 10
    s = latency_summary(lat, warmup=2)
    assert s["n"] == 100
    assert s["p50_ms"] == 10.0 and s["p99_ms"] == pytest.approx(np.percentile([10.0] * 90 + [20.0] * 10, 99))
    assert s["fps"] == pytest.approx(1000 / 11.0)
    assert latency_summary(lat, warmup=0)["p99_ms"] > 300  # warm-up would have polluted the tail
    with pytest.raises(ConfigError):
        latency_summary([1.0, 2.0], warmup=2)


class Simulated:
    """A backend that takes ``cost`` seconds of simulated time (first call slower: a warm-up)."""

    def __init__(self, name, cost, clock, calls):
        self.name, self.cost, self.clock, self.calls = name, cost, clock, calls

    def predict(self, x):
        first = not any(c == self.name for c in self.calls)
        self.calls.append(self.name)
        self.clock.advance(self.cost * (20 if first else 1))
        return x


def test_benchmark_interleaves_and_reports_ratios():
    clock, calls = ManualClock(), []
    backends = [Simulated("eager fp32", 0.040, clock, calls), Simulated("ORT fp32", 0.010, clock, calls),
                Simulated("ORT int8", 0.0105, clock, calls)]
    rep = benchmark(backends, np.zeros((1, 1, 8, 8)), runs=12, warmup=2, clock=clock.now, progress=False,
                    sizes_bytes={"ORT fp32": 3_000_000, "ORT int8": 1_000_000},
                    accuracy={"eager fp32": {"dice": 0.9}, "ORT fp32": {"dice": 0.9}, "ORT int8": {"dice": 0.895}})
    assert len(calls) == 3 * 14
    rounds = [calls[i:i + 3] for i in range(0, len(calls), 3)]
    assert all(sorted(r) == sorted(b.name for b in backends) for r in rounds)  # each round runs all once
    assert len({r[0] for r in rounds}) == 3  # the order rotates: no backend always first
    r = rep.results
    assert r["eager fp32"]["p50_ms"] == pytest.approx(40.0) and r["ORT fp32"]["p99_ms"] == pytest.approx(10.0)
    assert r["ORT int8"]["n"] == 12  # warm-up (the slow first call) excluded
    ratios = rep.ratios()
    assert ratios["ORT fp32 vs eager fp32 (p50 speed-up)"] == pytest.approx(4.0)
    assert ratios["int8 size reduction (fp32 / int8 file)"] == pytest.approx(3.0)
    assert ratios["ORT int8 vs ORT fp32 (p50 speed-up)"] == pytest.approx(10 / 10.5)
    assert r["ORT int8"]["delta_dice_pt"] == pytest.approx(-0.5)
    d = rep.as_dict()
    assert d["machine"]["threads"] >= 1 and "cpu" in d["machine"] and "onnxruntime" in d["machine"]
    assert "ORT fp32" in str(rep)


def test_benchmark_real_runtimes(unet_bundle, lesions):
    preds = [unet_bundle.predictor(k) for k in ("eager", "fp32", "int8")]
    rep = benchmark(preds, lesions[0][:1], runs=5, warmup=2, progress=False)
    assert set(rep.results) == {"eager fp32", "ORT fp32", "ORT int8"}
    for row in rep.results.values():
        assert 0 < row["p50_ms"] <= row["p95_ms"] <= row["p99_ms"] and row["fps"] > 0
