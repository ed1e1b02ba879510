"""``--json``: one valid UTF-8 JSON object per line on stdout, whatever the file names and
whatever stdout's encoding; scores against ``--reference`` in each file's record, and a
reference that does not fit is that file's failure alone."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from srup import imresize
from srup.cli import cli
from srup.cli.display import safe_text
from srup.errors import EXIT_OK, EXIT_PARTIAL
from tests.conftest import photo

needs_bytes_names = pytest.mark.skipif(
    sys.platform in ("win32", "darwin"), reason="the file system must take names that are not UTF-8"
)


def strict_run(*args: str) -> subprocess.CompletedProcess:
    """``python -m srup ARGS`` with a stdout that raises on anything it cannot encode."""
    env = dict(os.environ, PYTHONIOENCODING="utf-8:strict")
    return subprocess.run(
        [sys.executable, "-m", "srup", *args], capture_output=True, env=env, timeout=300
    )


@needs_bytes_names
def test_names_that_are_not_utf8_give_valid_json_on_a_strict_stdout(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    good = src / os.fsdecode(b"caf\xe9.png")  # Latin-1 é: not UTF-8
    Image.fromarray(photo(12, 10)).save(good)
    (src / os.fsdecode(b"bad\xff.png")).write_bytes(b"not a picture")
    (src / os.fsdecode(b"notes\xe9.txt")).write_text("x")
    out = tmp_path / "out"
    res = strict_run("upscale", str(src), "-s", "2", "-o", str(out), "--json", "-m", "espcn")
    assert res.returncode == EXIT_PARTIAL, res.stderr
    assert b"Traceback" not in res.stderr
    text = res.stdout.decode("utf-8")  # strict: raises on invalid UTF-8
    got = {json.loads(line)["input"]: json.loads(line) for line in text.splitlines()}
    assert got[f"{src}/caf\\xe9.png"]["status"] == "done"
    assert got[f"{src}/caf\\xe9.png"]["output"] == f"{out}/caf\\xe9.png"
    assert got[f"{src}/bad\\xff.png"]["status"] == "failed"
    assert "bad\\xff.png" in got[f"{src}/bad\\xff.png"]["error"]
    assert got[f"{src}/notes\\xe9.txt"]["status"] == "left_out"
    # The output itself keeps the input's bytes.
    assert os.listdir(os.fsencode(out)) == [b"caf\xe9.png"]
    # The messages on stderr are readable too.
    assert b"bad\\xff.png" in res.stderr


@needs_bytes_names
def test_a_single_file_with_a_non_utf8_name_reports_valid_json(tmp_path):
    src = tmp_path / os.fsdecode(b"\xff\xfe.png")
    Image.fromarray(photo(12, 10)).save(src)
    res = strict_run("upscale", str(src), "-s", "2", "--json", "-m", "espcn")
    assert res.returncode == EXIT_OK, res.stderr
    rec = json.loads(res.stdout.decode("utf-8"))
    assert rec["input"].endswith("\\xff\\xfe.png") and rec["status"] == "done"
    assert (tmp_path / os.fsdecode(b"\xff\xfe_x2.png")).is_file()


@pytest.mark.parametrize(
    "text,safe",
    [
        ("plain.png", "plain.png"),
        ("été 写真.png", "été 写真.png"),  # valid Unicode stays as it is
        (os.fsdecode(b"caf\xe9.png"), "caf\\xe9.png"),
        ("lone \ud800 surrogate", "lone \\xed\\xa0\\x80 surrogate"),
    ],
)
def test_safe_text_escapes_only_what_utf8_cannot_hold(text, safe):
    assert safe_text(text) == safe
    safe_text(text).encode("utf-8")


# ----------------------------------------------------------------------------- --reference


@pytest.fixture
def pairs(tmp_path: Path) -> tuple[Path, Path]:
    """LR pictures a, b, c and their HR references; b's reference is too small."""
    lr, hr = tmp_path / "lr", tmp_path / "hr"
    lr.mkdir()
    hr.mkdir()
    for i, name in enumerate("abc"):
        big = photo(32, 24, seed=i)
        Image.fromarray(imresize(big, 1 / 2)).save(lr / f"{name}.png")
        Image.fromarray(big[:10, :10] if name == "b" else big).save(hr / f"{name}.png")
    return lr, hr


def test_reference_scores_go_into_the_json_records_and_no_table_to_stdout(runner, tmp_path, pairs):
    lr, hr = pairs
    args = ["upscale", str(lr), "-s", "2", "-o", str(tmp_path / "o"), "--reference", str(hr)]
    res = runner.invoke(cli, [*args, "--json", "-m", "espcn"])
    assert res.exit_code == EXIT_PARTIAL, res.output
    got = {Path(r["input"]).name: r for r in map(json.loads, res.stdout.splitlines())}
    assert sorted(got) == ["a.png", "b.png", "c.png"]  # every stdout line is JSON
    for name in ("a.png", "c.png"):
        scores = got[name]["scores"]
        assert scores["reference"] == str(hr / name)
        assert scores["srup"]["psnr"] > scores["bicubic"]["psnr"] > 20
        assert 0 < scores["srup"]["ssim"] <= 1
    assert got["b.png"]["status"] == "failed" and "scores" not in got["b.png"]
    assert "reference 10×10 does not match the output 32×24 at ×2" in got["b.png"]["error"]
    assert "(the output was written)" in got["b.png"]["error"]


def test_reference_scores_in_text_are_a_table_per_file(runner, tmp_path, pairs):
    lr, hr = pairs
    args = ["upscale", str(lr), "-s", "2", "-o", str(tmp_path / "o"), "--reference", str(hr)]
    res = runner.invoke(cli, [*args, "-m", "espcn"])
    assert res.exit_code == EXIT_PARTIAL
    assert res.stdout.count("bicubic") == 2 and res.stdout.count("srup ") >= 2
    assert "b.png" in res.stderr and "does not match the output" in res.stderr


@pytest.mark.parametrize(
    ("hr_size", "fits"),
    [
        ((32, 24), True),  # exactly the output
        ((33, 25), True),  # the HR before cropping to a multiple of ×2
        ((31, 23), True),  # MATLAB's imresize rounded the LR's size up
        ((34, 24), False),  # two pixels wider: another picture's size
        ((64, 48), False),  # a larger picture: scoring its corner would be a wrong number
        ((10, 10), False),
    ],
)
def test_a_reference_is_scored_only_when_its_size_fits_the_output(tmp_path, hr_size, fits):
    from srup.errors import DataError
    from srup.evaluation.compare import reference_scores
    from tests.conftest import photo

    lr = tmp_path / "lr.png"
    Image.fromarray(photo(16, 12, seed=1)).save(lr)
    out = tmp_path / "sr.png"
    Image.fromarray(photo(32, 24, seed=1)).save(out)
    hr = tmp_path / "hr.png"
    Image.fromarray(photo(*hr_size, seed=1)).save(hr)
    if fits:
        rows = reference_scores(out, lr, hr, 2)
        assert [r["method"] for r in rows] == ["bicubic", "srup"]
    else:
        with pytest.raises(DataError, match="does not match the output 32×24"):
            reference_scores(out, lr, hr, 2)


# ------------------------------------------------------------------ stdout that fails


def two_pictures(tmp_path: Path) -> Path:
    src = tmp_path / "in"
    src.mkdir()
    for name in ("a.png", "b.png"):
        Image.fromarray(photo(12, 10)).save(src / name)
    return src


def run_into(stdout_fd: int, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "srup", *args],
        stdout=stdout_fd,
        stderr=subprocess.PIPE,
        text=True,
        timeout=300,
    )


def test_a_closed_stdout_stops_the_batch_with_exit_141_and_one_line(tmp_path):
    from srup.errors import EXIT_STDOUT_CLOSED
    from srup.files import is_temporary

    src, out = two_pictures(tmp_path), tmp_path / "out"
    read, write = os.pipe()
    os.close(read)  # as `| head -1` once it has its line: every write is EPIPE
    try:
        res = run_into(write, "upscale", str(src), "-s", "2", "-o", f"{out}/", "--json")
    finally:
        os.close(write)
    assert res.returncode == EXIT_STDOUT_CLOSED == 141, res.stderr
    errors = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: stdout was closed; stopped after 1 file; finished outputs are whole"
    ], res.stderr
    assert "Exception ignored" not in res.stderr and "Traceback" not in res.stderr
    assert Image.open(out / "a.png").size == (24, 20)  # the one finished: whole
    assert not (out / "b.png").exists()
    assert not [p for p in out.iterdir() if is_temporary(p.name)]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def _full_device() -> bool:
    try:
        return stat.S_ISCHR(os.stat("/dev/full").st_mode)
    except OSError:
        return False


@pytest.mark.skipif(not _full_device(), reason="needs the /dev/full device (Linux)")
def test_a_full_stdout_is_a_fatal_one_liner(tmp_path):
    src = two_pictures(tmp_path)
    full = os.open("/dev/full", os.O_WRONLY)  # never O_CREAT: a plain file would not fill
    try:
        res = run_into(full, "upscale", str(src), "-s", "2", "-o", f"{tmp_path}/o/", "--json")
    finally:
        os.close(full)
    assert res.returncode == 1, res.stderr
    errors = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(
        "error: cannot write to stdout (No space left on device); stopped after 1 file"
    ), res.stderr
    assert "internal error" not in res.stderr and "Exception ignored" not in res.stderr


@pytest.mark.parametrize("args", [["models", "--json"], ["models"]])
def test_a_closed_stdout_is_named_by_every_command(args):
    read, write = os.pipe()
    os.close(read)
    try:
        res = run_into(write, *args)
    finally:
        os.close(write)
    assert res.returncode == 141, res.stderr
    assert res.stderr.strip() == "error: stdout was closed; stopped"
