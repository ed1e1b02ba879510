"""Other projects' networks under srup's tilers (CPU, float32): each family's stated
guarantee holds on a picture, for tile sides that do and do not fall on the windows' grid.

- ``exact`` (convolutional; windowed attention with tiles started on its window grid):
  tiled equals untiled to float32 rounding, i.e. a level differs only where a value lies
  within about 1e-5 of a half level: at most 1 level, on at most 0.01 % of values.
- ``bounded`` (attention or pooling over the whole picture): such networks run untiled
  whenever their working memory fits (srup.runtime.tilers.host.WHOLE_BUDGET_BYTES), and a
  note says when they were tiled. Forced into small tiles, the difference measured on
  these random-weight networks is the bound stated per family in docs/models.md.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import srup
from srup.errors import DeviceError, UnsupportedPrecision
from srup.media.pictures import Picture
from tests.conftest import photo
from tests.models.foreign.conftest import EXPECTED

EXACT = ["compact", "compact_grey", "esrgan", "span", "swinir"]
# Measured at tiles of 32–64 px on a 96×72 photo (docs/models.md, "Tiling guarantees"):
# the largest level difference and share of values differing, with headroom.
BOUNDED = {"hat": (2, 0.02), "dat": (128, 0.90), "omnisr": (128, 0.97)}


def _picture(name: str) -> np.ndarray:
    pixels = photo(96, 72, seed=3)
    return pixels if EXPECTED[name].input_channels == 3 else pixels[..., 1]


def _differences(a: np.ndarray, b: np.ndarray) -> tuple[int, float]:
    diff = np.abs(a.astype(np.int32) - b.astype(np.int32))
    return int(diff.max()), float((diff > 0).mean())


@pytest.mark.parametrize("tile", [32, 43])
@pytest.mark.parametrize("name", EXACT)
def test_exact_families_tile_to_float32_rounding(foreign_weights, name: str, tile: int) -> None:  # type: ignore[no-untyped-def]
    up = srup.load(weights=foreign_weights[name, ".pth"], scale=4, tile=0)
    assert up.descriptor.tiling[0] == "exact"
    pixels = _picture(name)
    whole = up.upscale_array(pixels)
    up.tile = tile  # 43: tiles that do not start on SwinIR's 8-px window grid by themselves
    most, share = _differences(whole, up.upscale_array(pixels))
    assert most <= 1 and share <= 1e-4


@pytest.mark.parametrize("name", sorted(BOUNDED))
def test_bounded_families_stay_within_their_stated_bound(foreign_weights, name: str) -> None:  # type: ignore[no-untyped-def]
    up = srup.load(weights=foreign_weights[name, ".pth"], scale=4, tile=0)
    assert up.descriptor.tiling[0] == "bounded"
    pixels = _picture(name)
    whole = up.upscale_array(pixels)
    limit, limit_share = BOUNDED[name]
    for tile in (32, 48, 64):
        up.tile = tile
        most, share = _differences(whole, up.upscale_array(pixels))
        assert most <= limit and share <= limit_share, (tile, most, share)


def test_a_bounded_family_runs_untiled_where_it_fits_and_says_when_it_is_tiled(
    foreign_weights,
) -> None:  # type: ignore[no-untyped-def]
    up = srup.load(weights=foreign_weights["dat", ".pth"], scale=4)  # tile auto
    pixels = _picture("dat")
    whole = srup.load(weights=foreign_weights["dat", ".pth"], scale=4, tile=0)
    assert np.array_equal(up.upscale_array(pixels), whole.upscale_array(pixels))
    assert up.upscale_picture(Picture(pixels)).notes == []
    up.tile = 32
    notes = up.upscale_picture(Picture(pixels)).notes
    assert len(notes) == 1 and "tiles" in notes[0] and "--tile 0" in notes[0]


@pytest.mark.parametrize("name", ["compact", "esrgan", "swinir"])
def test_srup_gives_the_projects_own_output(foreign_weights, name) -> None:  # type: ignore[no-untyped-def]
    # srup leaves the picture's edges to the network's own padding, as its project runs
    # it (srup's own networks see a mirrored border instead): the same output everywhere.
    from srup.models.foreign.spandrel_import import spandrel

    up = srup.load(weights=foreign_weights[name, ".pth"], scale=4, tile=48)
    pixels = photo(128, 112, seed=3)
    ours = up.upscale_array(pixels)
    model = spandrel().ModelLoader().load_from_file(str(foreign_weights[name, ".pth"]))
    with torch.inference_mode():
        x = torch.from_numpy(pixels).permute(2, 0, 1)[None].float() / 255
        theirs = model(x)[0].permute(1, 2, 0).mul(255).add(0.5).floor().clamp(0, 255)
    most, share = _differences(ours, theirs.numpy().astype(np.uint8))
    assert most <= 1 and share <= 1e-4


def test_a_gray_model_runs_on_the_luma_and_keeps_the_colour(foreign_weights) -> None:  # type: ignore[no-untyped-def]
    from srup.imaging.color import rgb_to_ycbcr
    from srup.imaging.resize import imresize

    up = srup.load(weights=foreign_weights["compact_grey", ".pth"], scale=4)
    pixels = photo(40, 32, seed=1)
    out = up.upscale_array(pixels)
    assert out.shape == (128, 160, 3)
    chroma = rgb_to_ycbcr(out.astype(np.float64))[..., 1:]
    bicubic = rgb_to_ycbcr(imresize(pixels.astype(np.float64), 4))[..., 1:]
    # Clamping R, G, B to their range moves the chroma a little where the detail is large.
    assert np.median(np.abs(chroma - bicubic)[16:-16, 16:-16]) < 1.0


def test_an_rgb_model_on_a_gray_picture_gives_a_gray_picture(foreign_weights) -> None:  # type: ignore[no-untyped-def]
    up = srup.load(weights=foreign_weights["compact", ".pth"], scale=4)
    gray = photo(40, 32, seed=2)[..., 0]
    out = up.upscale_array(gray)
    assert out.shape == (128, 160) and out.dtype == np.uint8
    rgb = up.upscale_array(np.repeat(gray[..., None], 3, axis=2)).astype(np.float64)
    assert np.abs(out - rgb.mean(axis=2)).max() <= 1.0


def test_bf16_runs_where_spandrel_says_and_is_refused_in_one_line_where_it_fails(
    foreign_weights,
) -> None:  # type: ignore[no-untyped-def]
    pixels = _picture("compact")
    try:
        low = srup.load(weights=foreign_weights["compact", ".pth"], scale=4, precision="bf16")
    except DeviceError:
        pytest.skip("bf16 is not available on this CPU")
    full = srup.load(weights=foreign_weights["compact", ".pth"], scale=4)
    most, _ = _differences(low.upscale_array(pixels), full.upscale_array(pixels))
    assert most <= 16  # bf16 keeps 8 bits of mantissa: a few levels on bright detail
    # SwinIR says it supports bf16, but builds float32 attention masks at sizes other than
    # the one it was built for: refused when the Upscaler is built, not per file.
    with pytest.raises(UnsupportedPrecision, match="bf16"):
        srup.load(weights=foreign_weights["swinir", ".pth"], scale=4, precision="bf16")


def test_fp16_is_refused_for_a_model_spandrel_says_cannot_run_it(foreign_weights) -> None:  # type: ignore[no-untyped-def]
    d = srup.describe(weights=foreign_weights["hat", ".pth"], scale=4)
    with pytest.raises(UnsupportedPrecision, match="fp16"):
        d.require_precision("fp16")


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("name", ["compact", "esrgan", "span"])
def test_cuda_fp16_is_close_to_cpu_fp32(foreign_weights, name: str) -> None:  # type: ignore[no-untyped-def]
    pixels = _picture(name)
    gpu = srup.load(weights=foreign_weights[name, ".pth"], scale=4, device="cuda")
    assert gpu.precision == "fp16"
    cpu = srup.load(weights=foreign_weights[name, ".pth"], scale=4, device="cpu")
    most, share = _differences(gpu.upscale_array(pixels), cpu.upscale_array(pixels))
    assert most <= 4 and share <= 0.05


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_auto_precision_is_fp32_for_a_model_without_half(foreign_weights) -> None:  # type: ignore[no-untyped-def]
    gpu = srup.load(weights=foreign_weights["swinir", ".pth"], scale=4, device="cuda")
    assert gpu.precision == "fp32"
    out = gpu.upscale_array(_picture("swinir"))
    assert out.shape == (288, 384, 3)
