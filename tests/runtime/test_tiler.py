"""The runtime's interfaces: the ``tile`` option parsed once (TileSize), tilers that own
their tile policy, one protocol for "process one picture", a network in hand run as a
descriptor, and out-of-memory translated once into a SrupError."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import srup
from srup.errors import DeviceMemoryError, InvalidArgument, InvalidArgumentType, SrupError
from srup.imaging.sizing import Sizing
from srup.models import registry
from srup.models.descriptor import ModelDescriptor
from srup.runtime.auto import Engine
from srup.runtime.processor import PictureProcessor
from srup.runtime.tilers.device import ResidentTiler
from srup.runtime.tilers.host import HostTiler
from srup.runtime.tilers.tiler import TileSize
from srup.runtime.upscaler import Upscaler
from tests.conftest import photo


def test_tile_sizes_parse_once_with_the_documented_bounds():
    assert TileSize.parse("auto") is TileSize.AUTO and TileSize.AUTO.auto
    assert TileSize.parse(0) == TileSize.WHOLE and str(TileSize.WHOLE) == "0"
    assert TileSize.parse(np.int64(48)).side == 48 and type(TileSize.parse(48).side) is int
    assert TileSize.parse(TileSize(7)) == TileSize(7)  # a parsed value is taken as it is
    assert TileSize.parse(17, smallest=0).side == 17
    with pytest.raises(InvalidArgument, match="at least 32 pixels"):
        TileSize.parse(5)
    with pytest.raises(InvalidArgumentType):
        TileSize.parse(1.5)
    with pytest.raises(InvalidArgument):
        TileSize.parse("big")


def test_each_tiler_decides_what_auto_means():
    host = srup.load("fsrcnn", 2, device="cpu", precision="fp32")
    assert isinstance(host.tiler, HostTiler) and host.tile == host.tiler.auto_tile() > 0
    resident = srup.load("fsrcnn", 2, device="cpu", precision="fp32", resident=True)
    assert isinstance(resident.tiler, ResidentTiler) and resident.tile is None
    resident.tile = 40
    assert resident.tiler.tile == TileSize(40) and resident.tile == 40
    resident.tile = "auto"
    assert resident.tile is None


def test_upscalers_and_engines_are_picture_processors():
    up = srup.load("fsrcnn", 2, device="cpu", precision="fp32")
    engine = Engine(Sizing(2), "fsrcnn", device="cpu", precision="fp32", tile=TileSize.WHOLE)
    assert isinstance(up, PictureProcessor) and isinstance(engine, PictureProcessor)
    assert engine.first.tile == 0  # a TileSize goes through as parsed


def test_a_network_in_hand_runs_as_trained_and_as_its_weights_file_would():
    d = srup.describe("espcn", 2)
    net = d.build("train")
    cpu, fp32 = torch.device("cpu"), torch.float32
    img = photo(30, 26, seed=1)
    in_hand = ModelDescriptor.from_network(net, registry.get("espcn"), 2)
    assert in_hand.runs_as == "train" and in_hand.channels == 1
    trained = Upscaler(in_hand, cpu, fp32, tile=0)
    assert trained.net is not net and all(p.requires_grad for p in net.parameters())
    assert trained.net.upsample.form == "train"  # not rewritten for inference
    shipped = Upscaler(d, cpu, fp32, tile=0).upscale_array(img)
    assert np.abs(trained.upscale_array(img).astype(int) - shipped.astype(int)).max() <= 1


def test_out_of_memory_is_translated_once_into_a_srup_error(monkeypatch):
    up = srup.load("fsrcnn", 2, device="cpu", precision="fp32")

    def refuse(self, *args, **kwargs):
        raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried 9 GB")

    monkeypatch.setattr(HostTiler, "run", refuse)
    with pytest.raises(DeviceMemoryError, match=r"^out of memory on cpu$") as caught:
        up.upscale_array(photo(20, 20))
    assert isinstance(caught.value, SrupError) and isinstance(caught.value, MemoryError)
    assert caught.value.exit_code == 1


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="glibc's rule")
@pytest.mark.parametrize(
    ("model", "scale", "precision"),
    [("fsrcnn", 2, "fp32"), ("espcn", 2, "int8"), ("srcnn", 3, "fp32")],
)
def test_the_auto_tile_keeps_activations_under_glibcs_mmap_threshold_unless_memory_is_kept(
    monkeypatch, model, scale, precision
):
    """Left as it came, glibc unmaps freed blocks over 32 MiB, and every tile's activations
    would be page-faulted in anew: the library's auto tile keeps the largest activation (half
    the working memory) under that; with freed memory kept (``srup upscale``) the tile is
    sized by the working-memory budget alone."""
    from srup.devices import int8_engine
    from srup.runtime import allocator
    from srup.runtime.tilers.host import TILE_BUDGET_BYTES

    if precision == "int8" and not int8_engine():
        pytest.skip("torch build without oneDNN int8")
    tiler = srup.load(model, scale, device="cpu", precision=precision).tiler
    monkeypatch.setattr(allocator, "freed_memory_kept", lambda: False)
    side = tiler.auto_tile()
    read = (side + 2 * tiler.overlap) * scale
    largest = (tiler.bytes_per_out_px - 64) / 2 * read**2
    assert largest <= allocator.MMAP_THRESHOLD_MAX
    monkeypatch.setattr(allocator, "freed_memory_kept", lambda: True)
    kept = tiler.auto_tile()
    assert kept > side
    assert ((kept + 2 * tiler.overlap) * scale) ** 2 * tiler.bytes_per_out_px <= TILE_BUDGET_BYTES
