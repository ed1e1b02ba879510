"""benchmarks/int8.py's int8 network on generated pictures: calibrated on one set, run on
another, it stays near float32, tiles exactly, and uint8 throughout is the coarser of its two
ways of holding the activations (the script's measurements on Set5 and Set14 say by how
much). Skipped where PyTorch has no oneDNN quantized engine."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest
import torch

import srup
from tests.conftest import REPO

pytestmark = pytest.mark.skipif(
    "onednn" not in torch.backends.quantized.supported_engines,
    reason="this PyTorch has no oneDNN quantized engine",
)


@pytest.fixture(scope="module")
def int8():
    spec = importlib.util.spec_from_file_location("int8_bench", REPO / "benchmarks" / "int8.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["int8_bench"] = module
    spec.loader.exec_module(module)
    torch.backends.quantized.engine = "onednn"
    return module


def _pictures(seed: int, n: int, side: int) -> list[torch.Tensor]:
    """``n`` smooth ``(1, 1, side, side)`` Y planes in [16/255, 235/255], channels-last:
    low-resolution noise upsampled, so that the networks see edges and flat parts."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        low = torch.rand(1, 1, side // 8, side // 8, generator=gen)
        y = torch.nn.functional.interpolate(low, size=(side, side), mode="bicubic").clamp(0, 1)
        out.append(((16 + 219 * y) / 255).contiguous(memory_format=torch.channels_last))
    return out


@pytest.mark.parametrize("model", ["espcn", "fsrcnn", "espcn7", "srcnn"])
def test_int8_detail_near_float32_and_tiles_exactly(int8, model: str) -> None:
    up = srup.load(model, 3, device="cpu", precision="fp32")
    cal = int8.calibrate(up.net, _pictures(1, 4, 96))
    (y,) = _pictures(2, 1, 96)
    errors = {}
    with torch.inference_mode():
        ref, at = up.net.detail(y)
        for between in int8.BETWEEN:
            out, offset = int8.Int8Detail(up.net, cal, between)(y)
            assert offset == at and out.shape == ref.shape and out.dtype == torch.float32
            errors[between] = float(((out - ref) * 255).pow(2).mean())
        # float32 between the layers: well under a squared Y level of error on average
        assert errors["float"] < 0.5, errors
        assert errors["float"] < errors["int8"], errors

        up.net.detail = int8.Int8Detail(up.net, cal, "float")
        rgb = np.random.default_rng(3).integers(0, 256, (90, 130, 3), dtype=np.uint8)
        up.tile = 0
        whole = up.upscale_array(rgb)
        up.tile = 32
        assert np.array_equal(up.upscale_array(rgb), whole)


def test_the_generated_text_pages_are_the_same_each_time_and_differ_by_seed(int8) -> None:
    a, b, c = int8.text_page(0), int8.text_page(0), int8.text_page(1)
    assert a.shape == (200, 240, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    # dark ink on a light page: both are there
    assert a.min() < 80 and a.max() >= 180
    shot = int8.screenshot()
    assert shot.shape == (160, 300, 3) and shot.min() < 40 and shot.max() == 255
