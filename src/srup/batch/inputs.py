"""What the inputs of ``srup upscale`` hold: which are files, folders or refused (without
opening them), what a folder scan finds and passes over, and each file once however often
it is given."""

from __future__ import annotations

import stat
from dataclasses import dataclass, field
from pathlib import Path

from srup.batch.result import Result, Status
from srup.media import pictures as imageio

__all__ = ["Gathered", "gather", "left_out_reason", "resolved", "within"]


def left_out_reason(path: Path) -> str:
    """Why a folder scan left ``path`` out, in a few words."""
    if path.is_dir():
        return "a folder: use --recursive to include it"
    why = imageio.not_regular(path)  # a FIFO, a device, a broken link: never opened
    if why is not None:
        return why
    if path.name.startswith("."):
        return "a hidden file (its name starts with a dot)"
    return "not an image or video by its suffix"


def resolved(path: Path) -> Path:
    """``path`` with its links and ``..`` resolved: one key for one file however named."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a symlink loop
        return path.absolute()


def within(path: Path, root: Path) -> bool:
    """``path``, resolved, lies under ``root`` (resolved already)."""
    try:
        return path.resolve().is_relative_to(root)
    except (OSError, RuntimeError):  # a symlink loop: not ours to follow
        return False


def _subfolders(folder: Path, out_root: Path | None) -> list[Path]:
    """The folders in ``folder`` (not the output folder): what a scan without
    ``recursive`` passes over."""
    try:
        found = sorted(p for p in folder.iterdir() if p.is_dir())
    except OSError:
        return []
    return [p for p in found if out_root is None or resolved(p) != out_root]


_NOT_REGULAR = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _kind(item: Path) -> tuple[str, str | None]:
    """``("dir" | "file" | "refused", why)`` for one input path, from one ``stat``: never
    opens it (a FIFO would block, ``/dev/zero`` never end)."""
    try:
        mode = item.stat().st_mode
    except FileNotFoundError:
        if item.is_symlink():
            return "refused", f"{item}: a broken symbolic link (its target does not exist)"
        return "refused", f"{item}: no such file or folder"
    except OSError as e:
        return "refused", f"{item}: cannot read ({e.strerror or e})"
    if stat.S_ISDIR(mode):
        return "dir", None
    if stat.S_ISREG(mode):
        return "file", None
    what = next((name for test, name in _NOT_REGULAR if test(mode)), "not a regular file")
    return "refused", f"{item}: {what}, not a file; srup reads only regular files"


@dataclass
class Gathered:
    """The files to upscale, each once, with the path the output folder mirrors
    (``sources``); the inputs refused before any work; what folder scans left out; notes on
    the inputs (a file given twice, the output folder inside an input folder)."""

    sources: list[tuple[Path, Path]] = field(default_factory=list)  # (file, path under -o)
    refused: list[Result] = field(default_factory=list)
    left_out: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    inputs: int = 0  # the inputs given, each file or folder once
    folders: int = 0  # of which folders

    @property
    def single(self) -> bool:
        """The command's inputs are one file (not a folder)."""
        return self.inputs == 1 and self.folders == 0


@dataclass
class _Gathering:
    """:func:`gather` input by input: ``given`` maps each input, resolved, to its index;
    ``taken`` each file planned, resolved, to the input it came from."""

    inputs: list[Path]
    output: Path | None
    recursive: bool
    found: Gathered = field(default_factory=Gathered)
    given: dict[Path, int] = field(default_factory=dict)
    taken: dict[Path, int] = field(default_factory=dict)
    out_root: Path | None = field(init=False)  # the output folder, resolved

    def __post_init__(self) -> None:
        self.out_root = self.output.resolve() if self.output is not None else None

    def add(self, i: int, item: Path) -> None:
        first = self.given.setdefault(resolved(item), i)
        if first != i:
            earlier = self.inputs[first]
            also = "" if str(earlier) == str(item) else f" (also as {earlier})"
            self.found.notes.append(f"{item}: given twice{also}; upscaled once")
            return
        kind, why = _kind(item)
        if kind == "refused":
            self.found.refused.append(Result(str(item), None, Status.FAILED, why))
        elif kind == "dir":
            self.folder(i, item)
        elif (first := self.taken.setdefault(resolved(item), i)) == i:
            self.found.sources.append((item, Path(item.name)))
        else:
            self.found.notes.append(
                f"{item}: given twice (also in {self.inputs[first]}); upscaled once"
            )

    def folder(self, i: int, item: Path) -> None:
        found = self.found
        found.folders += 1
        files, others = imageio.scan(item, recursive=self.recursive)
        subfolders = [] if self.recursive else _subfolders(item, self.out_root)
        files, others = self.outside_output(item, files, others + subfolders)
        found.left_out += others
        if not files:
            # The hint only where subfolders were left out: it would send a folder of
            # files srup does not read to look for subfolders that are not there.
            what = "image files (use --recursive for subfolders)" if subfolders else "image files"
            found.refused.append(Result(str(item), None, Status.FAILED, f"{item}: no {what}"))
        new = [f for f in files if self.taken.setdefault(resolved(f), i) == i]
        if len(new) < len(files):
            n = len(files) - len(new)
            found.notes.append(f"{item}: {n} of its files given already; each upscaled once")
        found.sources += [(f, f.relative_to(item)) for f in new]

    def outside_output(
        self, item: Path, files: list[Path], others: list[Path]
    ) -> tuple[list[Path], list[Path]]:
        """``files`` and ``others`` of folder ``item`` less those in the output folder,
        when a recursive scan of ``item`` reaches it (a second run does not upscale the
        first one's outputs)."""
        out_root = self.out_root
        if out_root is None or not self.recursive or not out_root.is_relative_to(item.resolve()):
            return files, others
        ours = [f for f in files + others if within(f, out_root)]
        if ours:
            self.found.notes.append(
                f"{self.output}: the output folder is inside {item}; the {len(ours)} "
                "file(s) in it are left out of the scan"
            )
            files = [f for f in files if f not in ours]
            others = [f for f in others if f not in ours]
        return files, others


def gather(inputs: list[Path], output: Path | None, recursive: bool) -> Gathered:
    """The files of ``inputs`` (files, and folders scanned: with their subfolders when
    ``recursive``), each once. Inputs that do not exist or are not regular files (FIFOs,
    devices, sockets) are refused without being opened; files under ``output`` are left
    out of the scan of an input folder that holds it."""
    gathering = _Gathering(inputs, output, recursive)
    for i, item in enumerate(inputs):
        gathering.add(i, item)
    gathering.found.inputs = len(gathering.given)
    return gathering.found
