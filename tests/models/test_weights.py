"""Weights files: safetensors only, headers recorded, pickles refused, wheels carry them."""

import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch

import srup
from srup.errors import BadWeightsError
from srup.models.weights import read_metadata, save_state, shipped, split_name
from tests.conftest import REPO


@pytest.mark.parametrize("key", sorted(shipped()), ids=lambda k: f"{k[0]}-x{k[1]}")
def test_shipped_headers_record_how_the_weights_were_made(key):
    meta = read_metadata(shipped()[key])
    arch, variant = split_name(key[0])
    assert meta["model"] == arch and meta["scale"] == str(key[1])
    assert "T91" in meta["data"] and int(meta["steps"]) > 0
    assert "Set14" not in meta["data"]
    assert float(meta["val_psnr"]) > 0 and meta["command"].startswith("srup train")
    # A variant says what it was made for (and a real one was measured on it) and what
    # it reads: fsrcnn-real, espcn-rgb.
    tags = set(variant.split("-")) - {""}
    assert meta.get("input_space", "Y") == ("RGB" if "rgb" in tags else "Y")
    degradation = meta.get("degradation", "clean")
    assert (degradation != "clean") == bool(tags & {"real", "capture"})
    assert degradation.startswith("capture") == ("capture" in tags)
    if tags & {"real", "capture"}:
        assert float(meta["set5_phone_psnr"]) > 0 and float(meta["set5_jpeg75_psnr"]) > 0


def test_pickle_weights_are_refused_without_unpickling(tmp_path):
    path = tmp_path / "evil.safetensors"

    class Boom:
        def __reduce__(self):
            return (Path.touch, (tmp_path / "pwned",))

    path.write_bytes(pickle.dumps(Boom()))
    with pytest.raises(BadWeightsError, match="pickle"):
        srup.load(weights=path, scale=2)
    assert not (tmp_path / "pwned").exists()
    pth = tmp_path / "model.pth"
    torch.save({"w": torch.zeros(2)}, pth)
    with pytest.raises(BadWeightsError, match="pickle"):
        srup.load(weights=pth, scale=2)


def test_corrupt_and_wrong_shape_weights_are_refused(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}")
    with pytest.raises(BadWeightsError, match=r"not a (valid )?safetensors"):
        srup.load(weights=bad, scale=2)
    wrong = tmp_path / "wrong.safetensors"
    net = srup.load("espcn", 3, device="cpu", precision="fp32").net
    save_state(wrong, net.state_dict(), {"model": "espcn", "scale": 2})
    with pytest.raises(BadWeightsError, match="shape"):
        srup.load(weights=wrong, scale=2)


def test_safetensors_whose_header_length_starts_with_0x80_is_not_taken_for_a_pickle(tmp_path):
    net = srup.load("espcn", 2, device="cpu", precision="fp32").net
    path = tmp_path / "w.safetensors"
    for pad in range(300):
        save_state(path, net.state_dict(), {"model": "espcn", "scale": 2, "pad": "x" * pad})
        if path.read_bytes()[0] == 0x80:
            break
    assert path.read_bytes()[0] == 0x80
    assert srup.load(weights=path, scale=2, device="cpu", precision="fp32").name == "espcn"


def test_weights_option_reads_model_and_scale_from_the_header(tmp_path):
    src = shipped()[("espcn", 2)]
    up = srup.load(weights=src, scale=2, device="cpu", precision="fp32")
    assert up.name == "espcn"
    with pytest.raises(srup.SrupError, match="×2, not ×3"):
        srup.load(weights=src, scale=3)


@pytest.mark.slow
def test_built_wheel_contains_the_weights(tmp_path):
    # CI installs the build backend; a machine without it (and offline) cannot build.
    pytest.importorskip("hatchling", reason="the build backend (hatchling) is not installed")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        check=True,
    )
    (wheel,) = tmp_path.glob("srup-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    repo_weights = sorted((REPO / "weights").glob("*.safetensors"))
    assert repo_weights
    for path in repo_weights:
        assert f"srup/weights/{path.name}" in names
