"""What ``auto`` means: which shipped weight set a picture gets at a scale, by speed and by
recorded quality (the rows ``srup models`` lists come from :mod:`srup.models.catalog`)."""

from __future__ import annotations

from srup.errors import SrupError, UnknownModelError
from srup.models.catalog import macs_per_pixel
from srup.models.weights import read_metadata, shipped, split_name

__all__ = ["FAST_MACS_1080P", "default_model"]

# A model is "fast" when a 1920×1080 output costs at most this many multiply-accumulates:
# about one second on a 2-core laptop CPU (see benchmarks/speed.py).
FAST_MACS_1080P = 12e9


def default_model(scale: int, lossy: bool = False) -> str:
    """What ``auto`` means at ``scale``: among the shipped models fast enough for a 1080p
    output in about a second on a laptop CPU, the one with the best recorded Set5 PSNR;
    for a ``lossy`` input (JPEG, lossy WebP, AVIF, JPEG 2000, video) the real-photo variant
    (``-real``) chosen the same way, or the clean model where no real variant is shipped for
    the scale."""
    for variant in ("real", "") if lossy else ("",):
        best: tuple[float, str] | None = None
        for (name, s), path in shipped().items():
            arch, var = split_name(name)
            if s != scale or var != variant:
                continue
            try:
                macs = macs_per_pixel(arch, scale)
            except (SrupError, KeyError):
                continue  # an architecture or scale srup does not have
            if macs * 1920 * 1080 > FAST_MACS_1080P:
                continue
            meta = read_metadata(path)
            # Real variants are ranked on the input they were made for.
            keys = ("set5_phone_psnr",) if variant else ()
            keys += ("set5_psnr", "val_psnr")
            score = float(next((meta[k] for k in keys if meta.get(k)), 0.0))
            if best is None or score > best[0]:
                best = (score, name)
        if best is not None:
            return best[1]
    scales = sorted({s for _, s in shipped()})
    raise UnknownModelError(
        f"no shipped weights for scale {scale}; available scales: "
        f"{', '.join(map(str, scales)) or 'none'}"
    )
