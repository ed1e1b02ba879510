"""Other projects' weights files become srup descriptors: spandrel's detection (architecture,
scale, channels, precisions, size requirements) reaches srup's descriptor unchanged, in both
file formats, and the tiling guarantee measured on the weights is the one each family's
structure implies. Networks are built here with spandrel's own classes (conftest.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import srup
from srup.errors import BadWeightsError, MissingExtraError, UnknownModelError
from srup.models.foreign import spandrel_import
from srup.models.foreign.reach import Reach, measure
from tests.models.foreign.conftest import EXPECTED

# What each family's structure implies: convolutional networks and windowed attention
# (tiles started on the window grid) tile exactly; channel attention over the whole picture
# (HAT, DAT), or attention across it (OmniSR), cannot.
GUARANTEE = {
    "compact": "exact",
    "compact_grey": "exact",
    "esrgan": "exact",
    "span": "exact",
    "swinir": "exact",
    "hat": "bounded",
    "dat": "bounded",
    "omnisr": "bounded",
}


# Every network from .pth; two from .safetensors too (detection reads the same tensors).
CASES = [(name, ".pth") for name in sorted(EXPECTED)] + [
    ("compact_grey", ".safetensors"),
    ("swinir", ".safetensors"),
]


@pytest.mark.parametrize(("name", "suffix"), CASES)
def test_spandrels_detection_becomes_the_descriptor(
    foreign_weights, name: str, suffix: str
) -> None:  # type: ignore[no-untyped-def]
    expected = EXPECTED[name]
    d = srup.describe(weights=foreign_weights[name, suffix], scale=expected.scale)
    assert d.foreign
    assert d.spec.name == expected.architecture
    assert d.name == f"{expected.architecture}:{name}{suffix}"
    assert d.scale == expected.scale
    assert d.channels == expected.input_channels
    assert d.input_space == ("RGB" if expected.input_channels == 3 else "Y")
    wanted = ["fp32"] + ["fp16"] * expected.supports_half + ["bf16"] * expected.supports_bfloat16
    # What spandrel declares, less what fails on a probe: SwinIR's bf16 (float32 masks).
    failing = ["bf16"] if name == "swinir" else []
    assert list(d.precisions) == [p for p in wanted if p not in failing]
    assert [p for p in ("fp16", "bf16") if f"{p}_left_out" in d.metadata] == failing
    assert d.metadata["spandrel_tiling"] == expected.tiling.lower()
    if expected.minimum:
        assert f"at least {expected.minimum} px" in d.metadata["size_requirements"]
    assert d.tiling[0] == GUARANTEE[name]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_overlap_covers_the_measured_reach(foreign_weights, name: str) -> None:  # type: ignore[no-untyped-def]
    d = srup.describe(weights=foreign_weights[name, ".pth"], scale=4)
    radius = d.metadata["receptive_radius"]
    if d.tiling[0] == "exact":
        assert d.receptive_radius == max(int(radius), 2)
    else:
        assert d.receptive_radius >= 32


def test_the_reach_of_a_convolution_stack_is_its_kernels_half_widths() -> None:
    # Three 5×5 convolutions reach 3·2 = 6 px, and a ×2 sub-pixel output does not change it.
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 5, padding=2),
        torch.nn.ReLU(),
        torch.nn.Conv2d(8, 8, 5, padding=2),
        torch.nn.ReLU(),
        torch.nn.Conv2d(8, 12, 5, padding=2),
        torch.nn.PixelShuffle(2),
    )
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()  # zero weights: the NaN still spreads (NaN · 0 is NaN)
    assert measure(net, 3, 2) == Reach(6, 1)


def test_a_network_with_global_pooling_is_bounded() -> None:
    class Global(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            up = torch.nn.functional.interpolate(x, scale_factor=2)
            return up * x.mean(dim=(2, 3), keepdim=True)

    reach = measure(Global(), 3, 2)
    assert reach.radius is None and reach.guarantee == "bounded"


def test_a_network_anchored_to_the_corner_has_its_period_measured() -> None:
    class Blocks(torch.nn.Module):  # 4×4 blocks averaged: the same function every 4 px
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            pooled = torch.nn.functional.avg_pool2d(x, 4, ceil_mode=True)
            return torch.nn.functional.interpolate(pooled, scale_factor=8)[
                ..., : x.shape[2] * 2, : x.shape[3] * 2
            ]

    reach = measure(Blocks(), 3, 2)
    assert reach.period == 4 and reach.guarantee == "exact" and reach.alignment == 4


@pytest.mark.parametrize("name", ["compact", "swinir", "hat"])
def test_models_inspect_says_what_the_file_is(foreign_weights, runner, name: str) -> None:  # type: ignore[no-untyped-def]
    from srup.cli import cli

    res = runner.invoke(cli, ["models", "--inspect", str(foreign_weights[name, ".pth"]), "--json"])
    assert res.exit_code == 0, res.output
    facts = json.loads(res.output)
    expected = EXPECTED[name]
    assert expected.architecture in facts["architecture"]  # "RealESRGAN Compact"
    assert facts["scale"] == expected.scale and facts["loader"].startswith("spandrel")
    assert facts["tiling"] == GUARANTEE[name] and facts["tiling_why"]
    assert facts["parameters"] > 0 and "fp32" in facts["precisions"]
    assert facts["working_bytes_per_out_px"] > 0  # measured on the network
    if name == "swinir":  # spandrel claims bf16; it fails here, and inspect says why
        assert "bf16" not in facts["precisions"] and facts["precisions_left_out"]["bf16"]
    text = runner.invoke(cli, ["models", "--inspect", str(foreign_weights[name, ".pth"])])
    assert text.exit_code == 0 and "tiling" in text.output


def test_models_inspect_describes_srups_own_files_too(runner) -> None:  # type: ignore[no-untyped-def]
    from srup.cli import cli
    from srup.models.weights import path_for

    res = runner.invoke(cli, ["models", "--inspect", str(path_for("fsrcnn", 3)), "--json"])
    assert res.exit_code == 0, res.output
    facts = json.loads(res.output)
    assert facts["loader"] == "srup" and facts["tiling"] == "exact" and facts["scale"] == 3


def test_a_license_carried_in_a_safetensors_header_is_shown(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    from srup.models.inspect import inspect_weights
    from tests.models.foreign.conftest import build

    state = {k: v.contiguous() for k, v in build("compact").state_dict().items()}
    path = tmp_path / "licensed.safetensors"
    save_file(state, str(path), metadata={"modelspec.license": "CC-BY-4.0"})
    assert inspect_weights(path)["license"] == "CC-BY-4.0"


def test_model_with_a_foreign_file_is_refused(foreign_weights) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UnknownModelError, match="drop --model"):
        srup.describe("fsrcnn", 4, weights=foreign_weights["compact", ".pth"])


def test_a_scale_other_than_the_files_is_refused_by_describe(foreign_weights) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UnknownModelError, match="×4, not ×3"):
        srup.describe(weights=foreign_weights["compact", ".pth"], scale=3)


def test_a_state_dict_of_no_known_architecture_is_one_error(tmp_path: Path) -> None:
    path = tmp_path / "mystery.pth"
    torch.save({"mystery.weight": torch.randn(3, 3)}, path)
    with pytest.raises(BadWeightsError, match="not an architecture"):
        srup.describe(weights=path, scale=4)


def test_without_spandrel_a_foreign_file_says_what_to_install(
    foreign_weights, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    from srup.models.foreign import describe as foreign_describe

    spandrel_import.spandrel.cache_clear()
    foreign_describe._described.cache_clear()
    real = spandrel_import.importlib.util.find_spec
    monkeypatch.setattr(
        spandrel_import.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "spandrel" else real(name, *a),
    )
    path = foreign_weights["compact", ".pth"]
    try:
        with pytest.raises(MissingExtraError, match="spandrel") as err:
            srup.describe(weights=path, scale=4)
        # The file named, and the installed torch kept (torchvision would replace it).
        assert str(err.value).startswith(f"{path.resolve()}: ") or str(path) in str(err.value)
        assert f"torch=={torch.__version__.split('+')[0]}" in str(err.value)
    finally:
        spandrel_import.spandrel.cache_clear()


def test_spandrel_imports_with_a_torchvision_that_does_not(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    spandrel_import.spandrel.cache_clear()
    for name in [n for n in sys.modules if n.startswith(("spandrel", "torchvision"))]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(spandrel_import, "torchvision_problem", lambda: "operator does not exist")
    try:
        module = spandrel_import.spandrel()
        assert len(module.MAIN_REGISTRY.architectures()) > 30
        assert "torchvision" not in sys.modules  # the stand-in is gone again
    finally:
        spandrel_import.spandrel.cache_clear()


def test_the_measurement_is_remembered_per_file_content(
    foreign_weights, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    import shutil

    from srup.models.foreign import describe as foreign_describe
    from srup.models.foreign import measured

    monkeypatch.setenv("SRUP_CACHE_DIR", str(tmp_path / "cache"))
    copy = tmp_path / "copy.pth"
    shutil.copy(foreign_weights["span", ".pth"], copy)
    first = srup.describe(weights=copy)
    assert len(list((tmp_path / "cache" / "reach").iterdir())) == 1
    foreign_describe._described.cache_clear()

    def measure_again(*_args: object) -> Reach:
        raise AssertionError("measured again")

    monkeypatch.setattr(foreign_describe, "measure", measure_again)
    monkeypatch.setattr(foreign_describe, "working_bytes_per_out_px", measure_again)
    monkeypatch.setattr(foreign_describe, "_precisions", measure_again)  # fp16 probes: slow
    again = srup.describe(weights=copy)
    assert again.tiling == first.tiling and again.receptive_radius == first.receptive_radius
    assert again.precisions == first.precisions and again.metadata == first.metadata
    # A damaged entry is measured again, never trusted or fatal.
    (entry,) = (tmp_path / "cache" / "reach").iterdir()
    entry.write_text('["x", -1]')
    foreign_describe._described.cache_clear()
    monkeypatch.undo()
    monkeypatch.setenv("SRUP_CACHE_DIR", str(tmp_path / "cache"))
    assert srup.describe(weights=copy).tiling == first.tiling
    assert measured.VERSION >= 1


def test_tensors_that_are_not_stored_as_they_claim_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "expanded.pth"
    torch.save({"w": torch.zeros(1).expand(10**8)}, path)
    with pytest.raises(BadWeightsError, match="expanded by its strides"):
        srup.describe(weights=path, scale=4)


def test_keys_that_are_not_names_are_one_error(tmp_path: Path) -> None:
    path = tmp_path / "keys.pth"
    torch.save({None: torch.zeros(1), "x": torch.ones(1)}, path)
    with pytest.raises(BadWeightsError, match="not names"):
        srup.describe(weights=path, scale=4)


def test_integer_weights_for_a_floating_point_network_are_refused(tmp_path: Path) -> None:
    from tests.models.foreign.conftest import build

    state = {k: v.to(torch.int32) for k, v in build("compact").state_dict().items()}
    path = tmp_path / "ints.pth"
    torch.save(state, path)
    with pytest.raises(BadWeightsError, match="floating-point"):
        srup.describe(weights=path, scale=4)


def _entry(**changes: object) -> str:
    good = {"radius": 6, "period": 1, "bytes_per_out_px": 100.0}
    good |= {"precisions": ["fp32", "bf16"], "left_out": {"fp16": "fails"}}
    return json.dumps(good | changes)


@pytest.mark.parametrize(
    "content",
    [
        "[" * 5000,
        "[6, 1, 100]",  # version 2's shape
        _entry(radius="x"),
        _entry(period=3),
        _entry(radius=-1),
        _entry(bytes_per_out_px=0),
        _entry(bytes_per_out_px=-5),
        _entry(bytes_per_out_px=1e-300),  # would run any picture whole
        _entry(bytes_per_out_px=1e99),
        _entry(bytes_per_out_px="100"),
        _entry(bytes_per_out_px=float("nan")),
        _entry(precisions=["bf16"]),  # fp32 always runs, first
        _entry(precisions=["fp32", "int4"]),
        _entry(precisions=["fp32", "bf16", "bf16"]),
        _entry(left_out={"bf16": "both runs and is left out"}),
        _entry(left_out={"fp16": "x" * 1000}),
        _entry(left_out=["fp16"]),
        _entry(extra=1),
    ],
)
def test_a_damaged_or_impossible_cache_entry_is_measured_again(
    foreign_weights, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str
) -> None:  # type: ignore[no-untyped-def]
    from srup.models.foreign import describe as foreign_describe
    from srup.models.foreign.measured import Measured, remembered

    monkeypatch.setenv("SRUP_CACHE_DIR", str(tmp_path / "cache"))
    path = foreign_weights["compact", ".pth"]
    truth = remembered(path, "test", lambda: Measured(Reach(6, 1), 123.0, ("fp32",), ()))
    assert remembered(path, "test", lambda: Measured(Reach(1, 1), 5.0)) == truth
    (entry,) = (tmp_path / "cache" / "reach").iterdir()
    entry.write_text(_entry())  # a good entry of another measurement is taken as it is
    assert remembered(path, "test", lambda: truth) == Measured(
        Reach(6, 1), 100.0, ("fp32", "bf16"), (("fp16", "fails"),)
    )
    (entry,) = (tmp_path / "cache" / "reach").iterdir()
    entry.write_text(content)
    assert remembered(path, "test", lambda: truth) == truth
    assert foreign_describe.describe_file  # the module imports


@pytest.mark.parametrize("name", ["compact", "esrgan", "swinir", "span"])
@pytest.mark.parametrize("damage", ["last tensor gone", "a tensor gone", "a tensor cut", "extra"])
def test_a_state_dict_that_half_matches_its_architecture_names_the_tensor(
    tmp_path: Path, name: str, damage: str
) -> None:
    from tests.models.foreign.conftest import build

    state = build(name).state_dict()
    keys = list(state)
    hit = keys[-1] if damage == "last tensor gone" else keys[len(keys) // 2]
    if damage.endswith("gone"):
        del state[hit]
    elif damage == "a tensor cut":
        state[hit] = state[hit][:-1]
    else:
        hit = "extra.weight"
        state[hit] = torch.zeros(3)
    path = tmp_path / "half.pth"
    torch.save(state, path)
    with pytest.raises(BadWeightsError) as err:
        srup.describe(weights=path)
    text = str(err.value)
    assert "\n" not in text and "could not build" in text
    # The tensor is named (spandrel canonicalises a few prefixes; the key's tail stays).
    assert hit.split(".", 1)[-1] in text, text


@pytest.mark.parametrize(
    "damage",
    [
        {"body.100000000.bias": torch.zeros(16)},  # spandrel would build 5e7 layers
        {"body.2.weight": torch.zeros(16, 0)},  # an empty tensor: a shape spandrel reads
    ],
    ids=["layer-number", "empty"],
)
def test_a_layout_that_would_build_a_network_far_larger_than_the_file_is_refused_first(
    tmp_path: Path, damage: dict
) -> None:
    from tests.models.foreign.conftest import build

    path = tmp_path / "bomb.pth"
    torch.save({**build("compact").state_dict(), **damage}, path)
    with pytest.raises(BadWeightsError, match=r"no values|far larger than the file"):
        srup.describe(weights=path)


def test_a_network_too_wide_for_the_thin_probes_is_measured_on_thick_ones(
    tmp_path: Path,
) -> None:
    from tests.models.foreign.conftest import _randomise, construct

    # SwinIR with 32-pixel windows reflects a 16-pixel side into 32, which fails.
    model = construct("swinir", window_size=32, depths=[1], num_heads=[2]).eval()
    _randomise(model, torch.Generator().manual_seed(0))
    path = tmp_path / "swinir_w32.pth"
    torch.save(model.state_dict(), path)
    desc = srup.describe(weights=path)
    assert desc.tiling[0] == "exact" and desc.tile_alignment == 32
    up = srup.load(weights=path, device="cpu")
    picture = (np.random.default_rng(0).random((72, 80, 3)) * 255).astype(np.uint8)
    whole = up.upscale_array(picture)
    up.tile = 32
    assert whole.shape == (288, 320, 3)
    assert np.abs(up.upscale_array(picture).astype(int) - whole).max() <= 1


def test_models_inspect_shows_a_files_own_text_as_one_plain_line(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from safetensors.torch import save_file

    from srup.cli import cli
    from tests.models.foreign.conftest import build

    state = {k: v.contiguous() for k, v in build("compact").state_dict().items()}
    path = tmp_path / "odd.safetensors"
    forged = {"license": "MIT\ntiling  exact", "author": "\x1b]0;title\x07\x1b[2J"}
    save_file(state, str(path), metadata=forged)
    res = runner.invoke(cli, ["models", "--inspect", str(path)])
    assert res.exit_code == 0, res.output
    assert "\x1b" not in res.output and "\x07" not in res.output
    # The newline in the license forges no row of its own.
    assert "\ntiling  exact" not in res.output
    assert any(
        line.startswith("license") and "MIT tiling exact" in line
        for line in res.output.splitlines()
    )
