"""Typed REST handlers under ``<base_url>/medimg/``; every one requires the server's own authentication.

=========================================  ======  ===============================================
path                                       method  answer
=========================================  ======  ===============================================
``status``                                 GET     :class:`~.schema.EnvStatus` (``?refresh=1`` recomputes)
``course``                                 GET     :class:`~.schema.CourseIndex`
``notebook?path=P``                        GET     whether ``P`` is a lesson/assignment of the course
``progress/opened``                        POST    ``{"path"}``: record that a course notebook was opened
``progress/selfcheck``                     POST    ``{"path", "result"}``: store a Check-my-work result
``datasets``                               GET     ``{"cache_dir", "datasets": [DatasetRow]}``
``datasets/NAME/fetch``                    POST    start a fetch; GET: its :class:`~.schema.FetchJob`
``datasets/NAME/verify``                   POST    re-hash the cached files
``packs``                                  GET     offline course packs (``*.medimgpack``) in the course folder
``packs/import``                           POST    ``{"path"}``: verify a pack and install it into the cache
=========================================  ======  ===============================================

An unauthenticated request gets 403 (Jupyter's API handlers never redirect to a login page). Paths
are checked by :func:`~.safepaths.resolve_inside`; a bad one gets 400 with a one-line message.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from tornado import web

from ..errors import BadPathError, MedimgKernelError, UnknownDatasetError
from .course_index import classify_notebook, course_index
from .dataset_jobs import FetchJobs, find_packs, import_pack, registry_rows, verify_dataset
from .progress_store import ProgressStore
from .safepaths import resolve_inside

__all__ = ["handlers", "MedimgContext"]

AUTH_RESOURCE = "medimg"


class MedimgContext:
    """What the handlers share: the course folder, the progress record, fetch jobs and the cached env report."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        self.store = ProgressStore(self.root)
        self.jobs = FetchJobs()
        self._env: dict[str, Any] | None = None
        self._env_lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"MedimgContext(root={str(self.root)!r})"

    async def env(self, refresh: bool = False) -> dict[str, Any]:
        """The environment status (computed once in a worker thread: it imports torch)."""
        async with self._env_lock:
            if self._env is None or refresh:
                self._env = await asyncio.get_running_loop().run_in_executor(None, _env_status)
        return self._env


def _env_status() -> dict[str, Any]:
    from ..runtime.envinfo import _problems, environment_report, format_report

    rep = environment_report()
    gpu = rep["gpu"]
    return {"device": rep["device"], "precision": rep["precision"], "memory_format": rep["memory_format"],
            "threads": rep["threads"], "tier": rep["tier"]["name"],
            "gpu": None if not gpu else {"name": gpu.get("name"), "memory_gb": gpu.get("memory_gb")},
            "problems": _problems(rep), "report": format_report(rep)}


class _Base(APIHandler):
    auth_resource = AUTH_RESOURCE

    def initialize(self, ctx: MedimgContext) -> None:
        self.ctx = ctx

    def _reply(self, doc: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(doc))

    def _fail(self, status: int, message: str) -> None:
        self._reply({"message": message}, status)

    def _body(self) -> dict[str, Any]:
        try:
            doc = json.loads(self.request.body or b"{}")
        except ValueError as err:
            raise web.HTTPError(400, "the request body must be JSON") from err
        if not isinstance(doc, dict):
            raise web.HTTPError(400, "the request body must be a JSON object")
        return doc

    def _notebook(self, rel: Any) -> Path:
        path = resolve_inside(self.ctx.root, rel if isinstance(rel, str) else "")
        if path.suffix != ".ipynb" or not path.is_file():
            raise BadPathError(f"{rel!r} is not a notebook in the course folder")
        return path


class StatusHandler(_Base):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self._reply(await self.ctx.env(refresh=self.get_argument("refresh", "") == "1"))


class CourseHandler(_Base):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        env = await self.ctx.env()
        self._reply(course_index(self.ctx.root, self.ctx.store, tier=env["tier"]))


class NotebookHandler(_Base):
    @web.authenticated
    @authorized
    def get(self) -> None:
        try:
            self._reply(classify_notebook(self.ctx.root, self._notebook(self.get_argument("path", ""))))
        except BadPathError as err:
            self._fail(400, str(err))


class OpenedHandler(_Base):
    @web.authenticated
    @authorized
    def post(self) -> None:
        try:
            path = self._notebook(self._body().get("path"))
        except BadPathError as err:
            return self._fail(400, str(err))
        info = classify_notebook(self.ctx.root, path)
        if info["kind"] is not None:
            self.ctx.store.mark_opened(info["path"])
        self._reply(info)


class SelfCheckHandler(_Base):
    @web.authenticated
    @authorized
    def post(self) -> None:
        body = self._body()
        try:
            path = self._notebook(body.get("path"))
        except BadPathError as err:
            return self._fail(400, str(err))
        res = body.get("result")
        keys = ("passed", "failed", "total")
        if not isinstance(res, dict) or not all(isinstance(res.get(k), int) and res[k] >= 0 for k in keys):
            return self._fail(400, "result must hold non-negative integers passed, failed and total")
        clean = {k: res[k] for k in keys}
        clean["score"] = res["passed"] / res["total"] if res["total"] else 0.0
        clean["seconds"] = float(res.get("seconds") or 0.0)
        clean["exercises"] = [
            {"name": str(e.get("name", ""))[:200], "passed": bool(e.get("passed"))}
            for e in res.get("exercises", []) if isinstance(e, dict)
        ][:100]
        info = classify_notebook(self.ctx.root, path)
        self._reply(self.ctx.store.record_selfcheck(info["path"], clean))


class DatasetsHandler(_Base):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        try:
            rows = await asyncio.get_running_loop().run_in_executor(None, registry_rows)
        except MedimgKernelError as err:
            return self._fail(500, str(err))
        self._reply(rows)


class FetchHandler(_Base):
    @web.authenticated
    @authorized
    def get(self, name: str) -> None:
        try:
            self._reply(self.ctx.jobs.status(name))
        except UnknownDatasetError as err:
            self._fail(404, str(err))

    @web.authenticated
    @authorized
    def post(self, name: str) -> None:
        try:
            self._reply(self.ctx.jobs.start(name), 202)
        except UnknownDatasetError as err:
            self._fail(404, str(err))


class VerifyHandler(_Base):
    @web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        try:
            out = await asyncio.get_running_loop().run_in_executor(None, verify_dataset, name)
        except UnknownDatasetError as err:
            return self._fail(404, str(err))
        except MedimgKernelError as err:
            return self._fail(400, str(err))
        self._reply(out)


class PacksHandler(_Base):
    @web.authenticated
    @authorized
    def get(self) -> None:
        self._reply({"packs": find_packs(self.ctx.root)})


class PackImportHandler(_Base):
    @web.authenticated
    @authorized
    async def post(self) -> None:
        rel = self._body().get("path")
        try:
            path = resolve_inside(self.ctx.root, rel if isinstance(rel, str) else "")
            if not path.is_file():
                raise BadPathError(f"{rel!r} is not a file in the course folder")
        except BadPathError as err:
            return self._fail(400, str(err))
        try:
            out = await asyncio.get_running_loop().run_in_executor(None, import_pack, path)
        except MedimgKernelError as err:
            return self._fail(400, str(err).splitlines()[0])
        self._reply(out)


def handlers(base_url: str, ctx: MedimgContext) -> list[tuple[str, type, dict[str, Any]]]:
    """The URL specs to add to the server's web application."""
    from jupyter_server.utils import url_path_join

    name = r"([a-z0-9][a-z0-9_.+-]*)"
    routes: list[tuple[str, type]] = [
        ("status", StatusHandler),
        ("course", CourseHandler),
        ("notebook", NotebookHandler),
        ("progress/opened", OpenedHandler),
        ("progress/selfcheck", SelfCheckHandler),
        ("datasets", DatasetsHandler),
        (f"datasets/{name}/fetch", FetchHandler),
        (f"datasets/{name}/verify", VerifyHandler),
        ("packs", PacksHandler),
        ("packs/import", PackImportHandler),
    ]
    return [(url_path_join(base_url, "medimg", path), cls, {"ctx": ctx}) for path, cls in routes]
