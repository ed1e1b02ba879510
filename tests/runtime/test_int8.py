"""The int8 precision (srup.models.int8): CPU only, for the calibrated weight sets, asked for
by name (auto never chooses it)."""

import json
import shutil

import numpy as np
import pytest
import torch

import srup
from srup.devices import int8_engine
from srup.errors import DeviceError, UnsupportedPrecision
from srup.models.descriptor import describe
from srup.models.int8 import calibrated, calibrated_names
from srup.models.weights import weights_dir
from tests.conftest import photo

MODELS = ("espcn", "espcn7", "fsrcnn", "srcnn")
CALIBRATED = [(m, s) for m in MODELS for s in (2, 3, 4)]

needs_int8 = pytest.mark.skipif(not int8_engine(), reason="torch build without oneDNN int8")


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def test_the_calibrated_weight_sets_are_the_eligible_ones():
    assert calibrated_names(weights_dir()) == [f"{m} ×2/×3/×4" for m in MODELS]
    for m, s in CALIBRATED:
        assert "int8" in describe(m, s).precisions
    for m, s in [("fsrcnn-real", 2), ("espcn-real", 3), ("espcn7-capture", 3), ("espcn-rgb", 3)]:
        assert "int8" not in describe(m, s).precisions


@needs_int8
@pytest.mark.parametrize(("model", "scale"), CALIBRATED)
def test_cpu_int8_tiled_output_equals_untiled_output(model, scale):
    up = srup.load(model, scale, device="cpu", precision="int8", tile=0)
    assert up.precision == "int8"
    img = photo(70, 54, seed=scale)
    whole = up.upscale_array(img)
    up.tile = 32
    assert np.array_equal(up.upscale_array(img), whole)


@needs_int8
@pytest.mark.parametrize(("model", "scale"), CALIBRATED)
def test_cpu_int8_output_is_close_to_fp32(model, scale):
    img = photo(64, 48, seed=1)
    int8 = srup.load(model, scale, device="cpu", precision="int8").upscale_array(img)
    fp32 = srup.load(model, scale, device="cpu", precision="fp32").upscale_array(img)
    assert psnr(int8, fp32) >= 40
    assert not np.array_equal(int8, fp32)  # int8 did run


@pytest.mark.parametrize(("model", "scale"), [("fsrcnn-real", 2), ("espcn7-capture", 3)])
def test_an_uncalibrated_weight_set_is_refused_naming_those_calibrated(model, scale):
    with pytest.raises(
        UnsupportedPrecision, match=r"int8 runs only espcn ×2/×3/×4, .*srcnn ×2/×3/×4$"
    ):
        srup.load(model, scale, device="cpu", precision="int8")


def test_weights_of_other_bytes_are_not_calibrated(tmp_path, monkeypatch):
    for name in ("espcn_x3.safetensors", "int8.json"):
        shutil.copy(weights_dir() / name, tmp_path / name)
    assert calibrated(tmp_path / "espcn_x3.safetensors")
    table = json.loads((tmp_path / "int8.json").read_text())
    table["espcn_x3.safetensors"]["sha256"] = "0" * 64
    (tmp_path / "int8.json").write_text(json.dumps(table))
    assert not calibrated(tmp_path / "espcn_x3.safetensors")


def test_auto_never_chooses_int8(monkeypatch):
    assert srup.load("espcn", 3, device="cpu").precision == "fp32"
    monkeypatch.setenv("SRUP_PRECISION", "int8")
    with pytest.raises(DeviceError, match="auto never means int8"):
        srup.load("espcn", 3, device="cpu")


def test_int8_is_refused_off_the_cpu_and_without_onednn(monkeypatch):
    from srup.devices import resolve_precision

    with pytest.raises(UnsupportedPrecision, match="CPU only"):
        resolve_precision("int8", torch.device("cuda"))
    monkeypatch.setattr("srup.devices.int8_engine", lambda: False)
    with pytest.raises(UnsupportedPrecision, match="oneDNN"):
        srup.load("espcn", 3, device="cpu", precision="int8")
    assert issubclass(UnsupportedPrecision, srup.errors.SrupError)
    assert not issubclass(UnsupportedPrecision, DeviceError)


@needs_int8
@pytest.mark.parametrize(
    ("shape", "channels_last"),
    [((1, 1, 5, 7), False), ((2, 12, 9, 4), True), ((1, 56, 3, 3), True)],
)
def test_the_uint8_view_of_a_quantized_tensor_is_its_int_repr_over_the_same_bytes(
    shape, channels_last
):
    from srup.models.int8 import _plain

    x = torch.rand(shape, generator=torch.Generator().manual_seed(len(shape)))
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    q = torch.quantize_per_tensor(x, 1 / 200, 17, torch.quint8)
    plain = _plain(q)
    assert plain.dtype == torch.uint8 and plain.stride() == q.stride()
    assert torch.equal(plain, q.int_repr())
    assert plain.untyped_storage().data_ptr() == q.untyped_storage().data_ptr()


@needs_int8
@pytest.mark.parametrize("model", ["espcn7", "srcnn"])
def test_a_relu_after_an_int8_convolution_is_its_post_op(model):
    """The ReLU runs inside oneDNN's convolution, whose uint8 output is the ReLU's: the same
    levels, but for rounding ties, as a float32 output put through ReLU and quantized."""
    import torch.nn.functional as F

    from srup.models.forms import InPlace
    from srup.models.int8 import Int8Detail, _uint8, stored_calibration

    described = describe(model, 2)
    cal = stored_calibration(described.path)
    net = described.build("infer")
    detail = Int8Detail(net, cal)
    relus = sum(isinstance(m, InPlace) and m.fn == "relu" for m in net.body)
    convs = sum(isinstance(m, torch.nn.Conv2d) for m in net.body)
    assert relus and len(detail.steps) == convs  # no step of its own for a ReLU
    x = torch.rand(1, 1, 24, 20, generator=torch.Generator().manual_seed(5)) * 0.8 + 0.1
    with torch.inference_mode():
        t = _uint8(net.body_input(x), *cal.qparams("input"))
        fused = detail.steps[0](t)
        first = net.body[0]
        xs, xz = cal.qparams("input")
        ref_in = (t.float() - xz) * xs
        from srup.models.int8 import int8_weight

        qw, ws, bias = int8_weight(first.weight, first.bias, cal.means["body.0"])
        ref = F.conv2d(ref_in, qw.float() * ws[:, None, None, None], bias, padding=first.padding)
        unfused = _uint8(ref.relu(), *cal.qparams("body.1"))
    assert fused.dtype == torch.uint8
    assert int((fused.int() - unfused.int()).abs().max()) <= 1
    assert float((fused != unfused).float().mean()) < 0.01


@needs_int8
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_a_prelu_read_by_a_1x1_convolution_runs_as_two_fused_relu_halves(scale):
    """FSRCNN's PReLUs before its 1×1 convolutions become relu(y) and relu(-y) out of the
    convolution itself (the 1×1 weighs the second by -a): fewer steps, and the detail as near
    float32's as with the PReLU run in float32."""
    from srup.models.int8 import Int8Detail, stored_calibration

    described = describe("fsrcnn", scale)
    cal = stored_calibration(described.path)
    net = described.build("infer")
    split, plain = Int8Detail(net, cal), Int8Detail(net, cal, split_prelu=False)
    assert len(split.steps) == len(plain.steps) - 2  # body.1 and body.11
    # A smooth picture, as photos are (noise drives every layer past its calibrated range).
    low = torch.rand(1, 1, 6, 5, generator=torch.Generator().manual_seed(scale))
    x = torch.nn.functional.interpolate(low, size=(48, 40), mode="bicubic").clamp(0, 1)
    x = ((16 + 219 * x) / 255).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        ref, at = net.detail(x)
        errors = {}
        for name, detail in (("split", split), ("plain", plain)):
            out, offset = detail(x)
            assert offset == at and out.shape == ref.shape
            errors[name] = float(((out - ref) * 255).pow(2).mean())
    assert errors["split"] < 0.5 and errors["split"] < 1.5 * errors["plain"], errors


def _damage(entry: str, change):  # a change to one entry of int8.json, as a function
    def apply(table: dict) -> None:
        change(table[entry]) if callable(change) else table.__setitem__(entry, change)

    return apply


DAMAGED_FILES = {"not json": b"{bad", "empty": b"", "a list": b"[1, 2]", "binary": b"\xff\xfe\x00"}
DAMAGED_ENTRIES = {
    "no ranges": _damage("espcn_x3.safetensors", lambda e: e.pop("ranges")),
    "range not two numbers": _damage(
        "espcn_x3.safetensors", lambda e: e["ranges"].__setitem__("input", ["a", "b"])
    ),
    "range NaN": _damage(
        "espcn_x3.safetensors", lambda e: e["ranges"].__setitem__("input", [0, float("nan")])
    ),
    "range inverted": _damage(
        "espcn_x3.safetensors", lambda e: e["ranges"].__setitem__("input", [1, 0])
    ),
    "range of zero width": _damage(
        "espcn_x3.safetensors", lambda e: e["ranges"].__setitem__("input", [0, 0])
    ),
    "no input range": _damage("espcn_x3.safetensors", lambda e: e["ranges"].pop("input")),
    "means too few": _damage(
        "espcn_x3.safetensors", lambda e: e["means"].__setitem__("body.2", [0.1, 0.2])
    ),
    "means infinite": _damage(
        "espcn_x3.safetensors", lambda e: e["means"].__setitem__("body.0", [float("inf")])
    ),
    "a split half missing": _damage("fsrcnn_x3.safetensors", lambda e: e["means"].pop("body.0-")),
}


@pytest.fixture
def weights_copy(tmp_path, monkeypatch):
    for name in ("espcn_x3.safetensors", "fsrcnn_x3.safetensors", "int8.json"):
        shutil.copy(weights_dir() / name, tmp_path / name)
    monkeypatch.setenv("SRUP_WEIGHTS", str(tmp_path))
    return tmp_path


@pytest.mark.parametrize("damage", DAMAGED_FILES)
def test_an_unreadable_int8_json_refuses_int8_in_one_line_and_leaves_fp32_alone(
    weights_copy, damage
):
    (weights_copy / "int8.json").write_bytes(DAMAGED_FILES[damage])
    assert srup.load("espcn", 3, device="cpu", precision="fp32").precision == "fp32"
    with pytest.raises(UnsupportedPrecision, match=r"int8\.json (cannot be read|is not a JSON)"):
        srup.load("espcn", 3, device="cpu", precision="int8")


@needs_int8
@pytest.mark.parametrize("damage", DAMAGED_ENTRIES)
def test_a_damaged_calibration_refuses_int8_in_one_line_and_leaves_fp32_alone(weights_copy, damage):
    table = json.loads((weights_copy / "int8.json").read_text())
    DAMAGED_ENTRIES[damage](table)
    (weights_copy / "int8.json").write_text(json.dumps(table))
    model = "fsrcnn" if "split" in damage else "espcn"
    assert srup.load(model, 3, device="cpu", precision="fp32").precision == "fp32"
    with pytest.raises(
        UnsupportedPrecision, match=r"int8 calibration in int8\.json cannot be used"
    ) as e:
        srup.load(model, 3, device="cpu", precision="int8")
    assert "\n" not in str(e.value)
