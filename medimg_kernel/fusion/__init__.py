"""Multimodal fusion: early (channels), intermediate (feature) and late (decision) fusion, with survival
analysis for outcome prediction.

* :mod:`.geometry` and :mod:`.early` — one voxel grid per patient, checked or explicitly resampled;
  modalities stacked as channels (:func:`stack_modalities`, :class:`EarlyFusion`).
* :mod:`.registration` — rigid then affine registration by mutual information (SimpleITK), a simulated
  patient movement and the target registration error (:func:`register`, :func:`misalign`).
* :mod:`.tabular` and :mod:`.encoders` — clinical/genomic tables validated column by column; MLP and
  CNN encoders.
* :mod:`.intermediate` and :mod:`.dropout` — :class:`FeatureFusion` (concat or attention) with
  :class:`ModalityDropout`.
* :mod:`.late` — :class:`LateFusion` (mean, weighted, stacking), predicting with a modality missing.
* :mod:`.survival` — Cox loss, Harrell's and Uno's C-index (scikit-survival), Kaplan–Meier plots
  (lifelines), bootstrap CIs.

Every model takes ``x`` as a dict of tensors, so it plugs into ``mk.Trainer`` as ``model(x)``.
"""

from __future__ import annotations

from ..data.geometry import Geometry, check_same_geometry, resample_to
from ._errors import MetricUndefinedError, MissingModalityError, TabularDataError
from .dropout import ModalityDropout
from .early import EarlyFusion, stack_modalities
from .encoders import ImageEncoder, TabularEncoder
from .features import region_features
from .intermediate import AttentionFusion, ConcatFusion, FeatureFusion
from .late import STRATEGIES, LateFusion
from .registration import RegistrationResult, misalign, register, target_registration_error
from .survival import (
    BootstrapResult,
    CoxPHLoss,
    bootstrap_ci,
    c_index_metric,
    c_index_table,
    check_survival_data,
    cox_ph_loss,
    harrell_c_index,
    plot_km_risk_groups,
    risk_groups,
    survival_targets,
    uno_c_index,
)
from .tabular import TabularPreprocessor, table_to_array

__all__ = [
    "Geometry",
    "check_same_geometry",
    "resample_to",
    "stack_modalities",
    "EarlyFusion",
    "TabularPreprocessor",
    "table_to_array",
    "TabularEncoder",
    "ImageEncoder",
    "region_features",
    "ModalityDropout",
    "ConcatFusion",
    "AttentionFusion",
    "FeatureFusion",
    "LateFusion",
    "STRATEGIES",
    "register",
    "misalign",
    "RegistrationResult",
    "target_registration_error",
    "cox_ph_loss",
    "CoxPHLoss",
    "survival_targets",
    "harrell_c_index",
    "uno_c_index",
    "c_index_metric",
    "check_survival_data",
    "risk_groups",
    "plot_km_risk_groups",
    "bootstrap_ci",
    "BootstrapResult",
    "c_index_table",
    "TabularDataError",
    "MetricUndefinedError",
    "MissingModalityError",
]
