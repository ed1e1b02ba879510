"""`srup export --onnx`: the exported graph computes what srup computes, at any size."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import srup
from srup.cli import cli
from srup.errors import InvalidArgument, InvalidArgumentType
from tests.conftest import photo

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
    from srup.runtime.onnx import export_module, export_onnx

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


@pytest.mark.parametrize("name", ["e.png", "m.pt", "model", "x.onnx.tmp", "e.ONNX.png"])
def test_export_to_a_name_without_the_onnx_extension_is_a_usage_error(runner, tmp_path, name):
    # A usage mistake (exit 2, one line), found before any model is loaded.
    out = tmp_path / name
    res = runner.invoke(cli, ["export", "--onnx", str(out), "-m", "espcn", "-s", "2"])
    assert res.exit_code == 2, res.output
    assert ".onnx extension" in res.output and len(res.output.strip().splitlines()) == 1
    assert not out.exists()
    with pytest.raises(InvalidArgument, match=r"\.onnx extension"):
        srup.export_onnx(srup.load("espcn", 2, device="cpu", precision="fp32"), out)


@pytest.mark.parametrize("form", ["rgb", "y"])
def test_the_exported_batch_dimension_is_dynamic(tmp_path, form):
    # The README and the export message promise (N, C, H, W): any batch, each picture
    # upscaled as it would be alone.
    up = srup.load("fsrcnn", 2, device="cpu", precision="fp32")
    sess = session(srup.export_onnx(up, tmp_path / "b.onnx", form=form))
    (name,) = [i.name for i in sess.get_inputs()]
    assert sess.get_inputs()[0].shape[0] == "batch"
    channels = 3 if form == "rgb" else 1
    rng = np.random.default_rng(7)
    for n, (h, w) in [(2, (13, 21)), (3, (8, 5)), (1, (6, 9))]:
        x = rng.uniform(0.05, 0.95, (n, channels, h, w)).astype(np.float32)
        (out,) = sess.run(None, {name: x})
        assert out.shape == (n, channels, 2 * h, 2 * w)
        for i in range(n):
            (alone,) = sess.run(None, {name: x[i : i + 1]})
            assert np.abs(out[i] - alone[0]).max() < 1e-5


@pytest.mark.parametrize(
    "args,error",
    [
        (("not an upscaler", "m.onnx"), InvalidArgumentType),
        ((None, "m.onnx"), InvalidArgumentType),
        (("UP", 42), InvalidArgumentType),
        (("UP", "m.onnx", "sideways"), InvalidArgument),
        (("UP", "m.onnx", 3), InvalidArgumentType),
        (("RGB_UP", "m.onnx", "y"), InvalidArgument),
    ],
    ids=["string", "none", "int-path", "unknown-form", "int-form", "y-of-an-rgb-network"],
)
def test_export_onnx_refuses_bad_arguments_with_srup_errors(tmp_path, args, error):
    ups = {
        "UP": srup.load("espcn", 2, device="cpu", precision="fp32"),
        "RGB_UP": srup.load("espcn-rgb", 3, device="cpu", precision="fp32"),
    }
    up, path, *rest = args
    up = ups.get(up, up) if isinstance(up, str) else up
    path = tmp_path / path if isinstance(path, str) else path
    with pytest.raises(error):
        srup.export_onnx(up, path, *rest)
    assert not any(tmp_path.iterdir())


def test_export_without_onnx_installed_says_what_to_install_after_checking_the_request(
    runner, tmp_path, monkeypatch
):
    monkeypatch.setitem(sys.modules, "onnx", None)  # what `import onnx` meets without it
    out = tmp_path / "m.onnx"
    res = runner.invoke(cli, ["export", "--onnx", str(tmp_path / "m.pt"), "-s", "2"])
    assert res.exit_code == 2 and ".onnx extension" in res.output
    res = runner.invoke(cli, ["export", "--onnx", str(out), "-s", "2", "--form", "sideways"])
    assert res.exit_code != 0 and "sideways" in res.output
    res = runner.invoke(cli, ["export", "--onnx", str(out), "-m", "espcn", "-s", "2"])
    assert res.exit_code == 1 and "pip install 'srup[onnx]'" in res.output
    assert len(res.output.strip().splitlines()) == 1 and not out.exists()
