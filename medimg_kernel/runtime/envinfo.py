"""Environment report: versions, device policy, tier, data folder, widget front ends and kernelspec.

Used by ``medimg env``, the ``%medimg env`` magic and the welcome notebook's banner.
"""

from __future__ import annotations

import html
import importlib.metadata as md
import os
import platform
import sys
from pathlib import Path
from typing import Any

from ..paths import data_dir
from .kernelspec import kernelspec_status

__all__ = ["environment_report", "banner", "format_report", "environment_checks"]

_VERSION_PACKAGES = {
    "medimg_kernel": "medimg-kernel",
    "torch": "torch",
    "monai": "monai",
    "numpy": "numpy",
    "jupyterlab": "jupyterlab",
    "notebook": "notebook",
    "ipywidgets": "ipywidgets",
    "nbgrader": "nbgrader",
    "ipyniivue": "ipyniivue",
    "anywidget": "anywidget",
}


def _version(dist: str) -> str | None:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


def _dir_writable(path: Path) -> bool:
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".medimg-write-probe"
        probe.write_text("ok")
        probe.unlink()
        return True
    except OSError:
        return False


def _widget_status() -> dict[str, Any]:
    try:
        from ..viz.frontend import frontend_status
    except ImportError:
        frontend_status = None
    if frontend_status is not None:
        return frontend_status()
    # minimal fallback while the viz package is absent: report the Python side only
    return {name: {"python": _version(name) is not None} for name in ("ipyniivue", "anywidget", "ipywidgets")}


def environment_report(device: str | None = None, precision: str | None = None) -> dict[str, Any]:
    """Return the environment facts as a JSON-ready dict.

    Keys: ``versions``, ``python``, ``platform``, ``device``, ``gpu`` (None without one), ``cpu``,
    ``cpu_bf16``, ``precision``, ``precision_auto``, ``memory_format``, ``threads``, ``policy``,
    ``precision_choices`` (the measured choices cached for this machine), ``tier``, ``data_dir``,
    ``data_dir_writable``, ``widgets``, ``kernelspec``.
    """
    from ..device import device_policy
    from ..errors import MedimgKernelError
    from ..tiers import get_tier

    policy_error = None
    try:
        policy = device_policy(device, precision)
    except MedimgKernelError as err:  # report a bad MEDIMG_DEVICE/PRECISION instead of failing
        policy_error = str(err)
        policy = device_policy("auto", "auto")
    try:
        tier = get_tier()
    except MedimgKernelError as err:
        policy_error = (policy_error + "; " if policy_error else "") + str(err)
        tier = get_tier("auto")
    ddir = data_dir()
    versions = {name: _version(dist) for name, dist in _VERSION_PACKAGES.items()}
    versions["python"] = platform.python_version()
    return {
        "versions": versions,
        "python": sys.executable,
        "platform": f"{platform.system()} {platform.release()} ({platform.machine()})",
        "device": policy.device,
        "gpu": policy.gpu,
        "cpu": policy.cpu,
        "cpu_bf16": {"amx_bf16": policy.cpu["amx_bf16"], "avx512_bf16": policy.cpu["avx512_bf16"],
                     "any": policy.cpu["bf16"]},
        "precision": policy.precision,
        "precision_auto": policy.auto_precision,
        "memory_format": policy.memory_format,
        "threads": policy.num_threads,
        "policy": policy.describe(),
        "precision_choices": _precision_choices(policy),
        "policy_error": policy_error,
        "tier": {"name": tier.name, "description": tier.description,
                 "source": "MEDIMG_TIER" if os.environ.get("MEDIMG_TIER") else "auto"},
        "data_dir": str(ddir),
        "data_dir_writable": _dir_writable(ddir),
        "widgets": _widget_status(),
        "kernelspec": kernelspec_status(),
    }


def _precision_choices(policy: Any) -> list[dict[str, Any]]:
    """The measured precision choices cached for this machine: model, shape class, choice and why."""
    from ..device import cached_choices

    entries = cached_choices(policy.signature())
    return [{"model": e.get("model"), "shape": e.get("shape"), "choice": e.get("choice"), "why": e.get("why"),
             "measured_at": e.get("measured_at")} for e in entries.values()]


def _problems(report: dict[str, Any]) -> list[str]:
    out = []
    if report.get("policy_error"):
        out.append(f"setting ignored: {report['policy_error']}")
    if not report["data_dir_writable"]:
        out.append(f"data folder {report['data_dir']} is not writable: set MEDIMG_DATA to a folder you own")
    if not report["kernelspec"]["installed"]:
        out.append("the 'Python 3 (medimg)' kernel is not installed: run `medimg kernel install`")
    for name, status in report["widgets"].items():
        if isinstance(status, dict) and status.get("python") is False:
            out.append(f"widget package {name} is missing: reinstall the kit (`pip install -e .`)")
        if isinstance(status, dict) and status.get("labextension") is False:
            out.append(f"the JupyterLab front end of {name} is not installed: reinstall {name} in this environment")
    return out


def format_report(report: dict[str, Any]) -> str:
    """Return a human-readable multi-line text version of :func:`environment_report`."""
    v = report["versions"]
    lines = [
        "medimg environment",
        "  versions: " + ", ".join(f"{k} {val or 'missing'}" for k, val in v.items()),
        f"  device: {report['device']}  precision: "
        f"{'auto, measured per model (starts ' + report['precision'] + ')' if report.get('precision_auto') else report['precision']}"
        f"  memory format: {report['memory_format']}"
        f"  threads: {report['threads']}",
        f"  GPU: {report['gpu']['name'] + ' ' + str(report['gpu']['memory_gb']) + ' GB' if report['gpu'] else 'none'}",
        f"  CPU: {report['cpu']['model']} ({report['cpu']['cores']} cores; AMX-bf16 "
        f"{'yes' if report['cpu_bf16']['amx_bf16'] else 'no'}, AVX512-bf16 "
        f"{'yes' if report['cpu_bf16']['avx512_bf16'] else 'no'})",
        *_format_choices(report.get("precision_choices", [])),
        f"  tier: {report['tier']['name']} ({report['tier']['description']}; from {report['tier']['source']})",
        f"  data folder: {report['data_dir']} ({'writable' if report['data_dir_writable'] else 'NOT writable'})",
        f"  kernelspec: {'installed at ' + report['kernelspec']['path'] if report['kernelspec']['installed'] else 'not installed'}",
        "  widgets: " + ", ".join(
            f"{k} {'ok' if isinstance(s, dict) and all(x is not False for x in s.values() if isinstance(x, bool)) else 'MISSING'}"
            for k, s in report["widgets"].items()
        ),
    ]
    problems = _problems(report)
    lines += [f"  ! {p}" for p in problems] or ["  all checks passed"]
    return "\n".join(lines)


def _format_choices(choices: list[dict[str, Any]]) -> list[str]:
    if not choices:
        return ["  measured precision: none yet (the first fit of each model measures; "
                "`medimg env --recalibrate` measures the representative models)"]
    lines = ["  measured precision (cached; `medimg env --recalibrate` measures again):"]
    for c in choices:
        lines.append(f"    {c['model']} [{c['shape']}]: {c['choice']} ({c['measured_at']})")
        lines.append(f"      why: {c['why']}")
    return lines


class Banner:
    """A one-glance environment summary: HTML in Jupyter, plain text elsewhere."""

    def __init__(self, report: dict[str, Any]):
        self.report = report

    def _summary(self) -> list[tuple[str, str]]:
        r = self.report
        hw = f"GPU {r['gpu']['name']}" if r["gpu"] else f"CPU ({r['cpu']['cores']} cores)"
        return [
            ("hardware", hw),
            ("device / precision", f"{r['device']} / {r['precision']} / {r['memory_format']}"),
            ("tier", r["tier"]["name"]),
            ("torch / MONAI", f"{r['versions']['torch']} / {r['versions']['monai']}"),
            ("data folder", r["data_dir"]),
        ]

    def __str__(self) -> str:
        rows = [f"{k}: {v}" for k, v in self._summary()]
        rows += [f"! {p}" for p in _problems(self.report)]
        return "medimg | " + " | ".join(rows)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        cells = "".join(
            f"<td style='padding:2px 10px'><b>{html.escape(k)}</b><br>{html.escape(str(v))}</td>"
            for k, v in self._summary()
        )
        probs = _problems(self.report)
        warn = "".join(f"<div style='color:#b00'>&#9888; {html.escape(p)}</div>" for p in probs)
        ok = "" if probs else "<div style='color:#070'>&#10004; environment ready</div>"
        return (f"<div style='border:1px solid #ccc;border-radius:6px;padding:6px;font-family:sans-serif'>"
                f"<b>medimg</b><table><tr>{cells}</tr></table>{warn}{ok}</div>")


def banner() -> Banner:
    """Return the environment banner object (displays as HTML in Jupyter, text elsewhere)."""
    return Banner(environment_report())


def _device_probe(device: str, precision: str) -> tuple[bool, str]:
    """Run a small matmul on ``device`` under the chosen precision and compare it with float64 numpy."""
    import numpy as np
    import torch

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(32, 48)), rng.normal(size=(48, 16))
    want = a @ b
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    try:
        dev = torch.device(device)
        x, y = torch.from_numpy(a).float().to(dev), torch.from_numpy(b).float().to(dev)
        with torch.autocast(device_type=dev.type, dtype=dtype, enabled=dtype is not None):
            got = (x @ y).float().cpu().numpy()
    except (RuntimeError, ValueError, TypeError, AssertionError) as err:  # a device that cannot run: report it
        return False, f"{type(err).__name__}: {err}"
    err = float(np.abs(got - want).max() / np.abs(want).max())
    tol = 1e-5 if dtype is None else 3e-2  # bf16/fp16 keep ~3 significant digits
    return err <= tol, f"32x48 @ 48x16 matmul, max relative error {err:.1e} (tolerance {tol:.0e})"


def _tier_fits(tier: str, device: str) -> tuple[bool, str]:
    """Whether the chosen tier can run on the chosen device: ``standard``/``full`` need a GPU."""
    if tier == "smoke" or device.split(":")[0] in {"cuda", "mps"}:
        return True, ""
    return False, (f"the {tier} tier needs a GPU and this run uses {device}: "
                   "set MEDIMG_TIER=smoke (or unset it) on this machine")


def environment_checks(report: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Return the welcome checks as rows ``{"check", "ok", "detail", "advice"}`` (advice empty when ok).

    Every row is measured here: the device runs a small computation that is checked against numpy,
    the tier must fit the device, and the widget, data-folder and kernel rows come from the report.
    """
    r = report or environment_report()
    rows = []
    gpu = r["gpu"]
    dev_ok, dev_detail = _device_probe(r["device"], r["precision"])
    rows.append({"check": "compute device", "ok": dev_ok,
                 "detail": f"{r['device']} ({gpu['name'] if gpu else r['cpu']['model']}), {r['precision']}; "
                           + dev_detail,
                 "advice": ("" if gpu else "CPU only: the smoke tier runs everywhere; use a GPU for standard/full")
                 if dev_ok else "the device gives wrong or no results: set MEDIMG_DEVICE=cpu and "
                                "MEDIMG_PRECISION=fp32, or reinstall PyTorch for this machine"})
    if r.get("policy_error"):
        rows.append({"check": "device settings", "ok": False, "detail": r["policy_error"],
                     "advice": "fix or unset MEDIMG_DEVICE / MEDIMG_PRECISION / MEDIMG_TIER"})
    tier_ok, tier_advice = _tier_fits(r["tier"]["name"], r["device"])
    rows.append({"check": "compute tier", "ok": tier_ok, "detail": f"{r['tier']['name']} ({r['tier']['source']})",
                 "advice": tier_advice})
    widgets_ok = all(
        not (isinstance(s, dict) and any(v is False for v in s.values() if isinstance(v, bool)))
        for s in r["widgets"].values()
    )
    rows.append({"check": "widget front ends", "ok": widgets_ok,
                 "detail": ", ".join(r["widgets"]),
                 "advice": "" if widgets_ok else "reinstall the kit in this environment, then reload the browser tab"})
    rows.append({"check": "data folder writable", "ok": r["data_dir_writable"], "detail": r["data_dir"],
                 "advice": "" if r["data_dir_writable"] else "set MEDIMG_DATA to a folder you can write to"})
    ks = r["kernelspec"]
    rows.append({"check": "course kernel", "ok": ks["installed"], "detail": ks.get("path") or "not installed",
                 "advice": "" if ks["installed"] else "run `medimg kernel install`"})
    return rows
