"""An encoder the container takes (issue 24, item 5): the input's codec where it can go,
else the container's own (WebM: VP9); a --codec the container refuses is one line listing
what works there, exit 2, before any frame is upscaled. Asked of FFmpeg, not a table."""

from __future__ import annotations

from fractions import Fraction

import pytest

from tests.media.video.conftest import upscale, write_clip

av = pytest.importorskip("av", reason="the video extra (pip install 'srup[video]') is absent")


def codec_of(path) -> tuple[str, int]:
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        return v.codec_context.name, sum(1 for _ in c.decode(v))


def test_h264_into_webm_becomes_vp9(runner, tmp_path):
    src = write_clip(tmp_path / "in.mp4", tuple(range(4)), Fraction(1, 12))
    dst = tmp_path / "out.webm"
    code, _, output = upscale(runner, str(src), "-s", "2", "-o", str(dst))
    assert code == 0, output
    assert codec_of(dst) == ("vp9", 4)


def test_the_input_codec_stays_where_the_container_takes_it(runner, tmp_path):
    src = write_clip(tmp_path / "in.mkv", tuple(range(4)), Fraction(1, 12), codec="mpeg4")
    dst = tmp_path / "out.mov"
    code, _, output = upscale(runner, str(src), "-s", "2", "-o", str(dst))
    assert code == 0, output
    assert codec_of(dst) == ("mpeg4", 4)


@pytest.mark.parametrize(
    ("codec", "suffix", "listed"),
    [("h264", ".webm", "vp9"), ("vp9", ".mov", "h264"), ("ffv1", ".webm", "vp9")],
)
def test_a_codec_the_container_refuses_is_one_line_listing_what_works(
    runner, tmp_path, codec, suffix, listed
):
    src = write_clip(tmp_path / "in.mp4", tuple(range(4)), Fraction(1, 12))
    dst = tmp_path / f"out{suffix}"
    code, obj, output = upscale(runner, str(src), "-s", "2", "-o", str(dst), "--codec", codec)
    assert code == 2 and obj is None, output  # before any file's work
    (line,) = output.strip().splitlines()
    assert f"--codec {codec} cannot be written into {suffix}" in line
    assert "codecs that work there:" in line and listed in line.split("there:")[1]
    assert codec not in line.split("there:")[1].split(", ")
    assert not dst.exists()


def test_mjpeg_goes_into_mp4_in_its_own_pixel_format(runner, tmp_path):
    src = write_clip(tmp_path / "in.mp4", tuple(range(4)), Fraction(1, 12))
    dst = tmp_path / "out.mp4"
    code, _, output = upscale(runner, str(src), "-s", "2", "-o", str(dst), "--codec", "mjpeg")
    assert code == 0, output
    assert codec_of(dst) == ("mjpeg", 4)


def test_the_choice_is_asked_of_ffmpeg(tmp_path):
    from srup.media.video import _open_video_stream
    from srup.media.video_codecs import working_codecs

    src = write_clip(tmp_path / "c.mp4", (0, 1), Fraction(1, 10))
    with av.open(str(src)) as inp:
        vin = inp.streams.video[0]

        def trial(av_, out, encoder, size, pix):
            return _open_video_stream(out, vin, encoder, size, None, [], vin.time_base, pix)

        webm = working_codecs(av, "webm", trial)
        mp4 = working_codecs(av, "mp4", trial)
    assert "vp9" in webm and "h264" not in webm and "mpeg4" not in webm
    assert "h264" in mp4 and "vp8" not in mp4


def _takes(encoder: str, pix_fmt: str) -> bool:
    try:
        return pix_fmt in [f.name for f in av.codec.Codec(encoder, "w").video_formats or []]
    except Exception:  # not in this FFmpeg
        return False


@pytest.mark.skipif(
    _takes("libvpx-vp9", "yuv420p10le") or not _takes("libsvtav1", "yuv420p10le"),
    reason="needs an 8-bit-only libvpx and SVT-AV1 (as the wheel's FFmpeg has)",
)
def test_a_10bit_clip_into_webm_becomes_av1_not_8bit_vp9(runner, tmp_path):
    """VP9 comes first for WebM, but this libvpx is 8-bit only: AV1 keeps the 10 bits."""
    src = write_clip(tmp_path / "in.mkv", tuple(range(3)), Fraction(1, 12), pix_fmt="yuv420p10le")
    dst = tmp_path / "out.webm"
    code, obj, output = upscale(runner, str(src), "-s", "2", "-o", str(dst))
    assert code == 0, output
    assert not [n for n in obj["notes"] if "bit" in n], obj["notes"]
    with av.open(str(dst)) as c:
        v = c.streams.video[0]
        assert v.codec_context.name in ("av1", "libdav1d")
        assert next(c.decode(v)).format.name == "yuv420p10le"


def test_the_first_codec_that_keeps_depth_and_chroma_is_chosen(monkeypatch):
    """What opens where, as a stand-in for FFmpeg's trials: WebM takes VP9 in 8 bits (4:4:4
    too), AV1 in 10 bits 4:2:0, VP8; the other containers H.264 in whatever it is given."""
    from srup.errors import UsageError
    from srup.media import video_codecs
    from srup.media.video_codecs import Choice, choose

    webm = {"libvpx-vp9": "yuv444p", "libsvtav1": "yuv420p10le", "libvpx": "yuv420p"}

    def opens(av_, fmt, encoder, open_stream):
        if fmt == "webm":
            return Choice(encoder, webm[encoder]) if encoder in webm else None
        return Choice(encoder, "yuv444p10le") if encoder == "libx264" else None

    names = {**video_codecs.ENCODERS, "av1": ("libsvtav1",)}
    monkeypatch.setattr(video_codecs, "_opens", opens)
    monkeypatch.setattr(video_codecs, "encoder_name", lambda av_, name: list(names[name]))

    def chosen(source_fmt):
        return choose(av, "webm", ".webm", None, "h264", None, source_fmt)

    assert chosen("yuv420p") == Choice("libvpx-vp9", "yuv444p")  # 4:4:4 keeps 4:2:0
    assert chosen("yuv420p10le") == Choice("libsvtav1", "yuv420p10le")  # not 8-bit VP9
    assert chosen(None) == Choice("libvpx-vp9", "yuv444p")  # unknown: the first that opens
    with pytest.raises(UsageError) as e:
        chosen("yuv444p10le")
    line = str(e.value)
    assert "\n" not in line and "keeps 10-bit 4:4:4 (yuv444p10le)" in line
    assert "--codec vp9 writes 8-bit 4:4:4" in line and "--codec av1 writes 10-bit 4:2:0" in line
    assert line.endswith(".mkv, .mp4 or .mov would keep it")
    # --codec accepts the loss (srup.media.video_colour says it in a note)
    assert choose(av, "webm", ".webm", "vp9", "h264", None, "yuv444p10le").encoder == "libvpx-vp9"


@pytest.mark.skipif(not _takes("libx265", "yuv420p"), reason="needs libx265")
def test_hevc_into_mp4_is_accepted_every_time(tmp_path):
    """libx265's first packet into MP4 sometimes lacks what the hvcC box needs: a trial of
    one frame then failed at random (about 1 in 3). Asked again and again, it must work."""
    from srup.media.video import _open_video_stream
    from srup.media.video_codecs import choose

    src = write_clip(tmp_path / "c.mp4", (0, 1), Fraction(1, 25))
    with av.open(str(src)) as inp:
        vin = inp.streams.video[0]

        def trial(av_, out, encoder, size, pix):
            return _open_video_stream(out, vin, encoder, size, None, [], vin.time_base, pix)

        for _ in range(12):
            assert choose(av, "mp4", ".mp4", "hevc", "h264", trial, "yuv420p").encoder == (
                "libx265"
            )
