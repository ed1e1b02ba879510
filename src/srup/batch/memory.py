"""How much memory one picture needs (:func:`estimate_memory`), the default limit
(:func:`default_max_memory`), and the check of a picture against it from its header,
before it is decoded (:func:`check_memory`)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from srup.batch.job import AnyUpscaler, Job
from srup.errors import BadImageError
from srup.imaging.sizing import network_scale
from srup.media import pictures as imageio
from srup.runtime.tilers.host import TILE_BUDGET_BYTES
from srup.units import bytes_text, over_limit, over_max_pixels

__all__ = [
    "ESTIMATE_COPY_BYTES_PER_PIXEL",
    "FLATTENED_FORMATS",
    "FLATTEN_BYTES_PER_SAMPLE",
    "RESIZE_BYTES_PER_SAMPLE",
    "WORKING_BYTES",
    "MemoryEstimate",
    "check_memory",
    "default_max_memory",
    "estimate_memory",
    "final_size",
]


def default_max_memory() -> int | None:
    """Three quarters of this machine's physical memory in bytes (the default
    ``--max-memory``): room for the system and other programs. The estimate is an upper
    bound (a 2000×1500 RGB picture at ×2.5 is estimated at 3.6 GiB and peaks at 2.5 GiB),
    so half would refuse a 12-megapixel photo at ×2.5 on a 24 GiB machine that holds it.
    None where the platform does not say."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None
    return total * 3 // 4 if total > 0 else None


# The host tiler's working memory per tile, plus 64 MiB for the network's weights and
# PyTorch's own: what an upscale needs beside its pictures.
WORKING_BYTES = TILE_BUDGET_BYTES + 64 * 2**20


# Float64 working planes, in bytes per sample (a pixel's channel), measured as peak RSS on
# the CPU (tests/batch/test_memory.py checks the estimate against a measurement):
# - a resize to a size no network makes (--width 5900 from ×4; srup.imaging.resize works in float64,
#   and alpha pictures resample premultiplied planes): RGB 100, RGBA 161 bytes per output
#   pixel when network and final sizes are close, i.e. about 17 and 20 bytes per sample of
#   each of the two sizes; counted as 24 per sample of the network size plus the final size.
# - flattening alpha onto the background (an RGBA picture into JPEG or BMP): 106 bytes per
#   output pixel of RGBA, 26 per sample; counted as 32 per sample of the final size.
# The two happen one after the other (the resize's planes are freed before the write), so the
# larger counts, not the sum.
RESIZE_BYTES_PER_SAMPLE = 24
FLATTEN_BYTES_PER_SAMPLE = 32
# Formats without alpha: an alpha picture written to them is flattened (srup.media.pictures.write).
FLATTENED_FORMATS = frozenset({"JPEG", "BMP"})


# What --denoise auto's estimate of a lossy picture needs beside the decoded input, per
# pixel it measures (at most srup.imaging.estimate.MAX_PIXELS, its centre): the estimate's own peak
# (srup.imaging.estimate.BYTES_PER_PIXEL, measured) and the 8-bit RGB copy it reads (grey or 16-bit
# pictures). Counted on top of the rest: the allocator keeps what it frees (srup.runtime.allocator).
ESTIMATE_COPY_BYTES_PER_PIXEL = 8


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes one picture needs at its peak: the decoded input, the network's output, the
    output at its final size (when a resize makes another), one more copy of it while it is
    encoded, the float64 planes of a resize to a size no network makes or of flattening
    alpha (:data:`RESIZE_BYTES_PER_SAMPLE`, :data:`FLATTEN_BYTES_PER_SAMPLE`), the engine's
    working memory (:data:`WORKING_BYTES`, or another project's network's own, up to a
    whole picture's: ``up.working_bytes``), and for a lossy picture whose strength
    ``--denoise auto`` chooses, the estimate's (:data:`ESTIMATE_COPY_BYTES_PER_PIXEL`). An
    upper estimate from measured peaks, not a measurement."""

    total: int
    out_size: tuple[int, int]
    channels: int
    bytes_per_sample: int


def _network_scale(up: AnyUpscaler, factor: float) -> int | None:
    scales = getattr(up, "scales", None)
    if scales is None:  # one Upscaler: its own scale
        return up.scale
    return network_scale(factor, list(scales)) if scales else max(2, round(factor))


def final_size(up: AnyUpscaler, width: int, height: int) -> tuple[tuple[int, int], float]:
    """The output size (width, height) ``up`` makes of a ``width``×``height`` picture, and
    the scale factor it applies."""
    sizing = getattr(up, "sizing", None)
    if sizing is None:
        return (width * up.scale, height * up.scale), float(up.scale)
    return sizing.final(width, height), sizing.factor(width, height)


def estimate_memory(
    up: AnyUpscaler,
    width: int,
    height: int,
    channels: int,
    sample: int,
    flatten: bool = False,
    lossy: bool = False,
) -> MemoryEstimate:
    """The :class:`MemoryEstimate` of a ``width``×``height`` picture of ``channels``
    samples of ``sample`` bytes each, upscaled by ``up``; ``flatten``: its alpha is
    flattened onto a background when written (an output format without alpha); ``lossy``:
    the file is lossy, so an engine choosing its strength (``--denoise auto`` with ``-m
    auto``) estimates it first (:mod:`srup.imaging.estimate`, on at most its centre 2 MP)."""
    final, factor = final_size(up, width, height)
    s = _network_scale(up, factor)
    network = (width * s, height * s) if s else (width, height)
    px = channels * sample
    work = getattr(up, "working_bytes", None)
    network_work = work(width, height) if work is not None else None
    working = WORKING_BYTES if network_work is None else max(WORKING_BYTES, network_work)
    total = width * height * px + 2 * final[0] * final[1] * px + working
    planes = 0  # the float64 planes of a resize, or of flattening: the larger
    if network != final:
        total += network[0] * network[1] * px
        samples = (network[0] * network[1] + final[0] * final[1]) * channels
        planes = RESIZE_BYTES_PER_SAMPLE * samples
    if flatten and channels in (2, 4):
        planes = max(planes, FLATTEN_BYTES_PER_SAMPLE * final[0] * final[1] * channels)
    if lossy and getattr(up, "estimates", False):
        from srup.imaging.estimate import BYTES_PER_PIXEL, MAX_PIXELS

        measured = min(width * height, MAX_PIXELS)
        total += (BYTES_PER_PIXEL + ESTIMATE_COPY_BYTES_PER_PIXEL) * measured
    return MemoryEstimate(total + planes, final, channels, sample)


def check_memory(up: AnyUpscaler, job: Job, limit: int, max_pixels: int) -> imageio.Probe:
    """Refuse ``job`` from its header, before any decoding: over ``max_pixels`` (as
    :func:`imageio.read` would, only sooner), or needing more than ``limit`` bytes."""
    probe = imageio.probe(job.src)
    pixels = probe.width * probe.height
    if pixels > max_pixels:
        raise BadImageError(over_max_pixels(job.src, probe.width, probe.height, max_pixels))
    flatten = job.fmt in FLATTENED_FORMATS
    args = (probe.width, probe.height, probe.channels, probe.bytes_per_sample, flatten, probe.lossy)
    est = estimate_memory(up, *args)
    limit_whole = getattr(up, "limit_whole", None)
    if est.total > limit and limit_whole is not None:
        # Another project's network would run this picture whole: tiled, it may fit. Half
        # the limit for its working memory leaves the rest to the pictures.
        limit_whole(limit // 2)
        est = estimate_memory(up, *args)
    if est.total > limit:
        w, h = est.out_size
        need, most = over_limit(est.total, limit, bytes_text, "bytes")
        raise BadImageError(
            f"{job.src}: {probe.width}×{probe.height} → {w}×{h} needs about {need} "
            f"of memory, over the limit of {most}; raise --max-memory if this machine "
            "has it, or ask for a smaller size"
        )
    return probe
