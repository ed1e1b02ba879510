"""The colour pipeline computes the classic recipe (Y through the network, Cb/Cr and alpha by
bicubic, merged back) by a shorter route; these tests hold it to the recipe."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from srup.imaging.color import rgb_to_ycbcr, ycbcr_to_rgb
from srup.models import registry
from srup.models.layers import BicubicUpsample, set_form
from srup.runtime.color_pipeline import ColorPipeline

LAYOUTS = (1, 2, 3, 4)


def _net(name: str, scale: int) -> torch.nn.Module:
    torch.manual_seed(0)
    net = registry.get(name).build(scale)
    with torch.no_grad():  # a network that does something: its last layer starts at zero
        for p in net.parameters():
            if not p.any():
                p.normal_(0, 0.05)
    return net.eval()


@torch.no_grad()
def _classic(net: torch.nn.Module, scale: int, x: np.ndarray) -> np.ndarray:
    """``(C, h, w)`` in [0, 1] → ``(C, h*s, w*s)``: the recipe, step by step, YCbCr in
    float64 NumPy."""
    bicubic = BicubicUpsample(scale)

    def up(plane: np.ndarray) -> np.ndarray:
        return bicubic(torch.from_numpy(plane)[None, None].float())[0, 0].double().numpy()

    def sr(y: np.ndarray) -> np.ndarray:
        return net(torch.from_numpy(y)[None, None].float())[0, 0].double().numpy()

    c = x.shape[0]
    if c >= 3:
        ycc = rgb_to_ycbcr(np.moveaxis(x[:3], 0, -1))
        merged = np.stack([sr(ycc[..., 0]), up(ycc[..., 1]), up(ycc[..., 2])], axis=-1)
        colour = np.moveaxis(ycbcr_to_rgb(merged), -1, 0)
    else:
        gain, offset = 219 / 255, 16 / 255
        colour = ((sr(x[0] * gain + offset) - offset) / gain)[None]
    alpha = [up(plane) for plane in x[len(colour) :]]
    return np.concatenate([colour, np.array(alpha).reshape(-1, *colour.shape[1:])])


@pytest.mark.parametrize("name", registry.names())
@pytest.mark.parametrize("channels", LAYOUTS)
def test_pipeline_equals_the_ycbcr_recipe_for_every_layout(name, channels):
    scale = 3
    net = _net(name, scale)
    x = np.random.default_rng(1).random((channels, 40, 36))
    with torch.no_grad():
        got = ColorPipeline(net, scale)(torch.from_numpy(x)[None].float())[0].double().numpy()
    want = _classic(net, scale, x)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=2e-5)


@pytest.mark.parametrize("name", registry.names())
def test_export_form_computes_what_the_tilers_form_computes(name):
    scale = 2
    pipeline = ColorPipeline(_net(name, scale), scale)
    x = torch.rand(1, 4, 40, 36)
    with torch.no_grad():
        tiler = pipeline(x)
        set_form(pipeline, "export")
        export = pipeline(x)
    torch.testing.assert_close(export, tiler, atol=1e-6, rtol=0)


@pytest.mark.parametrize("channels", LAYOUTS)
@pytest.mark.parametrize("maxv", [255.0, 65535.0])
def test_levels_are_the_pipeline_rounded_halves_up_and_clamped(channels, maxv):
    scale = 3
    pipeline = ColorPipeline(_net("espcn", scale), scale)
    x = torch.rand(1, channels, 40, 36, dtype=torch.float64).float()
    with torch.no_grad():
        want = torch.floor(pipeline(x).double().clamp(0, 1) * maxv + 0.5)[0].permute(1, 2, 0)
        got = pipeline.levels(x * maxv, maxv, torch.int32).double()
    # The two routes round their float32 sums differently: a value this close to a
    # half may land on either side (float32 resolves 1/65535 less finely than 1/255).
    differ = (got - want).abs()
    assert differ.max() <= 1 and (differ > 0).float().mean() < (1e-3 if maxv < 256 else 1e-2)
    assert got.min() >= 0 and got.max() <= maxv


@pytest.mark.parametrize(
    ("rows", "cols"),
    [((8, 40), (6, 38)), ((2, 46), (2, 42)), ((1, 40), (6, 38)), ((8, 40), (6, 44))],
)
def test_levels_of_a_kept_region_equal_the_same_region_of_all_levels(rows, cols, monkeypatch):
    # A region at least the bicubic radius (2) inside the tile is computed without padding
    # (the tilers' case); one nearer the edge pads, as the whole picture does.
    from srup.models import layers

    scale = 4
    pipeline = ColorPipeline(_net("fsrcnn", scale), scale)
    set_form(pipeline, "infer")  # FSRCNN's infer form leaves out the edge's detail
    x = torch.rand(1, 3, 48, 44) * 255
    keep = tuple(slice(a * scale, b * scale) for a, b in (rows, cols))
    with torch.no_grad():
        whole = pipeline.levels(x, 255.0, torch.uint8)
        pads = []
        plain = layers.symmetric_pad
        monkeypatch.setattr(
            layers, "symmetric_pad", lambda *a, **k: pads.append(1) or plain(*a, **k)
        )
        part = pipeline.levels(x, 255.0, torch.uint8, keep)
    assert torch.equal(part, whole[keep])
    assert bool(pads) == (min(rows[0], cols[0]) < 2 or rows[1] > 46 or cols[1] > 42)


@pytest.mark.parametrize("channels", [2, 4])
@pytest.mark.parametrize("maxv", [255.0, 65535.0])
def test_premultiplied_levels_are_the_pipeline_on_premultiplied_colour_over_its_alpha(
    channels, maxv
):
    # The recipe for straight alpha (Porter & Duff 1984): premultiply, run the pipeline,
    # divide by the output's alpha. Compared as what shows (colour × alpha), since a float32
    # quotient over an alpha of a level or two may round either way by much more.
    scale = 3
    pipeline = ColorPipeline(_net("espcn", scale), scale)
    gen = torch.Generator().manual_seed(channels)
    x = torch.floor(torch.rand(1, channels, 40, 36, generator=gen) * (maxv + 1))
    alpha = x[:, -1]
    alpha[torch.rand(alpha.shape, generator=gen) < 0.3] = 0
    alpha[torch.rand(alpha.shape, generator=gen) < 0.3] = maxv
    with torch.no_grad():
        pm = x.double().clone()
        pm[:, :-1] *= pm[:, -1:] / maxv
        want = pipeline((pm / maxv).float())[0].double().clamp(0, 1) * maxv
        got = pipeline.levels(x, maxv, torch.int32, premultiply=True).double().permute(2, 0, 1)
    assert (got[-1] - torch.floor(want[-1] + 0.5)).abs().max() <= 1
    shown = got[:-1] * got[-1] / maxv
    assert (shown - want[:-1].clamp(max=want[-1])).abs().max() <= 1.5
    assert not got[:-1, got[-1] == 0].any()  # no colour where nothing shows
