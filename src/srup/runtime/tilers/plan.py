"""Tiles: split an image into overlapping pieces, run a function on each, stitch the centres.

Pure and model-agnostic: the function maps an ``(h, w, C)`` input tile to an
``(h*s, w*s, C)`` output tile. The image is first padded symmetrically by the overlap (the
network then sees plausible pixels past the border instead of its own zero padding), and
every tile reads its core plus the overlap on each side. So every kept output pixel saw
exactly the inputs it would have seen untiled, and the stitched result equals the untiled one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

__all__ = ["MIN_READ", "Tile", "padding", "plan", "run_into"]

MIN_READ = 32


@dataclass(frozen=True)
class Tile:
    """``core``: the image rows/columns whose output this tile owns; ``read``: the rows and
    columns of the padded image it reads (the core grown by the overlap, or more)."""

    core: tuple[slice, slice]
    read: tuple[slice, slice]

    def placement(
        self, scale: int, pad_y: int, pad_x: int
    ) -> tuple[tuple[slice, slice], tuple[slice, slice]]:
        """Where this tile's output goes: the rows and columns of its ×``scale`` result to
        keep, and those of the output image they fill (the image padded by ``pad_y``,
        ``pad_x``)."""
        (ry, rx), (cy, cx) = self.read, self.core
        oy, ox = cy.start + pad_y - ry.start, cx.start + pad_x - rx.start
        keep = (
            slice(oy * scale, (oy + cy.stop - cy.start) * scale),
            slice(ox * scale, (ox + cx.stop - cx.start) * scale),
        )
        return keep, (
            slice(cy.start * scale, cy.stop * scale),
            slice(cx.start * scale, cx.stop * scale),
        )


def _spans(length: int, tile: int) -> Iterator[tuple[int, int]]:
    count = max(1, -(-length // tile))
    # Equal tiles rather than full tiles plus a sliver: a sliver costs as much overlap.
    step = -(-length // count)
    for start in range(0, length, step):
        yield start, min(length, start + step)


def _read(start: int, stop: int, padded: int, min_read: int) -> slice:
    # Without a mirrored border (mirror=False) a tile's overlap ends at the picture's edge.
    start, stop = max(0, start), min(padded, stop)
    short = min(min_read, padded) - (stop - start)
    if short > 0:  # widen, staying inside the padded image
        start = max(0, start - short // 2)
        stop = min(padded, start + min(min_read, padded))
        start = stop - min(min_read, padded)
    return slice(start, stop)


def _aligned(read: slice, align: int) -> slice:
    """``read`` started at the multiple of ``align`` at or before its start: a network
    whose windows or strides are anchored to its input's corner (windowed attention, period
    ``align``) then cuts every tile's windows where the whole picture's are."""
    return slice(read.start - read.start % align, read.stop)


def padding(
    length: int, overlap: int, min_read: int = MIN_READ, align: int = 1, mirror: bool = True
) -> int:
    """Pixels of symmetric padding on each side: the overlap, or more for an image smaller
    than ``min_read`` (extra symmetric padding leaves the first ``overlap`` pixels as they
    are, so the result does not change), rounded up to a multiple of ``align``: a network
    whose windows are anchored to its input's corner then places them on the picture as it
    does when it runs on the picture alone. ``mirror=False``: none at all, for a network
    that pads the picture's edges itself (another project's, which srup runs as its project
    does: :mod:`srup.models.foreign.network`)."""
    if not mirror:
        return 0
    pad = max(overlap, -(-(min_read - length) // 2))
    return -(-pad // align) * align


def plan(
    height: int,
    width: int,
    tile: int,
    overlap: int,
    min_read: int = MIN_READ,
    tile_width: int | None = None,
    align: int = 1,
    mirror: bool = True,
) -> list[Tile]:
    """Tiles covering a ``height × width`` image padded as :func:`padding` says, in row
    order; ``tile`` is the side (the height, where ``tile_width`` gives the width);
    ``tile <= 0`` means one tile.

    Every tile reads at least ``min_read`` pixels per side: oneDNN picks other kernels (with
    other rounding) for small inputs, so no network call may be that small, and the result
    does not depend on the tiling. ``align``: every read starts at a multiple of it in the
    padded image, as the whole picture's does (:func:`_aligned`); ``mirror``: as
    :func:`padding`.
    """
    if tile <= 0:
        tile = tile_width = max(height, width, 1)
    tile_width = tile if tile_width is None else tile_width
    py = padding(height, overlap, min_read, align, mirror)
    px = padding(width, overlap, min_read, align, mirror)
    tiles = []
    for y0, y1 in _spans(height, tile):
        for x0, x1 in _spans(width, tile_width):
            read = (
                _aligned(
                    _read(y0 + py - overlap, y1 + py + overlap, height + 2 * py, min_read), align
                ),
                _aligned(
                    _read(x0 + px - overlap, x1 + px + overlap, width + 2 * px, min_read), align
                ),
            )
            tiles.append(Tile(core=(slice(y0, y1), slice(x0, x1)), read=read))
    return tiles


# shape: the tiling's knobs (align, mirror) are a Tiler's fields, passed through as they are
def run_into(
    write: Callable[[np.ndarray, tuple[slice, slice], np.ndarray], None],
    image: np.ndarray,
    scale: int,
    tile: int,
    overlap: int,
    out: np.ndarray | None = None,
    progress: Callable[[int, int], None] | None = None,
    align: int = 1,
    mirror: bool = True,
) -> np.ndarray:
    """Tile by tile over ``image`` ``(H, W, C)``, a function that computes only the pixels
    it keeps and writes them where they go: ``write(piece, keep, dest)`` puts the rows and
    columns ``keep`` of the ×``scale`` output of ``piece`` into ``dest``, a view of the
    output ``(H*s, W*s, C)``
    (``out``, or a new array of ``image``'s dtype). A tile's overlap then costs only the
    network's work on it, and no output pixel is copied twice. ``progress(done, total)`` is
    called after each tile; ``align`` and ``mirror`` as :func:`plan`. Returns the output."""
    h, w = image.shape[:2]
    if out is None:
        out = np.empty((h * scale, w * scale, *image.shape[2:]), dtype=image.dtype)
    for i, (piece, keep, place, count) in enumerate(
        _pieces(image, scale, tile, overlap, align, mirror)
    ):
        write(piece, keep, out[place])
        if progress is not None:
            progress(i + 1, count)
    return out


def _pieces(
    image: np.ndarray, scale: int, tile: int, overlap: int, align: int, mirror: bool
) -> Iterator[tuple[np.ndarray, tuple[slice, slice], tuple[slice, slice], int]]:
    """For each tile of :func:`plan`: the pixels it reads, the rows and columns of its
    output to keep, those of the whole output they fill, and the number of tiles."""
    h, w = image.shape[:2]
    py, px = (
        padding(h, overlap, align=align, mirror=mirror),
        padding(w, overlap, align=align, mirror=mirror),
    )
    pads = ((py, py), (px, px)) + ((0, 0),) * (image.ndim - 2)
    padded = np.pad(image, pads, mode="symmetric") if mirror else image
    tiles = plan(h, w, tile, overlap, align=align, mirror=mirror)
    for t in tiles:
        keep, place = t.placement(scale, py, px)
        yield padded[t.read], keep, place, len(tiles)
