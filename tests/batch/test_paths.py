"""Paths, outputs and limits of a batch: a video named as a picture, outputs inside the input
tree, a missing input with -o FILE, inputs that are not regular files, the memory estimate,
the minimum tile, the --weights file's scale, and the files a folder scan leaves out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import srup
from srup import batch
from srup.cli import cli
from srup.errors import EXIT_OK, EXIT_PARTIAL, EXIT_USAGE
from srup.imaging.sizing import Sizing
from tests.conftest import photo


def records(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]


# --------------------------------------------------------------- a video named as a picture


@pytest.fixture
def disguised_videos(tmp_path: Path) -> Path:
    """A folder with an MP4 named anim.gif, a Matroska file named still.png, and a picture."""
    av = pytest.importorskip("av")
    from tests.conftest import make_clip

    src = tmp_path / "in"
    src.mkdir()
    make_clip(tmp_path / "anim.mp4", frames=3, size=(24, 16), audio=False).rename(src / "anim.gif")
    with av.open(str(tmp_path / "clip.mkv"), "w") as out:
        v = out.add_stream("mpeg4", rate=5)
        v.width, v.height, v.pix_fmt = 24, 16, "yuv420p"
        for i in range(2):
            frame = av.VideoFrame.from_ndarray(photo(24, 16, seed=i), format="rgb24")
            frame.pts = i
            out.mux(v.encode(frame))
        out.mux(v.encode(None))
    (tmp_path / "clip.mkv").rename(src / "still.png")
    Image.fromarray(photo(12, 10)).save(src / "real.png")
    return src


def test_a_video_named_as_a_picture_keeps_a_video_container_with_a_note(
    runner, tmp_path, disguised_videos
):
    out = tmp_path / "out"
    args = ["upscale", str(disguised_videos), "-s", "2", "-o", str(out), "--json"]
    res = runner.invoke(cli, args)
    assert res.exit_code == EXIT_OK, res.output
    got = {Path(r["input"]).name: r for r in records(res.stdout)}
    assert Path(got["anim.gif"]["output"]).name == "anim.mp4"
    assert Path(got["still.png"]["output"]).name == "still.mkv"
    assert got["anim.gif"]["notes"][0] == "a video (by its content) named .gif: written as .mp4"
    assert got["anim.gif"]["frames"] == 3 and got["still.png"]["frames"] == 2
    assert sorted(p.name for p in out.iterdir()) == ["anim.mp4", "real.png", "still.mkv"]


def test_one_video_named_as_a_picture_gets_a_video_name_or_a_usage_error(
    runner, tmp_path, disguised_videos
):
    src = disguised_videos / "anim.gif"
    res = runner.invoke(cli, ["upscale", str(src), "-s", "2"])
    assert res.exit_code == EXIT_OK, res.output
    assert (disguised_videos / "anim_x2.mp4").is_file()
    res = runner.invoke(cli, ["upscale", str(src), "-s", "2", "-o", str(tmp_path / "x.png")])
    assert res.exit_code == EXIT_USAGE and "is a video" in res.output


# ------------------------------------------------------------ outputs inside the input tree


def test_outputs_inside_the_input_tree_are_not_upscaled_again(runner, tmp_path):
    pics = tmp_path / "pics"
    (pics / "sub").mkdir(parents=True)
    Image.fromarray(photo(12, 10)).save(pics / "a.png")
    Image.fromarray(photo(14, 10)).save(pics / "sub" / "b.png")
    args = ["upscale", str(pics), "-s", "2", "-o", f"{pics}/out/", "-r", "--json"]
    first = runner.invoke(cli, args)
    assert first.exit_code == EXIT_OK, first.output
    second = runner.invoke(cli, [*args, "--skip-existing"])
    assert second.exit_code == EXIT_OK, second.output
    assert [r["status"] for r in records(second.stdout)] == ["skipped", "skipped"]
    assert "the output folder is inside" in second.stderr
    made = sorted(str(p.relative_to(pics / "out")) for p in (pics / "out").rglob("*.png"))
    assert made == ["a.png", "sub/b.png"]  # no out/out/a.png, however often it runs


# ------------------------------------------------------------------------- missing, FIFO


def test_a_missing_input_with_an_output_file_says_no_such_file(runner, tmp_path):
    res = runner.invoke(cli, ["upscale", str(tmp_path / "gone.png"), "-o", str(tmp_path / "x.png")])
    assert res.exit_code == EXIT_PARTIAL
    assert "gone.png: no such file" in res.output and "several inputs" not in res.output


def test_several_inputs_into_one_file_is_still_a_usage_error(runner, tmp_path, rgb_file):
    res = runner.invoke(
        cli, ["upscale", str(rgb_file), str(tmp_path / "gone.png"), "-o", str(tmp_path / "x.png")]
    )
    assert res.exit_code == EXIT_USAGE and "one image file" in res.output


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_fifo_is_refused_at_once_and_never_read(tmp_path, rgb_file):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    cmd = [sys.executable, "-m", "srup", "upscale", str(fifo), str(rgb_file), "-s", "2"]
    cmd += ["-o", str(tmp_path / "out") + "/", "--json", "-m", "espcn"]
    # Opening a FIFO blocks until a writer comes: a hang would be this timeout.
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert res.returncode == EXIT_PARTIAL, res.stderr
    got = records(res.stdout)
    assert got[0]["status"] == "failed"
    assert (
        got[0]["error"] == f"{fifo}: a named pipe (FIFO), not a file; srup reads only regular files"
    )
    assert got[1]["status"] == "done"


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_a_device_is_refused_at_once(runner, tmp_path):
    res = runner.invoke(cli, ["upscale", "/dev/zero", "-s", "2", "-o", str(tmp_path / "z.png")])
    assert res.exit_code == EXIT_PARTIAL
    assert "/dev/zero: a character device, not a file" in res.output


def test_a_broken_symlink_says_so(runner, tmp_path):
    link = tmp_path / "l.png"
    link.symlink_to(tmp_path / "gone.png")
    res = runner.invoke(cli, ["upscale", str(link), "-s", "2"])
    assert res.exit_code == EXIT_PARTIAL and "broken symbolic link" in res.output


# ------------------------------------------------------------------------- memory estimate


def huge_png(path: Path, side: int = 12000) -> Path:
    """A 12000×12000 picture of one colour: a few tens of KB as PNG, 144 MP decoded."""
    Image.new("1", (side, side), 1).save(path, optimize=True)
    return path


def test_a_picture_too_big_for_memory_is_refused_from_its_header(runner, tmp_path, monkeypatch):
    from srup.media import pictures as imageio

    big = huge_png(tmp_path / "big.png")
    assert big.stat().st_size < 200_000
    small = tmp_path / "small.png"
    Image.fromarray(photo(12, 10)).save(small)
    decoded = []
    real_read = imageio.read
    monkeypatch.setattr(imageio, "read", lambda p, **kw: decoded.append(p) or real_read(p, **kw))
    out = tmp_path / "out"
    args = ["upscale", str(big), str(small), "-s", "3", "-o", f"{out}/", "--json"]
    res = runner.invoke(cli, [*args, "--max-memory", "1G", "-m", "espcn"])
    assert res.exit_code == EXIT_PARTIAL, res.output
    refused, done = records(res.stdout)
    assert refused["status"] == "failed" and done["status"] == "done"
    assert refused["error"].startswith(f"{big}: 12000×12000 → 36000×36000 needs about ")
    assert "GiB of memory, over the limit of 1.0 GiB; raise --max-memory" in refused["error"]
    assert decoded == [small]  # the big one was never decoded
    assert not (out / "big.png").exists()


def test_the_memory_estimate_counts_input_outputs_and_working_memory():
    up = srup.load("espcn", 3, device="cpu", precision="fp32")
    est = batch.estimate_memory(up, 1000, 500, 3, 1)
    pictures = 1000 * 500 * 3 + 2 * 3000 * 1500 * 3
    assert est.total == pictures + batch.WORKING_BYTES and est.out_size == (3000, 1500)
    # 16-bit pictures take twice the bytes; a fractional size adds the network's output.
    assert batch.estimate_memory(up, 1000, 500, 3, 2).total == 2 * pictures + batch.WORKING_BYTES

    class Sized:  # what the estimate reads of an Engine: its sizing and shipped scales
        sizing = Sizing(2.5)
        scales = (2, 3, 4)

    frac = batch.estimate_memory(Sized(), 1000, 500, 3, 1)
    final = 2500 * 1250 * 3
    resize = batch.RESIZE_BYTES_PER_SAMPLE * (3000 * 1500 + 2500 * 1250) * 3  # float64 planes
    assert frac.total == (
        1000 * 500 * 3 + 2 * final + 3000 * 1500 * 3 + resize + batch.WORKING_BYTES
    )


def test_the_default_memory_limit_is_three_quarters_of_the_machine(monkeypatch):
    limit = batch.default_max_memory()
    if hasattr(os, "sysconf") and "SC_PHYS_PAGES" in os.sysconf_names:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        assert limit == total * 3 // 4
    else:
        assert limit is None


def test_max_memory_zero_lifts_the_limit_and_sizes_parse(runner, tmp_path):
    src = tmp_path / "a.png"
    Image.fromarray(photo(12, 10)).save(src)
    for i, size in enumerate(["0", "1G", "1.5g", "2GiB", "4000000000"]):
        res = runner.invoke(
            cli,
            [
                "upscale",
                str(src),
                "-s",
                "2",
                "-o",
                str(tmp_path / f"{i}.png"),
                "--max-memory",
                size,
            ],
        )
        assert res.exit_code == EXIT_OK, (size, res.output)
    res = runner.invoke(cli, ["upscale", str(src), "--max-memory", "-1G"])
    assert res.exit_code == EXIT_USAGE


# ------------------------------------------------------------------------- minimum tile


@pytest.mark.parametrize("tile,code", [("1", 2), ("31", 2), ("32", 0), ("0", 0), ("auto", 0)])
def test_tiles_below_the_minimum_are_a_usage_error(runner, tmp_path, rgb_file, tile, code):
    out = tmp_path / "o.png"
    res = runner.invoke(cli, ["upscale", str(rgb_file), "-s", "2", "-o", str(out), "--tile", tile])
    assert res.exit_code == code, res.output
    if code:
        assert "tiles are at least 32 pixels" in res.output and not out.exists()


# --------------------------------------------------------------------- --weights' scale


def test_weights_give_the_default_scale(runner, tmp_path, rgb_file):
    from srup.models.weights import path_for

    out = tmp_path / "o.png"
    res = runner.invoke(
        cli, ["upscale", str(rgb_file), "-o", str(out), "--weights", str(path_for("espcn", 2))]
    )
    assert res.exit_code == EXIT_OK, res.output
    assert Image.open(out).size == (96, 80)  # ×2, as the file's header says, not ×3
    res = runner.invoke(cli, ["upscale", str(rgb_file), "-o", str(tmp_path / "d.png")])
    assert Image.open(tmp_path / "d.png").size == (144, 120)  # without weights: ×3


# ------------------------------------------------------------------ left-out files named


def test_files_a_scan_leaves_out_are_named_in_text_and_json(runner, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(photo(12, 10)).save(src / "a.png")
    (src / "notes.txt").write_text("x")
    (src / ".hidden.png").write_bytes(b"x")
    out = tmp_path / "out"
    res = runner.invoke(cli, ["upscale", str(src), "-s", "2", "-o", str(out)])
    assert res.exit_code == EXIT_OK
    assert f"note: {src / 'notes.txt'}: left out: not an image or video by its suffix" in res.output
    assert f"{src / '.hidden.png'}: left out" in res.output
    assert "2 left out in" in res.output
    res = runner.invoke(cli, ["upscale", str(src), "-s", "2", "-o", str(out), "--json", "-q"])
    left = [r for r in records(res.stdout) if r["status"] == "left_out"]
    assert sorted(Path(r["input"]).name for r in left) == [".hidden.png", "notes.txt"]
    assert all(r["output"] is None and r["error"] is None for r in left)


def test_a_hidden_file_is_left_out_as_hidden_and_the_summary_says_only_left_out(runner, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(photo(12, 10)).save(src / "a.png")
    Image.fromarray(photo(12, 10)).save(src / ".hidden.png")  # an image, by suffix and content
    out = tmp_path / "out"
    res = runner.invoke(cli, ["upscale", str(src), "-s", "2", "-o", f"{out}/"])
    assert res.exit_code == EXIT_OK, res.output
    assert f"{src / '.hidden.png'}: left out: a hidden file" in res.output
    assert "not an image or video" not in res.output
    assert "1 left out in" in res.output and "(not images)" not in res.output
    assert not (out / ".hidden.png").exists()


def test_subfolders_without_recursive_are_reported_as_left_out(runner, tmp_path):
    scans = tmp_path / "scans"
    for sub in ("2019", "2020"):
        (scans / sub).mkdir(parents=True)
        Image.fromarray(photo(12, 10)).save(scans / sub / "p.png")
    Image.fromarray(photo(12, 10)).save(scans / "top.png")
    out = tmp_path / "s2"
    res = runner.invoke(cli, ["upscale", str(scans), "-s", "2", "-o", f"{out}/"])
    assert res.exit_code == EXIT_OK, res.output
    for sub in ("2019", "2020"):
        assert f"{scans / sub}: left out: a folder: use --recursive to include it" in res.output
    assert "1 done" in res.output and "2 left out in" in res.output
    res = runner.invoke(cli, ["upscale", str(scans), "-s", "2", "-o", f"{out}/", "--json", "-q"])
    left = [r for r in records(res.stdout) if r["status"] == "left_out"]
    assert [Path(r["input"]).name for r in left] == ["2019", "2020"]
    assert left[0]["notes"] == ["left out: a folder: use --recursive to include it"]
    # With -r they are taken, and nothing is left out.
    res = runner.invoke(cli, ["upscale", str(scans), "-s", "2", "-o", f"{tmp_path}/r/", "-r"])
    assert res.exit_code == EXIT_OK and "3 done" in res.output and "left out" not in res.output


# ------------------------------------------------------------- one input given twice, clashes


@pytest.mark.parametrize(
    "given",
    [["in/a.png", "in/a.png"], ["in", "in/a.png"], ["in/a.png", "in"], ["in", "in/../in"]],
    ids=["a file twice", "folder then its file", "file then its folder", "folder twice"],
)
def test_an_input_given_twice_is_upscaled_once_with_a_note(runner, tmp_path, given):
    (tmp_path / "in").mkdir()
    Image.fromarray(photo(12, 10)).save(tmp_path / "in" / "a.png")
    out = tmp_path / "o"
    args = ["upscale", *(str(tmp_path / g) for g in given), "-s", "2", "-o", f"{out}/"]
    res = runner.invoke(cli, [*args, "--json"])
    assert res.exit_code == EXIT_OK, res.output
    assert [r["status"] for r in records(res.stdout)] == ["done"]
    assert "given" in res.stderr and "upscaled once" in res.stderr
    assert "same output name" not in res.output
    assert [p.name for p in out.iterdir()] == ["a.png"]


def test_a_file_given_twice_alone_is_one_input(runner, rgb_file):
    res = runner.invoke(cli, ["upscale", str(rgb_file), str(rgb_file), "-s", "2", "-q"])
    assert res.exit_code == EXIT_OK, res.output
    assert (rgb_file.parent / "board_x2.png").is_file()  # beside it, as for one file


def test_two_inputs_with_one_output_name_are_refused_with_what_to_do(runner, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(photo(12, 10)).save(src / "rgb16.png")
    Image.fromarray(photo(12, 10)).save(src / "rgb16.tif")
    out = tmp_path / "out"
    args = [str(src / "rgb16.png"), str(src / "rgb16.tif"), "-s", "2", "-o", f"{out}/"]
    res = runner.invoke(cli, ["upscale", *args, "--format", "png", "--json"])
    assert res.exit_code == EXIT_PARTIAL, res.output
    failed = [r for r in records(res.stdout) if r["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["input"] == str(src / "rgb16.tif")
    assert f"same output name {out / 'rgb16.png'} as {src / 'rgb16.png'}" in failed[0]["error"]
    assert "rename one, or upscale each into its own -o folder" in failed[0]["error"]


# ------------------------------------------------------------------ limits, in readable units


@pytest.mark.parametrize(
    "n,text",
    [
        (0, "0 pixels"),
        (1, "1 pixel"),
        (10, "10 pixels"),
        (76_800, "76,800 pixels"),
        (999_999, "999,999 pixels"),
        (1_000_000, "1 megapixels"),
        (1_250_000, "1.2 megapixels"),
        (150_000_000, "150 megapixels"),
        (2_000_000_000, "2,000 megapixels"),
    ],
)
def test_pixel_counts_read_in_pixels_or_megapixels_never_0(n, text):
    from srup.units import pixels_text

    assert pixels_text(n) == text


@pytest.mark.parametrize(
    "n,text",
    [
        (1, "1 byte"),
        (512, "512 bytes"),
        (2**10, "1.0 KiB"),
        (1536, "1.5 KiB"),
        (512 * 2**20, "512.0 MiB"),
        (2**30, "1.0 GiB"),
        (3 * 2**40, "3072.0 GiB"),
    ],
)
def test_sizes_read_in_bytes_kib_mib_or_gib_never_0(n, text):
    from srup.units import bytes_text

    assert bytes_text(n) == text


def test_a_value_over_its_limit_never_prints_as_the_limit():
    from srup.units import bytes_text, over_limit, pixels_text

    assert over_limit(150_000_001, 150_000_000, pixels_text, "pixels") == (
        "150,000,001 pixels",
        "150,000,000 pixels",
    )
    assert over_limit(2**30 + 1, 2**30, bytes_text, "bytes") == (
        "1,073,741,825 bytes",
        "1,073,741,824 bytes",
    )
    assert over_limit(3 * 2**30, 2**30, bytes_text, "bytes") == ("3.0 GiB", "1.0 GiB")


@pytest.mark.parametrize(
    "limit,message",
    [
        (["--max-pixels", "10"], "12×10 = 120 pixels is over the limit of 10 pixels"),
        (
            ["--max-pixels", "100", "--max-memory", "0"],
            "= 120 pixels is over the limit of 100 pixels",
        ),
        (["--max-memory", "1K"], "MiB of memory, over the limit of 1.0 KiB"),
        (["--max-memory", "300M"], "MiB of memory, over the limit of 300.0 MiB"),
    ],
    ids=["pixels, from the header", "pixels, when decoded", "memory 1K", "memory 300M"],
)
def test_limit_messages_name_their_limit_in_units_that_show_it(runner, tmp_path, limit, message):
    src = tmp_path / "a.png"
    Image.fromarray(photo(12, 10)).save(src)
    res = runner.invoke(
        cli, ["upscale", str(src), "-s", "2", "-o", str(tmp_path / "o.png"), *limit]
    )
    assert res.exit_code == EXIT_PARTIAL, res.output
    assert message in res.output, res.output
    assert "limit of 0" not in res.output


# ---------------------------------------------------------------------------- background


@pytest.mark.parametrize(
    "colour,rgb",
    [("white", (255, 255, 255)), ("black", (0, 0, 0)), ("#336699", (0x33, 0x66, 0x99))],
)
def test_background_is_what_transparency_is_flattened_onto(
    runner, tmp_path, monkeypatch, colour, rgb
):
    from srup.media import pictures as imageio

    seen = []
    real = imageio.write

    def write(picture, path, *args, background, **kwargs):
        seen.append(background)
        return real(picture, path, *args, background=background, **kwargs)

    monkeypatch.setattr(imageio, "write", write)
    src = tmp_path / "a.png"
    # Fully transparent: the JPEG shows nothing but the background.
    Image.fromarray(np.dstack([photo(12, 10), np.zeros((10, 12), np.uint8)])).save(src)
    out = tmp_path / "a.jpg"
    res = runner.invoke(
        cli, ["upscale", str(src), "-s", "2", "-o", str(out), "--background", colour]
    )
    assert res.exit_code == EXIT_OK, res.output
    assert seen == [rgb]
    pixels = np.asarray(Image.open(out).convert("RGB")).reshape(-1, 3).astype(int)
    assert np.abs(pixels - rgb).max() <= 3


@pytest.mark.parametrize("colour", ["nope", "#12345", "#11223344"])
def test_a_bad_background_is_a_usage_error(runner, rgb_file, colour):
    res = runner.invoke(cli, ["upscale", str(rgb_file), "--background", colour])
    assert res.exit_code == EXIT_USAGE and "--background" in res.output


def test_a_folder_scan_finds_avif_and_jpeg2000_and_writes_them_as_png(tmp_path):
    """Formats Pillow's wheels read (AVIF, JPEG 2000) are found in folders, not left out as
    'not an image by its suffix'; a folder of nothing srup reads gets no --recursive hint."""
    from PIL import features

    from srup.batch import plan

    src = tmp_path / "in"
    src.mkdir()
    made = []
    for suffix, fmt, feature in ((".avif", "AVIF", "avif"), (".jp2", "JPEG2000", "jpg_2000")):
        if features.check(feature):
            Image.fromarray(photo(24, 20)).save(src / f"p{len(made)}{suffix}", fmt)
            made.append(suffix)
    if not made:
        pytest.skip("this Pillow reads neither AVIF nor JPEG 2000")
    found = plan([src], tmp_path / "out", 2)
    assert sorted(j.src.suffix for j in found.jobs) == sorted(made)
    assert all(j.dst.suffix == ".png" for j in found.jobs)
    (src / "notes.txt").write_text("x")
    for f in src.glob("p*"):
        f.unlink()
    nothing = plan([src], tmp_path / "out", 2)
    (refused,) = nothing.refused
    assert "no image files" in refused.error and "--recursive" not in refused.error
