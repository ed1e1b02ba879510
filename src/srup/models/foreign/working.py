"""The working memory of another project's network, measured on the network itself.

srup sizes its tiles, decides whether a picture runs whole, and checks ``--max-memory`` by
the bytes a network keeps alive per output pixel. For its own chains two activations of the
widest layer are that; other projects' networks keep far more, and by how much depends on
the architecture and its hyper-parameters (attention maps, concatenated branches, residual
stores). A factor per architecture guessed from one configuration was 2–7× too high for
most (benchmarks/byo.py: SwinIR, HAT and DAT were tiled where they fit whole) and too low
for SPAN. So it is measured: the network runs once on a :data:`PROBE`-pixel square inside a
dispatch mode that counts the bytes of every tensor storage an operator creates, less those
freed, and keeps the peak. That counts what PyTorch allocates through its operators in any
device; scratch memory inside a kernel (oneDNN's, a BLAS's) is not seen, hence
:data:`MARGIN`.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

if TYPE_CHECKING:
    from srup.models.foreign.network import ForeignNetwork

__all__ = ["MARGIN", "PROBE", "working_bytes_per_out_px"]

# Input pixels a side: the smallest automatic tile (plan.MIN_AUTO_TILE is 64), so that what
# a picture pays once (masks, position tables) is spread as it is over the smallest tile.
PROBE = 64
# Kernels' own scratch and the allocator's rounding, which the count does not see. The
# resident set byo.py measured per output pixel on 12-megapixel runs, against the count
# plus the pipeline's 64 bytes: 0.55-0.82x for compact, ESRGAN, SwinIR, SPAN, HAT and DAT,
# 1.49x for OmniSR; with this margin OmniSR's is 1.24x the estimate, the others below it.
MARGIN = 1.25


class _PeakBytes(TorchDispatchMode):
    """Counts the bytes of the storages operators create while active, each once (views
    and in-place results share their input's), less those freed; ``peak`` is the most at
    any moment."""

    def __init__(self) -> None:
        super().__init__()
        self.live: dict[int, int] = {}
        self.now = 0
        self.peak = 0

    def _freed(self, key: int) -> None:
        self.now -= self.live.pop(key, 0)

    def __torch_dispatch__(
        self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None
    ) -> Any:
        out = func(*args, **(kwargs or {}))
        for leaf in tree_leaves(out):
            if isinstance(leaf, torch.Tensor):
                storage = leaf.untyped_storage()
                key = id(storage)
                if key not in self.live:
                    self.live[key] = storage.nbytes()
                    self.now += storage.nbytes()
                    self.peak = max(self.peak, self.now)
                    weakref.finalize(storage, self._freed, key)
        return out


def working_bytes_per_out_px(net: ForeignNetwork) -> float:
    """Bytes the float32 ``net`` keeps alive per output pixel, :data:`MARGIN` included: the
    peak over a run of :meth:`~srup.models.foreign.network.ForeignNetwork.detail` (the
    model, its padding, and the subtraction of bicubic srup's pipeline asks for) on a
    :data:`PROBE`-pixel square of noise, divided by its output pixels. The network's
    parameters are not counted (they are there before and after). Raises what the network
    raises."""
    x = torch.rand(1, net.channels, PROBE, PROBE, generator=torch.Generator().manual_seed(0))
    counter = _PeakBytes()
    with torch.inference_mode(), counter:
        net.detail(x)
    return MARGIN * counter.peak / (PROBE * net.scale) ** 2
