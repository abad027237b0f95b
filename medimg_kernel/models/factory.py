"""Model factory: one call builds a MONAI network (or a small course network) for 2D or 3D data.

``build_model("densenet121", spatial_dims=2, in_channels=1, out_channels=6)`` returns a plain
``torch.nn.Module``. Every builder takes the same four arguments; extra keywords go to the network's
constructor, so MONAI's documentation applies unchanged. Weights come only from the registry
(``pretrained=NAME``, see :mod:`.pretrained`) or a local file (:func:`~medimg_kernel.models.transfer.load_weights`),
never from a library's own download.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError

__all__ = ["build_model", "available_models", "model_info", "ModelSpec"]


@dataclass(frozen=True)
class ModelSpec:
    """A registered architecture: its task, a short description and its builder."""

    name: str
    task: str  # "classification" | "segmentation"
    description: str
    builder: Callable[..., Any]


def _densenet121(spatial_dims: int, in_channels: int, out_channels: int, **kw: Any) -> Any:
    from monai.networks.nets import DenseNet121

    return DenseNet121(spatial_dims=spatial_dims, in_channels=in_channels, out_channels=out_channels, **kw)


def _resnet(depth: int) -> Callable[..., Any]:
    def build(spatial_dims: int, in_channels: int, out_channels: int, **kw: Any) -> Any:
        from monai.networks import nets

        kw.setdefault("pretrained", False)  # MONAI must never download: weights come from the registry
        return getattr(nets, f"resnet{depth}")(
            spatial_dims=spatial_dims, n_input_channels=in_channels, num_classes=out_channels, **kw
        )

    return build


def _efficientnet(spatial_dims: int, in_channels: int, out_channels: int, **kw: Any) -> Any:
    from monai.networks.nets import EfficientNetBN

    variant = kw.pop("variant", "efficientnet-b0")
    return EfficientNetBN(variant, pretrained=False, spatial_dims=spatial_dims, in_channels=in_channels,
                          num_classes=out_channels, **kw)


def _unet(spatial_dims: int, in_channels: int, out_channels: int, **kw: Any) -> Any:
    from monai.networks.nets import UNet

    kw.setdefault("channels", (16, 32, 64, 128, 256))
    kw.setdefault("strides", (2,) * (len(kw["channels"]) - 1))
    kw.setdefault("num_res_units", 2)
    kw.setdefault("norm", "batch")
    return UNet(spatial_dims=spatial_dims, in_channels=in_channels, out_channels=out_channels, **kw)


def _tinyunet(spatial_dims: int, in_channels: int, out_channels: int, **kw: Any) -> Any:
    kw.setdefault("channels", (8, 16, 32))
    kw.setdefault("num_res_units", 0)
    return _unet(spatial_dims, in_channels, out_channels, **kw)


def _segresnet(spatial_dims: int, in_channels: int, out_channels: int, **kw: Any) -> Any:
    from monai.networks.nets import SegResNet

    kw.setdefault("init_filters", 16)
    return SegResNet(spatial_dims=spatial_dims, in_channels=in_channels, out_channels=out_channels, **kw)


def _swinunetr(spatial_dims: int, in_channels: int, out_channels: int, **kw: Any) -> Any:
    from monai.networks.nets import SwinUNETR

    kw.setdefault("feature_size", 24)
    kw.pop("img_size", None)  # removed from MONAI >= 1.5; the network accepts any size divisible by 32
    return SwinUNETR(in_channels=in_channels, out_channels=out_channels, spatial_dims=spatial_dims, **kw)


def _unetr(spatial_dims: int, in_channels: int, out_channels: int, **kw: Any) -> Any:
    from monai.networks.nets import UNETR

    if "img_size" not in kw:
        raise ConfigError("unetr needs img_size=(...) (the training patch size, e.g. (96, 96, 96)), "
                          "because its patch embedding is fixed at build time")
    return UNETR(in_channels=in_channels, out_channels=out_channels, spatial_dims=spatial_dims, **kw)


def _simplecnn(spatial_dims: int, in_channels: int, out_channels: int, **kw: Any) -> Any:
    from .small import SimpleCNN

    return SimpleCNN(spatial_dims=spatial_dims, in_channels=in_channels, out_channels=out_channels, **kw)


_REGISTRY: dict[str, ModelSpec] = {}


def _register(name: str, task: str, description: str, builder: Callable[..., Any]) -> None:
    _REGISTRY[name] = ModelSpec(name, task, description, builder)


_register("simplecnn", "classification", "3-stage conv net, ~10k parameters (smoke tier, tests)", _simplecnn)
_register("densenet121", "classification", "MONAI DenseNet121 (7M parameters)", _densenet121)
_register("resnet18", "classification", "MONAI ResNet-18 (11M parameters in 2D)", _resnet(18))
_register("resnet34", "classification", "MONAI ResNet-34", _resnet(34))
_register("resnet50", "classification", "MONAI ResNet-50 (bottleneck blocks)", _resnet(50))
_register("efficientnet-b0", "classification", "MONAI EfficientNetBN b0 (no download; variant=...)",
          _efficientnet)
_register("tinyunet", "segmentation", "MONAI UNet 8-16-32, no residual units (smoke tier, tests)", _tinyunet)
_register("unet", "segmentation", "MONAI UNet 16-32-64-128-256, 2 residual units per level", _unet)
_register("segresnet", "segmentation", "MONAI SegResNet (init_filters=16)", _segresnet)
_register("swinunetr", "segmentation", "MONAI SwinUNETR (feature_size=24; sizes divisible by 32)", _swinunetr)
_register("unetr", "segmentation", "MONAI UNETR (needs img_size=the patch size)", _unetr)

_ALIASES = {"densenet": "densenet121", "efficientnet": "efficientnet-b0", "resnet": "resnet18",
            "cnn": "simplecnn", "simple_cnn": "simplecnn", "tiny_unet": "tinyunet", "swin_unetr": "swinunetr"}


def available_models(task: str | None = None) -> list[str]:
    """Return the registered model names, optionally only those for ``task``."""
    return sorted(n for n, s in _REGISTRY.items() if task is None or s.task == task)


def model_info(name: str) -> ModelSpec:
    """Return the :class:`ModelSpec` of ``name``; the error lists the valid names."""
    key = _ALIASES.get(name.lower(), name.lower())
    try:
        return _REGISTRY[key]
    except KeyError:
        raise ConfigError(f"unknown model {name!r}: choose one of {', '.join(available_models())}") from None


def build_model(name: str, spatial_dims: int = 2, in_channels: int = 1, out_channels: int = 2, **kw: Any) -> Any:
    """Build the network ``name`` for ``spatial_dims``-D inputs with the given channel counts.

    Parameters
    ----------
    name
        One of :func:`available_models` (e.g. ``"densenet121"``, ``"resnet18"``, ``"unet"``).
    spatial_dims
        2 for images, 3 for volumes.
    in_channels, out_channels
        Input channels (modalities) and outputs (classes, or segmentation labels incl. background).
    **kw
        Passed to the network's constructor (e.g. ``channels=``/``strides=`` for UNet). ``pretrained=NAME``
        (a registered weights entry, ``medimg data list``) or ``pretrained=True`` (the one entry for this
        model and dimension) builds the weights' architecture and loads them, fetched and hash-checked like
        data; tensors of another shape (a new head) keep their fresh initialisation and are listed in
        ``model.medimg_pretrained["skipped"]``.

    Returns
    -------
    torch.nn.Module
        A freshly initialised network, or one holding the published weights.

    Examples
    --------
    >>> net = build_model("simplecnn", 2, 1, 3)
    >>> type(net).__name__
    'SimpleCNN'
    """
    spec = model_info(name)
    if spatial_dims not in (2, 3):
        raise ConfigError(f"spatial_dims must be 2 or 3, got {spatial_dims!r}")
    if in_channels < 1 or out_channels < 1:
        raise ConfigError(f"in_channels and out_channels must be >= 1, got {in_channels} and {out_channels}")
    pretrained = kw.pop("pretrained", False)
    entry = None
    if pretrained:
        from .pretrained import architecture_kwargs, resolve_pretrained

        entry = resolve_pretrained(pretrained, spec.name, spatial_dims)
        kw = architecture_kwargs(entry, kw)
    model = spec.builder(spatial_dims, int(in_channels), int(out_channels), **kw)
    model.medimg_spec = {"name": spec.name, "task": spec.task, "spatial_dims": spatial_dims,
                         "in_channels": int(in_channels), "out_channels": int(out_channels)}
    if entry is not None:
        from .pretrained import checkpoint_path
        from .transfer import load_weights

        report = load_weights(model, checkpoint_path(entry))
        if not report.loaded:
            from ..errors import CheckpointError

            raise CheckpointError(f"weights {entry.name!r}: no tensor matched {spec.name!r}; {report!r}")
        model.medimg_pretrained = {"weights": entry.name, "loaded": len(report.loaded),
                                   "skipped": report.shape_mismatch + report.missing}
    return model
