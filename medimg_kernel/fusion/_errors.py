"""Errors specific to fusion and survival analysis (both are also :class:`MedimgKernelError`)."""

from __future__ import annotations

from ..errors import MedimgKernelError

__all__ = ["TabularDataError", "MetricUndefinedError", "MissingModalityError"]


class TabularDataError(MedimgKernelError, ValueError):
    """A clinical/genomic table lacks a column, or a column is not numeric or holds missing values."""


class MetricUndefinedError(MedimgKernelError, ValueError):
    """A metric cannot be computed on this data (all censored, no comparable pairs, cohort too small)."""


class MissingModalityError(MedimgKernelError, KeyError):
    """A model needs a modality the input does not provide."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""
