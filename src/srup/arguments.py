"""Checks for the arguments of srup's public functions: one wording, one error type.

Each check returns the value in its plain form (a Python ``int`` for a NumPy integer, a
``Path`` for a string) or raises :class:`~srup.errors.InvalidArgumentType` (wrong type,
dtype or shape) or :class:`~srup.errors.InvalidArgument` (a value out of range): errors a
caller can catch as ``TypeError`` / ``ValueError`` or as :class:`~srup.errors.SrupError`,
and that the CLI reports in one line, instead of an ``AttributeError`` or a
``ZeroDivisionError`` from deep inside.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from srup.errors import InvalidArgument, InvalidArgumentType

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "array",
    "boolean",
    "choice",
    "instance",
    "integer",
    "number",
    "optional_callable",
    "path",
    "size_pair",
    "text",
]


def _kind(value: object) -> str:
    return type(value).__name__


def integer(
    name: str, value: object, minimum: int | None = None, maximum: int | None = None
) -> int:
    """``value`` as an ``int``: Python and NumPy integers pass, bools and floats do not
    (``3.0`` is refused rather than truncated)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidArgumentType(f"{name} must be an integer, got {value!r} ({_kind(value)})")
    value = int(value)
    if minimum is not None and value < minimum:
        raise InvalidArgument(f"{name} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise InvalidArgument(f"{name} must be at most {maximum}, got {value}")
    return value


def number(
    name: str,
    value: object,
    minimum: float | None = None,
    maximum: float | None = None,
    positive: bool = False,
) -> float:
    """``value`` as a finite ``float`` (ints and NumPy numbers pass; bools, NaN, ±inf,
    strings do not); ``positive``: strictly above zero."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidArgumentType(f"{name} must be a number, got {value!r} ({_kind(value)})")
    value = float(value)
    if not math.isfinite(value):
        raise InvalidArgument(f"{name} must be a finite number, got {value}")
    if positive and value <= 0:
        raise InvalidArgument(f"{name} must be positive, got {value}")
    if minimum is not None and value < minimum:
        raise InvalidArgument(f"{name} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise InvalidArgument(f"{name} must be at most {maximum}, got {value}")
    return value


def boolean(name: str, value: object) -> bool:
    """``value`` if it is a bool (or NumPy bool); ``"yes"``, 1 and None are refused."""
    if type(value).__name__ not in ("bool", "bool_"):
        raise InvalidArgumentType(f"{name} must be True or False, got {value!r}")
    return bool(value)


def choice(name: str, value: object, options: Collection[str]) -> str:
    """``value`` if it is one of the strings ``options``."""
    if not isinstance(value, str):
        raise InvalidArgumentType(f"{name} must be a string, got {value!r} ({_kind(value)})")
    if value not in options:
        raise InvalidArgument(f"{name} must be one of {', '.join(options)}, got {value!r}")
    return value


def text(name: str, value: object) -> str:
    """``value`` if it is a non-empty string."""
    if not isinstance(value, str):
        raise InvalidArgumentType(f"{name} must be a string, got {value!r} ({_kind(value)})")
    if not value:
        raise InvalidArgument(f"{name} must not be empty")
    return value


def path(name: str, value: object) -> Path:
    """``value`` (a ``str`` or ``os.PathLike``) as a ``Path``."""
    if not isinstance(value, (str, os.PathLike)):
        raise InvalidArgumentType(f"{name} must be a path, got {value!r} ({_kind(value)})")
    value = Path(value)
    if not str(value) or str(value) == ".":
        raise InvalidArgument(f"{name} must name a file, got {str(value)!r}")
    return value


def instance(name: str, value: object, kind: type, what: str) -> Any:
    """``value`` if it is a ``kind`` (``what`` names it for the message: "a PIL image")."""
    if not isinstance(value, kind):
        raise InvalidArgumentType(f"{name} must be {what}, got {_kind(value)}")
    return value


def optional_callable(name: str, value: object) -> Any:
    """``value`` if it is None or callable (a progress callback)."""
    if value is not None and not callable(value):
        raise InvalidArgumentType(f"{name} must be a function or None, got {value!r}")
    return value


def size_pair(name: str, value: object, minimum: int = 1) -> tuple[int, int]:
    """``value`` as two integers of at least ``minimum``: a ``(width, height)`` or
    ``(H, W)``, as the caller's docstring says."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2:
        raise InvalidArgumentType(f"{name} must be a pair of integers, got {value!r}")
    first, second = value  # type: ignore[misc]
    return (
        integer(f"{name}[0]", first, minimum=minimum),
        integer(f"{name}[1]", second, minimum=minimum),
    )


def array(
    name: str,
    value: Any,
    dtypes: Collection[str],
    channels: Collection[int] | None = None,
    stacked: bool = False,
) -> np.ndarray:
    """``value`` as a NumPy array ``(H, W)`` or ``(H, W, C)`` with H, W, C ≥ 1, a dtype whose
    name is in ``dtypes`` (``"uint8"``, ``"float"`` for any floating dtype) and, for 3-D
    arrays, C in ``channels`` when given; ``stacked``: any number of trailing axes
    ``(H, W, ...)`` (a stack of pictures), none of them empty. In native byte order: a
    big-endian array on a little-endian machine (``'>u2'``) comes back as a copy, which
    torch and OpenCV need; any other array is returned as it is."""
    import numpy as np

    if not isinstance(value, np.ndarray):
        if isinstance(value, (str, bytes)) or value is None or isinstance(value, numbers.Number):
            raise InvalidArgumentType(f"{name} must be an array, got {value!r}")
        try:
            value = np.asarray(value)
        except (TypeError, ValueError) as e:  # ragged lists, objects NumPy cannot hold
            raise InvalidArgumentType(f"{name} must be an array ({e})") from None
    kinds = set(dtypes)
    dtype_ok = value.dtype.name in kinds or (
        "float" in kinds and np.issubdtype(value.dtype, np.floating)
    )
    if not dtype_ok:
        raise InvalidArgumentType(
            f"{name} must be {' or '.join(sorted(kinds))}, not {value.dtype.name}"
        )
    if value.ndim < 2 or (value.ndim > 3 and not stacked):
        layout = "(H, W, ...)" if stacked else "(H, W) or (H, W, C)"
        raise InvalidArgumentType(f"{name} must be {layout}, got shape {value.shape}")
    if 0 in value.shape:
        raise InvalidArgument(f"{name} is empty: shape {value.shape}")
    if value.ndim == 3 and channels is not None and value.shape[2] not in channels:
        allowed = ", ".join(map(str, sorted(channels)))
        raise InvalidArgumentType(f"{name} must have {allowed} channels, got shape {value.shape}")
    if not value.dtype.isnative:
        value = value.astype(value.dtype.newbyteorder("="))
    return value
