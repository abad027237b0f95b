"""Chunked storage: NIfTI volumes to Zarr v3 (or OME-Zarr 0.5 multiscales) and back, bit for bit.

A plain store is one Zarr array of the volume in its own dtype and voxel order, with the affine in the
array's attributes (``medimg.affine``). An OME-Zarr store (``ome=True``) is a group written by
``ome-zarr`` with axes ``z, y, x`` in millimetres and a pyramid; level ``s0`` holds the full-resolution
volume and the group keeps the affine the same way. Either reads back as a lazily chunked ``dask.array``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import ShapeMismatchError

__all__ = ["to_zarr", "from_zarr", "open_dask", "cohort_to_zarr", "read_cohort"]


def _load_volume(source: Any, storage_options: Mapping[str, Any] | None) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(source, (str, os.PathLike)):
        import gzip

        import nibabel as nib

        from .storage import filesystem

        fs, p = filesystem(str(source), storage_options)
        with fs.open(p, "rb") as raw:
            f = gzip.GzipFile(fileobj=raw) if p.lower().endswith(".gz") else raw
            fh = nib.FileHolder(fileobj=f)
            img = nib.Nifti1Image.from_file_map({"header": fh, "image": fh})
            return np.asanyarray(img.dataobj), np.asarray(img.affine, float)
    if hasattr(source, "dataobj"):  # a nibabel image
        return np.asanyarray(source.dataobj), np.asarray(source.affine, float)
    return np.asarray(source), np.eye(4)


def _store(url: str, storage_options: Mapping[str, Any] | None) -> Any:
    if "://" in str(url):
        from zarr.storage import FsspecStore

        return FsspecStore.from_url(str(url), storage_options=dict(storage_options or {}))
    return str(url)


def to_zarr(source: Any, store: str | os.PathLike, *, affine: np.ndarray | None = None,
            chunks: Sequence[int] = (64, 64, 64), ome: bool = False,
            storage_options: Mapping[str, Any] | None = None) -> str:
    """Write a volume (NIfTI path, nibabel image or array) to a Zarr store; returns the store path.

    The voxel values keep their dtype and order exactly (NaN included). ``ome=True`` writes OME-Zarr
    (``z, y, x`` in mm, two pyramid levels) for viewers such as napari or NiiVue.
    """
    import zarr

    data, aff = _load_volume(source, storage_options)
    if affine is not None:
        aff = np.asarray(affine, float)
    chunks = tuple(int(min(c, s)) for c, s in zip(chunks, data.shape)) + tuple(data.shape[len(chunks):])
    attrs = {"medimg": {"affine": aff.tolist(), "layout": "ome-zyx" if ome else "xyz"}}
    target = _store(str(store), storage_options)
    if not ome:
        arr = zarr.create_array(store=target, shape=data.shape, chunks=chunks, dtype=data.dtype, overwrite=True)
        arr[...] = data
        arr.attrs.update(attrs)
        return str(store)
    if data.ndim != 3:
        raise ShapeMismatchError(f"OME-Zarr export takes a 3D volume, got shape {data.shape}")
    from ome_zarr.writer import write_image

    spacing = np.sqrt((aff[:3, :3] ** 2).sum(axis=0))
    group = zarr.open_group(target, mode="w")
    write_image(np.ascontiguousarray(data.transpose(2, 1, 0)), group, axes="zyx", scale_factors=(2,),
                scale={"z": float(spacing[2]), "y": float(spacing[1]), "x": float(spacing[0])},
                axes_units={"z": "millimeter", "y": "millimeter", "x": "millimeter"},
                storage_options={"chunks": chunks[::-1]})
    group.attrs.update(attrs)
    return str(store)


def _open(store: str | os.PathLike, storage_options: Mapping[str, Any] | None) -> tuple[Any, np.ndarray, bool]:
    import zarr

    node = zarr.open(_store(str(store), storage_options), mode="r")
    meta = dict(node.attrs).get("medimg", {})
    ome = meta.get("layout") == "ome-zyx"
    arr = node["s0"] if isinstance(node, zarr.Group) else node
    return arr, np.asarray(meta.get("affine", np.eye(4)), float), ome


def from_zarr(store: str | os.PathLike, *, storage_options: Mapping[str, Any] | None = None
              ) -> tuple[np.ndarray, np.ndarray]:
    """Read a store written by :func:`to_zarr` back into ``(volume, affine)`` (x, y, z voxel order)."""
    arr, aff, ome = _open(store, storage_options)
    data = arr[...]
    return (np.ascontiguousarray(data.transpose(2, 1, 0)) if ome else data), aff


def open_dask(store: str | os.PathLike, *, storage_options: Mapping[str, Any] | None = None) -> Any:
    """The volume of a store as a lazily chunked ``dask.array`` (x, y, z); nothing is read until computed."""
    import dask.array as da

    arr, _, ome = _open(store, storage_options)
    d = da.from_zarr(arr)
    return d.transpose(2, 1, 0) if ome else d


def cohort_to_zarr(paths: Sequence[str], root: str | os.PathLike, *, client: Any | None = None,
                   chunks: Sequence[int] = (64, 64, 64), ome: bool = False, progress: bool = True,
                   storage_options: Mapping[str, Any] | None = None) -> list[str]:
    """Convert NIfTI files to one Zarr store each under ``root`` (as Dask tasks); returns the store paths."""
    from .engine import map_tasks
    from .storage import StorageOptions

    root = str(root).rstrip("/")
    items = [{"src": str(p), "dst": f"{root}/{i:05d}_{str(p).rsplit('/', 1)[-1].split('.')[0]}.zarr"}
             for i, p in enumerate(paths)]
    return map_tasks(_convert_one, items, client=client, progress=progress, desc="to zarr", chunks=tuple(chunks),
                     ome=ome, storage_options=StorageOptions(storage_options) if storage_options else None)


def _convert_one(item: Mapping[str, str], *, chunks: Sequence[int], ome: bool,
                 storage_options: Mapping[str, Any] | None) -> str:
    return to_zarr(item["src"], item["dst"], chunks=chunks, ome=ome, storage_options=storage_options)


def read_cohort(stores: Sequence[str], *, storage_options: Mapping[str, Any] | None = None) -> Any:
    """Stack same-shaped stores into one lazy ``dask.array`` of shape ``(n_scans, x, y, z)``."""
    import dask.array as da

    arrays = [open_dask(s, storage_options=storage_options) for s in stores]
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise ShapeMismatchError(f"the stores have {len(shapes)} different shapes ({sorted(shapes)[:3]}...): "
                                 "resample to one grid first or read them one by one with open_dask")
    return da.stack(arrays)
