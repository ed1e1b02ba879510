"""Modules that moved in 0.2.0 (issue 26), importable under their old names for one release.

``import srup.imageio`` still works and gives the very module ``srup.media.pictures`` (the same
object, so ``monkeypatch`` and ``isinstance`` see one thing) with a ``DeprecationWarning`` that
names the new home, as timm did when ``timm.models.layers`` moved to ``timm.layers``. The
finder is installed by ``import srup``; it answers only for the names below.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings
from types import ModuleType

MOVED: dict[str, str] = {
    "srup.render": "srup.cli.display",
    "srup.catalog": "srup.models.catalog",
    "srup.descriptor": "srup.models.descriptor",
    "srup.weights": "srup.models.weights",
    "srup.models.srcnn": "srup.models.arch.srcnn",
    "srup.models.fsrcnn": "srup.models.arch.fsrcnn",
    "srup.models.espcn": "srup.models.arch.espcn",
    "srup.models.espcn7": "srup.models.arch.espcn7",
    "srup.models.inference": "srup.models.forms",
    "srup.upscale": "srup.runtime.upscaler",
    "srup.engine": "srup.runtime.auto",
    "srup.denoise": "srup.models.denoise",
    "srup.pipeline": "srup.runtime.color_pipeline",
    "srup.allocator": "srup.runtime.allocator",
    "srup.export": "srup.runtime.onnx",
    "srup.tiling": "srup.runtime.tilers.plan",
    "srup.host": "srup.runtime.tilers.host",
    "srup.resident": "srup.runtime.tilers.device",
    "srup.color": "srup.imaging.color",
    "srup.resize": "srup.imaging.resize",
    "srup.torch_resize": "srup.imaging.resize_torch",
    "srup.metrics": "srup.imaging.metrics",
    "srup.sizing": "srup.imaging.sizing",
    "srup.estimate": "srup.imaging.estimate",
    "srup.imageio": "srup.media.pictures",
    "srup.png": "srup.media.png",
    "srup.deep": "srup.media.deep",
    "srup.exif": "srup.media.exif",
    "srup.tiffexif": "srup.media.tiffexif",
    "srup.libtiff": "srup.media.libtiff",
    "srup.dpi": "srup.media.dpi",
    "srup.modes": "srup.media.modes",
    "srup.video": "srup.media.video",
    "srup.video_codecs": "srup.media.video_codecs",
    "srup.video_colour": "srup.media.video_colour",
    "srup.video_tracks": "srup.media.video_tracks",
    "srup.degrade": "srup.data.degrade",
    "srup.boards": "srup.data.boards",
    "srup.benchmark": "srup.evaluation.protocol",
    "srup.report": "srup.evaluation.run",
    "srup.compare": "srup.evaluation.compare",
    "srup.train": "srup.training.loop",
    "srup.patches": "srup.training.samplers",
    "srup.formats": "srup.choices",
    "srup.ordered": "srup.concurrency",
}


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds an old module name and loads it as the module at its new home."""

    def find_spec(self, fullname, path=None, target=None):  # type: ignore[no-untyped-def]
        if fullname not in MOVED:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        new = MOVED[spec.name]
        warnings.warn(
            f"{spec.name} moved to {new}; the old name goes in the next release",
            DeprecationWarning,
            stacklevel=2,
        )
        return importlib.import_module(new)

    def exec_module(self, module: ModuleType) -> None:
        """The module at its new home is already executed."""


def names_moved_from(  # type: ignore[no-untyped-def]
    here: str, module: str, moved: dict[str, tuple[str, str]]
):
    """The ``__getattr__`` of module ``here`` (``__name__``): it answers, for one release,
    for names that left ``module`` (the old name, e.g. ``srup.upscale``) in 0.2.0;
    ``moved`` maps each old name to (new module, new name), and the value comes with a
    DeprecationWarning that names its new home."""

    def __getattr__(name: str) -> object:
        if name not in moved:
            raise AttributeError(f"module {here!r} has no attribute {name!r}")
        home, new = moved[name]
        warnings.warn(
            f"{module}.{name} moved to {home}.{new}; the old name goes in the next release",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(home), new)

    return __getattr__


def install() -> None:
    """Put the alias finder first on ``sys.meta_path`` (once)."""
    if not any(isinstance(f, _Alias) for f in sys.meta_path):
        sys.meta_path.insert(0, _Alias())
