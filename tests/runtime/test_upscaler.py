"""The Python API: srup.load and Upscaler, on PIL images and arrays."""

import re

import numpy as np
import pytest
from PIL import Image
from skimage import data

import srup
from srup.errors import (
    BadImageError,
    DeviceError,
    InvalidArgument,
    InvalidArgumentType,
    UnknownModelError,
)
from srup.models import registry
from srup.models.shipped import FAST_MACS_1080P
from srup.models.weights import shipped, split_name
from tests.conftest import photo

SHIPPED = sorted(shipped())


def test_every_model_and_scale_the_cli_offers_has_shipped_weights():
    for spec in registry.specs():
        for s in spec.scales:
            assert (spec.name, s) in SHIPPED, f"no weights for {spec.name} ×{s}"


@pytest.mark.parametrize("name,scale", SHIPPED)
def test_shipped_models_beat_bicubic_on_a_natural_image(name, scale):
    hr = data.astronaut()[::2, ::2][: 120 - 120 % scale, : 120 - 120 % scale]
    lr = srup.imresize(hr, 1 / scale)
    if split_name(name)[1] == "capture":
        # The capture variants are made for handheld captures, not the papers' clean LR
        # (where they give up about 1 dB to the clean models): they must beat bicubic there.
        from srup.data.degrade import parse

        lr = parse("phone,mlen=3:3,csigma=3:3,jpeg=65:65").apply(
            hr, scale, np.random.default_rng(0)
        )
    up = srup.load(name, scale, device="cpu", precision="fp32")
    sr = up.upscale_array(lr)
    bicubic = srup.imresize(lr, scale)
    assert srup.psnr(sr, hr, crop_border=scale) > srup.psnr(bicubic, hr, crop_border=scale)


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA", "I;16"])
def test_pil_mode_is_preserved(mode):
    img = Image.fromarray(photo(20, 14))
    img = (
        Image.fromarray(np.asarray(img.convert("L")).astype(np.uint16) * 257)
        if mode == "I;16"
        else img.convert(mode)
    )
    out = srup.load(scale=2, device="cpu", precision="fp32").upscale(img)
    assert out.mode == mode
    assert out.size == (40, 28)


def test_palette_image_comes_back_rgb():
    img = Image.fromarray(photo(20, 14)).convert("P")
    assert srup.load(scale=2, device="cpu", precision="fp32").upscale(img).mode == "RGB"


def test_array_variant_keeps_dtype_and_layout():
    up = srup.load(scale=3, device="cpu", precision="fp32")
    gray = photo(10, 6)[:, :, 0]
    assert up.upscale_array(gray).shape == (18, 30)
    sixteen = gray.astype(np.uint16) * 257
    out = up.upscale_array(sixteen)
    assert out.dtype == np.uint16
    # 16-bit stays smooth: far more than 256 distinct levels survive.
    assert (
        len(np.unique(up.upscale_array(np.tile(np.arange(0, 65535, 97, dtype=np.uint16), (12, 1)))))
        > 1000
    )


def test_sixteen_bit_matches_eight_bit_result_up_to_quantisation():
    up = srup.load(scale=2, device="cpu", precision="fp32")
    rgb8 = photo(24, 20)[:, :, 0]
    out8 = up.upscale_array(rgb8).astype(float)
    out16 = up.upscale_array(rgb8.astype(np.uint16) * 257).astype(float) / 257
    assert np.abs(out8 - out16).max() <= 1.0


def test_auto_model_is_a_fast_shipped_model():
    up = srup.load(scale=3, device="cpu", precision="fp32")
    assert up.name in {n for n, s in SHIPPED if s == 3}
    assert up.spec.macs_per_pixel(3) * 1920 * 1080 <= FAST_MACS_1080P


def test_unknown_model_and_scale_errors_list_what_exists():
    with pytest.raises(UnknownModelError, match="available: "):
        srup.load("nope", 3)
    with pytest.raises(UnknownModelError, match="available scales for espcn: 2, 3, 4"):
        srup.load("espcn", 7)


def test_absent_device_is_a_clear_error():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(DeviceError, match="no CUDA GPU"):
        srup.load(scale=2, device="cuda")


def test_fp16_on_cpu_is_refused_and_bf16_works():
    with pytest.raises(DeviceError, match="not supported on cpu"):
        srup.load(scale=2, device="cpu", precision="fp16")
    up = srup.load(scale=2, device="cpu", precision="bf16")
    ref = srup.load(scale=2, device="cpu", precision="fp32")
    img = photo(30, 30)
    diff = np.abs(up.upscale_array(img).astype(int) - ref.upscale_array(img).astype(int))
    assert diff.max() <= 3


@pytest.mark.parametrize("name", ["espcn", "fsrcnn"])
def test_bf16_keeps_the_first_layer_float32_and_fp16_runs_every_layer_in_fp16(name):
    # bf16 cannot hold the picture's 8-bit levels; fp16 can, and a float32 first layer
    # would cost a GPU its output's traffic twice over (benchmarks/half_first_layer.py).
    import torch

    from srup.models.descriptor import describe
    from srup.runtime.upscaler import Upscaler

    d = describe(name, 3)
    for dtype in (torch.bfloat16, torch.float16):
        up = Upscaler(d, torch.device("cpu"), dtype)
        weights = [m.weight.dtype for m in up.net.modules() if isinstance(m, torch.nn.Conv2d)]
        first = torch.float32 if dtype == torch.bfloat16 else dtype
        assert weights[0] == first and set(weights[1:]) == {dtype}


def test_bad_arguments_to_the_upscaler_methods_are_srup_type_and_value_errors():
    up = srup.load(scale=2, device="cpu", precision="fp32")
    with pytest.raises(InvalidArgumentType, match="channels"):
        up.upscale_array(np.zeros((4, 4, 5), dtype=np.uint8))
    with pytest.raises(InvalidArgumentType, match="uint16 or uint8"):
        up.upscale_array(np.zeros((4, 4), dtype=np.float32))
    with pytest.raises(InvalidArgument, match="empty"):
        up.upscale_array(np.zeros((0, 4), dtype=np.uint8))
    with pytest.raises(InvalidArgumentType, match="progress"):
        up.upscale_array(np.zeros((4, 4), dtype=np.uint8), progress=5)
    with pytest.raises(InvalidArgumentType, match="PIL image"):
        up.upscale(np.zeros((4, 4), dtype=np.uint8))
    with pytest.raises(InvalidArgumentType, match="size"):
        up.upscale(Image.new("L", (4, 4)), size=5)
    with pytest.raises(InvalidArgument, match="at least 1"):
        up.upscale(Image.new("L", (4, 4)), size=(0, 4))
    with pytest.raises(InvalidArgumentType, match="Picture"):
        up.upscale_picture(np.zeros((4, 4), dtype=np.uint8))
    with pytest.raises(InvalidArgumentType, match="Picture"):
        up.process("board.png")


def test_sixteen_bit_grey_with_a_colour_key_comes_back_from_the_pil_api_as_la(tmp_path):
    from srup.media import pictures as imageio

    grey = (np.arange(48, dtype=np.uint16).reshape(6, 8) * 1000).astype(np.uint16)
    path = tmp_path / "key16.png"
    Image.fromarray(grey).save(path, transparency=5000)
    with Image.open(path) as img:
        out = srup.load(scale=2, device="cpu", precision="fp32").upscale(img)
    assert out.mode == "LA" and out.size == (16, 12)
    assert np.asarray(out)[..., 1].min() < 32  # around the keyed pixel: transparent
    assert imageio.read(path).pixels.shape[2] == 2


@pytest.mark.parametrize("shape", [(1, 1, 3), (1, 9, 3), (9, 1, 1), (2, 2, 4)])
def test_tiny_images_upscale(shape):
    up = srup.load(scale=3, device="cpu", precision="fp32")
    out = up.upscale_array(np.full(shape, 100, dtype=np.uint8))
    assert out.shape == (shape[0] * 3, shape[1] * 3, shape[2])
    assert np.abs(out.astype(int) - 100).max() <= 2


@pytest.mark.parametrize("native", [True, False])
def test_auto_precision_on_cpu_is_fp32_whatever_the_bf16_support(monkeypatch, native):
    import torch

    from srup import devices

    monkeypatch.delenv("SRUP_PRECISION", raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: native, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: native, raising=False)
    assert devices.resolve_precision("auto", torch.device("cpu")) == torch.float32
    up = srup.load(scale=2, device="cpu", precision="fp32", tile=0)
    assert up.precision == "fp32"


def test_library_calls_leave_process_settings_alone(monkeypatch, tmp_path):
    from srup.media import pictures as imageio
    from srup.runtime import allocator

    def no_global_change() -> bool:
        raise AssertionError("a library call tuned malloc for the whole process")

    monkeypatch.setattr(allocator, "keep_freed_memory", no_global_change)
    limit = Image.MAX_IMAGE_PIXELS
    Image.fromarray(photo(20, 16)).save(tmp_path / "a.png")
    up = srup.load(scale=2, device="cpu", precision="fp32")
    up.upscale_picture(imageio.read(tmp_path / "a.png"))
    assert limit == Image.MAX_IMAGE_PIXELS


def test_pillow_limit_of_the_host_program_is_reported_not_raised(monkeypatch, tmp_path):
    from srup.media import pictures as imageio

    Image.fromarray(photo(20, 16)).save(tmp_path / "a.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 320 pixels is over twice that
    with pytest.raises(BadImageError, match="MAX_IMAGE_PIXELS"):
        imageio.read(tmp_path / "a.png")


def test_ddp_gets_the_index_of_cuda_0():
    import torch

    from srup.training.loop import ddp_device_ids

    assert ddp_device_ids(torch.device("cuda", 0)) == [0]
    assert ddp_device_ids(torch.device("cuda", 1)) == [1]
    assert ddp_device_ids(torch.device("cpu")) is None


def test_auto_picks_the_real_variant_for_lossy_input_where_one_is_shipped(tmp_path, monkeypatch):
    import shutil

    from srup.imaging.sizing import Sizing
    from srup.media import pictures as imageio
    from srup.models.shipped import default_model
    from srup.models.weights import path_for
    from srup.runtime.auto import Engine

    # A weights folder with fsrcnn ×2 and a "real" variant of it (the same tensors).
    clean = path_for("fsrcnn", 2)
    monkeypatch.setenv("SRUP_WEIGHTS", str(tmp_path / "w"))
    (tmp_path / "w").mkdir()
    shutil.copy(clean, tmp_path / "w" / "fsrcnn_x2.safetensors")
    assert default_model(2, lossy=True) == "fsrcnn"  # no variant: the clean model
    shutil.copy(
        tmp_path / "w" / "fsrcnn_x2.safetensors", tmp_path / "w" / "fsrcnn-real_x2.safetensors"
    )
    assert default_model(2, lossy=False) == "fsrcnn"
    assert default_model(2, lossy=True) == "fsrcnn-real"
    Image.fromarray(photo(20, 16)).save(tmp_path / "a.jpg", quality=80)
    Image.fromarray(photo(20, 16)).save(tmp_path / "a.png")
    Image.fromarray(photo(20, 16)).save(tmp_path / "lossless.webp", lossless=True)
    Image.fromarray(photo(20, 16)).save(tmp_path / "lossy.webp", quality=80)
    auto = Engine(Sizing(2), device="cpu", precision="fp32", tile=0)
    picks = {
        name: auto.process(imageio.read(tmp_path / name))[1]
        for name in ("a.jpg", "a.png", "lossless.webp", "lossy.webp")
    }
    # Lossy files walk from fsrcnn to fsrcnn-real by their estimate (srup.models.denoise): the
    # real model itself, or a mix of the two named by its strength.
    assert picks["a.png"] == picks["lossless.webp"] == "fsrcnn"
    for lossy in ("a.jpg", "lossy.webp"):
        assert re.fullmatch(r"fsrcnn-real|fsrcnn-clean\+real@0\.\d\d", picks[lossy]), picks


def test_srup_precision_forces_what_auto_means(monkeypatch):
    import torch

    from srup import devices

    monkeypatch.setenv("SRUP_PRECISION", "bf16")
    assert devices.resolve_precision("auto", torch.device("cpu")) == torch.bfloat16
    assert devices.resolve_precision("fp32", torch.device("cpu")) == torch.float32
    monkeypatch.setenv("SRUP_PRECISION", "fp16")
    with pytest.raises(DeviceError, match="not supported on cpu"):
        devices.resolve_precision("auto", torch.device("cpu"))
