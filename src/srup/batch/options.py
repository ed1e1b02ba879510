"""How each file of a batch is run: the :class:`Options` that ``srup upscale`` gives
:func:`srup.batch.run_jobs`."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from srup.media import pictures as imageio
from srup.media.video import VideoOptions

__all__ = ["NO_VIDEO_OPTIONS", "WHITE", "Options", "options_with"]

NO_VIDEO_OPTIONS = VideoOptions()
WHITE = (255, 255, 255)


@dataclass(frozen=True)
class Options:
    """What each file of a batch gets.

    ``overwrite``: replace an existing output; ``skip_existing``: leave it (and count the
    file as skipped), also when another run writes it meanwhile; ``quality``: JPEG/WebP/AVIF
    quality; ``max_pixels``: the most pixels an input may have; ``max_memory``: bytes a
    picture may need (:func:`srup.batch.estimate_memory`), checked from its header before it
    is decoded (None: no check); ``background``: RGB 0–255 that alpha is flattened onto when
    the output format has none; ``video``: how videos are cut and encoded;
    ``reference`` and ``reference_scale``: score each output against this HR picture or
    folder (:func:`srup.evaluation.compare.reference_scores`)."""

    overwrite: bool = False
    skip_existing: bool = False
    quality: int = 95
    max_pixels: int = imageio.DEFAULT_MAX_PIXELS
    max_memory: int | None = None
    background: tuple[int, int, int] = WHITE
    video: VideoOptions = NO_VIDEO_OPTIONS
    reference: Path | None = None
    reference_scale: int | None = None


def options_with(options: Options | None, changes: dict[str, Any]) -> Options:
    """``options`` (default: :class:`Options`'s defaults) with ``changes``, fields by name:
    the keyword form (``run_job(up, job, overwrite=True)``) of the callers written before
    :class:`Options`. An unknown name raises :class:`TypeError`, as an unknown keyword did."""
    options = Options() if options is None else options
    return replace(options, **changes) if changes else options
