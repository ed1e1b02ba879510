"""The rest of a video file, and its time: what srup.media.video keeps besides the pictures.

**Tracks.** The output's streams are made in the input's order (the video stays at its
index, an audio track that came first stays first), each with its metadata (language,
title, handler name) and dispositions (default, forced, comment, …); the container's
metadata (title, creation time, …) and its chapters travel too. Audio, subtitles,
attachments (Matroska fonts) and cover art are copied packet for packet; a track the new
container cannot hold (AAC in WebM, SubRip in MP4) is left out with a note. What described
the old file rather than its content does not travel: the encoder's name, the MP4 brands,
Matroska's per-track statistics (``DURATION``, ``BPS``, ``NUMBER_OF_FRAMES``, …).

**Time.** An excerpt (``--start``) starts at zero: its first frame's timestamp is the
offset, and every packet and chapter is cut at the excerpt's ends and moved by that same
offset, so sound and subtitles stay where they were against the pictures.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

__all__ = ["Timeline", "add_streams", "content_metadata", "is_cover"]

# Keys (lower case, before any "-language" suffix) that describe the old file, not its content.
_OLD_FILE = {
    "encoder",
    "encoder_options",
    "major_brand",
    "minor_version",
    "compatible_brands",
    "duration",
    "bps",
    "number_of_frames",
    "number_of_bytes",
    "vendor_id",
    "rotate",  # the old rotation tag: the display matrix carries it
}
_COPIED = ("audio", "subtitle", "attachment")


def content_metadata(metadata: dict[str, str]) -> dict[str, str]:
    """``metadata`` without the keys that describe the old file (see the module's text)."""
    kept = {}
    for key, value in metadata.items():
        name = key.lower().split("-")[0]  # Matroska's statistics: "BPS-eng", "DURATION-eng"
        if name in _OLD_FILE or name.startswith("_statistics"):
            continue
        kept[key] = value
    return kept


def _describe(copy: Any, original: Any) -> None:
    """The metadata and dispositions of ``original`` on the new stream ``copy``."""
    metadata = content_metadata(dict(original.metadata))
    if "name" in metadata and "title" not in metadata:  # MP4/MOV read a track's title as
        metadata["title"] = metadata.pop("name")  # "name" and write it from "title"
    copy.metadata.update(metadata)
    copy.disposition = int(original.disposition)


def _hidden(stream: Any) -> bool:
    """A track the demuxer hides (an MP4's chapter text track: the chapters travel as
    chapters)."""
    return getattr(getattr(stream, "discard", None), "name", "") == "all"


def is_cover(av: Any, stream: Any) -> bool:
    """Cover art: a video stream holding one picture (the attached_pic disposition)."""
    return stream.type == "video" and av.stream.Disposition.attached_pic in stream.disposition


def add_streams(
    av: Any, inp: Any, out: Any, vin: Any, add_video: Callable[[], Any], notes: list[str]
) -> tuple[Any, dict[int, Any]]:
    """Make ``out``'s streams in ``inp``'s order: ``add_video()`` where ``vin`` is, a copy
    of every other stream ``out`` can hold; the container's metadata too. Returns the new
    video stream and the copies by input stream index; what is left out goes to ``notes``."""
    copies: dict[int, Any] = {}
    vout = None
    for s in inp.streams:
        if s.index == vin.index:
            vout = add_video()
            _describe(vout, s)
            continue
        if _hidden(s):
            continue
        codec = s.codec_context.name if s.codec_context is not None else s.type
        if s.type not in _COPIED and not is_cover(av, s):
            notes.append(
                f"{s.type} stream {s.index} ({codec}) not copied: srup copies audio, "
                "subtitles, attachments and cover art"
            )
            continue
        try:
            copy = out.add_stream_from_template(s)
        except (ValueError, av.error.FFmpegError):
            notes.append(
                f"{s.type} stream {s.index} ({codec}) not copied: {out.format.name} cannot hold it"
            )
            continue
        _describe(copy, s)
        copies[s.index] = copy
    out.metadata.update(content_metadata(dict(inp.metadata)))
    return vout, copies


def _seconds(value: int | None, time_base: Fraction | None) -> Fraction | None:
    return None if value is None or not time_base else value * Fraction(time_base)


@dataclass
class Timeline:
    """Where the output's time comes from. ``offset`` (seconds): subtracted from every
    timestamp (the excerpt's first frame; 0 for a whole clip); ``start``/``end`` (seconds
    of the source): packets outside are cut (None: no cut at that end)."""

    offset: Fraction = Fraction(0)
    start: Fraction | None = None
    end: Fraction | None = None

    def keeps(self, t: Fraction) -> bool:
        return not (
            (self.start is not None and t < self.start) or (self.end is not None and t >= self.end)
        )

    def packet(self, packet: Any) -> bool:
        """Move ``packet`` (of a copied stream) by the offset, in place; False when it lies
        outside the excerpt, or has no timestamp to place it by."""
        tb = packet.time_base
        t = _seconds(packet.pts if packet.pts is not None else packet.dts, tb)
        if t is None or not self.keeps(t):
            return False
        if self.offset:
            shift = round(self.offset / Fraction(tb))
            if packet.pts is not None:
                packet.pts -= shift
            if packet.dts is not None:
                packet.dts -= shift
        return True

    def chapters(self, chapters: list[dict]) -> list[dict]:
        """``chapters`` (PyAV's dicts) cut to the excerpt and moved by the offset."""
        kept = []
        for ch in chapters:
            tb = Fraction(ch["time_base"])
            begin, finish = ch["start"] * tb, ch["end"] * tb
            if self.start is not None:
                begin = max(begin, self.offset)
            if self.end is not None:
                finish = min(finish, self.end)
            if finish <= begin:
                continue
            moved = {
                **ch,
                "start": round((begin - self.offset) / tb),
                "end": round((finish - self.offset) / tb),
            }
            kept.append(moved)
        return kept
