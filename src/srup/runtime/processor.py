"""What processes one picture, whatever chooses the weights: the one interface that a batch,
a video and ``srup benchmark`` run pictures through.

Two classes have it: :class:`~srup.runtime.upscaler.Upscaler` (one weight set, at its
scale) and :class:`~srup.runtime.auto.Engine` (a weight set and network scale chosen per
picture, then the exact output size).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import torch

    from srup.media.pictures import Picture
    from srup.runtime.tilers.tiler import Progress

__all__ = ["PictureProcessor"]


@runtime_checkable
class PictureProcessor(Protocol):
    """Processes one picture: ``process`` returns it upscaled and what made it (a model's
    name, or ``bicubic``); ``name``, ``device`` and ``precision`` are what a run reports."""

    @property
    def name(self) -> str: ...

    @property
    def device(self) -> torch.device: ...

    @property
    def precision(self) -> str: ...

    def process(
        self, picture: Picture, progress: Progress | None = None
    ) -> tuple[Picture, str]: ...
