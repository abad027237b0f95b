"""``medimg course``: start the course in JupyterLab, or run its notebooks headless by tier."""

from __future__ import annotations

import argparse
import json
import os
import sys


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``course`` sub-command."""
    p = sub.add_parser("course", help="run the course notebooks headless, or open them in JupyterLab",
                       description="Run the course: `run` executes notebooks headless; `lab` opens JupyterLab.")
    csub = p.add_subparsers(dest="course_command", metavar="ACTION")
    run = csub.add_parser("run", help="execute notebooks headless in course order and write a JSON report",
                          description="Execute course notebooks headless (nbclient) in order with the tier's "
                                      "parameters. Executed copies go to OUT_DIR/<tier>/, never over the sources. "
                                      "Exit 1 if any notebook fails.")
    run.add_argument("notebooks", nargs="*", metavar="NOTEBOOK", help="notebooks to run (default: all of notebooks/)")
    run.add_argument("--tier", default="smoke", help="smoke, standard, full or auto (default: smoke)")
    run.add_argument("--report", metavar="FILE.json", help="write the JSON report here")
    run.add_argument("--out-dir", default="course_runs", help="folder for executed copies (default: course_runs)")
    run.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                     help="extra notebook parameter (VALUE parsed as JSON when possible); repeatable")
    run.add_argument("--set", dest="sets", action="append", default=[], metavar="[LESSON:]KEY=VALUE",
                     help="override a lesson's tier parameter (VALUE parsed as YAML, e.g. n_train=48 or "
                          "\"options={n: 600}\"); LESSON (a number like 05, or a file stem) limits it to one "
                          "notebook; repeatable. Unknown keys fail before any notebook runs")
    run.add_argument("--manifest", action="append", default=[], metavar="FILE.yaml",
                     help="extra dataset registry file for the kernels (may redefine a dataset by name); repeatable")
    run.add_argument("--jobs", type=int, default=1, metavar="N", help="run N notebooks at once (default 1)")
    run.add_argument("--kernel", default="python3", help="Jupyter kernel name (default: python3 of this env)")
    run.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    run.set_defaults(func=_run)
    lab = csub.add_parser("lab", help="open the course in JupyterLab (installs the kernel first)",
                          description="Install the course kernel if needed and start JupyterLab on the notebooks.")
    lab.add_argument("--no-browser", action="store_true", help="do not open a browser")
    lab.add_argument("--port", type=int, default=None, help="port for JupyterLab")
    lab.set_defaults(func=_lab)
    p.set_defaults(func=lambda args: (p.print_help(), 0)[1])


def _parse_params(items: list[str]) -> dict:
    from ..errors import ConfigError

    out = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"parameter {item!r} must look like NAME=VALUE")
        k, v = item.split("=", 1)
        try:
            out[k] = json.loads(v)
        except json.JSONDecodeError:
            out[k] = v
    return out


def _run(args: argparse.Namespace) -> int:
    from ..runtime.runner import run_course

    rep = run_course(args.notebooks or None, tier=args.tier, out_dir=args.out_dir, report=args.report,
                     parameters=_parse_params(args.param), kernel_name=args.kernel, progress=True,
                     sets=args.sets, manifests=args.manifest, jobs=args.jobs)
    if args.json:
        print(json.dumps(rep, indent=2))
    else:
        for nb in rep["notebooks"]:
            mets = ", ".join(f"{k}={v:.4g}" for k, v in nb["metrics"].items())
            line = f"{nb['status']:5s} {nb['seconds']:7.1f}s  {nb['path']}" + (f"  [{mets}]" if mets else "")
            if nb["error"]:
                line += f"\n      cell {nb['cell']}: {nb['error']}"
            print(line)
        print(f"total {rep['total_seconds']:.1f}s, tier {rep['tier']}"
              + (f", overrides: {' '.join(rep['overrides'])}" if rep["overrides"] else ""))
    return 0 if all(nb["status"] == "ok" for nb in rep["notebooks"]) else 1


def _lab(args: argparse.Namespace) -> int:
    import subprocess

    from ..runtime.kernelspec import install_kernelspec, kernelspec_status
    from ..runtime.runner import course_root

    if not kernelspec_status()["installed"]:
        install_kernelspec()
    cmd = [sys.executable, "-m", "jupyter", "lab", f"--notebook-dir={course_root().parent}",
           "--LabApp.default_url=/lab/tree/notebooks/00_welcome.ipynb"]
    if args.no_browser:
        cmd.append("--no-browser")
    if args.port:
        cmd.append(f"--port={args.port}")
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # containers (Docker, Colab-style VMs) often run as root
        cmd.append("--allow-root")
    return subprocess.call(cmd)
