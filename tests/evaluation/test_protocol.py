"""The evaluation protocol and `srup benchmark`."""

import csv
import json
import math
import os
import stat

import pytest
from PIL import Image

from srup.cli import cli
from srup.data.datasets import Sample, discover
from srup.evaluation import protocol as bm
from srup.evaluation.run import BenchmarkRun
from tests.conftest import SHARED, needs_shared, photo


def test_hr_folder_dataset_scores_bicubic_and_models(runner, hr_folder, tmp_path):
    js, cs, pics = tmp_path / "r.json", tmp_path / "r.csv", tmp_path / "pics"
    res = runner.invoke(
        cli,
        [
            "benchmark",
            str(hr_folder),
            "-s",
            "2",
            "-m",
            "espcn",
            "--json",
            str(js),
            "--csv",
            str(cs),
            "--save-images",
            str(pics),
            "--per-image",
        ],
    )
    assert res.exit_code == 0, res.output
    data = json.loads(js.read_text())
    models = [r["model"] for r in data["results"]]
    assert models == ["bicubic", "espcn"]
    for r in data["results"]:
        assert {"dataset", "scale", "model", "psnr", "ssim", "mse", "seconds", "images"} <= set(r)
        assert r["images"] == 3
    assert len(data["per_image"]) == 6
    rows = list(csv.DictReader(cs.open()))
    assert [r["model"] for r in rows] == models
    panels = sorted((pics / "hr" / "x2").glob("*.png"))
    assert len(panels) == 3
    with Image.open(panels[0]) as img:
        assert img.width >= 4 * 48  # LR | bicubic | espcn | HR


def test_bicubic_only_and_unknown_models(runner, hr_folder):
    res = runner.invoke(cli, ["benchmark", str(hr_folder), "-s", "3", "-m", "bicubic"])
    assert res.exit_code == 0 and "bicubic" in res.output
    res = runner.invoke(cli, ["benchmark", str(hr_folder), "-s", "3", "-m", "nope"])
    assert res.exit_code == 2 and "available" in res.output


def test_empty_folder_is_a_clear_error(runner, tmp_path):
    res = runner.invoke(cli, ["benchmark", str(tmp_path)])
    assert res.exit_code == 1 and "no images found" in res.output


def test_lr_layout_is_used_when_present(tmp_path, hr_folder):
    root = tmp_path / "DS"
    (root / "HR").mkdir(parents=True)
    (root / "LR_bicubic" / "X2").mkdir(parents=True)
    for f in hr_folder.iterdir():
        (root / "HR" / f.name).write_bytes(f.read_bytes())
        lr, _ = bm.load_pair(Sample(f.stem, f), 2)
        Image.fromarray(lr).save(root / "LR_bicubic" / "X2" / f"{f.stem}x2.png")
    ds = discover(root)
    assert all(2 in s.lr for s in ds.samples)


@needs_shared
@pytest.mark.parametrize("layout", ["Set5", "Set5/HR"])
def test_bicubic_reproduces_the_srcnn_paper_baselines(layout):
    run = BenchmarkRun(paths=[SHARED / layout], scales=[2, 3, 4], models="bicubic")
    got = {r["scale"]: r["psnr"] for r in run.execute().results}
    for scale, paper in {2: 33.66, 3: 30.39, 4: 28.42}.items():
        assert got[scale] == pytest.approx(paper, abs=0.03)


def strict_json(text: str):
    """JSON as any strict reader takes it: NaN and Infinity are not JSON."""

    def refuse(name):
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture
def small_set(tmp_path):
    """Three pictures at ×2: 12×12 and 14×10 (under SSIM's 11×11 window once 2 pixels are
    shaved from each border: 8×8, 10×6) and 40×32 (over it)."""
    folder = tmp_path / "small"
    folder.mkdir()
    for name, (w, h) in {"tiny": (12, 12), "narrow": (14, 10), "big": (40, 32)}.items():
        Image.fromarray(photo(w, h, seed=w)).save(folder / f"{name}.png")
    return folder


def test_benchmark_on_pictures_under_the_ssim_window_scores_psnr_and_says_so(
    runner, small_set, tmp_path
):
    js, cs = tmp_path / "r.json", tmp_path / "r.csv"
    argv = ["benchmark", str(small_set), "-s", "2", "-m", "espcn", "--per-image"]
    res = runner.invoke(cli, [*argv, "--json", str(js), "--csv", str(cs)])
    assert res.exit_code == 0, res.output
    assert "Traceback" not in res.output
    data = strict_json(js.read_text())
    per = {(r["model"], r["image"]): r for r in data["per_image"]}
    for model in ("bicubic", "espcn"):
        assert per[(model, "tiny")]["ssim"] is None and per[(model, "narrow")]["ssim"] is None
        assert per[(model, "tiny")]["psnr"] > 15 and per[(model, "narrow")]["psnr"] > 15
        big = per[(model, "big")]["ssim"]
        assert 0 < big <= 1
        (row,) = [r for r in data["results"] if r["model"] == model]
        assert row["ssim"] == pytest.approx(big)  # the mean of those it is defined on
        assert row["images"] == 3
    (note,) = data["meta"]["notes"]
    assert "SSIM is not defined on 2 images" in note and "narrow" in note and "tiny" in note
    rows = list(csv.DictReader(cs.open()))
    assert all(float(r["ssim"]) > 0 for r in rows)


def test_benchmark_ssim_is_null_when_no_picture_is_over_the_window(small_set, tmp_path):
    (small_set / "big.png").unlink()
    result = BenchmarkRun([small_set], [2], models="bicubic", device="cpu").execute()
    (row,) = result.results
    assert math.isnan(row["ssim"]) and math.isfinite(row["psnr"])
    result.write_json(tmp_path / "r.json")
    assert strict_json((tmp_path / "r.json").read_text())["results"][0]["ssim"] is None


@pytest.mark.parametrize("size,scale", [(5, 2), (8, 3), (11, 4), (1, 2)])
def test_a_picture_too_small_to_score_is_named_in_one_line(runner, tmp_path, size, scale):
    folder = tmp_path / "set"
    folder.mkdir()
    Image.fromarray(photo(40, 40)).save(folder / "fine.png")
    Image.fromarray(photo(size, size)).save(folder / "speck.png")
    res = runner.invoke(cli, ["benchmark", str(folder), "-s", str(scale), "-m", "bicubic"])
    assert res.exit_code == 1 and "speck.png" in res.output and "too small" in res.output
    assert len(res.output.strip().splitlines()) == 1


def test_unknown_benchmark_model_lists_what_it_accepts(runner, hr_folder):
    res = runner.invoke(cli, ["benchmark", str(hr_folder), "-s", "3", "-m", "nope"])
    assert res.exit_code == 2
    for name in ("all", "real", "bicubic", "fsrcnn-real", "espcn-rgb", "espcn7-real"):
        assert name in res.output


# ------------------------------------------------ reports replace nothing unless asked


@pytest.mark.parametrize("option", ["--json", "--csv", "--save-images"])
def test_benchmark_reports_replace_nothing_without_overwrite(runner, hr_folder, tmp_path, option):
    args = ["benchmark", str(hr_folder), "-s", "3", "-m", "bicubic", "-q"]
    if option == "--save-images":
        target = tmp_path / "saved"
        kept = target / hr_folder.name / "x3" / "keep.png"
        kept.parent.mkdir(parents=True)
        kept.write_bytes(b"mine")
    else:
        target = kept = tmp_path / "report"
        kept.write_bytes(b"mine")
    res = runner.invoke(cli, [*args, option, str(target)])
    assert res.exit_code == 1 and "--overwrite" in res.output, res.output
    assert "Traceback" not in res.output and "bicubic" not in res.stdout  # before any work
    assert kept.read_bytes() == b"mine"
    if option != "--save-images":
        res = runner.invoke(cli, [*args, option, str(target), "--overwrite"])
        assert res.exit_code == 0, res.output
        assert kept.read_bytes() != b"mine"


def test_benchmark_never_replaces_what_is_not_a_regular_file(runner, hr_folder, tmp_path):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    args = ["benchmark", str(hr_folder), "-s", "3", "-m", "bicubic", "-q"]
    res = runner.invoke(cli, [*args, "--json", str(fifo), "--overwrite"])
    assert res.exit_code == 1 and "not a regular file" in res.output, res.output
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


def test_export_under_a_file_is_one_line_output_error(runner, tmp_path):
    blocker = tmp_path / "somefile"
    blocker.write_text("x")
    res = runner.invoke(
        cli, ["export", "--onnx", str(blocker / "x.onnx"), "-m", "espcn", "-s", "2"]
    )
    assert res.exit_code == 1 and "is a file, not a folder" in res.output, res.output
    assert "internal error" not in res.output and len(res.output.strip().splitlines()) == 1


def test_benchmark_json_of_a_flat_picture_says_null_for_an_infinite_psnr(tmp_path):
    """A flat HR picture comes back exactly (PSNR = ∞): strict JSON has no infinity, so the
    score is null and a note says why, instead of the run failing while it writes."""
    folder = tmp_path / "flat"
    folder.mkdir()
    Image.new("RGB", (24, 24), (90, 120, 200)).save(folder / "flat.png")
    result = BenchmarkRun([folder], [2], models="bicubic", device="cpu").execute()
    (row,) = result.results
    assert math.isinf(row["psnr"])
    result.write_json(tmp_path / "r.json")
    data = strict_json((tmp_path / "r.json").read_text())
    assert data["results"][0]["psnr"] is None
    assert any("infinite" in n for n in data["meta"]["notes"])
