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

CALIBRATED = [("espcn", 2), ("espcn", 3), ("espcn", 4), ("fsrcnn", 3), ("fsrcnn", 4)]

needs_int8 = pytest.mark.skipif(not int8_engine(), reason="torch build without oneDNN int8")


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def test_the_calibrated_weight_sets_are_the_eligible_ones():
    assert calibrated_names(weights_dir()) == [f"{m} ×{s}" for m, s in CALIBRATED]
    for m, s in CALIBRATED:
        assert "int8" in describe(m, s).precisions
    for m, s in [("fsrcnn", 2), ("srcnn", 3), ("espcn7", 3), ("fsrcnn-real", 3)]:
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


@pytest.mark.parametrize(("model", "scale"), [("fsrcnn", 2), ("srcnn", 3)])
def test_an_uncalibrated_weight_set_is_refused_naming_those_calibrated(model, scale):
    with pytest.raises(UnsupportedPrecision, match=r"int8 runs only espcn ×2, .*fsrcnn ×4$"):
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
