"""Networks for the course: a factory over MONAI architectures and transfer-learning helpers."""

from __future__ import annotations

from .factory import ModelSpec, available_models, build_model, model_info
from .transfer import (
    LoadReport,
    adapt_input_channels,
    discriminative_param_groups,
    find_head,
    first_conv,
    freeze,
    load_weights,
    model_stages,
    register_checkpoint,
    registered_checkpoints,
    replace_head,
    unfreeze,
)

__all__ = [
    "ModelSpec", "available_models", "build_model", "model_info", "LoadReport", "adapt_input_channels",
    "discriminative_param_groups", "find_head", "first_conv", "freeze", "load_weights", "model_stages",
    "register_checkpoint", "registered_checkpoints", "replace_head", "unfreeze",
]
