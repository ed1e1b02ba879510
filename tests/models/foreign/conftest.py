"""Small community SR networks built with spandrel's own architecture classes.

For tests of "bring your own model": ``ARCHS`` names a builder per network (each a tiny
configuration, a 48×48 forward well under a second on two CPU cores), ``build`` gives one
in eval mode with deterministic random weights that do something visible, ``save`` writes
its state dict as ``.pth`` or ``.safetensors``, ``EXPECTED`` says what spandrel should
detect in such a file (``describe`` reads the same fields off a spandrel descriptor), and
the session fixture ``foreign_weights`` holds every network in both formats.

spandrel is not a dependency of srup; tests that use these skip without it. It is imported
as srup imports it (:mod:`srup.models.foreign.spandrel_import`).
"""

from __future__ import annotations

import importlib
import math
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import torch
from torch import nn


def _import_spandrel() -> types.ModuleType:
    """spandrel as srup imports it (a stand-in for a torchvision that does not import), or a
    skip of the calling test when it is not installed."""
    from srup.errors import MissingExtraError
    from srup.models.foreign.spandrel_import import spandrel

    try:
        return spandrel()
    except MissingExtraError:
        pytest.skip("spandrel is not installed (pip install 'srup[models]')")


def _arch(module: str) -> Any:
    """The architecture package ``spandrel.architectures.<module>``."""
    _import_spandrel()
    return importlib.import_module(f"spandrel.architectures.{module}")


# (spandrel architecture package and class, the constructor's keywords) of each test
# network: tiny configurations. benchmarks/byo.py builds the published ones from the same
# rows, changing only the sizes (``construct``'s ``changes``).
CONFIGS: dict[str, tuple[str, dict[str, Any]]] = {
    "compact": ("Compact", dict(num_in_ch=3, num_out_ch=3, num_feat=16, num_conv=4, upscale=4)),
    "compact_grey": (
        "Compact",
        dict(num_in_ch=1, num_out_ch=1, num_feat=16, num_conv=4, upscale=4),
    ),
    "esrgan": ("ESRGAN", dict(in_nc=3, out_nc=3, num_filters=16, num_blocks=2, scale=4)),
    # window_size 8: spandrel takes window 7 for a JPEG model with img_range 255.
    "swinir": (
        "SwinIR",
        dict(
            img_size=64,
            in_chans=3,
            embed_dim=24,
            depths=[2, 2],
            num_heads=[2, 2],
            window_size=8,
            mlp_ratio=2.0,
            upscale=4,
            img_range=1.0,
            upsampler="pixelshuffledirect",
            resi_connection="1conv",
        ),
    ),
    "span": ("SPAN", dict(num_in_ch=3, num_out_ch=3, feature_channels=16, upscale=4)),
    # squeeze_factor 6: the default 30 leaves 24 // 30 = 0 channels in the attention.
    "hat": (
        "HAT",
        dict(
            img_size=64,
            in_chans=3,
            embed_dim=24,
            depths=[2],
            num_heads=[2],
            window_size=8,
            compress_ratio=3,
            squeeze_factor=6,
            overlap_ratio=0.5,
            mlp_ratio=2.0,
            upscale=4,
            num_feat=16,
        ),
    ),
    "dat": (
        "DAT",
        dict(
            img_size=64,
            in_chans=3,
            embed_dim=32,
            split_size=[4, 8],
            depth=[2],
            num_heads=[2],
            expansion_factor=2.0,
            upscale=4,
            upsampler="pixelshuffledirect",
        ),
    ),
    "omnisr": (
        "OmniSR",
        dict(
            num_in_ch=3,
            num_out_ch=3,
            num_feat=16,
            block_num=1,
            window_size=8,
            res_num=1,
            up_scale=4,
        ),
    ),
}


def construct(name: str, **changes: Any) -> nn.Module:
    """The network ``name`` of :data:`CONFIGS`, its keywords updated by ``changes``, with
    the constructor's own initial weights."""
    module, keywords = CONFIGS[name]
    return getattr(_arch(module), module)(**{**keywords, **changes})


# Each builder gives the network with the constructor's own initial weights.
ARCHS: dict[str, Callable[[], nn.Module]] = {
    name: (lambda name=name: construct(name)) for name in CONFIGS
}

# The last layer of each, its output (pixel-shuffled, maybe plus a base) linear in it:
# ``build`` scales it so that what the network adds stays a modest picture-sized signal.
_OUTPUT_LAYER = {
    "compact": "body.10",
    "compact_grey": "body.10",
    "esrgan": "model.10",
    "swinir": "upsample.0",
    "span": "upsampler.0",
    "hat": "conv_last",
    "dat": "upsample.0",
    "omnisr": "up.0",
}

# SPAN multiplies its input by img_range 255 (not in the weights file); trained weights
# absorb that, so its first layer's are divided by it here. Without this its features run
# into the hundreds and float16 or bfloat16 change its output by a third of the range.
_INPUT_GAIN: dict[str, tuple[float, tuple[str, ...]]] = {
    "span": (255.0, ("conv_1.sk", "conv_1.conv.0")),
}


class Expected(NamedTuple):
    """What spandrel's ``ModelLoader`` reports for a network's weights file."""

    architecture: str  # spandrel's Architecture.id
    scale: int
    input_channels: int
    output_channels: int
    supports_half: bool
    supports_bfloat16: bool
    minimum: int  # SizeRequirements.minimum
    multiple_of: int  # SizeRequirements.multiple_of
    square: bool  # SizeRequirements.square
    tiling: str  # spandrel.ModelTiling member name


EXPECTED: dict[str, Expected] = {
    "compact": Expected("Compact", 4, 3, 3, True, True, 0, 1, False, "SUPPORTED"),
    "compact_grey": Expected("Compact", 4, 1, 1, True, True, 0, 1, False, "SUPPORTED"),
    "esrgan": Expected("ESRGAN", 4, 3, 3, True, True, 2, 1, False, "SUPPORTED"),
    "swinir": Expected("SwinIR", 4, 3, 3, False, True, 16, 1, False, "DISCOURAGED"),
    "span": Expected("SPAN", 4, 3, 3, True, True, 0, 1, False, "SUPPORTED"),
    "hat": Expected("HAT", 4, 3, 3, False, True, 16, 1, False, "SUPPORTED"),
    "dat": Expected("DAT", 4, 3, 3, False, True, 16, 1, False, "SUPPORTED"),
    "omnisr": Expected("OmniSR", 4, 3, 3, True, True, 16, 1, False, "SUPPORTED"),
}


def describe(descriptor: Any) -> Expected:
    """The ``EXPECTED`` fields of a spandrel ``ImageModelDescriptor``."""
    size = descriptor.size_requirements
    return Expected(
        architecture=descriptor.architecture.id,
        scale=descriptor.scale,
        input_channels=descriptor.input_channels,
        output_channels=descriptor.output_channels,
        supports_half=descriptor.supports_half,
        supports_bfloat16=descriptor.supports_bfloat16,
        minimum=size.minimum,
        multiple_of=size.multiple_of,
        square=size.square,
        tiling=descriptor.tiling.name,
    )


def probe(channels: int, size: int = 32, seed: int = 0) -> torch.Tensor:
    """A 1×C×size×size picture in [0, 1]: smooth shading, an edge and a little noise."""
    generator = torch.Generator().manual_seed(seed)
    ramp = torch.linspace(0.0, 1.0, size)
    y, x = torch.meshgrid(ramp, ramp, indexing="ij")
    planes = [
        0.5 + 0.4 * torch.sin(6.0 * x + 2.0 * c) * torch.cos(4.0 * y) for c in range(channels)
    ]
    picture = torch.stack(planes)[None] + 0.3 * (x > 0.6) * (y < 0.4)
    picture = picture + 0.05 * torch.randn(picture.shape, generator=generator)
    return picture.clamp(0.0, 1.0)


def _randomise(model: nn.Module, generator: torch.Generator) -> None:
    """Every parameter redrawn: norms and temperatures near 1, PReLU slopes near 0.25,
    biases small, weights normal with variance 1/fan-in (so layers keep their scale)."""
    for module in model.modules():
        kind = type(module).__name__
        for name, param in module.named_parameters(recurse=False):
            noise = torch.randn(param.shape, generator=generator, dtype=param.dtype)
            if ("Norm" in kind and name == "weight") or name == "temperature":
                value = 1.0 + 0.1 * noise
            elif kind == "PReLU":
                value = 0.25 + 0.05 * noise
            elif param.dim() <= 1:
                value = 0.05 * noise
            else:
                value = noise / math.sqrt(param[0].numel())
            with torch.no_grad():
                param.copy_(value)


def _run(model: nn.Module, picture: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(picture)


def _calibrate(model: nn.Module, name: str, picture: torch.Tensor) -> None:
    """Scale the output layer so that what the network adds to its base (nothing, the mean
    colour, or the upscaled input) has a standard deviation of 0.2 on ``picture``, then
    shift its bias so that each output channel has the mean of the input's."""
    layer = model.get_submodule(_OUTPUT_LAYER[name])
    full = _run(model, picture)
    weight, bias = layer.weight.detach().clone(), layer.bias.detach().clone()
    with torch.no_grad():
        layer.weight.zero_()
        layer.bias.zero_()
    spread = (full - _run(model, picture)).std().item()
    if not math.isfinite(spread) or spread == 0.0:
        raise RuntimeError(f"{name}: random weights give an output of spread {spread}")
    with torch.no_grad():
        layer.weight.copy_(weight * (0.2 / spread))
        layer.bias.copy_(bias * (0.2 / spread))
        shift = picture.mean(dim=(0, 2, 3)) - _run(model, picture).mean(dim=(0, 2, 3))
        layer.bias.view(len(shift), -1).add_(shift[:, None])


def build(name: str, seed: int = 0) -> nn.Module:
    """Network ``name`` of ``ARCHS`` in eval mode, its weights random but fixed by ``seed``.

    On a picture in [0, 1] its output varies by about 0.2 around the input's mean colour, a
    few per cent of it outside [0, 1] (a tenth for Compact, which adds to the input itself);
    float16 and bfloat16, where the network allows them, stay within about 0.003 and 0.03
    of float32."""
    with torch.random.fork_rng(devices=[]):
        model = ARCHS[name]().eval()
    _randomise(model, torch.Generator().manual_seed(seed))
    gain, first = _INPUT_GAIN.get(name, (1.0, ()))
    with torch.no_grad():
        for path in first:
            model.get_submodule(path).weight.div_(gain)
    picture = probe(EXPECTED[name].input_channels, seed=seed)
    _calibrate(model, name, picture)
    out = _run(model, picture)
    spread = out.flatten(2).std(dim=2).min().item()
    if not torch.isfinite(out).all() or spread < 0.01:
        raise RuntimeError(f"{name}: output is constant or not finite (std {spread})")
    return model


def save(model: nn.Module, path: Path) -> Path:
    """``model``'s state dict as ``.pth`` (``torch.save``, tensors only) or ``.safetensors``,
    by the suffix; each tensor a contiguous copy of its own, so shared storage is no matter."""
    state = {k: v.detach().cpu().clone().contiguous() for k, v in model.state_dict().items()}
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file(state, str(path))
    elif path.suffix == ".pth":
        torch.save(state, path)
    else:
        raise ValueError(f"save {path.name}: the suffix must be .pth or .safetensors")
    return path


@pytest.fixture(autouse=True)
def _own_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Measurements remembered in a folder of the session's, not the user's cache."""
    monkeypatch.setenv("SRUP_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "srup_cache"))


@pytest.fixture(scope="session")
def foreign_weights(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Path]:
    """``{(name, suffix): path}``: every network of ``ARCHS`` (seed 0) saved as ``.pth``
    and as ``.safetensors``, once per session."""
    _import_spandrel()
    folder = tmp_path_factory.mktemp("foreign_weights")
    paths: dict[tuple[str, str], Path] = {}
    for name in ARCHS:
        model = build(name)
        for suffix in (".pth", ".safetensors"):
            paths[name, suffix] = save(model, folder / f"{name}{suffix}")
    return paths
