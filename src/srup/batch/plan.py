"""The plan of ``srup upscale``: which file goes where (:func:`plan`), from the inputs
gathered (:mod:`srup.batch.inputs`) and their outputs' names (:mod:`srup.batch.naming`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from srup.batch.inputs import Gathered, gather, resolved, within
from srup.batch.job import VIDEO, Job
from srup.batch.naming import default_name, folder_output
from srup.batch.result import Result, Status
from srup.choices import VIDEO_SUFFIXES
from srup.errors import UsageError
from srup.media import pictures as imageio
from srup.media.video import is_video

__all__ = ["Plan", "plan"]


@dataclass
class Plan:
    """What ``srup upscale`` will do: the jobs, the inputs refused before any work (missing,
    not regular files, clashing), what a folder scan left out (files that are not images or
    videos by their suffix, hidden files, subfolders without ``recursive``: see
    :func:`srup.batch.left_out_reason`), and notes on the plan itself (an output folder
    inside an input folder, a file given twice)."""

    jobs: list[Job]
    refused: list[Result]
    left_out: list[Path]
    notes: list[str] = field(default_factory=list)
    # Why a file was left out when not for :func:`left_out_reason` (an output of this run).
    left_out_why: dict[Path, str] = field(default_factory=dict)
    # The command's inputs are one file (not a folder): its usage errors end the command.
    single: bool = False


def _names_folder(output: Path | None, raw: str | None) -> bool:
    """``-o`` names a folder: it is one, or it is written with a trailing slash."""
    if output is None:
        return False
    return output.is_dir() or (raw or str(output)).endswith(("/", "\\"))


def plan(
    inputs: list[Path],
    output: Path | None,
    scale: int | str,
    fmt: str | None = None,
    recursive: bool = False,
    output_text: str | None = None,
) -> Plan:
    """The jobs for ``inputs``.

    One file and an ``output`` that is not a folder: that file. Otherwise ``output`` is a
    folder (made if missing) and folders given as input are mirrored into it; files under
    ``output`` are left out of the scan of an input folder that holds it (a second run does
    not upscale the first one's outputs). ``output`` names a folder when it is one or when
    ``output_text`` (the ``-o`` value as typed, since :class:`~pathlib.Path` drops a trailing
    slash) ends with a slash. ``scale`` names the default output (``NAME_x3``; a string such
    as ``w1920`` as is).

    Inputs that do not exist or are not regular files (FIFOs, devices, sockets) are refused
    at once, without being opened. A file given twice (``a.png a.png``, or ``in
    in/a.png``: the same file once resolved) is planned once, with a note; two files
    that would get one output name are refused with what to do. A file that is the planned
    output of another input of this run (``a.jpg`` beside ``a.png``, ``-o`` the input folder
    with ``--format jpeg``) is left out, not an input (``left_out_why`` says whose), so a
    rerun resumes cleanly. A picture named as a video (a TIFF named ``.webm``: its content
    says) gets its real format's suffix, with a note. Raises
    :class:`UsageError` for a command line that cannot mean anything: several inputs (or a
    folder) into a name with an image suffix, a folder without ``-o``, a video into a
    picture file.
    """
    found = gather(inputs, output, recursive)
    if not found.sources:
        return Plan([], found.refused, found.left_out, found.notes)
    folder = _names_folder(output, output_text)
    if (
        output is not None
        and not folder
        and not found.single
        and output.suffix.lower() in imageio.IMAGE_SUFFIXES
    ):
        raise UsageError(
            f"-o {output}: several inputs cannot go into one image file; "
            "give a folder (end it with /)"
        )
    if found.single and not folder:
        return _one_file(found, output, scale, fmt)
    return _into_folder(found, output, fmt)


def _one_file(found: Gathered, output: Path | None, scale: int | str, fmt: str | None) -> Plan:
    """The plan of one file into ``output``, a file (None: its default name)."""
    src, rel = found.sources[0]
    if output is None:
        dst, job_notes = default_name(src, scale)
    else:
        dst, job_notes = output, ()
    if is_video(src):
        if dst.suffix.lower() not in VIDEO_SUFFIXES:
            raise UsageError(
                f"{src} is a video: it goes into a video file "
                f"({', '.join(sorted(VIDEO_SUFFIXES))}), not {dst.name}; "
                "or use --frames-to DIR"
            )
        out_fmt = VIDEO
    else:
        out_fmt = fmt or imageio.format_for(dst)
    job = Job(src, dst, out_fmt, job_notes, rel.as_posix())
    return Plan([job], found.refused, found.left_out, found.notes, single=True)


def _into_folder(found: Gathered, output: Path | None, fmt: str | None) -> Plan:
    """The plan of the files ``found`` into the folder ``output``, mirroring their input
    folders."""
    if output is None:
        raise UsageError("several inputs or a folder: give an output folder with -o DIR/")
    if output.exists() and not output.is_dir():
        raise UsageError(f"-o {output}: exists and is not a folder; -o must be a folder here")
    root = output.resolve()
    refused, left_out = found.refused, found.left_out
    planned = [(src, rel, *folder_output(src, rel, output, fmt)) for src, rel in found.sources]
    # A file this run will write for another input (a.jpg beside a.png, -o the input folder
    # with --format jpeg) is that input's output, not an input: a rerun resumes cleanly.
    outputs = {resolved(dst): src for src, _, dst, _, _ in planned}
    left_out_why: dict[Path, str] = {}
    jobs: list[Job] = []
    seen: dict[Path, Path] = {}
    for src, rel, dst, out_fmt, job_notes in planned:
        maker = outputs.get(resolved(src))
        if maker is not None and maker != src:
            left_out.append(src)
            left_out_why[src] = f"an output of this run's {maker.name}"
            continue
        if not within(dst, root):
            why = f"{src}: output would leave {output}"
            refused.append(Result(str(src), None, Status.FAILED, why))
            continue
        if dst in seen:
            why = (
                f"{src}: same output name {dst} as {seen[dst]}; rename one, or upscale each "
                "into its own -o folder"
            )
            refused.append(Result(str(src), str(dst), Status.FAILED, why))
            continue
        seen[dst] = src
        jobs.append(Job(src, dst, out_fmt, job_notes, rel.as_posix()))
    return Plan(jobs, refused, left_out, found.notes, left_out_why)
