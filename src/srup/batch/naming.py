"""Where each file's output goes: its default name (``board_x3.jpg``), and in an output
folder its suffix and format. A video stays in its container; a file whose content says
otherwise than its name (an MP4 named ``.gif``, a TIFF named ``.webm``) gets its real
kind's suffix, with a note."""

from __future__ import annotations

from pathlib import Path

from srup.batch.job import VIDEO
from srup.choices import SUFFIX_FOR, VIDEO_SUFFIXES
from srup.media import pictures as imageio
from srup.media.video import container_suffix, is_video, picture_format

__all__ = ["default_name", "folder_output"]


def _format_of(src: Path, fmt: str | None) -> str:
    if is_video(src):
        return VIDEO  # a video stays in its container; --format is for pictures
    if fmt:
        return fmt
    if src.suffix.lower() in VIDEO_SUFFIXES:  # a picture named as a video: its real format
        return _writable(_content_format(src))
    return imageio.EXTENSIONS.get(src.suffix.lower(), "PNG")


def _video_name_note(src: Path, suffix: str) -> str:
    return f"a video (by its content) named {src.suffix or 'without a suffix'}: written as {suffix}"


def _content_format(src: Path) -> str | None:
    """The picture format ``src``'s first bytes say (:func:`srup.media.video.picture_format`)."""
    try:
        with open(src, "rb") as f:
            return picture_format(f.read(16)) if src.is_file() else None
    except OSError:
        return None


def _writable(fmt: str | None) -> str:
    """A format srup writes: ``fmt`` itself, else PNG (a GIF's first frame, as elsewhere)."""
    return fmt if fmt in SUFFIX_FOR else "PNG"


def _picture_name_note(src: Path, suffix: str) -> str:
    what = _content_format(src) or "picture"
    return f"a {what} picture (by its content) named {src.suffix}: written as {suffix}"


def default_name(src: Path, scale: int | str) -> tuple[Path, tuple[str, ...]]:
    """``board.jpg`` → ``board_x3.jpg`` (``scale`` 3) or ``board_w1920.jpg`` (``"w1920"``);
    a video whose name says otherwise (an MP4 named ``.gif``) gets its container's suffix,
    with a note."""
    tag = f"x{scale}" if isinstance(scale, int) else scale
    notes_: tuple[str, ...] = ()
    if is_video(src):
        suffix = src.suffix if src.suffix.lower() in VIDEO_SUFFIXES else container_suffix(src)
        if suffix != src.suffix:
            notes_ = (_video_name_note(src, suffix),)
    elif src.suffix.lower() in VIDEO_SUFFIXES:  # a picture named as a video (a TIFF .webm)
        suffix = imageio.suffix_for(_writable(_content_format(src)))
        notes_ = (_picture_name_note(src, suffix),)
    else:
        suffix = src.suffix if src.suffix.lower() in imageio.EXTENSIONS else ".png"
    return src.with_name(f"{src.stem}_{tag}{suffix}"), notes_


def folder_output(
    src: Path, rel: Path, output: Path, fmt: str | None
) -> tuple[Path, str, tuple[str, ...]]:
    """Where ``src`` (at ``rel`` under the output folder) goes, in which format, with which
    notes: a video stays in its container (a video named otherwise gets its container's
    suffix); a picture named as a video gets its real format's suffix; both with a note."""
    out_fmt = _format_of(src, fmt)
    job_notes: tuple[str, ...] = ()
    if out_fmt == VIDEO:
        suffix = src.suffix if src.suffix.lower() in VIDEO_SUFFIXES else None
        if suffix is None:
            suffix = container_suffix(src)
            job_notes = (_video_name_note(src, suffix),)
    elif not fmt and src.suffix.lower() in imageio.EXTENSIONS:
        suffix = src.suffix
    else:
        suffix = imageio.suffix_for(out_fmt)
        if src.suffix.lower() in VIDEO_SUFFIXES:
            job_notes = (_picture_name_note(src, suffix),)
    return output / rel.with_suffix(suffix), out_fmt, job_notes
