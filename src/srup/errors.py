"""The errors srup raises; ``cli.py`` turns each into a one-line message and an exit code."""

from __future__ import annotations

__all__ = [
    "BadImageError",
    "BadWeightsError",
    "DataError",
    "DeviceError",
    "DeviceMemoryError",
    "OutputError",
    "SrupError",
    "UnknownModelError",
    "UsageError",
]


class SrupError(Exception):
    """Base class: the message says what is wrong and what to do."""

    exit_code = 1


class BadImageError(SrupError):
    """An input image cannot be read or is refused."""


class UnknownModelError(SrupError):
    """A model name or scale that srup does not offer."""

    exit_code = 2


class BadWeightsError(SrupError):
    """A weights file that is not a srup safetensors file of the right shape."""


class DeviceError(SrupError):
    """The asked device or precision is not available."""

    exit_code = 2


class DeviceMemoryError(MemoryError):
    """A device's allocator ran out of memory; the message names the device. A MemoryError,
    as NumPy's is, so that a batch reports it for its file and goes on."""


class UsageError(SrupError):
    """A command line that cannot mean anything (an output name with no known format,
    several inputs into one file): exit code 2, as Click's own usage errors."""

    exit_code = 2


class OutputError(SrupError):
    """An output cannot be written."""


class DataError(SrupError):
    """A training or benchmark data set is missing or empty."""
