"""The welcome checks: each row is measured, so each can fail when its condition is broken."""

from __future__ import annotations

import copy

import pytest

from medimg_kernel.runtime.envinfo import environment_checks, environment_report


@pytest.fixture(scope="module")
def report():
    return environment_report()


def _by_name(rows):
    return {r["check"]: r for r in rows}


def test_all_checks_pass_on_this_machine(report):
    rows = environment_checks(report)
    failing = [f"{r['check']}: {r['detail']} -> {r['advice']}" for r in rows if not r["ok"]]
    assert not failing, failing
    assert {"compute device", "compute tier", "widget front ends", "data folder writable",
            "course kernel"} <= set(_by_name(rows))
    assert "max relative error" in _by_name(rows)["compute device"]["detail"]  # a computation was run


def _broken(report, what):
    r = copy.deepcopy(report)
    if what == "compute device":
        r["device"] = "cuda:7" if report["device"] == "cpu" else "meta"  # a device that cannot compute here
    elif what == "compute tier":
        r["tier"] = {**r["tier"], "name": "full"}
        r["device"] = "cpu"
        r["gpu"] = None
    elif what == "widget front ends":
        first = next(iter(r["widgets"]))
        r["widgets"][first] = {**r["widgets"][first], "python": False}
    elif what == "data folder writable":
        r["data_dir_writable"] = False
    elif what == "course kernel":
        r["kernelspec"] = {"installed": False, "name": "medimg", "path": None}
    return r


@pytest.mark.parametrize("check", ["compute device", "compute tier", "widget front ends", "data folder writable",
                                   "course kernel"])
def test_every_check_can_fail(report, check):
    row = _by_name(environment_checks(_broken(report, check)))[check]
    assert row["ok"] is False, f"the {check!r} check stays ok when its condition is broken: a constant check"
    assert row["advice"], "a failing check says what to do"


def test_device_probe_checks_the_numbers(monkeypatch, report):
    import torch

    real = torch.Tensor.__matmul__
    monkeypatch.setattr(torch.Tensor, "__matmul__", lambda a, b: real(a, b) * 1.01)  # a device 1% wrong
    row = _by_name(environment_checks(report))["compute device"]
    assert row["ok"] is False and "relative error 1.0e-02" in row["detail"]
