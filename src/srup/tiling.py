"""Tiles: split an image into overlapping pieces, run a function on each, stitch the centres.

Pure and model-agnostic: the function maps an ``(h, w, C)`` input tile to an
``(h*s, w*s, C)`` output tile. Tiles overlap by at least the function's receptive radius, so
every kept output pixel saw exactly the inputs it would have seen untiled, and the stitched
result equals the untiled one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

__all__ = ["Tile", "plan", "run"]


@dataclass(frozen=True)
class Tile:
    """``core``: the input rows/columns whose output this tile owns; ``read``: what it reads
    (core grown by the overlap, clipped to the image)."""

    core: tuple[slice, slice]
    read: tuple[slice, slice]


def _spans(length: int, tile: int) -> Iterator[tuple[int, int]]:
    count = max(1, -(-length // tile))
    # Equal tiles rather than full tiles plus a sliver: a sliver costs as much overlap.
    step = -(-length // count)
    for start in range(0, length, step):
        yield start, min(length, start + step)


def plan(height: int, width: int, tile: int, overlap: int) -> list[Tile]:
    """Tiles covering a ``height × width`` input; ``tile <= 0`` means one tile."""
    if tile <= 0:
        tile = max(height, width, 1)
    tiles = []
    for y0, y1 in _spans(height, tile):
        for x0, x1 in _spans(width, tile):
            read = (
                slice(max(0, y0 - overlap), min(height, y1 + overlap)),
                slice(max(0, x0 - overlap), min(width, x1 + overlap)),
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
    tiles = plan(h, w, tile, overlap)
    for i, t in enumerate(tiles):
        result = fn(image[t.read])
        (ry, rx), (cy, cx) = t.read, t.core
        crop = result[
            (cy.start - ry.start) * scale : (cy.stop - ry.start) * scale,
            (cx.start - rx.start) * scale : (cx.stop - rx.start) * scale,
        ]
        if out is None:
            out = np.empty((h * scale, w * scale) + crop.shape[2:], dtype=crop.dtype)
        out[cy.start * scale : cy.stop * scale, cx.start * scale : cx.stop * scale] = crop
        if progress is not None:
            progress(i + 1, len(tiles))
    assert out is not None
    return out
