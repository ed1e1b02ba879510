"""Importing spandrel (the ``srup[models]`` extra), whatever torchvision does.

spandrel imports torchvision when it is imported, for two architectures that are not
super-resolution (LaMa, inpainting: ``rotate``; RestoreFormer, faces: ``normalize``).
torchvision's wheels are built against one torch build: PyPI's CUDA torchvision next to a
CPU-only torch (the one pytorch.org's CPU index gives) fails at import with "operator
torchvision::nms does not exist", and then so would spandrel, for every architecture.

So where torchvision does not import, spandrel is imported with a stand-in for the one
module it reads (``torchvision.transforms.functional``), whose functions raise
:class:`~srup.errors.MissingExtraError` if LaMa or RestoreFormer ever called them, and the
stand-in is removed from ``sys.modules`` again at once: nothing else in the process sees it,
and ``import torchvision`` elsewhere fails as it did. Where torchvision imports, nothing is
stood in for.
"""

from __future__ import annotations

import enum
import importlib
import importlib.util
import sys
import types
from functools import lru_cache
from typing import Any

from srup.errors import MissingExtraError

__all__ = ["install_command", "spandrel", "torchvision_problem"]
_STAND_IN = ("torchvision", "torchvision.transforms", "torchvision.transforms.functional")


def install_command() -> str:
    """What to run to add spandrel, keeping the installed torch: spandrel pulls torchvision,
    whose newest release would otherwise make pip replace a CPU torch with the newest CUDA
    build (several GB). ``torch==X`` without its local label (``+cpu``) is met by the one
    installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        pin = f" torch=={version('torch').split('+')[0]}"
    except PackageNotFoundError:
        pin = ""
    return f"pip install 'spandrel>=0.4.2,<0.5'{pin}"  # srup's models extra, by its package


def torchvision_problem() -> str | None:
    """Why torchvision does not import here (its error's first line), or None when it does."""
    try:
        importlib.import_module("torchvision")
    except Exception as e:  # ImportError, or RuntimeError/OSError from its C++ operators
        return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return None


class _InterpolationMode(enum.Enum):
    NEAREST = "nearest"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"


def _stand_in(problem: str) -> dict[str, types.ModuleType]:
    """The modules spandrel reads from torchvision, whose functions say why they cannot run."""

    def unavailable(*_args: Any, **_kwargs: Any) -> Any:
        raise MissingExtraError(
            f"this architecture needs torchvision, which does not import here ({problem}); "
            "install the torchvision built for your torch"
        )

    root, transforms, functional = (types.ModuleType(name) for name in _STAND_IN)
    functional.InterpolationMode = _InterpolationMode  # type: ignore[attr-defined]
    functional.rotate = unavailable  # type: ignore[attr-defined]
    functional.normalize = unavailable  # type: ignore[attr-defined]
    transforms.functional = functional  # type: ignore[attr-defined]
    root.transforms = transforms  # type: ignore[attr-defined]
    return dict(zip(_STAND_IN, (root, transforms, functional), strict=True))


@lru_cache(maxsize=1)
def spandrel() -> types.ModuleType:
    """The ``spandrel`` module. :class:`~srup.errors.MissingExtraError` (one line, what to
    install) when it is not installed."""
    if importlib.util.find_spec("spandrel") is None:
        raise MissingExtraError(
            "this weights file is not srup's; other projects' models need spandrel: "
            f"{install_command()}"
        )
    problem = torchvision_problem()
    if problem is None:
        return importlib.import_module("spandrel")
    saved = {name: sys.modules.get(name) for name in _STAND_IN}
    sys.modules.update(_stand_in(problem))
    try:
        return importlib.import_module("spandrel")
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
