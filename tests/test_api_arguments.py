"""Every public function refuses bad arguments with srup's own errors.

A table of bad arguments per function (srup.load, srup.describe, srup.imresize, the
metrics, Upscaler.upscale's size), and hypothesis over numbers and shapes: each call either
works or raises a SrupError (InvalidArgumentType, also a TypeError, for a wrong type, dtype
or shape; InvalidArgument, also a ValueError, for a value out of range), never an
AttributeError, ZeroDivisionError or a TypeError from deep inside, and never allocates
first. export_onnx's table is in test_export.py, train's in test_train_safety.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

import srup
from srup import arguments
from srup.errors import (
    BadWeightsError,
    DeviceError,
    InvalidArgument,
    InvalidArgumentType,
    SrupError,
    UnknownModelError,
)
from tests.conftest import photo


def test_the_argument_errors_are_value_and_type_errors_with_exit_code_2():
    assert issubclass(InvalidArgument, SrupError) and issubclass(InvalidArgument, ValueError)
    assert issubclass(InvalidArgumentType, InvalidArgument)
    assert issubclass(InvalidArgumentType, TypeError)
    assert InvalidArgument.exit_code == InvalidArgumentType.exit_code == 2


# ----------------------------------------------------------------------------- load

LOAD_CASES = [
    (dict(model=3), InvalidArgumentType),
    (dict(model=None), InvalidArgumentType),
    (dict(model=""), InvalidArgument),
    (dict(scale="3"), InvalidArgumentType),
    (dict(scale=3.0), InvalidArgumentType),
    (dict(scale=True), InvalidArgumentType),
    (dict(scale=0), UnknownModelError),
    (dict(scale=-3), UnknownModelError),
    (dict(scale=10**100), UnknownModelError),
    (dict(tile=-5), InvalidArgument),
    (dict(tile=1), InvalidArgument),
    (dict(tile=31), InvalidArgument),
    (dict(tile="big"), InvalidArgument),
    (dict(tile="0"), InvalidArgument),
    (dict(tile=2.5), InvalidArgumentType),
    (dict(tile=True), InvalidArgumentType),
    (dict(tile=None), InvalidArgumentType),
    (dict(device=None), InvalidArgumentType),
    (dict(device=0), InvalidArgumentType),
    (dict(device="gpu7"), DeviceError),
    (dict(precision=16), InvalidArgumentType),
    (dict(precision="fp64"), DeviceError),
    (dict(lossy="yes"), InvalidArgumentType),
    (dict(lossy=None), InvalidArgumentType),
    (dict(resident="no"), InvalidArgumentType),
    (dict(weights=3), InvalidArgumentType),
    (dict(weights=""), InvalidArgument),
    (dict(weights="no/such/file.safetensors"), BadWeightsError),
    (dict(denoise=-0.1), InvalidArgument),
    (dict(denoise=1.5), InvalidArgument),
    (dict(denoise=math.nan), InvalidArgument),
    (dict(denoise="strong"), InvalidArgument),
    (dict(denoise=True), InvalidArgumentType),
    (dict(denoise=None), InvalidArgumentType),
    (dict(denoise=0.3, lossy=True), InvalidArgument),
    (dict(denoise=0.3, model="fsrcnn-real"), InvalidArgument),
]


@pytest.mark.parametrize(
    "kwargs,error",
    LOAD_CASES,
    ids=[f"{next(iter(k))}={next(iter(k.values()))!r}" for k, _ in LOAD_CASES],
)
def test_load_refuses_bad_arguments_with_srup_errors(kwargs, error):
    call = dict(scale=2, device="cpu", precision="fp32") | kwargs
    with pytest.raises(error) as caught:
        srup.load(**call)
    assert isinstance(caught.value, SrupError) and "\n" not in str(caught.value)


@pytest.mark.parametrize("tile", [0, 32, 64, np.int64(48), "auto"])
def test_load_takes_every_valid_tile(tile):
    up = srup.load(scale=2, device="cpu", precision="fp32", tile=tile)
    if isinstance(tile, str):  # auto: a memory budget's tile on the CPU
        assert isinstance(up.tile, int) and up.tile >= 0
    else:
        assert up.tile == int(tile) and type(up.tile) is int


# ------------------------------------------------------------------------- describe


@pytest.mark.parametrize(
    "kwargs,error",
    [
        (dict(model=["espcn"]), InvalidArgumentType),
        (dict(scale="3"), InvalidArgumentType),
        (dict(scale=2.5), InvalidArgumentType),
        (dict(lossy=1), InvalidArgumentType),
        (dict(weights=b"w.safetensors"), InvalidArgumentType),
        (dict(model="espcn", scale=7), UnknownModelError),
        (dict(denoise="0.5"), InvalidArgument),
        (dict(denoise=[0.5]), InvalidArgumentType),
        (dict(model="espcn", scale=7, denoise=0.5), UnknownModelError),
    ],
)
def test_describe_refuses_bad_arguments_with_srup_errors(kwargs, error):
    with pytest.raises(error):
        srup.describe(**kwargs)


# -------------------------------------------------------------------------- imresize

IMG = photo(20, 16)

IMRESIZE_CASES = [
    ((None, 2), {}, InvalidArgumentType),
    (("picture.png", 2), {}, InvalidArgumentType),
    (([[1, 2], [3]], 2), {}, InvalidArgumentType),
    ((np.zeros((4, 4), np.int16), 2), {}, InvalidArgumentType),
    ((np.zeros((4, 4), np.uint16), 2), {}, InvalidArgumentType),
    ((np.zeros((4, 4), bool), 2), {}, InvalidArgumentType),
    ((np.zeros((4, 4), np.complex64), 2), {}, InvalidArgumentType),
    ((np.zeros(4, np.uint8), 2), {}, InvalidArgumentType),
    ((np.zeros((0, 4), np.uint8), 2), {}, InvalidArgument),
    ((np.zeros((4, 4, 0), np.uint8), 2), {}, InvalidArgument),
    ((IMG,), {}, InvalidArgument),
    ((IMG, 2), dict(output_shape=(3, 3)), InvalidArgument),
    ((IMG, 0), {}, InvalidArgument),
    ((IMG, -2), {}, InvalidArgument),
    ((IMG, math.nan), {}, InvalidArgument),
    ((IMG, math.inf), {}, InvalidArgument),
    ((IMG, "2"), {}, InvalidArgumentType),
    ((IMG, True), {}, InvalidArgumentType),
    ((IMG, 1e-9), {}, InvalidArgument),  # would need 30 GiB of kernel taps
    ((IMG, 0.06), {}, InvalidArgument),  # 16 × 0.06 < 1: below one pixel
    ((IMG, 1e9), {}, InvalidArgument),
    ((IMG, 2000), {}, InvalidArgument),
    ((IMG,), dict(output_shape=(0, 5)), InvalidArgument),
    ((IMG,), dict(output_shape=(-1, 5)), InvalidArgument),
    ((IMG,), dict(output_shape=(5,)), InvalidArgumentType),
    ((IMG,), dict(output_shape="ab"), InvalidArgumentType),
    ((IMG,), dict(output_shape=(2.5, 3)), InvalidArgumentType),
    ((IMG,), dict(output_shape=None), InvalidArgument),
    ((IMG,), dict(output_shape=(40000, 40000)), InvalidArgument),
    ((IMG, 2), dict(antialias="no"), InvalidArgumentType),
]


@pytest.mark.parametrize("args,kwargs,error", IMRESIZE_CASES)
def test_imresize_refuses_bad_arguments_with_srup_errors(args, kwargs, error):
    with pytest.raises(error):
        srup.imresize(*args, **kwargs)


def test_imresize_refuses_a_tiny_scale_before_allocating(monkeypatch):
    # The kernel of imresize(x, 1e-9) would be 4e9 taps wide: nothing may be allocated.
    import srup.imaging.resize as resize

    def no_allocation(*a, **k):
        raise AssertionError("contributions computed for a scale that is refused")

    monkeypatch.setattr(resize, "contributions", no_allocation)
    with pytest.raises(InvalidArgument, match="smallest scale for it is 1/16"):
        srup.imresize(IMG, 1e-9)


def test_imresize_takes_the_smallest_scale_exactly():
    # 49 × (1 / 49) is 0.9999999999999999 in floating point: still one pixel.
    assert srup.imresize(np.zeros((49, 98), np.uint8), 1 / 49).shape == (1, 2)


SCALES = st.one_of(
    st.floats(min_value=-4, max_value=12),
    st.sampled_from([5e-324, 1e-300, 1e-9, 1e12, 1e300, -0.0, 0.0, math.nan, -math.inf]),
    st.integers(-3, 6),
)


@settings(max_examples=150, deadline=None)
@given(
    h=st.integers(1, 10),
    w=st.integers(1, 10),
    channels=st.sampled_from([None, 1, 3, 4]),
    dtype=st.sampled_from(["uint8", "float32", "float64", "int32", "uint16"]),
    scale=SCALES,
)
def test_imresize_either_resizes_or_raises_a_srup_error(h, w, channels, dtype, scale):
    shape = (h, w) if channels is None else (h, w, channels)
    img = np.random.default_rng(h * 31 + w).integers(0, 256, shape).astype(dtype)
    try:
        out = srup.imresize(img, scale)
    except InvalidArgument:
        return
    assert dtype in ("uint8", "float32", "float64") and scale > 0 and math.isfinite(scale)
    assert out.shape[:2] == (math.ceil(h * scale), math.ceil(w * scale))
    assert out.shape[2:] == shape[2:] and out.dtype == img.dtype


@settings(max_examples=80, deadline=None)
@given(
    out_h=st.one_of(st.integers(-2, 30), st.floats(0, 5), st.just(50_000)),
    out_w=st.one_of(st.integers(-2, 30), st.just(50_000)),
)
def test_imresize_output_shape_either_resizes_or_raises_a_srup_error(out_h, out_w):
    # 50,000² is over the bound (refused before any allocation); 50,000 × 30 is not.
    try:
        out = srup.imresize(IMG, output_shape=(out_h, out_w))
    except InvalidArgument:
        assert not (isinstance(out_h, int) and out_h >= 1 and out_w >= 1 and out_h * out_w <= 10**7)
        return
    assert out.shape == (out_h, out_w, 3)


# --------------------------------------------------------------------------- metrics

A = photo(24, 20)

METRIC_CASES = [
    ((A.astype(np.float32), A.astype(np.float32)), {}, InvalidArgumentType),
    ((A.tolist(), A.tolist()), {}, InvalidArgumentType),  # int64 once an array
    ((None, None), {}, InvalidArgumentType),
    (("a.png", "b.png"), {}, InvalidArgumentType),
    ((A[0, :, 0], A[0, :, 0]), {}, InvalidArgumentType),
    ((A[None], A[None]), {}, InvalidArgumentType),
    ((A[:, :, :2], A[:, :, :2]), {}, InvalidArgumentType),  # Y of two channels
    ((A, A[:, :-1]), {}, InvalidArgument),
    ((A, A), dict(crop_border=-1), InvalidArgument),
    ((A, A), dict(crop_border=1.5), InvalidArgumentType),
    ((A, A), dict(crop_border=True), InvalidArgumentType),
    ((A, A), dict(crop_border="2"), InvalidArgumentType),
    ((A, A), dict(crop_border=10), InvalidArgument),  # nothing left of 24×20
    ((A, A), dict(y_channel="yes"), InvalidArgumentType),
    ((A[:0], A[:0]), {}, InvalidArgument),
]


@pytest.mark.parametrize("metric", ["psnr", "ssim", "mse"])
@pytest.mark.parametrize("args,kwargs,error", METRIC_CASES)
def test_metrics_refuse_bad_arguments_with_srup_errors(metric, args, kwargs, error):
    with pytest.raises(error):
        getattr(srup, metric)(*args, **kwargs)


@pytest.mark.parametrize("metric", ["psnr", "ssim", "mse"])
def test_metrics_take_two_channel_pictures_without_y(metric):
    value = getattr(srup, metric)(A[:, :, :2], A[:, :, :2], y_channel=False)
    assert value == {"psnr": math.inf, "ssim": 1.0, "mse": 0.0}[metric]


@settings(max_examples=100, deadline=None)
@given(
    h=st.integers(0, 16),
    w=st.integers(0, 16),
    channels=st.sampled_from([None, 1, 2, 3, 4]),
    crop=st.integers(-1, 8),
    y_channel=st.booleans(),
)
def test_metrics_either_score_or_raise_a_srup_error(h, w, channels, crop, y_channel):
    shape = (h, w) if channels is None else (h, w, channels)
    rng = np.random.default_rng(h * 17 + w)
    a, b = (rng.integers(0, 256, shape, dtype=np.uint8) for _ in range(2))
    for metric in (srup.psnr, srup.ssim, srup.mse):
        try:
            value = metric(a, b, crop_border=crop, y_channel=y_channel)
        except InvalidArgument:
            continue
        assert isinstance(value, float)
        assert min(h, w) - 2 * crop >= 1 and crop >= 0
        if metric is srup.ssim and min(h, w) - 2 * crop < 11:
            assert math.isnan(value)
        else:
            assert not math.isnan(value)


# --------------------------------------------------------- Upscaler.upscale's size


@pytest.fixture(scope="module")
def up():
    return srup.load("espcn", 2, device="cpu", precision="fp32")


@pytest.mark.parametrize(
    "size,error",
    [
        ((0, 5), InvalidArgument),
        ((40, -1), InvalidArgument),
        ((10**6, 10**6), InvalidArgument),
        (("a", "b"), InvalidArgumentType),
        ((2.5, 3), InvalidArgumentType),
    ],
)
def test_upscale_to_a_size_that_cannot_be_refuses_it_with_a_srup_error(up, size, error):
    with pytest.raises(error):
        up.upscale(Image.fromarray(photo(20, 16)), size=size)


@pytest.mark.parametrize(
    "pixels",
    [np.zeros((4, 4), np.float32), np.zeros((4, 4, 5), np.uint8), np.zeros((0, 4), np.uint8)],
    ids=["float", "five-channels", "empty"],
)
def test_upscale_array_refuses_pixels_it_cannot_take_with_a_srup_error(up, pixels):
    with pytest.raises(SrupError):
        up.upscale_array(pixels)


# ------------------------------------------------ the checks themselves (srup.arguments)


@pytest.mark.parametrize(
    "check,value,error",
    [
        (lambda v: arguments.integer("n", v, minimum=0), -1, InvalidArgument),
        (lambda v: arguments.integer("n", v), np.float64(2), InvalidArgumentType),
        (lambda v: arguments.number("x", v, positive=True), -0.0, InvalidArgument),
        (lambda v: arguments.number("x", v), "1", InvalidArgumentType),
        (lambda v: arguments.boolean("b", v), 0, InvalidArgumentType),
        (lambda v: arguments.choice("c", v, ("a", "b")), "c", InvalidArgument),
        (lambda v: arguments.path("p", v), ".", InvalidArgument),
        (lambda v: arguments.size_pair("s", v), (1, 2, 3), InvalidArgumentType),
        (
            lambda v: arguments.instance("img", v, Image.Image, "a PIL image"),
            A,
            InvalidArgumentType,
        ),
        (lambda v: arguments.optional_callable("progress", v), "print", InvalidArgumentType),
    ],
)
def test_each_check_refuses_with_the_arguments_name(check, value, error):
    with pytest.raises(error):
        check(value)


def test_checks_return_plain_values():
    assert type(arguments.integer("n", np.int32(3))) is int
    assert type(arguments.number("x", np.float32(0.5))) is float
    assert arguments.boolean("b", np.bool_(True)) is True
    assert arguments.size_pair("s", [np.int64(4), 5]) == (4, 5)
    assert arguments.optional_callable("progress", None) is None


def test_imresize_bounds_the_float64_elements_it_allocates_not_only_the_pixels(monkeypatch):
    import srup.imaging.resize as resize

    def no_allocation(*a, **k):
        raise AssertionError("contributions computed for a size that is refused")

    monkeypatch.setattr(resize, "contributions", no_allocation)
    # 10**9 pixels pass the 2**30-pixel bound; three channels of float64 would be 24 GB.
    with pytest.raises(InvalidArgument, match=r"3,000,000,000 elements, over the limit"):
        srup.imresize(np.zeros((20, 20, 3), np.uint8), output_shape=(1, 10**9))


@pytest.mark.parametrize("order", [">", "<"])
def test_an_array_in_either_byte_order_comes_back_in_native_order(order):
    value = np.full((4, 4, 3), 1000, f"{order}u2")
    got = arguments.array("img", value, dtypes=("uint16",))
    assert got.dtype.isnative and got.dtype == np.uint16
    assert np.array_equal(got, value)
    if value.dtype.isnative:
        assert got is value  # no copy when none is needed
