"""Video with alpha (QuickTime Animation argb, PNG rgba in MOV, VP9 with alpha in WebM):
srup's video frames are opaque, so the output is written without alpha and says so in a
note, never in a format that claims a transparency it does not hold."""

from __future__ import annotations

from fractions import Fraction

import pytest

from tests.media.video.conftest import upscale, write_clip

av = pytest.importorskip("av", reason="the video extra (pip install 'srup[video]') is absent")


@pytest.mark.parametrize(("codec", "pix_fmt"), [("qtrle", "argb"), ("png", "rgba")])
def test_alpha_in_a_mov_is_dropped_with_a_note_and_not_claimed(runner, tmp_path, codec, pix_fmt):
    src = write_clip(
        tmp_path / "a.mov", tuple(range(3)), Fraction(1, 10), codec=codec, pix_fmt=pix_fmt
    )
    with av.open(str(src)) as c:
        assert c.streams.video[0].codec_context.pix_fmt == pix_fmt
    dst = tmp_path / "o.mov"
    code, obj, output = upscale(runner, str(src), "-s", "2", "-o", str(dst))
    assert code == 0, output
    assert any(n.startswith("alpha (transparency)") for n in obj["notes"]), obj["notes"]
    with av.open(str(dst)) as c:
        out_fmt = c.streams.video[0].codec_context.pix_fmt
    assert out_fmt in ("rgb24", "yuv420p") and "a" not in out_fmt.replace("yuv", "")


def test_vp9_alpha_in_webm_is_dropped_with_a_note(runner, tmp_path):
    src = write_clip(tmp_path / "a.webm", tuple(range(3)), Fraction(1, 10), pix_fmt="yuva420p")
    with av.open(str(src)) as c:
        if c.streams.video[0].metadata.get("alpha_mode") != "1":
            pytest.skip("this libvpx-vp9 wrote no alpha")
    code, obj, output = upscale(runner, str(src), "-s", "2", "-o", str(tmp_path / "o.webm"))
    assert code == 0, output
    assert any(n.startswith("alpha (transparency)") for n in obj["notes"]), obj["notes"]
