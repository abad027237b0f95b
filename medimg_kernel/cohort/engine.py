"""The Dask engine: one :func:`client` for a laptop, an HPC job or a cloud cluster, and a bounded task map.

``client()`` starts a ``LocalCluster`` sized to this machine, or connects to the scheduler named by
``address=`` or ``MEDIMG_DASK_SCHEDULER`` (``tcp://host:8786``, a Kubernetes/HPC/cloud Dask cluster),
so a notebook scales out with no other change. :func:`map_tasks` submits one Dask task per item, keeps
at most a few tasks per worker in flight (the cohort streams through; results are small rows), shows a
``tqdm`` bar and returns the results in input order.
"""

from __future__ import annotations

import functools
import logging
import os
import re
from collections.abc import Callable, Iterable
from typing import Any

from ..errors import ClusterError, ConfigError

__all__ = ["client", "map_tasks", "worker_peak_memory", "dashboard_link", "SCHEDULER_ENV"]

log = logging.getLogger(__name__)

SCHEDULER_ENV = "MEDIMG_DASK_SCHEDULER"


def _redact(address: str) -> str:
    """Drop any ``user:password@`` part of an address before it is shown."""
    return re.sub(r"//[^/@]*@", "//***@", address)


def _cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS
        return max(1, os.cpu_count() or 1)


def client(address: str | None = None, *, n_workers: int | None = None, threads_per_worker: int = 1,
           memory_limit: str | int | None = "auto", processes: bool = True, timeout: float = 10.0,
           dashboard: bool = True, **cluster_kwargs: Any) -> Any:
    """Return a ``dask.distributed.Client``: a scheduler at ``address``/``$MEDIMG_DASK_SCHEDULER``, else a new LocalCluster.

    The local cluster has one single-threaded worker per CPU core (``n_workers`` to change) and shares the
    machine's memory between them (``memory_limit`` per worker, e.g. ``"2GiB"``); the dashboard link is logged
    and available as ``client.dashboard_link``. Close it with ``client.close()`` (or use ``with``).
    """
    from distributed import Client, LocalCluster

    address = address or os.environ.get(SCHEDULER_ENV) or None
    if address:
        try:
            if not _port_open(address, timeout):  # fail before distributed starts (and strands) an event loop
                raise TimeoutError(address)
            c = Client(address, timeout=timeout)
        except ValueError:
            raise ClusterError(f"invalid Dask scheduler address {_redact(address)}: give tcp://HOST:PORT (or "
                               f"tls://...); unset {SCHEDULER_ENV} to use a local cluster") from None
        except (OSError, TimeoutError):
            raise ClusterError(
                f"cannot reach the Dask scheduler at {_redact(address)} within {timeout:g} s: start it (`dask "
                f"scheduler`) or fix the address; unset {SCHEDULER_ENV} to use a local cluster") from None
        log.info("connected to the Dask scheduler at %s (dashboard %s)", _redact(address), c.dashboard_link)
        return c
    n = _cpu_count() if n_workers is None else int(n_workers)
    if n < 1:
        raise ConfigError(f"n_workers={n_workers}: give at least 1 worker")
    try:
        cluster = LocalCluster(n_workers=n, threads_per_worker=threads_per_worker, processes=processes,
                               memory_limit=memory_limit, dashboard_address=":0" if dashboard else None,
                               **cluster_kwargs)
    except Exception as err:  # Nanny start failures surface as plain RuntimeErrors
        hint = (" In a script, start the cluster under `if __name__ == '__main__':`." if processes else "")
        raise ClusterError(f"could not start a local Dask cluster of {n} workers: {err}.{hint}") from err
    c = Client(cluster)
    c.wait_for_workers(n, timeout=120)  # every worker registered before the first task (a loaded machine is slow)
    log.info("local Dask cluster: %d workers, dashboard %s", n, c.dashboard_link)
    return c


def _port_open(address: str, timeout: float) -> bool:
    """False when nothing accepts a TCP connection at the host:port of ``address``; True when it does or the
    address has no host:port to try (distributed then reports what is wrong with it)."""
    import socket
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(address if "://" in address else f"tcp://{address}")
        host, port = parts.hostname, parts.port
    except ValueError:
        return True
    if not host or not port:
        return True
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def dashboard_link(c: Any) -> str | None:
    """The dashboard URL of client ``c`` (None when the cluster has no dashboard)."""
    try:
        return c.dashboard_link
    except Exception:  # noqa: BLE001 - no dashboard / bokeh missing
        return None


def _active_client() -> Any | None:
    try:
        from distributed import get_client

        return get_client()
    except (ImportError, ValueError):
        return None


def _run_batch(func: Callable[..., Any], batch: list[Any], kwargs: dict[str, Any]) -> list[Any]:
    return [func(item, **kwargs) for item in batch]


def map_tasks(func: Callable[..., Any], items: Iterable[Any], *, client: Any | None = None,
              progress: bool = True, desc: str = "tasks", batch_size: int | None = None,
              in_flight: int | None = None, **kwargs: Any) -> list[Any]:
    """Run ``func(item, **kwargs)`` for every item as Dask tasks and return the results in input order.

    Items are grouped ``batch_size`` to a task (default: about 8 tasks per worker thread, at most 32
    items each), because a task costs the scheduler milliseconds. With ``client=None`` the active
    distributed client is used, or, without one, the local threaded scheduler (``client=False`` forces
    that). At most ``in_flight`` tasks (4 per worker thread) are submitted at a time, so a cohort larger
    than memory streams through. ``func`` must be importable by the workers (defined in a module, not in a
    notebook cell, for a process-based cluster) or picklable by cloudpickle.
    """
    from tqdm.auto import tqdm

    items = list(items)
    c = _active_client() if client is None else (client or None)
    nthreads = (sum(c.nthreads().values()) or 1) if c is not None else _cpu_count()
    size = batch_size or max(1, min(32, len(items) // (8 * nthreads)))
    batches = [items[i:i + size] for i in range(0, len(items), size)]
    bar = tqdm(total=len(items), desc=desc, unit="file" if desc == "scanning" else "item",
               disable=not progress or not items)
    try:
        if c is None:
            import dask
            import dask.bag as db

            out: list[Any] = []
            step = 4 * nthreads
            for start in range(0, len(batches), step):
                part = db.from_sequence(batches[start:start + step], npartitions=len(batches[start:start + step]))
                for res in dask.compute(part.map(functools.partial(_run_batch, func, kwargs=kwargs)), scheduler="threads")[0]:
                    out.extend(res)
                    bar.update(len(res))
            return out
        from distributed import as_completed

        window = in_flight or 4 * nthreads
        results: list[Any] = [None] * len(batches)
        pending = iter(enumerate(batches))
        futures: dict[str, int] = {}
        ac = as_completed()

        def submit_next() -> None:
            try:
                i, batch = next(pending)
            except StopIteration:
                return
            fut = c.submit(_run_batch, func, batch, kwargs, pure=False)
            futures[fut.key] = i
            ac.add(fut)

        for _ in range(window):
            submit_next()
        for fut in ac:
            res = fut.result()
            results[futures.pop(fut.key)] = res
            fut.release()
            bar.update(len(res))
            submit_next()
        return [r for res in results for r in res]
    finally:
        bar.close()


def _peak_rss() -> int:
    """This process's peak resident memory (bytes) since it started its program."""
    try:  # Linux: VmHWM belongs to this program's address space (ru_maxrss also counts the forked parent)
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def worker_peak_memory(c: Any) -> dict[str, dict[str, int]]:
    """Peak resident memory (bytes) of each worker process so far, next to its memory limit."""
    peaks = c.run(_peak_rss)
    limits = {addr: w.get("memory_limit", 0) for addr, w in c.scheduler_info()["workers"].items()}
    return {addr: {"peak": int(p), "limit": int(limits.get(addr) or 0)} for addr, p in peaks.items()}

