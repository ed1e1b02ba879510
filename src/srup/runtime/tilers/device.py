"""The device-resident tiler: the picture goes to the device once, as 8- or 16-bit levels,
and everything else happens there (padding, tiles, colour conversion, the network, the
bicubic chroma, rounding, clamping, interleaving) until the finished rows come back, still
as levels, into page-locked host memory.

On a GPU the copy back is most of the cost (an upscale writes s² times the pixels it
reads), so tiles are full-width row bands: a band's rows are one contiguous block of the
output, which can be copied back on a second stream while the next band computes. Plain
torch throughout, so that it runs (and is tested) on the CPU too, where the host tiler in
:mod:`srup.runtime.tilers.plan` is the faster choice.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch

from srup.devices import exact_numerics, out_of_memory, release_cached_memory, upload
from srup.models.layers import symmetric_pad
from srup.runtime.tilers import plan as tiling
from srup.runtime.tilers.tiler import Progress, Tiler

__all__ = ["DEVICE_TILE_BUDGET_BYTES", "ResidentTiler"]

# A band's working memory, at most: a 108-megapixel ×3 output peaked at 0.65 GiB of an H100.
DEVICE_TILE_BUDGET_BYTES = 1 << 30
MIN_BANDS_AT = 4_000_000  # output pixels from which the copy back overlaps computing
MIN_BANDS = 4


def halved(tile: tuple[int, int]) -> tuple[int, int] | None:
    """The next smaller tile after running out of memory: half the height, then half the
    width, never under 64 input pixels a side; None when there is none."""
    h, w = tile
    if h > 64:
        return max(64, h // 2), w
    if w > 64:
        return h, max(64, w // 2)
    return None


def output_buffer(shape: tuple[int, ...], dtype: torch.dtype, pinned: bool) -> torch.Tensor:
    """The host buffer the finished bands are copied into: page-locked where asked (copies
    into it overlap the computing), pageable when the system will not lock that much."""
    if pinned:
        try:
            return torch.empty(shape, dtype=dtype, pin_memory=True)
        except RuntimeError as e:
            if not out_of_memory(e):
                raise
    return torch.empty(shape, dtype=dtype)


class ResidentTiler(Tiler):
    """Runs ``pipeline`` over a whole picture on ``device``, the network in ``dtype``, with
    srup's numerics settings (:func:`~srup.devices.exact_numerics`). Its ``auto`` tile is
    :meth:`bands`, chosen per picture from the device's free memory (``bytes_per_out_px``
    gives the band height), and smaller bands where the device runs out of memory."""

    @property
    def side(self) -> int | None:
        """The tile side asked for (0: the whole picture); None for bands per picture."""
        return self.tile.side

    def budget(self) -> int:
        """Bytes a band may use: :data:`DEVICE_TILE_BUDGET_BYTES`, or a quarter of what the
        GPU has free when that is less."""
        if self.device.type == "cuda":
            free, _total = torch.cuda.mem_get_info(self.device)
            return int(min(DEVICE_TILE_BUDGET_BYTES, free // 4))
        return DEVICE_TILE_BUDGET_BYTES

    def bands(self, height: int, width: int) -> tuple[int, int]:
        """(tile height, tile width) in input pixels: full-width bands as tall as the
        budget allows (at least :data:`MIN_BANDS` of them for a large output), or squares
        when even a thin full-width band would not fit."""
        s, pad, budget = self.scale, 2 * self.overlap, self.budget()
        rows = budget / (self.bytes_per_out_px * s * s * (width + pad)) - pad
        if rows < 64:
            side = int(math.sqrt(budget / (self.bytes_per_out_px * s * s))) - pad
            return max(64, side), max(64, side)
        count = max(1, math.ceil(height / rows))
        if height * width * s * s >= MIN_BANDS_AT:
            count = max(count, MIN_BANDS)
        return math.ceil(height / count), width

    def prepare(
        self, pixels: np.ndarray, tile: tuple[int, int] | None = None
    ) -> tuple[torch.Tensor, list[tiling.Tile], tuple[int, int]]:
        """Upload ``pixels`` ``(H, W, C)``: the padded ``(C, H+2py, W+2px)`` levels on the
        device, the tiles, and the padding (py, px)."""
        h, w, _c = pixels.shape
        # 16-bit levels travel as int32: few device ops take uint16.
        src = pixels.astype(np.int32) if pixels.dtype == np.uint16 else pixels
        with warnings.catch_warnings():  # read-only input (a decoded file): only read here
            warnings.simplefilter("ignore", UserWarning)
            # Asynchronous on CUDA: the host queues the first band's work while it travels.
            planes = upload(src, self.device).permute(2, 0, 1)
        py = tiling.padding(h, self.overlap, align=self.align, mirror=self.mirror)
        px = tiling.padding(w, self.overlap, align=self.align, mirror=self.mirror)
        tile_h, tile_w = tile if tile is not None else self.bands(h, w)
        tiles = tiling.plan(
            h, w, tile_h, self.overlap, tile_width=tile_w, align=self.align, mirror=self.mirror
        )
        return symmetric_pad(planes, py, px), tiles, (py, px)

    def compute(
        self,
        padded: torch.Tensor,
        t: tiling.Tile,
        pads: tuple[int, int],
        maxv: float,
        premultiply: bool = False,
    ) -> tuple[torch.Tensor, tuple[slice, slice]]:
        """One tile's kept output, interleaved ``(h*s, w*s, C)`` levels on the device
        (uint8, or int32 for 16-bit pictures), and the output rows and columns it fills;
        ``premultiply``: as :meth:`~srup.runtime.color_pipeline.ColorPipeline.levels`."""
        keep, place = t.placement(self.scale, *pads)
        band = padded[(slice(None), *t.read)][None]
        x = band.to(torch.float32, memory_format=torch.channels_last)  # what the convs read
        dtype = torch.uint8 if padded.dtype == torch.uint8 else torch.int32
        return self.pipeline.levels(x, maxv, dtype, keep, premultiply), place

    def run(
        self, pixels: np.ndarray, progress: Progress | None = None, premultiply: bool = False
    ) -> np.ndarray:
        """As :meth:`Tiler.run`: square tiles of :attr:`side`, or :meth:`bands`.

        With bands of its own choosing, a run that finds the device out of memory (another
        program took what was free when the bands were sized) starts again with bands half
        as tall, then half as wide, down to 64 pixels; a tile the caller chose is kept, and
        the error goes up."""
        chosen = None if self.side is None else (self.side, self.side)
        with torch.inference_mode(), exact_numerics(self.device, self.dtype):
            shape = chosen if chosen is not None else self.bands(*pixels.shape[:2])
            while True:
                try:
                    return self._run(pixels, shape, progress, premultiply)
                except Exception as e:
                    smaller = halved(shape)
                    if chosen is not None or smaller is None or not out_of_memory(e):
                        raise
                # Here, out of the handler, the failed attempt's tensors are free.
                release_cached_memory(self.device)
                shape = smaller

    def _run(
        self,
        pixels: np.ndarray,
        tile: tuple[int, int],
        progress: Progress | None,
        premultiply: bool = False,
    ) -> np.ndarray:
        h, w, c = pixels.shape
        s = self.scale
        maxv = float(np.iinfo(pixels.dtype).max)
        padded, tiles, pads = self.prepare(pixels, tile)
        cuda = self.device.type == "cuda"
        out = output_buffer((h * s, w * s, c), padded.dtype, pinned=cuda)
        copier = torch.cuda.Stream(self.device) if cuda else None
        try:
            for i, t in enumerate(tiles):
                result, place = self.compute(padded, t, pads, maxv, premultiply)
                if copier is not None and place[1] == slice(0, w * s):
                    # A full-width band is one block of the output: it goes back on its own
                    # stream while the next band computes.
                    copier.wait_stream(torch.cuda.current_stream(self.device))
                    with torch.cuda.stream(copier):
                        out[place[0]].copy_(result, non_blocking=True)
                    result.record_stream(copier)  # not reused before its copy is done
                else:
                    out[place].copy_(result)
                if progress is not None:
                    progress(i + 1, len(tiles))
        finally:  # on an error too: no copy may still be writing into `out`
            if copier is not None:
                copier.synchronize()
        arr = out.numpy()
        return arr.astype(np.uint16) if pixels.dtype == np.uint16 else arr
