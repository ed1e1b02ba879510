"""The errors srup raises, and the exit codes of every ``srup`` command.

``cli.py`` turns each error into a one-line message and its class's ``exit_code``:

====  =====================================================================================
code  meaning
====  =====================================================================================
0     everything done (outputs skipped because they exist count as done)
1     fatal: the run could not go on (bad weights, missing data set, device failure, an
      unexpected internal error)
2     usage error: a command line that cannot mean anything (Click's own errors too)
3     partial: the batch ran to its end, but at least one input failed
130   interrupted (Ctrl-C)
141   stdout was closed (a pipe into ``head``): stopped, finished outputs whole
143   terminated (SIGTERM)
====  =====================================================================================

An error of one input in a batch (:class:`BadImageError`, :class:`OutputError`, or anything
else raised while that file was processed) never reaches the exit code itself: the batch
reports it for that file, goes on, and ends with :data:`EXIT_PARTIAL`.
"""

from __future__ import annotations

__all__ = [
    "EXIT_FATAL",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_PARTIAL",
    "EXIT_STDOUT_CLOSED",
    "EXIT_TERMINATED",
    "EXIT_USAGE",
    "BadImageError",
    "BadWeightsError",
    "DataError",
    "DeviceError",
    "DeviceMemoryError",
    "ExportError",
    "InvalidArgument",
    "InvalidArgumentType",
    "MissingExtraError",
    "OutputError",
    "SrupError",
    "StdoutClosedError",
    "StdoutError",
    "UnknownModelError",
    "UnsupportedPrecision",
    "UsageError",
]

EXIT_OK = 0
EXIT_FATAL = 1
EXIT_USAGE = 2
EXIT_PARTIAL = 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it
EXIT_STDOUT_CLOSED = 141  # 128 + SIGPIPE
EXIT_TERMINATED = 143  # 128 + SIGTERM


class SrupError(Exception):
    """Base class: the message says what is wrong and what to do. ``exit_code``: what the
    command line exits with when this error ends a run."""

    exit_code = EXIT_FATAL


class BadImageError(SrupError):
    """An input image cannot be read or is refused."""


class UnknownModelError(SrupError):
    """A model name or scale that srup does not offer."""

    exit_code = EXIT_USAGE


class BadWeightsError(SrupError):
    """A weights file that is not a srup safetensors file of the right shape."""


class DeviceError(SrupError):
    """The asked device or precision is not available."""

    exit_code = EXIT_USAGE


class DeviceMemoryError(SrupError, MemoryError):
    """A device's allocator ran out of memory; the message names the device. Raised once, at
    the runtime's boundary (:meth:`srup.runtime.upscaler.Upscaler.upscale_array`), from
    whatever torch raised. A MemoryError too, as NumPy's is, so that a batch reports it for
    its file and goes on; exit code 1 where it ends a run."""


class UsageError(SrupError):
    """A command line that cannot mean anything (an output name with no known format,
    several inputs into one file): exit code 2, as Click's own usage errors."""

    exit_code = EXIT_USAGE


class UnsupportedPrecision(UsageError):
    """A weight set asked to run in a precision it does not run in (a limit of the model,
    not of the device: :meth:`srup.models.descriptor.ModelDescriptor.require_precision`);
    exit code 2."""


class InvalidArgument(SrupError, ValueError):
    """A public function was called with a value it cannot take (``load(tile=-5)``, a resize
    to an empty or absurdly large size, a training option out of range): exit code 2, as a
    usage error. A ValueError too, so callers that catch ValueError keep working."""

    exit_code = EXIT_USAGE


class InvalidArgumentType(InvalidArgument, TypeError):
    """An argument of the wrong type, dtype or shape (a string for a scale, float pixels
    where uint8 ones are needed). Both a ValueError (as an InvalidArgument) and a TypeError."""


class OutputError(SrupError):
    """An output cannot be written."""


class MissingExtraError(SrupError):
    """A feature needs an optional extra that is not installed (video needs PyAV:
    ``pip install 'srup[video]'``); exit code 1."""


class ExportError(SrupError):
    """An ONNX export cannot be made: the exporter failed, or its packages (onnx,
    onnxscript) are not installed."""


class DataError(SrupError):
    """A training or benchmark data set is missing or empty."""


class StdoutError(SrupError):
    """Standard output cannot be written (a full disk behind ``> file``, ``> /dev/full``):
    the run stops, since its results would be lost."""


class StdoutClosedError(StdoutError):
    """Standard output was closed (``srup ... --json | head -1``): the run stops. Exit code
    141, 128 + SIGPIPE, what a shell reports for a program that SIGPIPE ended."""

    exit_code = EXIT_STDOUT_CLOSED
