"""Headless course runs: execute lesson notebooks in order by tier and collect the metrics they record.

``medimg course run`` calls :func:`run_course`, which runs each notebook with nbclient and writes a JSON
report holding each notebook's status, time and the figures it recorded (see :mod:`.lesson_metrics`).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .lesson_metrics import METRICS_ENV, recorded_metrics

__all__ = ["run_course", "run_notebook", "course_notebooks", "course_root", "inject_parameters", "NotebookResult"]

log = logging.getLogger(__name__)

#: default per-cell timeout for headless runs (seconds); generous, the tier keeps notebooks short
CELL_TIMEOUT = 900


@dataclass
class NotebookResult:
    """Outcome of one notebook in a course run (one entry of the JSON report)."""

    path: str
    status: str  # "ok" | "error"
    seconds: float
    metrics: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    cell: int | None = None
    output: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)


def course_root() -> Path:
    """Return the repository's ``notebooks/`` folder (next to the package in a source checkout)."""
    return Path(__file__).resolve().parents[2] / "notebooks"


def course_notebooks(root: str | Path | None = None) -> list[Path]:
    """Return the course notebooks in course order (``NN_*.ipynb`` sorted by number)."""
    root = Path(root) if root else course_root()
    return sorted(p for p in root.glob("[0-9][0-9]_*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def inject_parameters(nb: Any, params: dict[str, Any]) -> Any:
    """Insert a cell tagged ``injected-parameters`` assigning ``params`` after the ``parameters`` cell.

    Follows papermill's convention: without a ``parameters`` cell the new cell goes first.
    """
    import nbformat

    if not params:
        return nb
    src = "# Parameters injected by `medimg course run`\n" + "\n".join(f"{k} = {v!r}" for k, v in params.items())
    cell = nbformat.v4.new_code_cell(src, metadata={"tags": ["injected-parameters"]})
    idx = next((i for i, c in enumerate(nb.cells) if "parameters" in c.get("metadata", {}).get("tags", [])), -1)
    nb.cells.insert(idx + 1, cell)
    return nb


def _strip_widget_state(nb: Any) -> None:
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            data.pop("application/vnd.jupyter.widget-state+json", None)


def _failing_cell(nb: Any) -> tuple[int | None, str | None]:
    # index in the *source* notebook: the injected parameters cell does not count
    cells = [c for c in nb.cells if "injected-parameters" not in c.get("metadata", {}).get("tags", [])]
    for i, cell in enumerate(cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                return i, f"{out.get('ename')}: {out.get('evalue')}"
    return None, None


def run_notebook(
    path: str | Path,
    out_dir: str | Path,
    tier: str = "smoke",
    parameters: dict[str, Any] | None = None,
    kernel_name: str = "python3",
    timeout: int = CELL_TIMEOUT,
    overrides: dict[str, Any] | None = None,
    env_extra: dict[str, str] | None = None,
) -> NotebookResult:
    """Execute one notebook headless into ``out_dir`` and return its result (never raises on cell errors).

    ``overrides`` replace the lesson's tier parameters (``$MEDIMG_SET`` in the kernel, read by
    :func:`~medimg_kernel.tiers.tier_params`); ``env_extra`` is added to the kernel's environment.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    path = Path(path).resolve()
    out_dir = Path(out_dir).resolve()  # the kernel runs in the notebook's folder: paths it gets must be absolute
    out_dir.mkdir(parents=True, exist_ok=True)
    if out_dir.resolve() == path.parent.resolve():
        raise ConfigError(f"the output folder {out_dir} is the notebooks' folder: pass another --out-dir "
                          "(executed copies never overwrite the sources)")
    try:
        nb = nbformat.read(path, as_version=4)
    except (nbformat.reader.NotJSONError, ValueError, UnicodeDecodeError) as err:
        from ..errors import DataError

        raise DataError(
            f"{path} is not a readable Jupyter notebook ({str(err).splitlines()[0][:120]}); "
            "restore it from the course files (e.g. `git checkout` it)"
        ) from err
    inject_parameters(nb, {"tier": tier, **(parameters or {})})
    metrics_file = out_dir / f".{path.stem}.metrics.jsonl"
    metrics_file.unlink(missing_ok=True)
    from ..tiers import OVERRIDES_ENV

    env = dict(os.environ, MEDIMG_TIER=tier, **{METRICS_ENV: str(metrics_file)}, **(env_extra or {}))
    if overrides:
        env[OVERRIDES_ENV] = json.dumps(overrides)
    else:
        env.pop(OVERRIDES_ENV, None)
    # the inline backend keeps every figure in the executed copy (agg would draw them and drop them)
    if env.get("MPLBACKEND", "agg").lower() == "agg":
        env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    from traitlets.config import Config

    config = Config()
    sockets = tempfile.TemporaryDirectory(prefix="medimg-kernel-") if os.name == "posix" else None
    if sockets is not None:  # local Unix sockets: no open TCP ports, no "unencrypted TCP" warning
        config.KernelManager.transport = "ipc"
        config.KernelManager.ip = os.path.join(sockets.name, "k")
    client = NotebookClient(  # the client owns its kernel manager, so the kernel is shut down after the run
        nb, config=config, timeout=timeout, kernel_name=kernel_name, allow_errors=False, store_widget_state=False,
        resources={"metadata": {"path": str(path.parent)}}, record_timing=True,
    )
    t0 = time.perf_counter()
    status, error, cell = "ok", None, None
    try:
        client.execute(env=env)
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as err:
        status = "error"
        cell, error = _failing_cell(nb)
        if error is None:
            error = f"{type(err).__name__}: {str(err).strip().splitlines()[-1] if str(err).strip() else ''}"
    except Exception as err:  # kernel failed to start, bad notebook JSON, ...
        status, error = "error", f"{type(err).__name__}: {err}"
    finally:
        if sockets is not None:
            sockets.cleanup()
    seconds = time.perf_counter() - t0
    _strip_widget_state(nb)
    out_path = out_dir / path.name
    nbformat.write(nb, out_path)
    metrics = recorded_metrics(metrics_file)
    metrics_file.unlink(missing_ok=True)
    return NotebookResult(str(path), status, round(seconds, 2), metrics, error, cell, str(out_path),
                          dict(overrides or {}))


def _manifest_env(manifests: list[str | Path]) -> tuple[dict[str, str], list[str]]:
    """Return the kernel environment that adds ``manifests`` to the registry, and one line per redefinition."""
    from ..data.registry import redefinitions

    if not manifests:
        return {}, []
    files = [str(Path(m).resolve()) for m in manifests]
    for f in files:
        if not Path(f).is_file():
            raise ConfigError(f"--manifest {f}: no such file; pass a registry YAML file (see datasets/README.md)")
    env = os.environ.get("MEDIMG_REGISTRY", "")
    lines = [f"note: dataset {name!r} is redefined by {new} (replacing {old})"
             for name, (new, old) in redefinitions(files).items()]
    return {"MEDIMG_REGISTRY": os.pathsep.join([*([env] if env else []), *files])}, lines


def run_course(
    notebooks: list[str | Path] | None = None,
    tier: str = "smoke",
    out_dir: str | Path = "course_runs",
    report: str | Path | None = None,
    parameters: dict[str, Any] | None = None,
    kernel_name: str = "python3",
    progress: bool = True,
    sets: list[str] | None = None,
    manifests: list[str | Path] | None = None,
    jobs: int = 1,
) -> dict[str, Any]:
    """Execute course notebooks in order, headless, and return (and optionally write) the JSON report.

    ``sets`` are ``[LESSON:]KEY=VALUE`` overrides of the lessons' tier parameters (YAML values), all checked
    against each notebook's known keys before the first one starts. ``manifests`` are registry files that
    the kernels read (``$MEDIMG_REGISTRY``); a dataset they redefine is announced in one line. ``jobs`` > 1
    runs that many notebooks at once (each in its own kernel).

    The report is ``{"tier", "total_seconds", "overrides", "manifests", "redefined", "notebooks": [{"path",
    "status", "seconds", "metrics", "error", "cell", "output", "overrides"}]}``. A failing notebook does not
    stop the others.
    """
    from tqdm.auto import tqdm

    from ..tiers import get_tier
    from .overrides import check_scopes, overrides_for, parse_sets

    tier_name = get_tier(tier).name
    paths = [Path(p) for p in notebooks] if notebooks else course_notebooks()
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise ConfigError(f"notebook(s) not found: {', '.join(missing)}")
    parsed = parse_sets(list(sets or []))
    check_scopes(paths, parsed)
    per_nb = [overrides_for(p, tier_name, parsed) for p in paths]  # every key checked before any work
    env_extra, redefined = _manifest_env(manifests or [])
    for line in redefined:
        print(line, flush=True)
    if jobs < 1:
        raise ConfigError(f"--jobs must be 1 or more, not {jobs}")
    if jobs > 1:  # share the cores instead of oversubscribing them (the Trainer reads MEDIMG_NUM_THREADS)
        share = str(max(1, (os.cpu_count() or 1) // jobs))
        for var in ("OMP_NUM_THREADS", "MEDIMG_NUM_THREADS"):
            if var not in os.environ:
                env_extra[var] = share
    out_dir = Path(out_dir) / tier_name
    t0 = time.perf_counter()
    args = [(p, out_dir, tier_name, parameters, kernel_name, CELL_TIMEOUT, o, env_extra) for p, o in zip(paths, per_nb)]
    bar = tqdm(total=len(paths), desc=f"course ({tier_name})", unit="nb", disable=not progress)
    results: list[NotebookResult | None] = [None] * len(paths)
    try:
        if jobs == 1:
            for i, a in enumerate(args):
                bar.set_postfix_str(a[0].name)
                results[i] = run_notebook(*a)
                bar.update()
        else:
            import concurrent.futures as cf
            import multiprocessing as mp

            with cf.ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn")) as pool:
                futs = {pool.submit(run_notebook, *a): i for i, a in enumerate(args)}
                for fut in cf.as_completed(futs):
                    results[futs[fut]] = fut.result()
                    bar.set_postfix_str(paths[futs[fut]].name)
                    bar.update()
    finally:
        bar.close()  # before any error message, so it starts on its own line
    for r in results:
        assert r is not None
        log.info("%s: %s in %.1f s", Path(r.path).name, r.status, r.seconds)
    rep = {"tier": tier_name, "total_seconds": round(time.perf_counter() - t0, 2),
           "overrides": list(sets or []), "manifests": [str(Path(m).resolve()) for m in manifests or []],
           "redefined": redefined, "notebooks": [asdict(r) for r in results if r is not None]}
    if report:
        Path(report).parent.mkdir(parents=True, exist_ok=True)
        Path(report).write_text(json.dumps(rep, indent=2))
    return rep
