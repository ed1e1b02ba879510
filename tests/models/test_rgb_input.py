"""Networks that read RGB (`srup train --input rgb`, ESPCN and ESPCN-7): trained, described,
run by both tilers with the properties the Y networks have, and refused where they cannot go."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import srup
from srup.cli import cli
from srup.models import registry
from srup.models.descriptor import ModelDescriptor, describe
from srup.models.weights import read_metadata
from srup.runtime.color_pipeline import ColorPipeline
from srup.runtime.upscaler import Upscaler
from srup.training.loop import load_images
from srup.training.samplers import DevicePatchSampler, PatchSampler
from tests.conftest import photo, train_args

RGB_MODELS = [s.name for s in registry.specs() if "RGB" in s.input_spaces]


def _rgb_net(name: str, scale: int) -> torch.nn.Module:
    torch.manual_seed(0)
    net = registry.get(name).create(scale, "RGB")
    with torch.no_grad():  # the last layer starts at zero: make the network do something
        for p in net.parameters():
            if not p.any():
                p.normal_(0, 0.05)
    return net.eval()


def test_the_sub_pixel_models_offer_rgb_and_the_others_refuse_it():
    assert set(RGB_MODELS) == {"espcn", "espcn7"}
    with pytest.raises(srup.SrupError, match="fsrcnn reads Y, not RGB"):
        registry.get("fsrcnn").create(3, "RGB")


@pytest.mark.parametrize("name", RGB_MODELS)
@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_pipeline_of_an_rgb_network_is_the_network_on_rgb_and_bicubic_on_alpha(name, channels):
    scale = 3
    net = _rgb_net(name, scale)
    x = torch.rand(1, channels, 36, 40)
    rgb = x[:, :3] if channels >= 3 else x[:, :1].expand(-1, 3, -1, -1)
    with torch.no_grad():
        got = ColorPipeline(net, scale)(x)
        want = net(rgb)
    colour = 3 if channels >= 3 else 1
    if colour == 3:
        torch.testing.assert_close(got[:, :3], want, atol=2e-5, rtol=0)
    else:  # a gray picture: the mean of the three channels' output
        torch.testing.assert_close(got[:, :1], want.mean(1, keepdim=True), atol=2e-5, rtol=0)
    if channels in (2, 4):
        with torch.no_grad():
            alpha = net.upsample(x[:, colour:])
        torch.testing.assert_close(got[:, colour:], alpha, atol=2e-5, rtol=0)


@pytest.mark.parametrize("name", RGB_MODELS)
def test_rgb_network_tiled_equals_untiled_on_the_cpu_in_fp32_on_both_tilers(name):
    scale = 2
    weights = ModelDescriptor.from_network(
        _rgb_net(name, scale), registry.get(name), scale, "RGB", runs_as="infer"
    )
    img = np.concatenate([photo(70, 52, seed=4), photo(70, 52, seed=5)[..., :1]], axis=2)
    cpu, fp32 = torch.device("cpu"), torch.float32
    whole = Upscaler(weights, cpu, fp32, tile=0).upscale_array(img)
    for tile in (32, 45):
        tiled = Upscaler(weights, cpu, fp32, tile=tile).upscale_array(img)
        assert np.array_equal(tiled, whole), tile
    resident = Upscaler(weights, cpu, fp32, tile=40, resident=True)
    assert np.array_equal(resident.upscale_array(img), whole)


def test_rgb_patches_are_the_y_patches_colours(hr_folder):
    images = load_images([hr_folder])
    _, y_hr = PatchSampler(images, 2, 8, 4)(np.random.default_rng(2))
    lr, hr = PatchSampler(images, 2, 8, 4, input_space="RGB")(np.random.default_rng(2))
    assert lr.shape == (4, 3, 8, 8) and hr.shape == (4, 3, 16, 16) and lr.dtype == np.float32
    luma = (np.array([65.481, 128.553, 24.966])[:, None, None] * hr).sum(1) / 255 + 16 / 255
    np.testing.assert_allclose(luma, y_hr[:, 0], atol=1e-5)
    device = DevicePatchSampler(
        images, 2, 8, 4, min_zoom=1.0, input_space="RGB", device=torch.device("cpu")
    )
    lr_d, hr_d = device(np.random.default_rng(2))
    assert lr_d.shape == (4, 3, 8, 8) and float(hr_d.max()) <= 1 and float(hr_d.min()) >= 0


def test_trained_rgb_weights_say_so_and_upscale_through_the_cli(runner, hr_folder, tmp_path):
    out = tmp_path / "rgb.safetensors"
    args = train_args(hr_folder, out, 4, "--device", "cpu", "--input", "rgb", "-q")
    res = runner.invoke(cli, [*args, "--val", str(hr_folder)])
    assert res.exit_code == 0, res.output
    assert read_metadata(out)["input_space"] == "RGB"
    d = describe(weights=out, scale=2)
    assert (d.input_space, d.channels) == ("RGB", 3)
    assert d.macs_per_pixel > registry.get("espcn").macs_per_pixel(2)
    up = srup.load(weights=out, scale=2, device="cpu", precision="fp32")
    assert up.upscale_array(photo(30, 20)).shape == (40, 60, 3)
    src = tmp_path / "in.png"
    from PIL import Image

    Image.fromarray(photo(30, 20)).save(src)
    res = runner.invoke(
        cli,
        [
            "upscale",
            str(src),
            "-s",
            "2",
            "--weights",
            str(out),
            "-o",
            str(tmp_path / "o.png"),
            "--device",
            "cpu",
        ],
    )
    assert res.exit_code == 0, res.output
    assert Image.open(tmp_path / "o.png").size == (60, 40)
    res = runner.invoke(
        cli,
        [
            "export",
            "--weights",
            str(out),
            "-s",
            "2",
            "--onnx",
            str(tmp_path / "y.onnx"),
            "--form",
            "y",
        ],
    )
    assert res.exit_code != 0 and "reads RGB, not luma" in res.output
    assert "Traceback" not in res.output


def test_rgb_input_for_a_model_that_reads_only_y_is_one_line(runner, hr_folder, tmp_path):
    args = train_args(hr_folder, tmp_path / "f.safetensors", 2, "--device", "cpu", "-q")
    args[args.index("espcn")] = "fsrcnn"
    res = runner.invoke(cli, [*args, "--input", "rgb"])
    assert res.exit_code != 0 and "fsrcnn reads Y" in res.output
    assert "Traceback" not in res.output and len(res.output.strip().splitlines()) == 1
