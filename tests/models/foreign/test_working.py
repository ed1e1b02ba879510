"""The working memory srup measures on another project's network, and what it sizes by it."""

from __future__ import annotations

import pytest
import torch

import srup
from srup.models.foreign.working import MARGIN, working_bytes_per_out_px
from srup.runtime.tilers.host import TILE_BUDGET_BYTES


class _Allocates:
    """A stand-in network whose ``detail`` keeps ``planes`` float32 planes of the output's
    size alive at once (and frees them), so its working memory is known."""

    channels = 3
    scale = 2

    def __init__(self, planes: int) -> None:
        self.planes = planes

    def detail(self, x: torch.Tensor) -> tuple[torch.Tensor, int]:
        h, w = x.shape[-2] * self.scale, x.shape[-1] * self.scale
        kept = [torch.ones(h, w) for _ in range(self.planes)]
        del kept
        return torch.zeros(1, 1, 1, 1), 0


@pytest.mark.parametrize("planes", [1, 4, 16])
def test_the_measurement_counts_what_the_network_keeps_alive(planes: int) -> None:
    measured = working_bytes_per_out_px(_Allocates(planes))  # type: ignore[arg-type]
    assert measured == pytest.approx(MARGIN * 4 * planes, rel=0.02)


def test_views_and_in_place_results_are_counted_once() -> None:
    class Views(_Allocates):
        def detail(self, x: torch.Tensor) -> tuple[torch.Tensor, int]:
            plane = torch.ones(x.shape[-2] * 2, x.shape[-1] * 2)
            plane.mul_(2).view(-1)[:10].add_(1)
            return plane.t()[None, None], 0

    assert working_bytes_per_out_px(Views(1)) == pytest.approx(MARGIN * 4, rel=0.02)  # type: ignore[arg-type]


def test_a_wider_network_measures_proportionally_more(foreign_weights) -> None:  # type: ignore[no-untyped-def]
    from srup.models.foreign.network import ForeignNetwork
    from srup.models.foreign.spandrel_import import spandrel
    from tests.models.foreign.conftest import _arch

    def compact(feat: int) -> float:
        model = _arch("Compact").Compact(num_feat=feat, num_conv=4, upscale=2).eval()
        desc = spandrel().ModelLoader().load_from_state_dict(model.state_dict())
        return working_bytes_per_out_px(ForeignNetwork(desc))

    # ×2: a feature map of C channels is C/4 float32 values an output pixel; at least two
    # are alive at once (a convolution's input and output).
    narrow, wide = compact(16), compact(128)
    assert wide >= MARGIN * 2 * 128 / 4 * 4 and wide > 4 * narrow


@pytest.mark.parametrize("name", ["compact", "esrgan", "swinir", "span", "hat", "dat", "omnisr"])
def test_tiles_are_sized_by_the_measured_memory_overlap_included(
    foreign_weights, name: str
) -> None:  # type: ignore[no-untyped-def]
    desc = srup.describe(weights=foreign_weights[name, ".pth"])
    measured = float(desc.metadata["working_bytes_per_out_px"])
    up = srup.load(weights=foreign_weights[name, ".pth"], device="cpu")
    tiler = up.tiler
    assert tiler.bytes_per_out_px == pytest.approx(measured + 64, abs=1)
    side = tiler.auto_tile()
    read = side + 2 * tiler.overlap
    working = read**2 * up.scale**2 * tiler.bytes_per_out_px
    assert working <= TILE_BUDGET_BYTES or side == 64
    # Not smaller than the budget allows, either (one pixel more would not fit).
    assert (read + 1) ** 2 * up.scale**2 * tiler.bytes_per_out_px > TILE_BUDGET_BYTES or (
        side == 2048
    )
    huge = 10_000
    assert up.working_bytes(huge, huge) == int(read**2 * up.scale**2 * tiler.bytes_per_out_px)
