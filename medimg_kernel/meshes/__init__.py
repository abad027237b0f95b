"""Segmentations as surfaces: label map → mesh in world millimetres, checks, smoothing, decimation, export.

Public API
----------
``label_meshes(labels, affine=None, *, names=None, smooth=0, faces=None, image=None)``
    One :class:`LabelMesh` per label (scikit-image marching cubes), vertices in world RAS mm, faces wound
    outwards, watertight where the label is closed, coloured like the label in every viewer.
``label_mesh(labels, label, affine=None, ...)``
    The mesh of one label.
``smooth(mesh, iterations)``, ``decimate(mesh, faces)``, ``min_faces(mesh)``
    Volume-preserving smoothing (trimesh) and decimation to a face budget (fast_simplification).
``voxel_volume(labels, label, affine)``, ``surface_distance(a, b)``, ``apply_affine(mesh, affine)``
    Measurements: the voxel-count volume, symmetric surface distances (mean, HD95, Hausdorff).
``export_meshes(meshes, path)``
    GLB/glTF (headsets, AR, web), STL (3D printing), OBJ, PLY; millimetres and label names in the file.
``fsaverage(mesh="pial", hemi="left")``
    nilearn's fsaverage5 cortical surface (GIfTI, shipped offline) as a :class:`LabelMesh`.

trimesh and scikit-image load when a function is first called.
"""

from __future__ import annotations

from .._lazy import lazy_exports

__all__ = [
    "LabelMesh",
    "label_mesh",
    "label_meshes",
    "smooth",
    "decimate",
    "min_faces",
    "voxel_volume",
    "surface_distance",
    "apply_affine",
    "export_meshes",
    "EXPORT_FORMATS",
    "fsaverage",
]

_LAZY = {
    "LabelMesh": "labelmesh:LabelMesh",
    "label_mesh": "marching:label_mesh",
    "label_meshes": "marching:label_meshes",
    "smooth": "simplify:smooth",
    "decimate": "simplify:decimate",
    "min_faces": "simplify:min_faces",
    "voxel_volume": "measure:voxel_volume",
    "surface_distance": "measure:surface_distance",
    "apply_affine": "measure:apply_affine",
    "export_meshes": "export:export_meshes",
    "EXPORT_FORMATS": "export:EXPORT_FORMATS",
    "fsaverage": "surfaces:fsaverage",
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, listed=__all__)
