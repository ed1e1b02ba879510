"""One failure boundary per file, proved by fault injection: whatever one input raises at any
stage (header probe, read with its EXIF and ICC, upscale, write, reference scoring, video),
srup's errors and libraries' alike, is that file's one-line error and JSON record; the batch
goes on and exits 3. Outside any file an unexpected exception is one line and exit 1.
Tracebacks only with --debug or SRUP_DEBUG=1; library warnings become the file's notes."""

from __future__ import annotations

import errno
import json
import struct
import warnings
from pathlib import Path

import pytest
from PIL import Image

from srup import batch
from srup.batch import video as batch_video
from srup.cli import cli
from srup.errors import (
    EXIT_FATAL,
    EXIT_INTERRUPTED,
    EXIT_PARTIAL,
    BadImageError,
    BadWeightsError,
    DeviceError,
)
from srup.evaluation import compare
from srup.files import is_temporary
from srup.media import pictures as imageio
from srup.runtime.auto import Engine
from tests.conftest import photo

# (name, exception, what the one-line error must say)
KINDS = {
    "struct.error": (struct.error("unpack requires a buffer of 4 bytes"), "struct.error"),
    "TypeError": (TypeError("'NoneType' object is not subscriptable"), "TypeError"),
    "ValueError": (ValueError("EXIF data is too long"), "ValueError"),
    "AttributeError": (AttributeError("'tuple' object has no attribute 'get'"), "AttributeError"),
    "KeyError": (KeyError("srup_checkpoint"), "KeyError"),
    "ZeroDivisionError": (ZeroDivisionError("division by zero"), "ZeroDivisionError"),
    "RecursionError": (RecursionError("maximum recursion depth exceeded"), "RecursionError"),
    "OSError": (OSError(errno.EIO, "Input/output error"), "Input/output error"),
    "MemoryError": (MemoryError(), "out of memory"),
    "SrupError": (BadImageError("b.png: its header is damaged"), "header is damaged"),
}
STAGES = ["probe", "read", "upscale", "write", "write-in-thread", "reference"]
HERE = Path(__file__).stem  # what a warning from this file is said to come from
FAULTY = (9, 7)  # the faulty picture's size: the upscale stage knows pictures, not paths


def inputs(root: Path) -> Path:
    src = root / "in"
    src.mkdir()
    for name, (w, h) in {"a": (8, 6), "b": FAULTY, "c": (10, 6)}.items():
        Image.fromarray(photo(w, h, seed=len(name))).save(src / f"{name}.png")
    return src


def references(root: Path) -> Path:
    hr = root / "hr"
    hr.mkdir()
    for name, (w, h) in {"a": (8, 6), "b": FAULTY, "c": (10, 6)}.items():
        Image.fromarray(photo(2 * w, 2 * h, seed=7)).save(hr / f"{name}.png")
    return hr


def inject(monkeypatch, stage: str, error: BaseException) -> None:
    """Make ``stage`` raise ``error`` for b.png only."""

    def for_b(real, which):
        def wrapper(*args, **kwargs):
            if which(*args):
                raise error
            return real(*args, **kwargs)

        return wrapper

    def named_b(path, *_):
        return Path(path).stem == "b"

    if stage == "probe":
        monkeypatch.setattr(imageio, "probe", for_b(imageio.probe, named_b))
    elif stage == "read":  # EXIF, ICC and decoding all happen inside read
        monkeypatch.setattr(imageio, "read", for_b(imageio.read, named_b))
    elif stage == "upscale":
        faulty = for_b(Engine.process, lambda _self, picture, *_: picture.size == FAULTY)
        monkeypatch.setattr(Engine, "process", faulty)
    elif stage.startswith("write"):
        monkeypatch.setattr(
            imageio, "write", for_b(imageio.write, lambda _pic, path, *_: named_b(path))
        )
    elif stage == "reference":
        monkeypatch.setattr(compare, "reference_scores", for_b(compare.reference_scores, named_b))


def records(stdout: str) -> dict[str, dict]:
    """The JSON records by input name; every line must parse."""
    out = {}
    for line in stdout.splitlines():
        rec = json.loads(line)
        out[Path(rec["input"]).name] = rec
    return out


@pytest.mark.parametrize(
    "error",
    [
        BadWeightsError("w.safetensors: tensor body.0 holds 3 NaN or infinite values of 9"),
        DeviceError("cuda:0: the device cannot run this model"),
    ],
)
def test_weights_or_device_that_cannot_run_stop_the_batch_in_one_line(
    runner, tmp_path, monkeypatch, error
):
    src = inputs(tmp_path)
    out = tmp_path / "out"
    inject(monkeypatch, "upscale", error)
    args = ["upscale", str(src), "-s", "2", "-o", str(out), "-m", "espcn", "--json"]
    res = runner.invoke(cli, args)
    assert res.exit_code == error.exit_code, res.output
    assert str(error) in res.stderr and "Traceback" not in res.stderr
    assert [ln for ln in res.stderr.splitlines() if "error" in ln] == [f"error: {error}"]
    assert all(rec["status"] != "failed" for rec in records(res.stdout).values())
    assert not (out / "b.png").exists() and not (out / "c.png").exists()


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("stage", STAGES)
def test_any_exception_at_any_stage_fails_only_that_file(
    runner, tmp_path, monkeypatch, stage, kind
):
    error, phrase = KINDS[kind]
    src = inputs(tmp_path)
    out = tmp_path / "out"
    args = ["upscale", str(src), "-s", "2", "-o", str(out), "-m", "espcn", "--json"]
    if stage == "write-in-thread":  # JPEG is encoded on the writer thread beside the network
        args += ["--format", "jpeg"]
    if stage == "reference":
        args += ["--reference", str(references(tmp_path))]
    inject(monkeypatch, stage, error)
    res = runner.invoke(cli, args)
    assert res.exit_code == EXIT_PARTIAL, res.output
    assert "Traceback" not in res.stderr
    got = records(res.stdout)
    suffix = ".jpg" if stage == "write-in-thread" else ".png"
    assert sorted(got) == ["a.png", "b.png", "c.png"]
    assert got["a.png"]["status"] == got["c.png"]["status"] == "done"
    failed = got["b.png"]
    assert failed["status"] == "failed"
    assert f"b{suffix}" in failed["error"] or "b.png" in failed["error"]  # output or input
    assert phrase in failed["error"]
    assert "\n" not in failed["error"]
    errors = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: {failed['error']}"]
    made = sorted(p.name for p in out.iterdir())
    expected = ["a", "b", "c"] if stage == "reference" else ["a", "c"]  # scored after writing
    assert made == [n + suffix for n in expected]
    assert not [p for p in tmp_path.rglob("*") if is_temporary(p.name)]


@pytest.mark.parametrize("kind", ["struct.error", "TypeError", "OSError", "MemoryError"])
def test_any_exception_while_upscaling_a_video_fails_only_that_video(
    runner, tmp_path, monkeypatch, kind
):
    pytest.importorskip("av")
    from tests.conftest import make_clip

    error, phrase = KINDS[kind]
    src = inputs(tmp_path)
    make_clip(src / "b.mp4", frames=2, size=(16, 12), audio=False)
    (src / "b.png").rename(src / "b2.png")

    def upscale_video(*_a, **_k):
        raise error

    monkeypatch.setattr(batch_video, "upscale_video", upscale_video)
    res = runner.invoke(cli, ["upscale", str(src), "-s", "2", "-o", str(tmp_path / "o"), "--json"])
    assert res.exit_code == EXIT_PARTIAL, res.output
    got = records(res.stdout)
    assert [got[n]["status"] for n in ("a.png", "b.mp4", "b2.png", "c.png")] == [
        "done",
        "failed",
        "done",
        "done",
    ]
    assert phrase in got["b.mp4"]["error"] and "Traceback" not in res.stderr


def test_debug_shows_the_traceback_of_a_failed_file(runner, tmp_path, monkeypatch):
    src = inputs(tmp_path)
    inject(monkeypatch, "read", TypeError("a library's bug"))
    args = ["upscale", str(src), "-s", "2", "-o", str(tmp_path / "o"), "-m", "espcn"]
    res = runner.invoke(cli, ["--debug", *args])
    assert res.exit_code == EXIT_PARTIAL
    assert "Traceback" in res.stderr and "TypeError: a library's bug" in res.stderr
    res = runner.invoke(cli, [*args, "--overwrite"], env={"SRUP_DEBUG": "1"})
    assert res.exit_code == EXIT_PARTIAL and "Traceback" in res.stderr
    res = runner.invoke(cli, [*args, "--overwrite"], env={"SRUP_DEBUG": "0"})
    assert res.exit_code == EXIT_PARTIAL and "Traceback" not in res.stderr


def test_an_unexpected_exception_outside_any_file_is_one_line_and_exit_1(
    runner, tmp_path, monkeypatch
):
    src = inputs(tmp_path)

    def plan(*_a, **_k):
        raise AttributeError("'NoneType' object has no attribute 'suffix'")

    monkeypatch.setattr(batch, "plan", plan)
    args = ["upscale", str(src), "-s", "2", "-o", str(tmp_path / "o")]
    res = runner.invoke(cli, args)
    assert res.exit_code == EXIT_FATAL
    assert res.stderr.splitlines() == [
        "error: internal error: AttributeError: 'NoneType' object has no attribute 'suffix' "
        "(run with --debug or SRUP_DEBUG=1 for the traceback, and please report it)"
    ]
    res = runner.invoke(cli, ["--debug", *args])
    assert res.exit_code == EXIT_FATAL and "Traceback" in res.stderr


def test_ctrl_c_inside_a_file_still_stops_the_batch(runner, tmp_path, monkeypatch):
    src = inputs(tmp_path)
    inject(monkeypatch, "read", KeyboardInterrupt())
    res = runner.invoke(cli, ["upscale", str(src), "-s", "2", "-o", str(tmp_path / "o")])
    assert res.exit_code == EXIT_INTERRUPTED and "interrupted" in res.stderr


def warn_then(real, message: str, category=UserWarning):
    def wrapper(*args, **kwargs):
        warnings.warn(message, category, stacklevel=1)
        return real(*args, **kwargs)

    return wrapper


def test_library_warnings_become_notes_of_their_own_file(runner, tmp_path, monkeypatch):
    src = inputs(tmp_path)
    monkeypatch.setattr(imageio, "read", warn_then(imageio.read, "Corrupt EXIF data"))
    # JPEG: encoded on the writer thread while the next file is read on the reader thread.
    monkeypatch.setattr(
        imageio, "write", warn_then(imageio.write, "encoder\nwarning -2", RuntimeWarning)
    )
    out = tmp_path / "out"
    args = ["upscale", str(src), "-s", "2", "-o", str(out), "--json", "--format", "jpeg"]
    res = runner.invoke(cli, args)
    assert res.exit_code == 0, res.output
    got = records(res.stdout)
    for name in ("a.png", "b.png", "c.png"):  # each file its own notes, every time
        assert got[name]["notes"] == [
            f"{HERE} warned: Corrupt EXIF data",
            f"{HERE} warned: encoder warning -2",
        ], got[name]
    assert "Warning" not in res.stderr
    assert res.stderr.count("warned: Corrupt EXIF data") == 3  # as notes, one per file


def test_warnings_outside_a_batch_are_left_as_the_program_set_them():
    with pytest.warns(UserWarning, match="outside"):
        warnings.warn("outside", UserWarning, stacklevel=1)
    before = list(warnings.filters)
    from srup import notes

    with notes.collect([]):
        pass
    assert warnings.filters == before


MALFORMED_EXIF = (
    b"Exif\0\0MM\0*\0\0\0\x08\0\x01"  # big-endian TIFF header, IFD0 with one entry:
    + struct.pack(">HHII", 0xA005, 10, 1, 8)  # tag 0xA005 (interop IFD), SRATIONAL, 1, at 8
    + b"\0\0\0\0"
)


def test_a_jpeg_with_malformed_exif_never_stops_a_batch(runner, tmp_path):
    src = inputs(tmp_path)
    img = Image.fromarray(photo(8, 6))
    img.save(src / "b.jpg", exif=MALFORMED_EXIF)
    res = runner.invoke(cli, ["upscale", str(src), "-s", "2", "-o", str(tmp_path / "o"), "--json"])
    assert res.exit_code in (0, EXIT_PARTIAL), res.output
    got = records(res.stdout)
    assert sorted(got) == ["a.png", "b.jpg", "b.png", "c.png"]
    assert "Traceback" not in res.stderr
