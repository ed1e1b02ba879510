"""Tiled output must equal untiled output, pixel for pixel."""

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import srup
from srup.models import registry
from srup.runtime.tilers import plan as tiling
from srup.runtime.tilers.device import ResidentTiler
from tests.conftest import photo

CASES = [(spec.name, s) for spec in registry.specs() for s in spec.scales]


@given(
    h=st.integers(1, 90),
    w=st.integers(1, 90),
    tile=st.integers(0, 40),
    overlap=st.integers(0, 6),
)
def test_tile_cores_cover_every_pixel_once_and_reads_hold_the_overlap(h, w, tile, overlap):
    seen = np.zeros((h, w), dtype=int)
    for t in tiling.plan(h, w, tile, overlap):
        seen[t.core] += 1
        for axis, length in ((0, h), (1, w)):
            # Reads are in the coordinates of the padded image.
            pad = tiling.padding(length, overlap)
            core, read = t.core[axis], t.read[axis]
            assert pad >= overlap and length + 2 * pad >= tiling.MIN_READ
            assert 0 <= read.start <= core.start + pad - overlap
            assert core.stop + pad + overlap <= read.stop <= length + 2 * pad
            assert read.stop - read.start >= tiling.MIN_READ
    assert np.all(seen == 1)


def test_run_into_stitches_a_pointwise_function_exactly():
    img = np.arange(35 * 23 * 3, dtype=np.uint16).reshape(35, 23, 3)

    def up2(tile):
        return np.repeat(np.repeat(tile, 2, axis=0), 2, axis=1)

    def write(piece, keep, dest):
        dest[...] = up2(piece)[keep]

    out = tiling.run_into(write, img, 2, tile=7, overlap=1)
    assert np.array_equal(out, up2(img))


@pytest.fixture(scope="module")
def upscalers():
    return {case: srup.load(case[0], case[1], device="cpu", precision="fp32") for case in CASES}


@pytest.mark.parametrize("case", CASES, ids=[f"{n}-x{s}" for n, s in CASES])
@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    h=st.integers(1, 70),
    w=st.integers(1, 70),
    channels=st.sampled_from([1, 2, 3, 4]),
    tile=st.integers(1, 48),
    seed=st.integers(0, 2**16),
)
@example(h=32, w=9, channels=3, tile=1, seed=4)  # narrow and tall: tiles one pixel wide
def test_tiled_output_equals_untiled_output(upscalers, case, h, w, channels, tile, seed):
    up = upscalers[case]
    img = np.random.default_rng(seed).integers(0, 256, (h, w, channels), dtype=np.uint8)
    up.tile = 0
    whole = up.upscale_array(img)
    up.tile = tile
    tiled = up.upscale_array(img)
    assert np.array_equal(whole, tiled)


@pytest.mark.parametrize("name", registry.names())
def test_bf16_tiled_output_is_within_one_level_of_untiled_output(name):
    # The README's bf16 guarantee: oneDNN's native bf16 kernels may round a few pixels
    # differently at some tile shapes (emulated bf16 does not), never by more than a level.
    img = photo(70, 52, seed=3)
    whole = srup.load(name, 3, device="cpu", precision="bf16", tile=0).upscale_array(img)
    for tile in (32, 41):  # 32: the smallest tile load() takes (srup.choices.MIN_TILE)
        tiled = srup.load(name, 3, device="cpu", precision="bf16", tile=tile).upscale_array(img)
        diff = np.abs(whole.astype(int) - tiled.astype(int))
        assert diff.max() <= 1 and (diff > 0).mean() <= 0.005


@pytest.mark.parametrize("name", registry.names())
@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_device_resident_tiler_gives_the_host_tilers_pixels(name, channels):
    # The GPU path's logic (padding, bands, placement, rounding, interleaving on the
    # device), run on the CPU in fp32, where both tilers must agree exactly.
    img = photo(83, 61, seed=channels)
    if channels in (1, 2):
        img = np.stack([img[:, :, 0], img[:, :, 2]], axis=2)[:, :, :channels]
    elif channels == 4:
        img = np.concatenate([img, img[:, :, :1]], axis=2)
    host = srup.load(name, 2, device="cpu", precision="fp32", tile=0).upscale_array(img)
    resident = srup.load(name, 2, device="cpu", precision="fp32", resident=True)
    assert isinstance(resident.tiler, ResidentTiler) and resident.tile is None
    assert np.array_equal(resident.upscale_array(img), host)  # one band
    for tile in (17, 40):
        resident.tile = tile
        assert np.array_equal(resident.upscale_array(img), host), tile


def test_device_resident_bands_split_a_large_output_and_keep_16_bit_levels(monkeypatch):
    from srup.runtime.tilers import device as res

    up = srup.load("fsrcnn", 2, device="cpu", precision="fp32", resident=True)
    tiler = up.tiler
    assert tiler.bands(1000, 1000) == (250, 1000)  # 4 MP out: bands, so copies overlap
    assert tiler.bands(100, 150) == (100, 150)
    pad = 2 * tiler.overlap

    def budget_for(rows: int, width: int) -> int:
        return int(tiler.bytes_per_out_px * 4 * (width + pad) * (rows + pad)) + 1

    monkeypatch.setattr(res, "DEVICE_TILE_BUDGET_BYTES", budget_for(150, 200))
    assert tiler.bands(300, 200) == (150, 200)  # two bands fit the budget, one does not
    monkeypatch.setattr(res, "DEVICE_TILE_BUDGET_BYTES", budget_for(40, 4000))
    side_h, side_w = tiler.bands(300, 4000)
    assert side_h == side_w < 4000  # too little for a 64-row full-width band: squares
    monkeypatch.setattr(res, "DEVICE_TILE_BUDGET_BYTES", budget_for(50, 90))
    deep = np.random.default_rng(0).integers(0, 65536, (130, 90, 3), dtype=np.uint16)
    host = srup.load("fsrcnn", 2, device="cpu", precision="fp32", tile=0).upscale_array(deep)
    out = up.upscale_array(deep)
    assert out.dtype == np.uint16 and np.array_equal(out, host)


def test_run_into_writes_each_tiles_kept_pixels_into_their_place_once():
    img = np.arange(35 * 23 * 3, dtype=np.uint16).reshape(35, 23, 3)
    out = np.zeros((70, 46, 3), dtype=img.dtype)

    def write(piece, keep, dest):
        assert np.shares_memory(dest, out)  # the output itself: no copy follows
        dest += np.repeat(np.repeat(piece, 2, axis=0), 2, axis=1)[keep]  # twice: doubled

    assert tiling.run_into(write, img, 2, tile=7, overlap=1, out=out) is out
    assert np.array_equal(out, np.repeat(np.repeat(img, 2, axis=0), 2, axis=1))
