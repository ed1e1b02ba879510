"""Super-resolution architectures; see :mod:`srup.models.registry`."""

from srup.models.registry import ModelSpec, get, names, specs

__all__ = ["ModelSpec", "get", "names", "specs"]
