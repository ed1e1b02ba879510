"""Output sizes a video encoder can take (issue 24, item 4): with 4:2:0 chroma a size srup
derives is rounded down to even with a note; a width or height the user typed is a one-line
usage error naming the two nearest valid values, before any frame is upscaled."""

from __future__ import annotations

from fractions import Fraction

import pytest

from tests.media.video.conftest import upscale, write_clip

av = pytest.importorskip("av", reason="the video extra (pip install 'srup[video]') is absent")


def size_of(path) -> tuple[int, int]:
    with av.open(str(path)) as c:
        frame = next(c.decode(video=0))
        return frame.width, frame.height


@pytest.mark.parametrize(
    ("size", "args", "expected", "asked"),
    [
        ((854, 480), ("-s", "1.5"), (1280, 720), "1281×720"),
        ((322, 242), ("-s", "1.5"), (482, 362), "483×363"),
        ((322, 242), ("--width", "400"), (400, 300), "400×301"),  # the height is derived
    ],
)
def test_an_odd_size_is_rounded_to_even_with_a_note(runner, tmp_path, size, args, expected, asked):
    src = write_clip(tmp_path / "in.mp4", (0, 1), Fraction(1, 10), size=size)
    dst = tmp_path / "out.mp4"
    code, obj, output = upscale(runner, str(src), *args, "-o", str(dst))
    assert code == 0, output
    assert size_of(dst) == expected and tuple(obj["output_size"]) == expected
    (note,) = [n for n in obj["notes"] if "written as" in n]
    assert note.startswith(f"{asked} written as {expected[0]}×{expected[1]}") and "even" in note


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("--width", "401"), "--width 400 or --width 402"),
        (("--width", "401", "--height", "300", "--fit", "stretch"), "--width 400 or --width 402"),
        (("--width", "400", "--height", "301", "--fit", "cover"), "--height 300 or --height 302"),
    ],
)
def test_a_typed_odd_size_is_a_usage_error_naming_the_nearest(runner, tmp_path, args, named):
    src = write_clip(tmp_path / "in.mp4", (0, 1), Fraction(1, 10), size=(322, 242))
    dst = tmp_path / "out.mp4"
    code, obj, output = upscale(runner, str(src), *args, "-o", str(dst))
    assert code == 2 and obj is None, output  # the command line, before any file's work
    assert output.count("\n") == 1 and named in output and "Traceback" not in output
    assert not dst.exists()


def test_a_4_4_4_clip_takes_an_odd_size(runner, tmp_path):
    src = write_clip(tmp_path / "in.mkv", (0, 1), Fraction(1, 10), pix_fmt="yuv444p")
    dst = tmp_path / "out.mkv"
    code, obj, output = upscale(runner, str(src), "--width", "97", "-o", str(dst))
    assert code == 0, output
    assert size_of(dst) == (97, 73) and not obj["notes"]


def test_width_means_the_displayed_width_of_a_turned_clip(runner, tmp_path):
    """A phone clip stored 64×48 and shown turned (48×64): --width 96 is 96 wide on screen."""
    src = write_clip(tmp_path / "phone.mp4", (0, 1), Fraction(1, 10), rotation=90)
    dst = tmp_path / "out.mp4"
    code, _, output = upscale(runner, str(src), "--width", "96", "-o", str(dst))
    assert code == 0, output
    with av.open(str(dst)) as c:
        frame = next(c.decode(video=0))
        assert frame.rotation == 90 and (frame.width, frame.height) == (128, 96)


def test_sizes_for_each_chroma_layout():
    from srup.errors import UsageError
    from srup.media.video_codecs import alignment, fit_size

    assert alignment(av, "yuv420p") == (2, 2) and alignment(av, "yuv422p") == (2, 1)
    assert alignment(av, "yuv411p") == (4, 1) and alignment(av, "yuv444p") == (1, 1)
    assert alignment(av, "rgb24") == (1, 1) and alignment(av, "yuv420p10le") == (2, 2)
    assert fit_size((1281, 720), (2, 2), (False, False), "x") == (
        (1280, 720),
        "1281×720 written as 1280×720: x needs an even width and height",
    )
    assert fit_size((643, 361), (4, 1), (False, False), "x")[0] == (640, 361)
    assert fit_size((1, 1), (2, 2), (False, False), "x")[0] == (2, 2)  # never 0
    assert fit_size((401, 300), (1, 1), (True, True), "x") == ((401, 300), None)
    with pytest.raises(UsageError, match="--height 300 or --height 302"):
        fit_size((400, 301), (2, 2), (False, True), "x")


def test_non_square_pixels_keep_their_shape(runner, tmp_path):
    """A DVD-like clip: 64×48 stored, pixels 32:27 (shown wider); ×2 keeps the shape."""
    src = tmp_path / "dvd.mkv"
    with av.open(str(src), "w") as out:
        v = out.add_stream("libx264", rate=10)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        v.codec_context.sample_aspect_ratio = Fraction(32, 27)
        for i in range(2):
            frame = av.VideoFrame(64, 48, "yuv420p")
            for plane in frame.planes:
                plane.update(bytes(plane.buffer_size))
            frame.pts, frame.time_base = i, Fraction(1, 10)
            out.mux(v.encode(frame))
        out.mux(v.encode(None))
    dst = tmp_path / "out.mkv"
    code, _, output = upscale(runner, str(src), "-s", "2", "-o", str(dst))
    assert code == 0, output
    with av.open(str(dst)) as c:
        v = c.streams.video[0]
        assert v.sample_aspect_ratio == Fraction(32, 27)
        assert v.display_aspect_ratio == Fraction(128, 81)  # as the input's
