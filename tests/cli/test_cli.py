"""The command line, through Click's CliRunner and one real subprocess."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from srup.cli import cli
from srup.errors import EXIT_PARTIAL
from srup.files import is_temporary
from tests.conftest import photo


def test_version_and_help(runner):
    res = runner.invoke(cli, ["--version"])
    assert res.exit_code == 0 and "srup" in res.output
    res = runner.invoke(cli, ["upscale", "--help"])
    assert res.exit_code == 0 and "--recursive" in res.output


def test_help_does_not_import_torch():
    code = "import sys; from srup.cli import cli; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
    env = dict(os.environ, PYTHONPROFILEIMPORTTIME="1")
    res = subprocess.run(
        [sys.executable, "-m", "srup", "--help"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert "Usage" in res.stdout
    assert " torch\n" not in res.stderr and "| torch" not in res.stderr


def test_upscale_one_file_writes_the_scaled_image(runner, rgb_file, tmp_path):
    out = tmp_path / "board_x3.png"
    res = runner.invoke(cli, ["upscale", str(rgb_file), "-s", "3", "-o", str(out)])
    assert res.exit_code == 0, res.output
    with Image.open(out) as img:
        assert img.size == (48 * 3, 40 * 3)


def test_default_output_name_sits_beside_the_input(runner, rgb_file):
    res = runner.invoke(cli, ["upscale", str(rgb_file), "-s", "2", "-q"])
    assert res.exit_code == 0, res.output
    assert (rgb_file.parent / "board_x2.png").is_file()


def test_existing_output_is_not_overwritten_without_asking(runner, rgb_file, tmp_path):
    out = tmp_path / "o.png"
    out.write_bytes(b"keep me")
    res = runner.invoke(cli, ["upscale", str(rgb_file), "-s", "2", "-o", str(out)])
    assert res.exit_code == EXIT_PARTIAL
    assert "--overwrite" in res.output
    assert out.read_bytes() == b"keep me"
    res = runner.invoke(cli, ["upscale", str(rgb_file), "-s", "2", "-o", str(out), "--overwrite"])
    assert res.exit_code == 0
    assert out.read_bytes() != b"keep me"


def test_output_equal_to_input_is_refused(runner, rgb_file):
    before = rgb_file.read_bytes()
    res = runner.invoke(
        cli, ["upscale", str(rgb_file), "-s", "2", "-o", str(rgb_file), "--overwrite"]
    )
    assert res.exit_code == EXIT_PARTIAL and "output is the input" in res.output
    assert rgb_file.read_bytes() == before


def make_tree(root: Path) -> None:
    (root / "a" / "b").mkdir(parents=True)
    Image.fromarray(photo(20, 16, 1)).save(root / "one.png")
    Image.fromarray(photo(18, 16, 2)).save(root / "a" / "two.jpg", quality=95)
    Image.fromarray(photo(16, 16, 3)).convert("L").save(root / "a" / "b" / "three é.png")
    (root / "notes.txt").write_text("not an image")


def test_recursive_batch_mirrors_folders_and_keeps_formats(runner, tmp_path):
    make_tree(tmp_path / "in")
    out = tmp_path / "out"
    res = runner.invoke(
        cli, ["upscale", str(tmp_path / "in"), "-s", "2", "-o", str(out), "--recursive", "--json"]
    )
    assert res.exit_code == 0, res.output
    records = [json.loads(line) for line in res.stdout.splitlines()]
    lines = [r for r in records if r["status"] != "left_out"]
    assert len(lines) == 3 and all(r["status"] == "done" for r in lines)
    [left] = [r for r in records if r["status"] == "left_out"]
    assert left["input"].endswith("notes.txt") and left["output"] is None
    assert (out / "one.png").is_file()
    assert (out / "a" / "two.jpg").is_file()
    with Image.open(out / "a" / "b" / "three é.png") as img:
        assert img.mode == "L" and img.size == (32, 32)


def test_batch_goes_on_past_a_bad_file_and_exits_3(runner, tmp_path):
    make_tree(tmp_path / "in")
    (tmp_path / "in" / "broken.png").write_bytes(b"garbage")
    out = tmp_path / "out"
    res = runner.invoke(cli, ["upscale", str(tmp_path / "in"), "-s", "2", "-o", str(out)])
    assert res.exit_code == EXIT_PARTIAL
    assert "broken.png" in res.output
    assert (out / "one.png").is_file()
    assert not (out / "broken.png").exists()
    assert not [p for p in out.rglob("*") if is_temporary(p.name)]


def test_skip_existing_resumes_a_batch(runner, tmp_path):
    make_tree(tmp_path / "in")
    out = tmp_path / "out"
    args = ["upscale", str(tmp_path / "in"), "-s", "2", "-o", str(out), "-r", "--json"]
    assert runner.invoke(cli, args).exit_code == 0
    res = runner.invoke(cli, [*args, "--skip-existing"])
    assert res.exit_code == 0
    statuses = [json.loads(x)["status"] for x in res.stdout.splitlines()]
    assert statuses == ["left_out"] + ["skipped"] * 3  # notes.txt, then the three pictures


def test_format_option_converts_batch_outputs(runner, tmp_path):
    make_tree(tmp_path / "in")
    out = tmp_path / "out"
    res = runner.invoke(
        cli, ["upscale", str(tmp_path / "in"), "-s", "2", "-o", str(out), "--format", "webp", "-q"]
    )
    assert res.exit_code == 0, res.output
    assert (out / "one.webp").is_file()


@pytest.mark.parametrize(
    "args,code,message",
    [
        (["upscale", "missing.png", "-s", "2"], EXIT_PARTIAL, "no such file"),
        (["upscale", "{img}", "-s", "2", "-m", "nope"], 2, "available: "),
        (["upscale", "{img}", "-s", "0"], 2, "range"),
        (["upscale", "{img}", "-s", "2", "--width", "100"], 2, "not both"),
        (["upscale", "{img}", "-s", "2", "-m", "fsrcnn-nope"], 2, "unknown model"),
        (["upscale", "{img}", "-s", "2", "--tile", "-3"], 2, "negative"),
        (["upscale", "{img}", "-s", "2", "--device", "cuda:7"], 2, "cuda"),
        (["benchmark", "nowhere/"], 1, "no such folder"),
        (
            ["train", "nowhere/", "-m", "espcn", "-s", "2", "-o", "x.safetensors"],
            1,
            "no such folder",
        ),
    ],
)
def test_bad_input_gives_one_line_and_an_exit_code(runner, rgb_file, args, code, message):
    args = [a.replace("{img}", str(rgb_file)) for a in args]
    res = runner.invoke(cli, args)
    assert res.exit_code == code, res.output
    assert message in res.output
    assert "Traceback" not in res.output


def test_models_json_lists_names_and_scales(runner):
    res = runner.invoke(cli, ["models", "--json"])
    assert res.exit_code == 0
    rows = json.loads(res.stdout)
    names = {r["name"]: r for r in rows}
    assert {"srcnn", "espcn", "fsrcnn"} <= set(names)
    assert names["espcn"]["scales"] == [2, 3, 4]
    assert all(isinstance(s, int) for r in rows for s in r["scales"])


def test_models_table_renders(runner):
    res = runner.invoke(cli, ["models"])
    assert res.exit_code == 0 and "espcn" in res.output


def test_reference_scores_output_and_bicubic(runner, tmp_path):
    hr = photo(48, 48)
    from srup import imresize

    Image.fromarray(hr).save(tmp_path / "hr.png")
    Image.fromarray(imresize(hr, 1 / 2)).save(tmp_path / "lr.png")
    res = runner.invoke(
        cli,
        [
            "upscale",
            str(tmp_path / "lr.png"),
            "-s",
            "2",
            "-o",
            str(tmp_path / "sr.png"),
            "--reference",
            str(tmp_path / "hr.png"),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "bicubic" in res.output and "srup" in res.output


def test_real_subprocess_upscales_and_reports_json(rgb_file, tmp_path):
    out = tmp_path / "sub.png"
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "srup",
            "upscale",
            str(rgb_file),
            "-s",
            "2",
            "-o",
            str(out),
            "--json",
            "--device",
            "cpu",
            "--precision",
            "fp32",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    obj = json.loads(res.stdout.strip().splitlines()[-1])
    assert obj["status"] == "done" and obj["output_size"] == [96, 80]
    assert obj["precision"] == "fp32" and obj["device"] == "cpu" and obj["model"] == "fsrcnn"
    assert np.asarray(Image.open(out)).shape == (80, 96, 3)
    assert ", fp32" in res.stderr  # the banner says which precision ran


def test_a_trailing_slash_makes_the_output_a_folder(runner, rgb_file, tmp_path):
    res = runner.invoke(cli, ["upscale", str(rgb_file), "-s", "2", "-o", f"{tmp_path}/new/"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "new" / "board.png").is_file()
    res = runner.invoke(
        cli,
        ["upscale", str(rgb_file), "-s", "2", "-o", f"{tmp_path}/w/", "--format", "webp"],
    )
    assert res.exit_code == 0, res.output
    assert (tmp_path / "w").is_dir() and (tmp_path / "w" / "board.webp").is_file()


def test_several_inputs_into_one_image_name_is_a_usage_error(runner, rgb_file, tmp_path):
    other = tmp_path / "other.png"
    Image.fromarray(photo(20, 20)).save(other)
    res = runner.invoke(
        cli, ["upscale", str(rgb_file), str(other), "-o", str(tmp_path / "combined.png")]
    )
    assert res.exit_code == 2 and "one image file" in res.output
    assert not (tmp_path / "combined.png").exists()


def test_folder_scan_takes_gifs_and_names_what_it_leaves_out(runner, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(photo(20, 16)).convert("P").save(src / "anim.gif")
    Image.fromarray(photo(20, 16)).save(src / "a.png")
    (src / "notes.txt").write_text("not an image")
    res = runner.invoke(cli, ["upscale", str(src), "-s", "2", "-o", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "out" / "anim.png").is_file()  # GIF in, PNG out
    assert "2 done" in res.output and "1 left out in" in res.output
    assert "notes.txt: left out" in res.output


@pytest.mark.parametrize("fmt,suffix", [("tif", ".tif"), ("jpg", ".jpg"), ("tiff", ".tif")])
def test_format_accepts_the_suffixes_output_names_accept(runner, tmp_path, fmt, suffix):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(photo(20, 16)).save(src / "a.png")
    out = tmp_path / "out"
    res = runner.invoke(cli, ["upscale", str(src), "-s", "2", "-o", str(out), "--format", fmt])
    assert res.exit_code == 0, res.output
    assert (out / f"a{suffix}").is_file()


def test_json_carries_the_cmyk_note(runner, tmp_path):
    src = tmp_path / "c.jpg"
    Image.fromarray(photo(20, 16)).convert("CMYK").save(src)
    res = runner.invoke(cli, ["upscale", str(src), "-s", "2", "-o", str(tmp_path / "c.png")])
    res = runner.invoke(
        cli, ["upscale", str(src), "-s", "2", "-o", str(tmp_path / "d.png"), "--json", "-q"]
    )
    obj = json.loads(res.stdout.strip().splitlines()[-1])
    assert any("CMYK" in n for n in obj["notes"])


def test_weights_of_another_model_are_a_usage_error(runner, rgb_file, tmp_path):
    from srup.models.weights import path_for

    res = runner.invoke(
        cli,
        [
            "upscale",
            str(rgb_file),
            "-s",
            "3",
            "-m",
            "espcn",
            "--weights",
            str(path_for("fsrcnn", 3)),
        ],
    )
    assert res.exit_code == 2 and "for fsrcnn, not espcn" in res.output


def test_benchmark_at_a_scale_without_models_is_a_usage_error(runner, hr_folder):
    res = runner.invoke(cli, ["benchmark", str(hr_folder), "-s", "5"])
    assert res.exit_code == 2 and "no shipped model for ×5" in res.output


def test_benchmark_json_records_versions_precision_and_degradation(runner, hr_folder, tmp_path):
    out = tmp_path / "b.json"
    args = ["benchmark", str(hr_folder), "-s", "2", "-m", "bicubic", "--jpeg", "75"]
    res = runner.invoke(cli, [*args, "--json", str(out), "--device", "cpu"])
    assert res.exit_code == 0, res.output
    meta = json.loads(out.read_text())["meta"]
    assert meta["precision"] == "fp32" and meta["device"] == "cpu"
    assert meta["srup"] and meta["torch"] and meta["degradation"] == "clean,jpeg=75:75"


def test_models_lists_without_importing_torch():
    code = (
        "import sys; from srup.cli import cli; from srup.models.catalog import catalog; "
        "rows = catalog(); "
        "assert rows and 'torch' not in sys.modules, sorted(m for m in sys.modules if 'torch' in m)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_architectures_file_matches_the_registry():
    from srup.models.catalog import ARCHITECTURES_FILE, describe_architectures
    from srup.models.weights import weights_dir

    cached = json.loads((weights_dir() / ARCHITECTURES_FILE).read_text())
    assert cached == describe_architectures()


# ------------------------------------------------------------------- usage, in one line


@pytest.mark.parametrize(
    "args,phrase,see",
    [
        (["upscale", "{img}", "--bogus"], "No such option '--bogus'", "srup upscale"),
        (["upscale"], "Missing argument 'INPUTS...'", "srup upscale"),
        (["upscale", "{img}", "-s", "zero"], "Invalid value for '-s'", "srup upscale"),
        (["upscale", "{img}", "--fit", "fill"], "Invalid value for '--fit'", "srup upscale"),
        (["nope"], "No such command 'nope'", "srup"),
        (["models", "--bogus"], "No such option '--bogus'", "srup models"),
        (
            ["upscale", "{img}", "--overwrite", "--skip-existing"],
            "exclude each other",
            "srup upscale",
        ),
    ],
)
def test_click_usage_errors_are_one_line_naming_the_help(runner, rgb_file, args, phrase, see):
    res = runner.invoke(cli, [a.replace("{img}", str(rgb_file)) for a in args])
    assert res.exit_code == 2, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1, res.output
    assert lines[0].startswith("error: ") and phrase in lines[0]
    assert lines[0].endswith(f"(see '{see} --help')")
    assert "Usage:" not in res.output and "Try '" not in res.output


def test_help_version_and_a_bare_srup_still_show_clicks_help(runner):
    for args in (["--help"], ["upscale", "--help"], []):
        res = runner.invoke(cli, args)
        assert "Usage: srup" in res.output and "error:" not in res.output
    assert runner.invoke(cli, ["--help"]).exit_code == 0
    assert runner.invoke(cli, ["--version"]).output.startswith("srup, version ")


# --------------------------------------------------------------------- --fit needs a box


@pytest.mark.parametrize(
    "size",
    [
        ["--fit", "cover", "-s", "2"],
        ["--fit", "cover"],
        ["--fit", "stretch", "--width", "100"],
        ["--fit", "contain", "--height", "50"],
    ],
)
def test_fit_without_both_width_and_height_is_a_usage_error(runner, rgb_file, tmp_path, size):
    out = tmp_path / "o.png"
    res = runner.invoke(cli, ["upscale", str(rgb_file), "-o", str(out), *size])
    assert res.exit_code == 2, res.output
    assert "needs both --width and --height" in res.output
    assert not out.exists()


def test_fit_with_both_or_left_at_its_default_works(runner, rgb_file, tmp_path):
    args = ["upscale", str(rgb_file), "-q"]
    res = runner.invoke(cli, [*args, "-o", str(tmp_path / "a.png"), "--width", "100"])
    assert res.exit_code == 0, res.output
    box = ["--width", "100", "--height", "100", "--fit", "cover"]
    res = runner.invoke(cli, [*args, "-o", str(tmp_path / "b.png"), *box])
    assert res.exit_code == 0, res.output
    assert Image.open(tmp_path / "b.png").size == (100, 100)


# ------------------------------------------------------------------ --debug on each command


@pytest.mark.parametrize(
    "args,code",
    [
        (["upscale", "{img}", "-s", "2", "-m", "nope"], 2),
        (["export", "--onnx", "{t}/e.onnx", "-m", "nope"], 2),
        (["benchmark", "{t}/nowhere"], 1),
        (["train", "{t}/nowhere", "-m", "espcn", "-s", "2", "-o", "{t}/w.safetensors"], 1),
    ],
    ids=["upscale", "export", "benchmark", "train"],
)
def test_debug_after_the_command_shows_the_traceback(runner, rgb_file, tmp_path, args, code):
    args = [a.replace("{img}", str(rgb_file)).replace("{t}", str(tmp_path)) for a in args]
    res = runner.invoke(cli, args)
    assert res.exit_code == code and "Traceback" not in res.output, res.output
    res = runner.invoke(cli, [*args, "--debug"])
    assert res.exit_code == code, res.output
    assert "No such option" not in res.output and "Traceback" in res.output


def test_models_takes_debug_too(runner):
    assert runner.invoke(cli, ["models", "--json", "--debug"]).exit_code == 0


# -------------------------------------------------------------- the banner of a sized run


@pytest.mark.parametrize(
    "args,banner",
    [
        (["--width", "100"], "auto, network scale per picture (×2–×4) to 100×?"),
        (["--height", "50", "-m", "espcn"], "espcn, network scale per picture (×2–×4) to ?×50"),
        # The chain runs to the last shipped member (real or capture).
        (["-s", "3"], "auto: fsrcnn (lossless), fsrcnn-clean.."),
        (["-s", "2.5"], "auto: fsrcnn (lossless), fsrcnn-clean.."),
    ],
)
def test_the_banner_names_one_network_only_when_one_runs(runner, rgb_file, tmp_path, args, banner):
    res = runner.invoke(cli, ["upscale", str(rgb_file), "-o", str(tmp_path / "o.png"), *args])
    assert res.exit_code == 0, res.output
    assert res.output.splitlines()[0].startswith(banner), res.output


@pytest.mark.parametrize("option", ["--json", "--csv"])
def test_benchmark_report_option_refuses_an_option_as_its_file_name(
    runner, hr_folder, option, tmp_path, monkeypatch
):
    """`srup benchmark … --json -q` (upscale's --json is a flag): a usage error, never a
    report written to a file named ``-q``."""
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(cli, ["benchmark", str(hr_folder), "-s", "2", option, "-q"])
    assert res.exit_code == 2, res.output
    assert "looks like an option" in res.output
    assert not (tmp_path / "-q").exists()


def test_a_weights_file_at_another_scale_runs_at_its_own_and_resizes(runner, rgb_file, tmp_path):
    from srup.models.weights import path_for

    out = tmp_path / "x5.png"
    args = ["upscale", str(rgb_file), "-s", "5", "--weights", str(path_for("espcn", 3))]
    res = runner.invoke(cli, [*args, "-o", str(out), "--json"])
    assert res.exit_code == 0, res.output
    record = json.loads(next(line for line in res.output.splitlines() if line.startswith("{")))
    w, h = Image.open(rgb_file).size
    assert Image.open(out).size == (w * 5, h * 5)
    assert any("ran ×3, then resized to ×5" in note for note in record["notes"])
