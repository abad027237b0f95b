"""The dataset registry: YAML files in ``datasets/`` (one per family), validated when loaded.

Entries come from, in order (a later entry with the same name replaces an earlier one, with a log
message): the registry shipped with the package, every file in ``$MEDIMG_REGISTRY`` (paths separated
by ``os.pathsep``; a folder means all its ``*.yaml``), and manifest files passed explicitly
(``--manifest FILE``). The schema is documented in ``datasets/README.md``.
"""

from __future__ import annotations

import functools
import logging
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import RegistryError, UnknownDatasetError

__all__ = [
    "DatasetEntry",
    "FileEntry",
    "registry",
    "datasets",
    "dataset_info",
    "registry_dirs",
    "load_manifest",
    "redefinitions",
    "SOURCES",
    "loader_names",
]

log = logging.getLogger(__name__)

SOURCES = ("remote", "package", "synthetic", "bucket")
_HASH_LEN = {"md5": 32, "sha1": 40, "sha256": 64}
_ENTRY_KEYS = {
    "name",
    "title",
    "source",
    "modality",
    "task",
    "labels",
    "splits",
    "files",
    "license",
    "citation",
    "homepage",
    "loader",
    "options",
    "description",
    "dims",
    "tags",
}
_REQUIRED = ("name", "title", "source", "modality", "task", "license", "loader")
_FILE_KEYS = {"filename", "urls", "md5", "sha1", "sha256", "size", "extract"}
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.+-]*$")


@dataclass(frozen=True)
class FileEntry:
    """One downloadable file: name in the cache, URLs (origin first), hashes, size and extraction flag."""

    filename: str
    urls: tuple[str, ...]
    hashes: dict[str, str]
    size: int | None = None
    extract: bool = False

    @property
    def known_hash(self) -> str:
        """The strongest hash as ``"alg:hex"`` (sha256 preferred over sha1 over md5)."""
        for alg in ("sha256", "sha1", "md5"):
            if alg in self.hashes:
                return f"{alg}:{self.hashes[alg]}"
        raise RegistryError(f"file {self.filename!r} has no hash")  # unreachable after validation

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, as in the YAML."""
        out: dict[str, Any] = {"filename": self.filename, "urls": list(self.urls), **self.hashes}
        if self.size is not None:
            out["size"] = self.size
        if self.extract:
            out["extract"] = True
        return out


@dataclass(frozen=True)
class DatasetEntry:
    """A validated registry entry (see ``datasets/README.md`` for every field)."""

    name: str
    title: str
    source: str
    modality: str
    task: str
    license: str
    loader: str
    labels: tuple[str, ...] = ()
    splits: dict[str, Any] = field(default_factory=dict)
    files: tuple[FileEntry, ...] = ()
    citation: str = ""
    homepage: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    dims: int | None = None
    tags: tuple[str, ...] = ()
    origin: str = ""  # registry file it came from

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form of the entry (files as dicts)."""
        return {
            "name": self.name,
            "title": self.title,
            "source": self.source,
            "modality": self.modality,
            "task": self.task,
            "labels": list(self.labels),
            "splits": dict(self.splits),
            "files": [f.to_dict() for f in self.files],
            "license": self.license,
            "citation": self.citation,
            "homepage": self.homepage,
            "loader": self.loader,
            "options": dict(self.options),
            "description": self.description,
            "dims": self.dims,
            "tags": list(self.tags),
            "registry_file": self.origin,
        }


def loader_names() -> tuple[str, ...]:
    """The loader names an entry may use: the keys of :data:`medimg_kernel.data.loaders.LOADERS`."""
    from .loaders import LOADERS

    return tuple(LOADERS)


def __getattr__(name: str) -> object:  # ``LOADERS`` (the names) is read from the loader table
    if name == "LOADERS":
        return loader_names()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _fail(where: str, msg: str) -> RegistryError:
    return RegistryError(f"{where}: {msg} (schema: datasets/README.md)")


def _parse_file(raw: Any, where: str) -> FileEntry:
    if not isinstance(raw, dict):
        raise _fail(where, f"a file must be a mapping with filename/urls/hash, got {type(raw).__name__}")
    unknown = set(raw) - _FILE_KEYS
    if unknown:
        raise _fail(where, f"unknown file key(s) {sorted(unknown)}; valid: {sorted(_FILE_KEYS)}")
    fname = raw.get("filename")
    if not isinstance(fname, str) or not fname or "/" in fname or "\\" in fname or fname in (".", ".."):
        raise _fail(where, f"filename must be a plain file name, got {fname!r}")
    urls = raw.get("urls")
    if isinstance(urls, str):
        urls = [urls]
    if not urls or not all(isinstance(u, str) and re.match(r"^(https?|ftp|file)://", u) for u in urls):
        raise _fail(
            where, f"file {fname!r}: urls must be a non-empty list of http(s)/ftp/file URLs, got {urls!r}"
        )
    hashes: dict[str, str] = {}
    for alg, length in _HASH_LEN.items():
        if alg in raw:
            value = str(raw[alg]).lower()
            if not re.fullmatch(rf"[0-9a-f]{{{length}}}", value):
                raise _fail(where, f"file {fname!r}: {alg} must be {length} hex digits, got {raw[alg]!r}")
            hashes[alg] = value
    if not hashes:
        raise _fail(where, f"file {fname!r} needs md5 and/or sha256 (pin one with `pooch.file_hash`)")
    size = raw.get("size")
    if size is not None and (not isinstance(size, int) or size < 0):
        raise _fail(where, f"file {fname!r}: size must be a byte count, got {size!r}")
    return FileEntry(fname, tuple(urls), hashes, size, bool(raw.get("extract", False)))


def _parse_entry(raw: Any, where: str) -> DatasetEntry:
    if not isinstance(raw, dict):
        raise _fail(where, f"an entry must be a mapping, got {type(raw).__name__}")
    name = raw.get("name", "?")
    where = f"{where} [{name}]"
    unknown = set(raw) - _ENTRY_KEYS
    if unknown:
        raise _fail(where, f"unknown key(s) {sorted(unknown)}; valid: {sorted(_ENTRY_KEYS)}")
    missing = [k for k in _REQUIRED if not raw.get(k)]
    if missing:
        raise _fail(where, f"missing required key(s) {missing}")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise _fail(where, "name must be lower-case letters, digits and - _ . +")
    if raw["source"] not in SOURCES:
        raise _fail(where, f"source must be one of {list(SOURCES)}, got {raw['source']!r}")
    loaders = loader_names()
    if raw["loader"] not in loaders:
        raise _fail(where, f"loader must be one of {list(loaders)}, got {raw['loader']!r}")
    files = tuple(_parse_file(f, where) for f in raw.get("files") or [])
    if raw["source"] == "remote" and not files:
        raise _fail(where, "a remote dataset needs at least one entry under files")
    if len({f.filename for f in files}) != len(files):
        raise _fail(where, "file names must be unique within a dataset")
    options = raw.get("options") or {}
    if not isinstance(options, dict):
        raise _fail(where, f"options must be a mapping, got {options!r}")
    if raw["source"] == "synthetic" and "generator" not in options:
        raise _fail(where, "a synthetic dataset needs options.generator (a registered generator name)")
    if raw["source"] == "bucket":
        series = options.get("series")
        if not options.get("bucket") or not isinstance(series, list) or not series:
            raise _fail(where, "a bucket dataset needs options.bucket and options.series (a non-empty list)")
        for s in series:
            if not isinstance(s, dict) or not {"folder", "series_uid", "instances"} <= set(s):
                raise _fail(where, f"every options.series entry needs folder, series_uid and instances, got {s!r}")
    if raw["source"] == "package" and "sample" not in options and "table" not in options:
        raise _fail(where, "a package dataset needs options.sample (a shipped sample name) or options.table "
                           "(a survival table scikit-survival ships)")
    splits = raw.get("splits") or {}
    if not isinstance(splits, dict):
        raise _fail(where, f"splits must be a mapping of split name to size or fraction, got {splits!r}")
    labels = raw.get("labels") or []
    if not isinstance(labels, list):
        raise _fail(where, f"labels must be a list of class names, got {labels!r}")
    return DatasetEntry(
        name=name,
        title=str(raw["title"]),
        source=raw["source"],
        modality=str(raw["modality"]),
        task=str(raw["task"]),
        license=str(raw["license"]),
        loader=raw["loader"],
        labels=tuple(str(x) for x in labels),
        splits=dict(splits),
        files=files,
        citation=str(raw.get("citation", "")).strip(),
        homepage=str(raw.get("homepage", "")),
        options=dict(options),
        description=str(raw.get("description", "")).strip(),
        dims=raw.get("dims"),
        tags=tuple(raw.get("tags") or ()),
        origin=where.split(" [")[0],
    )


def load_manifest(path: str | os.PathLike[str]) -> list[DatasetEntry]:
    """Read and validate one registry/manifest YAML file (``datasets: [...]`` or a bare list)."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise RegistryError(f"cannot read registry file {path}: {err.strerror}; check the path") from err
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise RegistryError(f"{path}: not valid YAML ({err})") from err
    raw_entries = doc.get("datasets") if isinstance(doc, dict) else doc
    if not isinstance(raw_entries, list):
        raise _fail(str(path), "the file must hold a top-level 'datasets:' list")
    entries = [_parse_entry(e, str(path)) for e in raw_entries]
    seen: set[str] = set()
    for e in entries:
        if e.name in seen:
            raise _fail(str(path), f"dataset {e.name!r} appears twice")
        seen.add(e.name)
    return entries


def registry_dirs() -> list[Path]:
    """Folders searched for the shipped registry: the package copy, then the source checkout's ``datasets/``."""
    pkg = Path(__file__).resolve().parents[1]
    return [d for d in (pkg / "_datasets", pkg.parent / "datasets") if d.is_dir()]


def _expand(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        p = Path(p).expanduser()
        if p.is_dir():
            out.extend(sorted(p.glob("*.yaml")) + sorted(p.glob("*.yml")))
        else:
            out.append(p)
    return out


@functools.lru_cache(maxsize=16)
def _registry_cached(files: tuple[tuple[str, int], ...]) -> dict[str, DatasetEntry]:
    reg: dict[str, DatasetEntry] = {}
    for f, _mtime in files:
        for entry in load_manifest(f):
            if entry.name in reg:
                log.info(
                    "registry: %s from %s replaces the entry from %s", entry.name, f, reg[entry.name].origin
                )
            reg[entry.name] = entry
    return reg


def _registry_files(manifests: Sequence[str | os.PathLike[str]]) -> list[Path]:
    dirs = registry_dirs()
    if not dirs:
        raise RegistryError(
            "the dataset registry (datasets/*.yaml) is missing from this installation; reinstall medimg-kernel"
        )
    env = os.environ.get("MEDIMG_REGISTRY", "")
    return _expand(dirs[:1]) + _expand([p for p in env.split(os.pathsep) if p]) + _expand(manifests)


def registry(manifests: Sequence[str | os.PathLike[str]] = ()) -> dict[str, DatasetEntry]:
    """Return ``{name: DatasetEntry}`` from the shipped registry, ``$MEDIMG_REGISTRY`` and ``manifests``.

    Parsed files are cached per process and re-read when their modification time changes.
    """
    key = []
    for f in _registry_files(manifests):
        try:
            key.append((str(f.resolve()), f.stat().st_mtime_ns))
        except OSError:
            key.append((str(f), -1))  # load_manifest reports the unreadable file
    return _registry_cached(tuple(key))


def redefinitions(manifests: Sequence[str | os.PathLike[str]] = ()) -> dict[str, tuple[str, str]]:
    """Return ``{name: (file that redefines it, what it replaces)}`` for datasets a user manifest redefines.

    User manifests are ``$MEDIMG_REGISTRY`` and ``manifests``; "what it replaces" is the shipped registry file
    or an earlier user manifest.
    """
    seen: dict[str, str] = {}
    out: dict[str, tuple[str, str]] = {}
    shipped = set(map(str, _expand(registry_dirs()[:1])))
    for f in _registry_files(manifests):
        for entry in load_manifest(f):
            if entry.name in seen and str(f) not in shipped:
                old = seen[entry.name]
                out[entry.name] = (str(f), "the shipped entry" if old in shipped else old)
            seen[entry.name] = str(f)
    return out


def datasets(manifests: Sequence[str | os.PathLike[str]] = (), *, source: str | None = None) -> list[str]:
    """Return the sorted names of every registered dataset (optionally only one ``source`` kind)."""
    return sorted(n for n, e in registry(manifests).items() if source is None or e.source == source)


def dataset_info(name: str, manifests: Sequence[str | os.PathLike[str]] = ()) -> DatasetEntry:
    """Return the registry entry for ``name``; an unknown name raises with close matches listed."""
    reg = registry(manifests)
    try:
        return reg[name]
    except KeyError:
        import difflib

        close = difflib.get_close_matches(name, reg, n=5, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}?" if close else "run `medimg data list` to see all names"
        raise UnknownDatasetError(f"unknown dataset {name!r}; {hint}") from None
