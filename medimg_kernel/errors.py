"""Exception hierarchy for medimg_kernel.

Every error the kit raises on purpose derives from :class:`MedimgKernelError`, so a notebook can catch
them all at once. Messages say what was expected, what was found and what to do next.
"""

from __future__ import annotations

__all__ = [
    "MedimgKernelError",
    "ConfigError",
    "ArgumentTypeError",
    "UnknownDatasetError",
    "RegistryError",
    "ChecksumError",
    "DownloadError",
    "DownloadTooLargeError",
    "UnsafeArchiveError",
    "NoGPUError",
    "ShapeMismatchError",
    "TrainingError",
    "CheckpointError",
    "DataError",
    "MeshError",
    "DeployError",
    "ExportError",
    "ParityError",
    "ClusterError",
    "StorageError",
    "BadPathError",
    "StrictDeviceError",
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


class DownloadTooLargeError(DownloadError):
    """A server sent more bytes than the registry's size (or the cap for unknown sizes); nothing was kept."""


class UnsafeArchiveError(MedimgKernelError):
    """An archive member would be written outside its folder, or is a link/device file."""


class NoGPUError(MedimgKernelError, RuntimeError):
    """A GPU device was requested on a machine that has none."""


class ArgumentTypeError(MedimgKernelError, TypeError):
    """An argument of the wrong kind (e.g. a call's result passed where a function was expected)."""


class ShapeMismatchError(MedimgKernelError, ValueError):
    """Data and model (or two images) disagree on shape, channels or geometry."""


class TrainingError(MedimgKernelError, RuntimeError):
    """Training cannot continue (NaN loss, bad labels, ...)."""


class StrictDeviceError(MedimgKernelError, RuntimeError):
    """Strict-device mode: a model the Trainer placed was called directly by lesson code (use ``mk.infer``)."""


class CheckpointError(MedimgKernelError):
    """A checkpoint is missing, corrupt or incompatible.

    ``advice`` is what to do from Python, ``cli_advice`` the same for a ``medimg`` command line user;
    ``str(err)`` gives the Python form, :meth:`cli_message` the command-line form (one line each).
    """

    def __init__(self, message: str, *, advice: str = "", cli_advice: str = "") -> None:
        super().__init__(f"{message}; {advice}" if advice else message)
        self.message, self.advice, self.cli_advice = message, advice, cli_advice or advice

    def cli_message(self) -> str:
        """The message with the advice for the ``medimg`` command line."""
        return f"{self.message}; {self.cli_advice}" if self.cli_advice else self.message


class ClusterError(MedimgKernelError, ConnectionError):
    """A Dask scheduler cannot be reached or a cluster cannot be started."""


class StorageError(MedimgKernelError, OSError):
    """An object-store bucket or prefix is missing, read-only or not reachable."""


class DeployError(MedimgKernelError, RuntimeError):
    """A model cannot be exported, quantised, served or streamed as asked."""


class ExportError(DeployError):
    """The ONNX exporter cannot handle a module or op of the model."""


class ParityError(DeployError):
    """An exported model's outputs differ from eager torch by more than the tolerance."""


class MeshError(MedimgKernelError, ValueError):
    """A mesh cannot be built, simplified or exported as asked (empty label, budget below the topology)."""


class DataError(MedimgKernelError, ValueError):
    """A file or folder of image data cannot be read as it is (corrupt, wrong format, inconsistent series)."""


class BadPathError(MedimgKernelError, ValueError):
    """A path sent to the course server is absolute, holds ``..`` or leads outside the course folder."""
