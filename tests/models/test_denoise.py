"""--denoise: a family's weights interpolated (srup.models.denoise), chosen per file from what the
file says (srup.runtime.auto), and said in the banner, the notes and --json.

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
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

import srup
from srup.cli import cli
from srup.errors import InvalidArgument, InvalidArgumentType, UnknownModelError
from srup.imaging.estimate import Estimate
from srup.imaging.sizing import Sizing
from srup.media import pictures as imageio
from srup.models import denoise as dn
from srup.models.weights import load_state, path_for, read_metadata, save_state
from srup.runtime.auto import MIXES_KEPT, Engine
from tests.conftest import photo

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
    assert dn.strength(est(95)) == 0.2
    assert dn.strength(est(100)) == 0.0  # quality 100: lossless-like, as a PNG
    assert dn.strength(est(100, sigma=20, blur=20)) == 0.0  # and nothing raises it
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


def test_the_cache_builds_each_weight_set_once_and_keeps_every_mix(tmp_path):
    engine = Engine(Sizing(3), **CPU)
    assert engine.builds == 1  # the clean model, for lossless input
    files = [jpeg(tmp_path / f"a{q}.jpg", q, seed=q) for q in (60, 70, 80, 90, 95)]
    pictures = [imageio.read(f) for f in files] * 2  # each quality twice
    names = {engine.choose(p).upscaler.name for p in pictures}
    assert len(names) > 2
    assert engine.builds == 1 + len(names)  # one per distinct weight set, not per file
    # A batch cycling through every strength (21 on the STEP grid) builds each weight set
    # once, however often it comes back: all are kept (MIXES_KEPT per family and scale).
    engine = Engine(Sizing(3), **CPU)
    grid = [round(i * dn.STEP, 2) for i in range(21)]
    for _ in range(2):
        for s in grid:
            engine._upscaler(3, s)
    keys = {dn.choose("auto", 3, s).key for s in grid}
    assert engine.builds == len(keys)  # the clean model was the first of them
    mixes = sum(1 for s in grid if dn.choose("auto", 3, s).b is not None)
    assert mixes <= MIXES_KEPT == 19


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
        # The record carries the estimate's own JSON (its keys: tests/test_estimate.py).
        assert set(rec["estimate"]) == set(Estimate(None, False, None, None).to_json())
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
        "auto: fsrcnn (lossless), fsrcnn-clean..capture by denoise auto (lossy input) ×3"
    ), res.output
    res = run(runner, rgb_file, "-s", 3, "-o", tmp_path / "p.png", "--denoise", "0.8")
    assert res.output.splitlines()[0].startswith("auto: fsrcnn-real+capture@0.80 ×3")
    res = run(
        runner, rgb_file, "-s", 3, "-o", tmp_path / "q.png", "-m", "fsrcnn", "--denoise", "auto"
    )
    assert "--denoise auto chooses per file with -m auto only" in res.output


# ------------------------------------------------------- what runs is what is recorded


@pytest.fixture
def short_folder(tmp_path, monkeypatch) -> Path:
    """A weights folder where ×2 has fsrcnn and fsrcnn-real (no capture) and espcn7 alone
    (no real, no capture), and ×3 fsrcnn alone: whatever capture weights are shipped
    meanwhile, the chains these tests walk stay as short as this."""
    folder = tmp_path / "short"
    folder.mkdir()
    for name, scale in (("fsrcnn", 2), ("fsrcnn-real", 2), ("espcn7", 2), ("fsrcnn", 3)):
        shutil.copy(path_for(name, scale), folder / f"{name}_x{scale}.safetensors")
    monkeypatch.setenv("SRUP_WEIGHTS", str(folder))
    return folder


def expected_strength(fam: dn.Family, s: float) -> float:
    """What a strength runs in ``fam``: on the STEP grid, clamped to the chain's ends."""
    r = dn.rounded(s)
    return min(max(r, fam.members[0].point), fam.members[-1].point)


@settings(max_examples=60, deadline=None)
@given(st.floats(0.0, 1.0))
def test_every_shipped_family_runs_what_its_name_and_strength_say(s):
    """A property over every shipped clean model and scale: a strength given is refused
    (one line naming what to use) where the family is the clean model alone, unless it
    rounds to 0; elsewhere the blend's strength is the one on the grid, clamped to the
    chain, and its name says it (two decimals are the strength, exactly)."""
    from srup.models.catalog import model_names
    from srup.models.weights import shipped

    for (name, scale), _path in sorted(shipped().items()):
        if name not in model_names() or split(name)[1]:
            continue
        fam = dn.family(name, scale)
        if len(fam.members) < 2 and dn.rounded(s) != 0.0:
            with pytest.raises(InvalidArgument) as err:
                dn.choose(name, scale, s)
            text = str(err.value)
            assert "\n" not in text and "--denoise 0" in text
            assert f"{name} has no real or capture weights at ×{scale}" in text
            continue
        blend = dn.choose(name, scale, s)
        assert blend.strength == expected_strength(fam, s)
        assert blend.asked == s and blend.differs == (blend.strength != s)
        if blend.b is not None:
            assert blend.name.endswith(f"@{blend.strength:.2f}")
            assert float(blend.name.rpartition("@")[2]) == blend.strength


def split(name: str) -> tuple[str, str]:
    from srup.models.weights import split_name

    return split_name(name)


@pytest.mark.parametrize(
    "args,names",
    [
        (["-m", "espcn7", "-s", "2", "--denoise", "0.8"], "espcn7"),
        (["-m", "espcn7", "-s", "2", "--denoise", "0.2"], "espcn7"),
    ],
)
def test_a_strength_on_a_family_without_variants_is_refused(
    runner, rgb_file, tmp_path, short_folder, args, names
):
    res = run(runner, rgb_file, "-o", tmp_path / "o.png", *args)
    assert res.exit_code == 2, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1, res.output
    assert f"{names} has no real or capture weights at ×2; use -m fsrcnn or --denoise 0" in lines[0]
    assert not (tmp_path / "o.png").exists()
    # 0 (or what rounds to it) is the clean model itself: nothing to refuse.
    ok = run(
        runner, rgb_file, "-o", tmp_path / "z.png", "-m", "espcn7", "-s", "2", "--denoise", "0.02"
    )
    assert ok.exit_code == 0, ok.output
    with pytest.raises(InvalidArgument, match="no real or capture weights"):
        srup.load("espcn7", 2, denoise=0.5, **CPU)


def test_a_clamped_strength_is_recorded_as_what_ran_with_one_note(runner, tmp_path, short_folder):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        jpeg(src / f"a{i}.jpg", 60, seed=i)
    res = run(runner, src, "-s", 2, "-o", f"{tmp_path / 'out'}/", "--json", "--denoise", "0.8")
    assert res.exit_code == 0, res.output
    records = [json.loads(line) for line in res.stdout.splitlines()]
    assert len(records) == 3
    for rec in records:
        assert (rec["denoise"], rec["denoise_asked"], rec["model"]) == (0.5, 0.8, "fsrcnn-real")
    why = "no fsrcnn-capture weights at ×2: strengths above 0.5 run fsrcnn-real"
    assert res.stderr.count(why) == 1, res.stderr  # once per run, not per file
    assert all(why not in n for rec in records for n in rec["notes"])


def test_an_auto_strength_beyond_the_chain_says_what_ran(runner, tmp_path, short_folder):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(2):
        jpeg(src / f"low{i}.jpg", 20, seed=i)  # quality 20: strength 1, the capture model's
    jpeg(src / "high.jpg", 95)  # within the chain: runs as chosen
    res = run(runner, src, "-s", 2, "-o", f"{tmp_path / 'out'}/", "--json")
    assert res.exit_code == 0, res.output
    records = {Path(r["input"]).name: r for r in map(json.loads, res.stdout.splitlines())}
    for name in ("low0.jpg", "low1.jpg"):
        rec = records[name]
        assert (rec["denoise"], rec["denoise_asked"], rec["model"]) == (0.5, 1.0, "fsrcnn-real")
        assert any("denoise 1.00, runs 0.50 (fsrcnn-real)" in n for n in rec["notes"])
    high = records["high.jpg"]
    assert "denoise_asked" not in high and 0 < high["denoise"] < 0.5
    why = "no fsrcnn-capture weights at ×2: strengths above 0.5 run fsrcnn-real"
    assert res.stderr.count(why) == 1, res.stderr
    # Where the chain is the clean model alone (×3 here), auto runs it and says so.
    engine = Engine(Sizing(3), **CPU)
    choice = engine.choose(imageio.read(src / "low0.jpg"))
    assert (choice.denoise, choice.asked, choice.upscaler.name) == (0.0, 1.0, "fsrcnn")
    assert engine.notes == [
        "no fsrcnn-real or fsrcnn-capture weights at ×3: strengths above 0 run fsrcnn"
    ]


def test_with_capture_weights_the_same_strength_runs_as_asked(capture_folder):
    engine = Engine(Sizing(3), denoise=0.8, **CPU)
    assert engine.first.name == "fsrcnn-real+capture@0.80" and engine.first.denoise == 0.8
    assert engine.notes == []


@pytest.mark.parametrize(
    "given,ran,name",
    [
        ("0.33", 0.35, "fsrcnn-clean+real@0.35"),
        ("0.334", 0.35, "fsrcnn-clean+real@0.35"),
        ("0.3", 0.3, "fsrcnn-clean+real@0.30"),
        ("-0", 0.0, "fsrcnn"),
        ("0.02", 0.0, "fsrcnn"),
    ],
)
def test_given_strengths_run_to_the_nearest_step(runner, tmp_path, given, ran, name):
    src = jpeg(tmp_path / "a.jpg", 60)
    res = run(runner, src, "-s", 3, "-o", tmp_path / "o.png", "--json", "--denoise", given)
    assert res.exit_code == 0, res.output
    rec = json.loads(res.stdout.strip().splitlines()[-1])
    assert rec["model"] == name and rec["denoise"] == ran
    assert '"denoise": -0.0' not in res.stdout and math.copysign(1, rec["denoise"]) == 1
    if float(given) == ran:
        assert "denoise_asked" not in rec
        assert "runs as" not in res.stderr
    else:
        assert rec["denoise_asked"] == float(given)
        assert res.stderr.count(f"--denoise {float(given):g} runs as {ran:.2f}") == 1


@settings(max_examples=50, deadline=None)
@given(st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_a_mix_name_always_says_which_weights_ran(a, b):
    """Two strengths share a name exactly when they share the weights."""
    x, y = dn.choose("auto", 3, a), dn.choose("auto", 3, b)
    assert (x.name == y.name) == (x.key == y.key)
    assert x.strength == dn.rounded(a) or x.b is None


def test_parse_and_rounding_never_give_minus_zero():
    assert math.copysign(1, dn.parse(-0.0)) == 1
    assert math.copysign(1, dn.rounded(-0.0)) == 1
    assert math.copysign(1, dn.rounded(0.01)) == 1


# --------------------------------------------------------------- what is lossy, and video


def webp_chunks(*chunks: tuple[bytes, bytes]) -> bytes:
    """A RIFF WebP container of ``(fourcc, payload)`` chunks (padded to even sizes)."""
    body = b"WEBP"
    for fourcc, payload in chunks:
        body += fourcc + len(payload).to_bytes(4, "little") + payload + b"\0" * (len(payload) & 1)
    return b"RIFF" + len(body).to_bytes(4, "little") + body


def _lossy_files(folder: Path) -> dict[str, bool]:
    """Files of every kind --denoise auto tells apart, and whether each is lossy."""
    rgb = photo(64, 48)
    im = Image.fromarray(rgb)
    made: dict[str, bool] = {}

    def save(name: str, lossy: bool, **options) -> None:
        im.save(folder / name, **options)
        made[name] = lossy

    save("a.jpg", True, quality=80)
    save("a.png", False)
    save("a.bmp", False)
    save("a.gif", False)
    save("lossy.webp", True, quality=80)
    save("lossless.webp", False, lossless=True)
    frames = [im, im.rotate(180)]
    save("anim_lossy.webp", True, save_all=True, append_images=frames[1:], quality=60)
    save("anim_lossless.webp", False, save_all=True, append_images=frames[1:], lossless=True)
    big_icc = bytes(range(256)) * 400  # 100 KiB: its chunk runs past the first 64 KiB
    save("icc_lossy.webp", True, quality=80, icc_profile=big_icc)
    save("icc_lossless.webp", False, lossless=True, icc_profile=big_icc)
    save("jpeg.tif", True, compression="jpeg")
    save("lzw.tif", False, compression="tiff_lzw")
    from PIL import features

    if features.check("avif"):
        save("a.avif", True, quality=60)
    if features.check("jpg_2000"):
        save("rev.jp2", True)  # 5/3 reversible, but JPEG 2000 never says it is lossless
        save("irrev.jp2", True, irreversible=True, quality_layers=[20])
    return made


def test_lossy_files_are_told_apart_by_their_content(tmp_path):
    made = _lossy_files(tmp_path)
    assert len(made) >= 12
    for name, lossy in made.items():
        picture = imageio.read(tmp_path / name)
        assert picture.lossy is lossy, name
        assert imageio.probe(tmp_path / name).lossy is lossy, name
    # The big ICC chunk comes first: the lossy image chunk lies past 64 KiB.
    assert (tmp_path / "icc_lossy.webp").read_bytes().find(b"VP8 ") > 1 << 16


def test_the_webp_walk_survives_hostile_chunk_sizes(tmp_path):
    frame_vp8 = b"VP8 " + (4).to_bytes(4, "little") + b"\0" * 4
    cases = {
        "vp8_after_huge_junk": (webp_chunks((b"JUNK", b"x" * 70000), (b"VP8 ", b"\0" * 10)), True),
        "vp8l": (webp_chunks((b"VP8L", b"\0" * 10)), False),
        # A frame: 16 bytes of position, size and timing, then its own VP8 chunk.
        "anmf_vp8": (
            webp_chunks((b"ANIM", b"\0" * 6), (b"ANMF", b"\0" * 16 + frame_vp8)),
            True,
        ),
        "size_past_the_end": (
            b"RIFF"
            + (1 << 31).to_bytes(4, "little")
            + b"WEBPXXXX"
            + (1 << 30).to_bytes(4, "little"),
            False,
        ),
        "truncated": (b"RIFF\x10\x00\x00\x00WEBPVP", False),
        "not_riff": (b"GIF89a" + b"\0" * 20, False),
    }
    for name, (data, lossy) in cases.items():
        path = tmp_path / f"{name}.webp"
        path.write_bytes(data)
        assert imageio.is_lossy(path, "WEBP") is lossy, name


def test_lossless_files_under_auto_get_the_clean_model_and_lossy_ones_a_strength(tmp_path):
    engine = Engine(Sizing(3), **CPU)
    for name, lossy in _lossy_files(tmp_path).items():
        choice = engine.choose(imageio.read(tmp_path / name))
        if lossy:
            assert choice.estimate is not None and choice.denoise > 0, name
            if name.endswith((".webp", ".avif", ".jp2")):
                assert "(no quantization tables)" in choice.note, name
        else:
            assert (choice.denoise, choice.estimate) == (0.0, None), name


def make_clip(path: Path, codec: str, pix_fmt: str, frames: int = 3) -> Path:
    av = pytest.importorskip("av")
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 24, pix_fmt
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(np.roll(photo(32, 24), i, 1), format="rgb24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


@pytest.mark.parametrize(
    "codec,pix_fmt,suffix,lossy",
    [("ffv1", "yuv444p", ".mkv", False), ("mpeg4", "yuv420p", ".mp4", True)],
)
def test_videos_record_the_strength_their_frames_got(tmp_path, codec, pix_fmt, suffix, lossy):
    from srup import batch

    src = make_clip(tmp_path / f"clip{suffix}", codec, pix_fmt)
    for denoise, expected in (("auto", 0.5 if lossy else 0.0), (0.3, 0.3), (0.33, 0.35)):
        engine = Engine(Sizing(2), denoise=denoise, **CPU)
        dst = tmp_path / f"out_{denoise}{suffix}"
        res = batch.run_job(engine, batch.Job(src, dst, batch.VIDEO))
        assert res.status == "done", res.error
        assert res.denoise == expected, (codec, denoise)
        assert res.denoise_asked == (0.33 if denoise == 0.33 else None)
        assert res.model == ("fsrcnn-real" if expected == 0.5 else engine.first.name)


# ------------------------------------------------------------------- notes are one line


def test_a_note_about_a_file_named_with_control_characters_is_one_line(runner, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    jpeg(src / "a\nb\x1b[31m.jpg", 60)
    res = run(runner, src, "-s", 3, "-o", f"{tmp_path / 'out'}/")
    assert res.exit_code == 0, res.output
    notes = [line for line in res.stderr.splitlines() if "JPEG quality" in line]
    assert len(notes) == 1 and notes[0].startswith("note: ")
    assert "a b\\x1b[31m.jpg: JPEG quality 60" in notes[0]
    assert "\x1b" not in res.stderr


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_one_line_leaves_no_control_character(text):
    from srup.cli.display import one_line

    line = one_line(text)
    assert "\n" not in line and "\r" not in line
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in line)
    assert len(line.splitlines()) <= 1


def test_a_document_like_jpeg_moves_toward_the_capture_end_and_a_photo_does_not():
    photo_like = Estimate(65.0, True, 1.0, 4.0, 1.1, None, 0.3)
    board_like = Estimate(65.0, True, 1.0, 4.0, 1.1, None, 0.7)
    between = Estimate(65.0, True, 1.0, 4.0, 1.1, None, 0.52)
    assert dn.strength(photo_like) == pytest.approx(0.75)
    assert dn.strength(board_like) == pytest.approx(1.0)
    assert 0.75 < dn.strength(between) < 1.0
    # At quality 75 or above a board is left to the quality curve (the mild boards of the
    # legibility benchmark read best with the real model).
    assert dn.strength(Estimate(75.0, True, 1.0, 4.0, 1.1, None, 0.7)) == pytest.approx(0.5)
    assert dn.strength(Estimate(90.0, True, 1.0, 4.0, 1.1, None, 0.7)) < 0.5
    # A lossless-like JPEG (quality 100) stays at 0 however flat it is.
    assert dn.strength(Estimate(100.0, True, 0.1, 2.0, 1.0, None, 0.9)) == 0.0


def test_flat_fraction_tells_a_board_from_a_photo():
    from srup.data.boards import render_board
    from srup.imaging.estimate import flat_fraction, luma

    board, _ = render_board(np.random.default_rng(5), (320, 240), style="marker", fonts=())
    texture = photo()
    assert flat_fraction(luma(board)) > 0.5 > flat_fraction(luma(texture))
    assert flat_fraction(np.zeros((2, 2))) is None
    assert flat_fraction(np.full((16, 16), 77.0)) == 1.0


@pytest.mark.parametrize(
    ("model", "suffix", "hinted"),
    [
        ("fsrcnn", ".jpg", True),  # a clean model with real-photo variants, on JPEG input
        ("fsrcnn", ".png", False),  # lossless input: the clean model is the right one
        ("srcnn", ".jpg", False),  # no variants to point at
        ("fsrcnn-real", ".jpg", False),  # already a variant
    ],
)
def test_a_clean_model_named_for_jpeg_input_says_once_how_to_use_its_variants(
    runner, tmp_path, model, suffix, hinted
):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        options = {"quality": 70} if suffix == ".jpg" else {}
        Image.fromarray(photo(48, 40, seed=i)).save(src / f"p{i}{suffix}", **options)
    res = run(runner, src, "-s", 3, "-m", model, "-o", f"{tmp_path / 'out'}/")
    assert res.exit_code == 0, res.output
    hints = [line for line in res.output.splitlines() if "runs as named on JPEG input" in line]
    assert len(hints) == (1 if hinted else 0), res.output
    if hinted:
        assert "--denoise 0.5 uses fsrcnn-real" in hints[0]
