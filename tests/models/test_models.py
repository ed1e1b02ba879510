"""Every registered model at every scale: shape, receptive radius, cost, starting point."""

import numpy as np
import pytest
import torch

from srup.imaging.resize import imresize
from srup.models import registry
from srup.models.arch.fsrcnn import subpixel_conv, subpixel_weight
from srup.models.layers import BicubicUpsample, symmetric_pad

CASES = [(spec.name, s) for spec in registry.specs() for s in spec.scales]


def test_registry_lists_the_three_paper_models():
    assert {"srcnn", "espcn", "fsrcnn"} <= set(registry.names())


def test_unknown_model_error_lists_the_models():
    with pytest.raises(Exception, match=r"available: .*espcn"):
        registry.get("nope")


@pytest.mark.parametrize("name,scale", CASES)
def test_output_is_input_times_scale(name, scale):
    net = registry.get(name).build(scale)
    out = net(torch.rand(2, 1, 7, 5))
    assert out.shape == (2, 1, 7 * scale, 5 * scale)


@pytest.mark.parametrize("name,scale", CASES)
def test_declared_receptive_radius_covers_the_measured_one(name, scale):
    spec = registry.get(name)
    net = spec.build(scale).double().eval()
    for p in net.parameters():
        torch.nn.init.normal_(p, 0, 0.3)
    size = 41
    x = torch.rand(1, 1, size, size, dtype=torch.float64)
    bumped = x.clone()
    bumped[0, 0, size // 2, size // 2] += 1.0
    with torch.no_grad():
        changed = (net(bumped) - net(x)).abs()[0, 0] > 1e-12
    ys, xs = np.nonzero(changed.numpy())
    # Furthest changed output pixel, in LR pixels from the bumped one.
    centre = (size // 2 + 0.5) * scale
    reach = max(np.abs(ys + 0.5 - centre).max(), np.abs(xs + 0.5 - centre).max()) / scale
    assert reach <= spec.receptive_radius(scale) + 0.5


@pytest.mark.parametrize("name,scale", CASES)
def test_with_a_silent_body_the_model_is_matlab_bicubic(name, scale):
    net = registry.get(name).build(scale).double()
    for p in net.parameters():
        torch.nn.init.zeros_(p)
    x = torch.rand(1, 1, 9, 8, dtype=torch.float64)
    with torch.no_grad():
        out = net(x)[0, 0].numpy()
    assert np.allclose(out, imresize(x[0, 0].numpy(), scale), atol=1e-6)


@pytest.mark.parametrize("name,scale", CASES)
def test_cost_and_size_are_reported(name, scale):
    spec = registry.get(name)
    assert spec.parameters(scale) > 1000
    assert spec.macs_per_pixel(scale) > 100


def test_espcn_costs_less_than_srcnn_per_output_pixel():
    assert registry.get("espcn").macs_per_pixel(3) * 5 < registry.get("srcnn").macs_per_pixel(3)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_fsrcnn_subpixel_form_equals_the_transposed_convolution(scale):
    deconv = torch.nn.ConvTranspose2d(56, 1, 9, stride=scale, padding=4, output_padding=scale - 1)
    deconv = deconv.double()
    x = torch.rand(1, 56, 6, 7, dtype=torch.float64)
    weight, reach = subpixel_weight(deconv.weight, scale)
    sub = subpixel_conv(x, weight, None, reach)
    sub = torch.nn.functional.pixel_shuffle(sub, scale) + deconv.bias.view(1, -1, 1, 1)
    assert torch.allclose(sub, deconv(x), atol=1e-10)


def test_bicubic_layer_handles_one_pixel_images():
    x = torch.full((1, 1, 1, 1), 0.25)
    assert torch.allclose(BicubicUpsample(3)(x), torch.full((1, 1, 3, 3), 0.25))


@pytest.mark.parametrize("name", registry.names())
def test_inference_rewrite_is_the_same_function_away_from_the_edge(name):
    import copy

    from srup.models.forms import for_inference

    torch.manual_seed(0)
    net = registry.get(name).build(3).eval()
    for p in net.parameters():  # random weights everywhere, the zero-initialised layers too
        torch.nn.init.normal_(p, std=0.3)
    fast = for_inference(copy.deepcopy(net))
    x = torch.rand(1, 1, 30, 34)
    r = registry.get(name).receptive_radius(3) * 3
    with torch.no_grad():
        a, b = net(x)[..., r:-r, r:-r], fast(x)[..., r:-r, r:-r]
    assert torch.allclose(a, b, rtol=1e-4, atol=1e-4)
    if name == "espcn":
        assert not any(isinstance(m, torch.nn.Tanh) for m in fast.modules())


@pytest.mark.parametrize("name", registry.names())
def test_one_switch_puts_a_model_in_each_form_and_they_agree_away_from_the_edge(name):
    from srup.models.forms import for_inference
    from srup.models.layers import FORMS, set_form

    torch.manual_seed(0)
    net = registry.get(name).build(3)
    for p in net.parameters():  # zeroed last layers would hide the correction
        torch.nn.init.normal_(p, std=0.05)
    x = torch.rand(1, 1, 40, 36)
    with torch.no_grad():
        outs = {}
        for form in FORMS:
            set_form(net, form)
            assert all(m.form == form for m in net.modules() if hasattr(m, "form"))
            outs[form] = net(x)
        r = 3 * registry.get(name).receptive_radius(3)
        core = (..., slice(r, -r), slice(r, -r))
        assert torch.allclose(outs["train"], outs["export"], atol=1e-6)
        assert torch.allclose(outs["train"][core], outs["infer"][core], atol=1e-5)
        assert for_inference(net).training is False
        assert all(m.form == "infer" for m in net.modules() if hasattr(m, "form"))
    with pytest.raises(ValueError, match="form"):
        set_form(net, "fast")


@pytest.mark.parametrize("n", [1, 2, 3, 7])
@pytest.mark.parametrize("width", [0, 1, 2, 5])
def test_cached_padding_indices_equal_the_symbolic_ones_and_numpy(n, width):
    x = torch.arange(n * (n + 1), dtype=torch.float32).view(1, 1, n, n + 1)
    cached = symmetric_pad(x, width)
    assert torch.equal(cached, symmetric_pad(x, width, symbolic=True))
    if width <= n:  # NumPy's symmetric mode stops at one reflection
        expect = np.pad(x[0, 0].numpy(), width, mode="symmetric")
        assert np.array_equal(cached[0, 0].numpy(), expect)


def test_cached_indices_and_matrices_built_in_inference_mode_can_serve_training():
    # The caches outlive the call that filled them: validation (inference mode) may fill
    # them, and a training step after it saves them for its backward pass, which an
    # inference tensor refuses. The meta device copies from the CPU as a GPU does.
    from srup.imaging.resize_torch import _device_matrix
    from srup.models.layers import mirror_index

    meta = torch.device("meta")
    with torch.inference_mode():
        built = [mirror_index(9, 2, meta), _device_matrix(30, 10, 1 / 3, meta, torch.float32)]
    assert not any(t.is_inference() for t in built)
    net = registry.get("espcn").create(3)
    x = torch.rand(2, 1, 13, 11)
    with torch.inference_mode():
        net(x)
    net(x).square().mean().backward()
    assert all(p.grad is not None for p in net.parameters())
