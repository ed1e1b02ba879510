"""--denoise: a family's weights interpolated (srup.denoise), chosen per file from what the
file says (srup.engine), and said in the banner, the notes and --json.

Exactness here is on the CPU in fp32 (the host tiler): an endpoint of the walk loads its
member's file as it is, so its output is that model's, bit for bit.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import srup
from srup import denoise as dn
from srup import imageio
from srup.cli import cli
from srup.engine import MIXES_KEPT, Engine
from srup.errors import InvalidArgument, InvalidArgumentType, UnknownModelError
from srup.estimate import Estimate
from srup.sizing import Sizing
from srup.weights import load_state, path_for, read_metadata, save_state

from .conftest import photo

CPU = {"device": "cpu", "precision": "fp32", "tile": 0}


def jpeg(path: Path, quality: int, seed: int = 0, size=(48, 40)) -> Path:
    Image.fromarray(photo(*size, seed=seed)).save(path, quality=quality)
    return path


def state_of(up) -> dict:
    """The network's own weights, as a plain state dict (train form, float32)."""
    return {k: v.detach().clone() for k, v in up.descriptor.build("train").state_dict().items()}


@pytest.fixture
def capture_folder(tmp_path, monkeypatch) -> Path:
    """A weights folder with fsrcnn ×3, fsrcnn-real ×3 and a fake fsrcnn-capture ×3 (the
    real weights, perturbed): a three-member family without the capture files existing."""
    import torch

    folder = tmp_path / "w"
    folder.mkdir()
    for name in ("fsrcnn", "fsrcnn-real"):
        shutil.copy(path_for(name, 3), folder / f"{name}_x3.safetensors")
    real = path_for("fsrcnn-real", 3)
    state, _ = load_state(real)
    gen = torch.Generator().manual_seed(0)
    fake = {k: v + 0.01 * torch.randn(v.shape, generator=gen) for k, v in state.items()}
    meta = read_metadata(real) | {"degradation": "capture"}
    save_state(folder / "fsrcnn-capture_x3.safetensors", fake, meta)
    monkeypatch.setenv("SRUP_WEIGHTS", str(folder))
    return folder


# ------------------------------------------------------------------------------ the walk


def test_a_family_is_found_from_the_shipped_files():
    fam = dn.family("fsrcnn", 3)
    assert [m.name for m in fam.members][:2] == ["fsrcnn", "fsrcnn-real"]
    assert fam.members[0].point == 0.0 and fam.members[1].point == 0.5
    # ×4: auto takes espcn7 for lossless input, and walks fsrcnn (its real variant) above 0.
    assert dn.choose("auto", 4, 0.0).name == srup.describe("auto", 4).name
    assert dn.choose("auto", 4, 0.5).name == srup.describe("auto", 4, lossy=True).name


def test_the_named_points_hold_whatever_members_are_shipped(capture_folder):
    two = dn.Family("fsrcnn", 3, dn.family("fsrcnn", 3).members[:2])
    three = dn.family("fsrcnn", 3)
    assert [m.variant for m in three.members] == ["clean", "real", "capture"]
    for fam in (two, three):
        assert fam.blend(0.0).name == "fsrcnn"
        assert fam.blend(0.5).name == "fsrcnn-real"  # the real model with or without capture
        b = fam.blend(0.2)
        assert b.name == "fsrcnn-clean+real@0.20" and b.t == pytest.approx(0.4)
    assert two.blend(0.75).name == two.blend(1.0).name == "fsrcnn-real"  # clamped
    assert three.blend(1.0).name == "fsrcnn-capture"
    assert three.blend(0.6).name == "fsrcnn-real+capture@0.60"
    assert three.blend(0.6).t == pytest.approx(0.2)
    assert three.span == "fsrcnn-clean..capture" and two.span == "fsrcnn-clean..real"


def test_a_member_whose_tensors_differ_is_left_out_of_the_chain(tmp_path, monkeypatch):
    folder = tmp_path / "w"
    folder.mkdir()
    shutil.copy(path_for("espcn", 3), folder / "espcn_x3.safetensors")
    # An RGB-in ESPCN named as a capture variant: other first-layer shapes, not mixable.
    shutil.copy(path_for("espcn-rgb", 3), folder / "espcn-capture_x3.safetensors")
    monkeypatch.setenv("SRUP_WEIGHTS", str(folder))
    assert [m.name for m in dn.family("espcn", 3).members] == ["espcn"]


@pytest.mark.parametrize("strength,model", [(0.0, "fsrcnn"), (0.5, "fsrcnn-real")])
def test_the_endpoints_are_their_members_bit_for_bit(strength, model):
    lr = photo(40, 32, seed=3)
    walked = srup.load("auto", 3, denoise=strength, **CPU)
    named = srup.load(model, 3, **CPU)
    assert walked.name == model and walked.denoise == strength
    assert walked.descriptor.mix == ()  # the file as it is, no arithmetic
    assert np.array_equal(walked.upscale_array(lr), named.upscale_array(lr))


def test_midpoints_are_the_tensor_average(capture_folder):
    clean, real, capture = (
        state_of(srup.load(n, 3, **CPU)) for n in ("fsrcnn", "fsrcnn-real", "fsrcnn-capture")
    )
    for s, a, b in ((0.25, clean, real), (0.75, real, capture)):
        mid = srup.load("fsrcnn", 3, denoise=s, **CPU)
        got = state_of(mid)
        assert mid.descriptor.mix and mid.denoise == s
        for key, value in got.items():
            assert torch_equal(value, (a[key] + b[key]) / 2), key
    # s = 1: the capture member itself; 0.9 lies between real and capture, nearer capture.
    one = srup.load("auto", 3, denoise=1.0, **CPU)
    assert one.name == "fsrcnn-capture"
    lr = photo(40, 32, seed=2)
    named = srup.load("fsrcnn-capture", 3, **CPU)
    assert np.array_equal(one.upscale_array(lr), named.upscale_array(lr))


def torch_equal(a, b) -> bool:
    import torch

    return a.dtype == torch.float32 and torch.equal(a, b.to(torch.float32))


def test_interpolate_is_one_formula_per_tensor():
    import torch

    a = {"w": torch.tensor([1.0, 2.0, -3.0]), "n": torch.tensor([7])}
    b = {"w": torch.tensor([3.0, 2.0, 5.0]), "n": torch.tensor([7])}
    assert torch.equal(dn.interpolate(a, b, 0.0)["w"], a["w"])
    assert torch.equal(dn.interpolate(a, b, 1.0)["w"], b["w"])
    assert torch.equal(dn.interpolate(a, b, 0.25)["w"], 0.75 * a["w"] + 0.25 * b["w"])
    assert torch.equal(dn.interpolate(a, b, 0.5)["n"], a["n"])
    with pytest.raises(srup.SrupError, match="shapes"):
        dn.interpolate(a, {"w": torch.zeros(2), "n": b["n"]}, 0.5)
    with pytest.raises(srup.SrupError, match="tensors differ"):
        dn.interpolate(a, {"w": b["w"]}, 0.5)


# ----------------------------------------------------------------------------- the policy


def est(q=None, sigma=None, blur=None, exact=True) -> Estimate:
    return Estimate(q, exact and q is not None, sigma, blur)


def test_the_policy_puts_quality_75_on_the_real_model_and_rises_as_quality_falls():
    assert dn.strength(est(75)) == 0.5
    assert dn.strength(est(95)) == dn.strength(est(100)) == 0.2
    assert dn.strength(est(55)) == dn.strength(est(20)) == 1.0
    qualities = [30, 50, 60, 70, 80, 90, 97]
    strengths = [dn.strength(est(q)) for q in qualities]
    assert strengths == sorted(strengths, reverse=True)
    assert dn.strength(est(None)) == 0.5  # lossy without tables: the real model
    # Noise and blur raise it, by at most their caps; below their floors, not at all.
    p = dn.POLICY
    assert dn.strength(est(75, sigma=p.noise_floor, blur=p.blur_floor)) == 0.5
    assert dn.strength(est(75, sigma=p.noise_floor + 2)) == pytest.approx(0.5 + 2 * p.noise_gain)
    assert dn.strength(est(75, sigma=99, blur=99)) == pytest.approx(
        0.5 + p.noise_most + p.blur_most
    )
    assert dn.rounded(0.62) == 0.6 and dn.rounded(0.63) == 0.65 and dn.rounded(1.2) == 1.0


def test_a_jpeg_at_q50_gets_more_than_at_q90(tmp_path):
    engine = Engine(Sizing(3), **CPU)
    got = {}
    for q in (50, 90):
        picture = imageio.read(jpeg(tmp_path / f"q{q}.jpg", q))
        assert picture.quantization is not None and picture.lossy
        choice = engine.choose(picture)
        assert choice.estimate.jpeg_quality == q and choice.estimate.jpeg_exact
        assert choice.note.startswith(f"JPEG quality {q} (standard tables)")
        assert f"→ denoise {choice.denoise:.2f} ({choice.upscaler.name})" in choice.note
        got[q] = choice.denoise
    assert got[50] > got[90]


def test_lossless_files_and_video_frames_are_not_estimated(tmp_path):
    engine = Engine(Sizing(3), **CPU)
    Image.fromarray(photo()).save(tmp_path / "a.png")
    png = imageio.read(tmp_path / "a.png")
    assert png.quantization is None and not png.lossy
    choice = engine.choose(png)
    assert (choice.denoise, choice.estimate, choice.note) == (0.0, None, None)
    assert choice.upscaler is engine.first and engine.first.name == "fsrcnn"
    frame = imageio.Picture(photo(), format="VIDEO", lossy=True)
    choice = engine.choose(frame)
    assert (choice.denoise, choice.estimate, choice.upscaler.name) == (0.5, None, "fsrcnn-real")


def test_a_named_model_runs_as_named_under_denoise_auto(tmp_path):
    engine = Engine(Sizing(3), "fsrcnn", **CPU)
    choice = engine.choose(imageio.read(jpeg(tmp_path / "a.jpg", 40)))
    assert (choice.denoise, choice.estimate, choice.upscaler.name) == (None, None, "fsrcnn")
    walked = Engine(Sizing(3), "fsrcnn", denoise=0.3, **CPU)
    assert walked.choose(imageio.read(tmp_path / "a.jpg")).upscaler.name == (
        "fsrcnn-clean+real@0.30"
    )


def test_the_cache_builds_each_weight_set_once_and_keeps_a_few_mixes(tmp_path):
    engine = Engine(Sizing(3), **CPU)
    assert engine.builds == 1  # the clean model, for lossless input
    files = [jpeg(tmp_path / f"a{q}.jpg", q, seed=q) for q in (60, 70, 80, 90, 95)]
    pictures = [imageio.read(f) for f in files] * 2  # each quality twice
    names = {engine.choose(p).upscaler.name for p in pictures}
    assert len(names) > 2
    assert engine.builds == 1 + len(names)  # one per distinct weight set, not per file
    # More strengths than are kept: the least recently used mix goes, members stay.
    engine = Engine(Sizing(3), **CPU)
    for s in (0.1, 0.15, 0.2, 0.25, 0.3, 0.35):
        engine._upscaler(3, s)
    assert len(engine._mixes) == MIXES_KEPT and engine.builds == 7
    engine._upscaler(3, 0.35)  # among the last used: not rebuilt
    engine._upscaler(3, 0.1)  # dropped: built again
    assert engine.builds == 8
    # Strengths that mean the same weights share them: beyond real, with no capture shipped.
    engine._upscaler(3, 0.5)
    built = engine.builds
    engine._upscaler(3, 0.75)
    engine._upscaler(3, 1.0)
    assert engine.builds == built + (0 if dn.family("fsrcnn", 3).blend(1.0).b is None else 2)


# ---------------------------------------------------------------------------- the API


@pytest.mark.parametrize(
    "value,error",
    [
        (-0.1, InvalidArgument),
        (1.5, InvalidArgument),
        (math.nan, InvalidArgument),
        (math.inf, InvalidArgument),
        ("abc", InvalidArgument),
        (True, InvalidArgumentType),
        (None, InvalidArgumentType),
        ([0.5], InvalidArgumentType),
    ],
)
def test_load_checks_denoise(value, error):
    with pytest.raises(error, match="denoise"):
        srup.load("auto", 3, denoise=value, **CPU)


def test_load_refuses_a_strength_without_a_family():
    with pytest.raises(InvalidArgument, match="clean member"):
        srup.load("fsrcnn-real", 3, denoise=0.3, **CPU)
    with pytest.raises(InvalidArgument, match="nothing to interpolate"):
        srup.load(weights=path_for("fsrcnn", 3), scale=3, denoise=0.3, **CPU)
    with pytest.raises(InvalidArgument, match="not both"):
        srup.load("auto", 3, lossy=True, denoise=0.3, **CPU)
    with pytest.raises(UnknownModelError):
        srup.load("nosuch", 3, denoise=0.3, **CPU)
    assert srup.load("auto", 3, **CPU).denoise is None  # nothing asked, nothing said
    assert srup.load("auto", 3, denoise=np.float32(0.5), **CPU).name == "fsrcnn-real"


# ---------------------------------------------------------------------------- the CLI


def run(runner, *args):
    return runner.invoke(cli, ["upscale", *map(str, args)])


@pytest.mark.parametrize("value", ["-0.1", "1.5", "abc", "nan", "inf", ""])
def test_bad_denoise_values_are_one_line_usage_errors(runner, rgb_file, tmp_path, value):
    res = run(runner, rgb_file, "-o", tmp_path / "o.png", "--denoise", value)
    assert res.exit_code == 2, res.output
    assert len(res.output.strip().splitlines()) == 1 and "--denoise" in res.output


@pytest.mark.parametrize(
    "args", [["-m", "fsrcnn-real"], ["--weights", path_for("fsrcnn", 3)], ["-m", "espcn-rgb"]]
)
def test_a_strength_without_a_family_is_a_usage_error(runner, rgb_file, tmp_path, args):
    res = run(runner, rgb_file, "-o", tmp_path / "o.png", "-s", "3", *args, "--denoise", "0.3")
    assert res.exit_code == 2, res.output
    assert len(res.output.strip().splitlines()) == 1, res.output
    assert not (tmp_path / "o.png").exists()


def test_lossless_input_under_auto_is_bit_identical_to_the_clean_model(runner, tmp_path):
    Image.fromarray(photo(30, 24)).save(tmp_path / "a.png")
    for scale, clean in ((3, "fsrcnn"), (4, srup.describe("auto", 4).name)):
        auto, named = tmp_path / f"auto{scale}.png", tmp_path / f"named{scale}.png"
        assert run(runner, tmp_path / "a.png", "-s", scale, "-o", auto).exit_code == 0
        res = run(runner, tmp_path / "a.png", "-s", scale, "-m", clean, "-o", named)
        assert res.exit_code == 0
        assert np.array_equal(np.asarray(Image.open(auto)), np.asarray(Image.open(named)))


@pytest.mark.parametrize("strength,model", [("0", "fsrcnn"), ("0.5", "fsrcnn-real")])
def test_a_jpeg_at_an_endpoint_is_its_member_bit_for_bit(runner, tmp_path, strength, model):
    src = jpeg(tmp_path / "a.jpg", 60)
    walked, named = tmp_path / "walked.png", tmp_path / "named.png"
    assert run(runner, src, "-s", 3, "--denoise", strength, "-o", walked).exit_code == 0
    assert run(runner, src, "-s", 3, "-m", model, "-o", named).exit_code == 0
    assert np.array_equal(np.asarray(Image.open(walked)), np.asarray(Image.open(named)))


def test_json_records_carry_the_estimate_and_the_strength(runner, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    jpeg(src / "low.jpg", 40)
    jpeg(src / "high.jpg", 95)
    Image.fromarray(photo()).save(src / "flat.png")
    res = run(runner, src, "-s", 3, "-o", f"{tmp_path / 'out'}/", "--json")
    assert res.exit_code == 0, res.output
    records = {Path(r["input"]).name: r for r in map(json.loads, res.stdout.splitlines())}
    low, high, flat = records["low.jpg"], records["high.jpg"], records["flat.png"]
    assert flat["denoise"] == 0.0 and flat["estimate"] is None and flat["model"] == "fsrcnn"
    assert flat["notes"] == []
    for rec, q in ((low, 40), (high, 95)):
        assert set(rec["estimate"]) == {"jpeg_quality", "jpeg_exact", "noise_sigma", "blur"}
        assert rec["estimate"]["jpeg_quality"] == q and rec["estimate"]["jpeg_exact"] is True
        assert rec["model"] == dn.auto_family(3).blend(rec["denoise"]).name
        assert any(f"→ denoise {rec['denoise']:.2f}" in n for n in rec["notes"])
    assert low["denoise"] > high["denoise"]
    # With a strength given, every file has it and nothing is estimated.
    res = run(runner, src, "-s", 3, "-o", f"{tmp_path / 'o2'}/", "--json", "--denoise", "0.3")
    for rec in map(json.loads, res.stdout.splitlines()):
        assert (rec["denoise"], rec["estimate"]) == (0.3, None)
        assert rec["model"] == "fsrcnn-clean+real@0.30"


def test_the_banner_says_what_auto_walks(runner, rgb_file, tmp_path, capture_folder):
    res = run(runner, rgb_file, "-s", 3, "-o", tmp_path / "o.png")
    assert res.output.splitlines()[0].startswith(
        "auto: fsrcnn (lossless), fsrcnn-clean..capture by denoise auto (JPEG, lossy WebP) ×3"
    ), res.output
    res = run(runner, rgb_file, "-s", 3, "-o", tmp_path / "p.png", "--denoise", "0.8")
    assert res.output.splitlines()[0].startswith("auto: fsrcnn-real+capture@0.80 ×3")
    res = run(
        runner, rgb_file, "-s", 3, "-o", tmp_path / "q.png", "-m", "fsrcnn", "--denoise", "auto"
    )
    assert "--denoise auto chooses per file with -m auto only" in res.output
