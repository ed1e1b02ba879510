"""The evaluation protocol and `srup benchmark`."""

import csv
import json

import pytest
from PIL import Image

from srup import benchmark as bm
from srup.cli import cli
from srup.report import BenchmarkRun

from .conftest import SHARED, needs_shared


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
        lr, _ = bm.load_pair(bm.Sample(f.stem, f), 2)
        Image.fromarray(lr).save(root / "LR_bicubic" / "X2" / f"{f.stem}x2.png")
    ds = bm.discover(root)
    assert all(2 in s.lr for s in ds.samples)


@needs_shared
@pytest.mark.parametrize("layout", ["Set5", "Set5/HR"])
def test_bicubic_reproduces_the_srcnn_paper_baselines(layout):
    run = BenchmarkRun(paths=[SHARED / layout], scales=[2, 3, 4], models="bicubic")
    got = {r["scale"]: r["psnr"] for r in run.execute().results}
    for scale, paper in {2: 33.66, 3: 30.39, 4: 28.42}.items():
        assert got[scale] == pytest.approx(paper, abs=0.03)
