"""The host tiler, srup's CPU runner: tiles are cut from the picture in host memory, each
runs through the colour pipeline on its own, and its kept pixels are stitched into the
output (:mod:`srup.runtime.tilers.plan`). Tiles sized for the caches rather than the whole picture
are what make a CPU fast here, and channels-last oneDNN convolutions compute every output pixel
the same way whatever the tile shape, so the result equals the untiled one exactly (fp32).
On a GPU the device-resident tiler (:mod:`srup.runtime.tilers.device`) is the default instead.
"""

from __future__ import annotations

import math
import sys

import numpy as np
import torch

from srup.devices import exact_numerics
from srup.runtime.tilers import plan as tiling
from srup.runtime.tilers.tiler import Progress, Tiler

__all__ = ["TILE_BUDGET_BYTES", "WHOLE_BUDGET_BYTES", "HostTiler"]

TILE_BUDGET_BYTES = 256 * 2**20
# Another project's network runs untiled up to this (no overlap to pay: SwinIR-light at
# 640×360 ×4 estimated at 2.6 GiB ran 3.3x plain PyTorch's time in 40 tiles of 256 MiB),
# and to half of --max-memory where the batch sets one (srup.batch.memory.check_memory).
WHOLE_BUDGET_BYTES = 4 * 2**30


class HostTiler(Tiler):
    """Runs ``pipeline`` tile by tile over pictures in host memory, on ``device`` in
    ``dtype`` (the network's precision), with srup's numerics settings. Its ``auto`` tile
    is :meth:`auto_tile`, the same for every picture."""

    @property
    def side(self) -> int:
        """The tile side in input pixels (0: the whole picture): the one asked for, or
        :meth:`auto_tile`."""
        return self.auto_tile() if self.tile.side is None else self.tile.side

    def auto_tile(self) -> int:
        """The tile side (input pixels) whose working memory, read with its overlap on
        every side, is :data:`TILE_BUDGET_BYTES` (64 at least: a smaller tile would spend
        most of its work on the overlap; 2048 at most).

        Where the process's malloc is glibc's as it came (a Python program using the
        library; ``srup upscale`` keeps freed memory instead:
        :func:`srup.runtime.allocator.keep_freed_memory`), also small enough that its
        largest activation, half the working memory, stays within glibc's largest dynamic
        mmap threshold (:data:`~srup.runtime.allocator.MMAP_THRESHOLD_MAX`): such blocks are
        reused from the heap, where larger ones are unmapped when freed and page-faulted
        in anew on every tile (ESPCN ×2 to 1080p, int8: 1.8× the time in two tiles of 583
        pixels as in tiles of 384; benchmarks/speed.py)."""
        from srup.runtime.allocator import MMAP_THRESHOLD_MAX, freed_memory_kept

        out_px = TILE_BUDGET_BYTES / self.bytes_per_out_px
        if sys.platform.startswith("linux") and not freed_memory_kept():
            # The largest activation: one of the two live ones working_bytes_per_out_px
            # counts (less its 64 bytes of colour work).
            largest = max(self.bytes_per_out_px - 64, 1.0) / 2
            out_px = min(out_px, MMAP_THRESHOLD_MAX / largest)
        read = math.sqrt(out_px) / self.scale
        return int(min(2048, max(64, read - 2 * self.overlap)))

    def runs_whole(self, height: int, width: int) -> bool:
        """Whether a ``height``×``width`` picture runs in one tile: asked for (``tile``
        0), or ``auto`` with :attr:`prefer_whole` and its working memory within
        :data:`WHOLE_BUDGET_BYTES` (and :attr:`whole_budget`, where a memory limit set it)."""
        whole = height * width * self.scale**2 * self.bytes_per_out_px
        budget = min(WHOLE_BUDGET_BYTES, self.whole_budget or WHOLE_BUDGET_BYTES)
        asked = self.tile.side == 0
        return asked or (self.tile.auto and self.prefer_whole and whole <= budget)

    def working_bytes(self, height: int, width: int) -> int:
        """The working memory of upscaling a ``height``×``width`` picture, in bytes: its
        largest tile's (read with the overlap), or the whole picture's where it runs whole."""
        if self.runs_whole(height, width):
            h, w = height, width
        else:
            side = self.side
            h, w = min(height, side) + 2 * self.overlap, min(width, side) + 2 * self.overlap
        return int(h * w * self.scale**2 * self.bytes_per_out_px)

    def _run_tile(
        self,
        tile: np.ndarray,
        keep: tuple[slice, slice],
        dest: np.ndarray,
        premultiply: bool = False,
    ) -> None:
        """``(h, w, C)`` uint8/uint16 → the rows and columns ``keep`` of its ``(h*s, w*s,
        C)`` output, written into ``dest`` (a view of the whole output, same dtype);
        ``premultiply``: as :meth:`~srup.runtime.color_pipeline.ColorPipeline.levels`. Only
        the kept pixels go through the colour work and the shuffle, straight into their
        place."""
        maxv = float(np.iinfo(tile.dtype).max)
        src = torch.from_numpy(np.array(tile, copy=True, order="C")).to(self.device)
        torch_dtype = torch.uint8 if tile.dtype == np.uint8 else torch.uint16
        x = src.permute(2, 0, 1)[None].float()
        out = torch.from_numpy(dest) if self.device.type == "cpu" else None
        done = self.pipeline.levels(x, maxv, torch_dtype, keep, premultiply, out)
        if out is None:
            dest[...] = done.cpu().numpy()

    def run(
        self, pixels: np.ndarray, progress: Progress | None = None, premultiply: bool = False
    ) -> np.ndarray:
        """As :meth:`Tiler.run`, in tiles of :attr:`side` (the whole picture for ``auto``
        where :attr:`prefer_whole` and its working memory is within
        :data:`WHOLE_BUDGET_BYTES`). Premultiplying is per pixel, so a tile's pixels are
        those of the premultiplied picture: tiled still equals untiled."""

        def run_tile(tile: np.ndarray, keep: tuple[slice, slice], dest: np.ndarray) -> None:
            self._run_tile(tile, keep, dest, premultiply)

        with torch.inference_mode(), exact_numerics(self.device, self.dtype):
            # A network whose tiling is bounded runs untiled where it fits.
            side = 0 if self.runs_whole(*pixels.shape[:2]) else self.side
            return tiling.run_into(
                run_tile,
                pixels,
                self.scale,
                side,
                self.overlap,
                progress=progress,
                align=self.align,
                mirror=self.mirror,
            )
