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

__all__ = ["MIN_READ", "Tile", "plan", "run"]

MIN_READ = 32


@dataclass(frozen=True)
class Tile:
    """``core``: the image rows/columns whose output this tile owns; ``read``: the rows and
    columns of the padded image it reads (the core grown by the overlap, or more)."""

    core: tuple[slice, slice]
    read: tuple[slice, slice]


def _spans(length: int, tile: int) -> Iterator[tuple[int, int]]:
    count = max(1, -(-length // tile))
    # Equal tiles rather than full tiles plus a sliver: a sliver costs as much overlap.
    step = -(-length // count)
    for start in range(0, length, step):
        yield start, min(length, start + step)


def _read(start: int, stop: int, padded: int, min_read: int) -> slice:
    short = min(min_read, padded) - (stop - start)
    if short > 0:  # widen, staying inside the padded image
        start = max(0, start - short // 2)
        stop = min(padded, start + min(min_read, padded))
        start = stop - min(min_read, padded)
    return slice(start, stop)


def plan(height: int, width: int, tile: int, overlap: int, min_read: int = MIN_READ) -> list[Tile]:
    """Tiles covering a ``height × width`` image padded by ``overlap``; ``tile <= 0`` means
    one tile.

    Each tile reads at least ``min_read`` pixels per side where the padded image has them:
    oneDNN picks other kernels (with other rounding) for very narrow inputs, so every network
    call is either that wide or as wide as the whole padded image, as the untiled call is.
    """
    if tile <= 0:
        tile = max(height, width, 1)
    tiles = []
    for y0, y1 in _spans(height, tile):
        for x0, x1 in _spans(width, tile):
            read = (
                _read(y0, y1 + 2 * overlap, height + 2 * overlap, min_read),
                _read(x0, x1 + 2 * overlap, width + 2 * overlap, min_read),
            )
            tiles.append(Tile(core=(slice(y0, y1), slice(x0, x1)), read=read))
    return tiles


def run(
    fn: Callable[[np.ndarray], np.ndarray],
    image: np.ndarray,
    scale: int,
    tile: int,
    overlap: int,
    out: np.ndarray | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Apply ``fn`` tile by tile to ``image`` ``(H, W, C)``; returns ``(H*s, W*s, C)``.

    ``out`` may be a preallocated output (a memory map, say); ``progress(done, total)`` is
    called after each tile.
    """
    h, w = image.shape[:2]
    pads = ((overlap, overlap), (overlap, overlap)) + ((0, 0),) * (image.ndim - 2)
    padded = np.pad(image, pads, mode="symmetric")
    tiles = plan(h, w, tile, overlap)
    for i, t in enumerate(tiles):
        result = fn(padded[t.read])
        (ry, rx), (cy, cx) = t.read, t.core
        oy, ox = cy.start + overlap - ry.start, cx.start + overlap - rx.start
        crop = result[
            oy * scale : (oy + cy.stop - cy.start) * scale,
            ox * scale : (ox + cx.stop - cx.start) * scale,
        ]
        if out is None:
            out = np.empty((h * scale, w * scale, *crop.shape[2:]), dtype=crop.dtype)
        out[cy.start * scale : cy.stop * scale, cx.start * scale : cx.stop * scale] = crop
        if progress is not None:
            progress(i + 1, len(tiles))
    assert out is not None
    return out
