"""The one interface of srup's tilers, and the ``tile`` option they take, parsed once.

A :class:`Tiler` runs the colour pipeline over whole pictures, tile by tile, and owns its
tile policy: given a :class:`TileSize` (a side in input pixels, the whole picture, or
``auto``), it decides what ``auto`` means for it. The host tiler
(:mod:`srup.runtime.tilers.host`) takes the side whose working memory fits its budget; the
device-resident tiler (:mod:`srup.runtime.tilers.device`) cuts full-width bands per picture,
smaller ones where the device runs out of memory. Both plan their tiles with
:mod:`srup.runtime.tilers.plan`. Nothing here imports torch: the command line parses
``--tile`` with :class:`TileSize` before any model is loaded.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from srup import arguments
from srup.choices import MIN_TILE
from srup.errors import InvalidArgument

if TYPE_CHECKING:
    import numpy as np
    import torch

    from srup.runtime.color_pipeline import ColorPipeline

__all__ = ["Progress", "TileSize", "Tiler"]

# progress(done, total): called after each tile (or picture) is done.
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class TileSize:
    """The ``tile`` option: ``side`` input pixels a tile (0: the whole picture in one tile),
    or None for ``auto``, which each tiler decides for itself (a memory budget).
    :meth:`parse` reads it from what :func:`srup.load` and ``--tile`` take."""

    side: int | None = None

    AUTO: ClassVar[TileSize]
    WHOLE: ClassVar[TileSize]

    def __post_init__(self) -> None:
        if self.side is not None and self.side < 0:
            raise InvalidArgument(f"tile size cannot be negative, got {self.side}")

    @property
    def auto(self) -> bool:
        """Whether the tiler chooses the size."""
        return self.side is None

    def __str__(self) -> str:
        return "auto" if self.side is None else str(self.side)

    @classmethod
    def parse(cls, value: TileSize | int | str, smallest: int = MIN_TILE) -> TileSize:
        """``value`` as a TileSize: ``"auto"``, 0 (the whole picture) or a side of at least
        ``smallest`` input pixels (:data:`srup.choices.MIN_TILE`, 32, for callers: smaller
        tiles spend most of their work on their overlap; any side for tests of the tiling
        itself). A TileSize is taken as it is.

        :class:`~srup.errors.InvalidArgumentType` for another type or string (a bool, a
        float, ``"big"``), :class:`~srup.errors.InvalidArgument` for a side out of range."""
        if isinstance(value, TileSize):
            return value
        if isinstance(value, str):
            arguments.choice("tile", value, ("auto",))
            return cls.AUTO
        side = arguments.integer("tile", value, minimum=0)
        if 0 < side < smallest:  # the CLI's --tile bound, for the same reason
            raise InvalidArgument(
                f"tile must be 0 (whole picture) or at least {smallest} pixels, "
                f"got {side}: smaller tiles spend most of their work on their overlap"
            )
        return cls(side)


TileSize.AUTO = TileSize(None)
TileSize.WHOLE = TileSize(0)


@dataclass(eq=False)  # tilers compare and hash by identity
class Tiler(ABC):
    """Runs ``pipeline`` over whole pictures on ``device``, the network in ``dtype``, with
    srup's numerics settings (:func:`~srup.devices.exact_numerics`), tile by tile.

    ``overlap``: the tiles' overlap, the weight set's receptive radius;
    ``bytes_per_out_px``: the pipeline's working memory per output pixel, from which the
    tiler sizes its tiles; ``tile``: the size asked for, whose ``auto`` the tiler decides."""

    pipeline: ColorPipeline
    overlap: int
    device: torch.device
    dtype: torch.dtype
    bytes_per_out_px: float
    tile: TileSize = TileSize.AUTO
    align: int = 1
    prefer_whole: bool = False
    whole_budget: int | None = None  # bytes: a lower cap than the tiler's own, where set
    mirror: bool = True

    @property
    def scale(self) -> int:
        """The pipeline's scale."""
        return self.pipeline.scale

    @property
    @abstractmethod
    def side(self) -> int | None:
        """The tile side, in input pixels, this tiler uses for ``tile`` (0: the whole
        picture; None where it is chosen per picture)."""

    @abstractmethod
    def run(
        self, pixels: np.ndarray, progress: Progress | None = None, premultiply: bool = False
    ) -> np.ndarray:
        """``(H, W, C)`` uint8/uint16 → ``(H*s, W*s, C)`` of the same dtype, ``progress``
        called after each tile; ``premultiply``: resample the colour premultiplied by the
        last channel, the alpha
        (:meth:`~srup.runtime.color_pipeline.ColorPipeline.levels`)."""
