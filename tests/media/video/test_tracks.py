"""The other tracks of a video (issue 24, item 6): stream order, languages, titles,
handler names, dispositions, the container's title and chapters travel; what described the
old file does not; a track the new container cannot hold is a note."""

from __future__ import annotations

from fractions import Fraction

import pytest

from tests.media.video.conftest import packets, streams, upscale, write_clip

av = pytest.importorskip("av", reason="the video extra (pip install 'srup[video]') is absent")

D = av.stream.Disposition if av else None


def test_matroska_tracks_keep_their_order_languages_titles_and_dispositions(runner, tmp_path):
    src = write_clip(
        tmp_path / "film.mkv",
        tuple(range(12)),
        Fraction(1, 12),
        audio=(("eng", "English", D.default), ("fre", "Commentaire", D.comment)),
        subtitles=(("spa", D.forced, [(0.2, 0.3, "hola")]),),
        title="A film",
        video_title="Picture",
        chapters=((0, 0.5, "Opening"), (0.5, 1.0, "Ending")),
    )
    dst = tmp_path / "film_x2.mkv"
    code, _, output = upscale(runner, str(src), "-s", "2", "-o", str(dst))
    assert code == 0, output
    assert streams(dst) == streams(src)
    assert [r[0] for r in streams(dst)] == ["video", "audio", "audio", "subtitle"]
    assert streams(dst)[2][1:3] == ("fre", "Commentaire") and D.comment in streams(dst)[2][4]
    assert D.forced in streams(dst)[3][4] and D.default in streams(dst)[1][4]
    before, after = packets(src), packets(dst)
    assert after[1] == before[1] and after[2] == before[2] and after[3] == before[3]
    with av.open(str(src)) as a, av.open(str(dst)) as b:
        assert b.metadata.get("title") == "A film"
        assert b.chapters() == a.chapters() and len(b.chapters()) == 2
        # What described the old file is its own now: the muxer's name, not the old one's.
        assert all("BPS" not in k and "NUMBER_OF" not in k for k in b.streams[1].metadata)


def test_an_mp4_whose_audio_comes_first_keeps_it_first(runner, tmp_path):
    src = write_clip(
        tmp_path / "phone.mp4",
        tuple(range(12)),
        Fraction(1, 12),
        audio=(("eng", "Main", D.default), ("deu", "Kommentar", 0)),
        audio_first=True,
        video_title="Camera",
    )
    dst = tmp_path / "phone_x2.mp4"
    code, _, output = upscale(runner, str(src), "-s", "2", "-o", str(dst))
    assert code == 0, output
    assert [r[0] for r in streams(dst)] == ["audio", "video", "audio"]
    assert streams(dst) == streams(src)
    assert streams(dst)[0][1:3] == ("eng", "Main") and streams(dst)[1][2] == "Camera"
    before, after = packets(src), packets(dst)
    assert after[0] == before[0] and after[2] == before[2]  # byte for byte, same places


def test_a_track_the_new_container_cannot_hold_is_a_note(runner, tmp_path):
    src = write_clip(
        tmp_path / "subs.mkv",
        tuple(range(6)),
        Fraction(1, 12),
        subtitles=(("spa", D.forced, [(0.1, 0.2, "hola")]),),
    )
    code, obj, output = upscale(runner, str(src), "-s", "2", "-o", str(tmp_path / "o.mp4"))
    assert code == 0, output
    assert any(n.startswith("subtitle stream 1 (") for n in obj["notes"])
    assert any(n.endswith("not copied: mp4 cannot hold it") for n in obj["notes"])


def test_only_what_describes_the_content_travels():
    from srup.media.video_tracks import content_metadata

    kept = content_metadata(
        {
            "title": "A film",
            "language": "eng",
            "handler_name": "SoundHandler",
            "creation_time": "2024-05-01T10:00:00Z",
            "ENCODER": "Lavf58",
            "encoder": "x",
            "major_brand": "isom",
            "compatible_brands": "isomavc1",
            "BPS-eng": "128000",
            "DURATION": "00:00:01.000",
            "NUMBER_OF_FRAMES-eng": "12",
            "_STATISTICS_WRITING_APP": "mkvmerge",
        }
    )
    assert kept == {
        "title": "A film",
        "language": "eng",
        "handler_name": "SoundHandler",
        "creation_time": "2024-05-01T10:00:00Z",
    }


def test_chapters_are_cut_to_an_excerpt_and_moved_with_it():
    from srup.media.video_tracks import Timeline

    ms = Fraction(1, 1000)
    chapters = [
        {"id": 1, "start": 0, "end": 1000, "time_base": ms, "metadata": {"title": "a"}},
        {"id": 2, "start": 1000, "end": 3000, "time_base": ms, "metadata": {"title": "b"}},
        {"id": 3, "start": 3000, "end": 4000, "time_base": ms, "metadata": {"title": "c"}},
    ]
    line = Timeline(offset=Fraction(3, 2), start=Fraction(3, 2), end=Fraction(7, 2))
    assert [(c["start"], c["end"], c["metadata"]["title"]) for c in line.chapters(chapters)] == [
        (0, 1500, "b"),
        (1500, 2000, "c"),
    ]
    assert Timeline().chapters(chapters) == chapters  # a whole clip: as they were
