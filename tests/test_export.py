"""`srup export --onnx`: the exported graph computes what srup computes, at any size."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import srup
from srup.cli import cli

from .conftest import photo

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")


def session(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


@pytest.mark.parametrize(
    "model,scale", [("espcn", 3), ("fsrcnn", 2), ("srcnn", 4), ("espcn-rgb", 3)]
)
def test_rgb_export_reproduces_srup_upscale_at_any_size(runner, tmp_path, model, scale):
    path = tmp_path / f"{model}.onnx"
    res = runner.invoke(cli, ["export", "--onnx", str(path), "-m", model, "-s", str(scale)])
    assert res.exit_code == 0, res.output
    # Constants stay constants: OpenCV's importer (dnn_superres) rejects ConstantOfShape.
    assert "ConstantOfShape" not in {n.op_type for n in onnx.load(str(path)).graph.node}
    sess = session(path)
    up = srup.load(model, scale, device="cpu", precision="fp32")
    for w, h in [(37, 29), (5, 1), (64, 48)]:
        img = photo(w, h, seed=w)
        x = (img.astype(np.float32) / 255).transpose(2, 0, 1)[None]
        (out,) = sess.run(None, {"rgb": x})
        assert out.shape == (1, 3, h * scale, w * scale)
        got = np.rint(out[0].transpose(1, 2, 0) * 255).astype(np.int16)
        want = up.upscale_array(img).astype(np.int16)
        # Two float engines: rounding may differ by one level on a few pixels, never more.
        assert np.abs(got - want).max() <= 1
        assert (got == want).mean() > 0.99


def test_y_export_is_the_network_on_luma_with_a_dynamic_size(tmp_path):
    from srup.export import export_module, export_onnx

    up = srup.load("fsrcnn", 3, device="cpu", precision="fp32")
    path = export_onnx(up, tmp_path / "y.onnx", form="y")
    sess = session(path)
    module = export_module(up, "y")
    import torch

    for h, w in [(20, 30), (1, 1), (9, 40)]:
        y = np.random.default_rng(h).uniform(0.06, 0.92, (1, 1, h, w)).astype(np.float32)
        (out,) = sess.run(None, {"y": y})
        with torch.no_grad():
            want = module(torch.from_numpy(y)).numpy()
        assert out.shape == (1, 1, 3 * h, 3 * w)
        assert np.abs(out - want).max() < 1e-4
    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert props["srup_model"] == "fsrcnn" and props["srup_scale"] == "3"
    assert props["srup_form"] == "y"


def test_export_refuses_to_overwrite_and_wrong_extensions(runner, tmp_path):
    existing = tmp_path / "m.onnx"
    existing.write_bytes(b"keep")
    res = runner.invoke(cli, ["export", "--onnx", str(existing), "-m", "espcn", "-s", "2"])
    assert res.exit_code == 1 and "--overwrite" in res.output
    assert existing.read_bytes() == b"keep"
    res = runner.invoke(cli, ["export", "--onnx", str(tmp_path / "m.pt"), "-s", "2"])
    assert res.exit_code == 1 and ".onnx extension" in res.output
    assert not (tmp_path / "m.pt").exists()


def test_export_without_onnx_installed_says_what_to_install_after_checking_the_request(
    runner, tmp_path, monkeypatch
):
    monkeypatch.setitem(sys.modules, "onnx", None)  # what `import onnx` meets without it
    out = tmp_path / "m.onnx"
    res = runner.invoke(cli, ["export", "--onnx", str(tmp_path / "m.pt"), "-s", "2"])
    assert res.exit_code == 1 and ".onnx extension" in res.output
    res = runner.invoke(cli, ["export", "--onnx", str(out), "-s", "2", "--form", "sideways"])
    assert res.exit_code != 0 and "sideways" in res.output
    res = runner.invoke(cli, ["export", "--onnx", str(out), "-m", "espcn", "-s", "2"])
    assert res.exit_code == 1 and "pip install 'srup[onnx]'" in res.output
    assert len(res.output.strip().splitlines()) == 1 and not out.exists()
