"""Exception hierarchy for medimg_kernel.

Every error the kit raises on purpose derives from :class:`MedimgKernelError`, so a notebook can catch
them all at once. Messages say what was expected, what was found and what to do next.
"""

from __future__ import annotations

__all__ = [
    "MedimgKernelError",
    "ConfigError",
    "UnknownDatasetError",
    "RegistryError",
    "ChecksumError",
    "DownloadError",
    "UnsafeArchiveError",
    "NoGPUError",
    "ShapeMismatchError",
    "TrainingError",
    "CheckpointError",
]


class MedimgKernelError(Exception):
    """Base class of every error raised on purpose by medimg_kernel."""


class ConfigError(MedimgKernelError, ValueError):
    """A setting (tier, device, precision, option) has a value outside the valid choices."""


class UnknownDatasetError(MedimgKernelError, KeyError):
    """A dataset name is not in the registry."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class RegistryError(MedimgKernelError, ValueError):
    """A registry or manifest file does not follow the schema."""


class ChecksumError(MedimgKernelError):
    """A file's hash differs from the registry's."""


class DownloadError(MedimgKernelError):
    """A file could not be downloaded from any mirror or origin."""


class UnsafeArchiveError(MedimgKernelError):
    """An archive member would be written outside its folder, or is a link/device file."""


class NoGPUError(MedimgKernelError, RuntimeError):
    """A GPU device was requested on a machine that has none."""


class ShapeMismatchError(MedimgKernelError, ValueError):
    """Data and model (or two images) disagree on shape, channels or geometry."""


class TrainingError(MedimgKernelError, RuntimeError):
    """Training cannot continue (NaN loss, bad labels, ...)."""


class CheckpointError(MedimgKernelError):
    """A checkpoint is missing, corrupt or incompatible."""
