"""Everything the CLI shows: Rich tables on stdout, progress and summaries on stderr.

Progress bars appear only when stderr is a terminal and ``-q`` is not given.
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from srup.choices import VIDEO_SUFFIXES
from srup.errors import StdoutClosedError, StdoutError

if TYPE_CHECKING:
    from srup.batch import Result
    from srup.training.loop import TrainProgress


class _StdoutConsole(Console):
    """Rich's console, except that a closed stdout raises instead of exiting 1 in silence
    (Rich's default): :func:`stdout_guard` or the CLI says what happened."""

    def on_broken_pipe(self) -> None:
        self.quiet = True  # nothing more goes to a closed pipe
        raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))


stdout = _StdoutConsole(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def _live(quiet: bool) -> bool:
    return not quiet and stderr.is_terminal


def safe_text(text: str) -> str:
    """``text`` as valid Unicode that UTF-8 can always encode: a file name's bytes that are
    not UTF-8 (which Python keeps as lone surrogates, "surrogateescape") are written as
    ``\\xNN`` escapes, so ``caf\\xe9.png`` stays recognisable and every line parses."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # surrogates no file name decoding makes: keep them visible
        raw = text.encode("utf-8", "surrogatepass")
    return raw.decode("utf-8", "backslashreplace")


def _safe(value: Any) -> Any:
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, dict):
        return {safe_text(str(k)): _safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN: SSIM is not defined below its 11×11 window
    return value


def _ssim_text(value: float | None) -> str:
    """SSIM for a table: "n/a" where it is not defined (an image under 11×11 after shaving)."""
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.4f}"


@contextmanager
def stdout_guard(after: str = "; stopped") -> Iterator[None]:
    """Writes to stdout inside: a closed pipe (``| head -1``) becomes
    :class:`~srup.errors.StdoutClosedError` ("stdout was closed"), any other failure
    (``> /dev/full``) :class:`~srup.errors.StdoutError` ("cannot write to stdout (No space
    left on device)"); ``after`` ends the message (how far a batch got)."""
    try:
        yield
    except BrokenPipeError as e:
        raise StdoutClosedError(f"stdout was closed{after}") from e
    except OSError as e:
        raise StdoutError(f"cannot write to stdout ({e.strerror or e}){after}") from e


def check_stdout() -> None:
    """:class:`~srup.errors.StdoutClosedError` when there is no stdout at all (``srup ...
    >&-`` starts Python with ``sys.stdout`` None): said before any work, not after it."""
    if sys.stdout is None:
        raise StdoutClosedError("stdout was closed; stopped before any file")


def write_json_line(obj: dict[str, Any]) -> None:
    """One JSON object on one line of stdout, as UTF-8 bytes: valid whatever the file names
    and whatever encoding or error handler stdout was given (``PYTHONIOENCODING``)."""
    line = (json.dumps(_safe(obj), ensure_ascii=False) + "\n").encode("utf-8")
    out = sys.stdout
    if out is None:  # closed before the start (`>&-`)
        raise BrokenPipeError(errno.EPIPE, "stdout is closed")
    out.flush()  # what went through the text layer comes first
    buffer = getattr(out, "buffer", None)
    if buffer is None:  # a text-only stream (io.StringIO in a caller's test)
        out.write(line.decode("utf-8"))
    else:
        buffer.write(line)
        buffer.flush()


# Control characters left after whitespace is collapsed (C0, DEL, C1: ESC starts a
# terminal's escape sequences): shown as \xNN, never sent to the terminal.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def one_line(text: str) -> str:
    """``text`` as one line of a terminal's text: :func:`safe_text`, every run of
    whitespace (newlines, tabs, carriage returns, Unicode line separators) one space, and
    any other control character (ESC, BEL, NUL) as a visible ``\\xNN`` escape. What every
    error and note line says, file names included."""
    flat = " ".join(safe_text(text).split())
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", flat)


_one_line = one_line


class BatchDisplay:
    """Progress over files (and tiles of large files), results, and the final summary.

    ``as_json``: one JSON object per input on stdout (status done, skipped, failed or
    left_out), nothing else there; ``debug``: the traceback of each failed file's
    exception on stderr, after its one-line error."""

    def __init__(self, quiet: bool = False, as_json: bool = False, debug: bool = False) -> None:
        self.quiet, self.as_json, self.debug = quiet, as_json, debug
        self.counts = {"done": 0, "partial": 0, "skipped": 0, "failed": 0, "left_out": 0}
        self.megapixels = 0.0
        self.started = time.perf_counter()
        self.progress: Progress | None = None
        self.files_task = None
        self.context: dict[str, Any] = {}  # what ran: scale, device, precision
        self.models: dict[str, int] = {}  # files done by each model (auto picks per file)
        self.shard: str | None = None  # "shard K/N: X of Y files", the summary's start

    @property
    def failed(self) -> int:
        return self.counts["failed"]

    @property
    def partial(self) -> int:
        """Files written from less than the input holds (a truncated video): the run's exit
        code is then EXIT_PARTIAL, as for a failed file."""
        return self.counts["partial"]

    @property
    def _console(self) -> Console:
        return self.progress.console if self.progress else stderr

    @contextmanager
    def _stdout(self) -> Iterator[None]:
        """A write to stdout: when it fails, the progress display stops and the error says
        how far the batch got (:func:`stdout_guard`)."""
        n = sum(self.counts[k] for k in ("done", "partial", "skipped", "failed"))
        after = f"; stopped after {n} file{'' if n == 1 else 's'}; finished outputs are whole"
        try:
            with stdout_guard(after):
                yield
        except StdoutError:
            if self.progress is not None:
                self.progress.stop()
            raise

    def start(self, total: int, what: str) -> None:
        if not self.quiet:
            stderr.print(f"[dim]{escape(safe_text(what))}[/]")
        if _live(self.quiet):
            self.progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=stderr,
                transient=True,
            )
            self.progress.start()
            self.files_task = self.progress.add_task("files", total=total)

    def note(self, text: str) -> None:
        """A note on the whole run (not one file's), on stderr unless quiet."""
        if not self.quiet:
            self._console.print(f"[yellow]note:[/] {escape(_one_line(text))}")

    @contextmanager
    def file(self, path: Path) -> Iterator[Callable[[int, int], None] | None]:
        if self.progress is None:
            yield None
            return
        task = self.progress.add_task(escape(_one_line(path.name)), total=None, visible=False)
        video = path.suffix.lower() in VIDEO_SUFFIXES
        started = time.perf_counter()

        def tiles(done: int, total: int) -> None:
            # Tiles of a large picture, or frames of a video (total 0: count unknown).
            if not video:  # only worth a bar when a picture has several tiles
                self.progress.update(task, completed=done, total=total, visible=total > 1)
                return
            fps = done / max(time.perf_counter() - started, 1e-9)
            name = f"{escape(_one_line(path.name))} {fps:.1f} fps"
            self.progress.update(
                task, completed=done, total=total or None, visible=True, description=name
            )

        try:
            yield tiles
        finally:
            self.progress.remove_task(task)
            self.progress.advance(self.files_task)

    def check_stdout(self) -> None:
        """With ``--json`` (results on stdout): stop before any work if stdout is closed."""
        if self.as_json:
            check_stdout()

    def left_out(self, path: Path, reason: str | None = None) -> None:
        """A file or subfolder a folder scan passed over: named in text (a note) and in
        ``--json``, with why (``reason``, else :func:`srup.batch.left_out_reason`)."""
        from srup.batch import Result, left_out_reason

        why = f"left out: {reason or left_out_reason(path)}"
        self.result(Result(str(path), None, "left_out", notes=(why,)))

    def result(self, res: Result) -> None:
        self.counts[res.status] += 1
        if res.status == "done" and res.model:
            self.models[res.model] = self.models.get(res.model, 0) + 1
        self.megapixels += res.megapixels
        if self.as_json:
            obj = {
                "input": res.input,
                "output": res.output,
                "status": res.status,
                "model": res.model,
                "denoise": res.denoise,
                # What was asked, beside what ran, only where they differ.
                **({} if res.denoise_asked is None else {"denoise_asked": res.denoise_asked}),
                "estimate": res.estimate,
                **self.context,
                "size": list(res.size) if res.size else None,
                "output_size": list(res.out_size) if res.out_size else None,
                "seconds": round(res.seconds, 4),
                "error": res.error,
                "notes": list(res.notes),
            }
            if res.frames is not None:
                obj |= {"frames": res.frames, "fps": res.fps}
            if res.scores is not None:
                obj["scores"] = res.scores
            with self._stdout():
                write_json_line(obj)
        con = self._console
        if res.status == "failed":
            con.print(f"[bold red]error:[/] {escape(_one_line(res.error or 'failed'))}")
            if self.debug and res.exception is not None:
                self._traceback(res.exception)
        elif res.status == "partial" and self.quiet:  # what is missing, even with -q
            what = "; ".join(_one_line(n) for n in res.notes) or "partial"
            con.print(f"[yellow]partial:[/] {escape(_one_line(res.input))}: {escape(what)}")
        elif not self.quiet:
            name = escape(_one_line(res.input))  # a name with a newline: still one line
            for note in res.notes:
                con.print(f"[yellow]note:[/] {name}: {escape(_one_line(note))}")
        if res.scores is not None and not self.as_json:
            self.scores(res.scores)

    def _traceback(self, e: BaseException) -> None:
        import traceback

        text = "".join(traceback.format_exception(type(e), e, e.__traceback__))
        self._console.print(escape(safe_text(text)), end="")

    def scores(self, scores: dict[str, Any]) -> None:
        """The table of one output's scores against its reference (text mode only: with
        ``--json`` they are in the file's record)."""
        table = Table(title=f"Against {safe_text(scores['reference'])} (Y channel, shave = scale)")
        for col in ("method", "PSNR (dB)", "SSIM", "MSE"):
            table.add_column(col, justify="right" if col != "method" else "left")
        for method in ("bicubic", "srup"):
            r = scores[method]
            table.add_row(method, f"{r['psnr']:.2f}", _ssim_text(r["ssim"]), f"{r['mse']:.2f}")
        with self._stdout():
            (self.progress.console if self.progress else stdout).print(table)

    def summary(self) -> None:
        if self.progress is not None:
            self.progress.stop()
        if self.quiet:
            return
        seconds = time.perf_counter() - self.started
        c = self.counts
        rate = self.megapixels / seconds if seconds > 0 else 0.0
        colour = "red" if c["failed"] else "yellow" if c["partial"] else "green"
        left = f", {c['left_out']} left out" if c["left_out"] else ""
        by = ", ".join(f"{n} {m}" for m, n in sorted(self.models.items()))
        by = f" (by {by})" if by else ""
        shard = f"{escape(self.shard)}; " if self.shard else ""
        stderr.print(
            f"{shard}[{colour}]{c['done']} done{escape(by)}, "
            + (f"{c['partial']} partial, " if c["partial"] else "")
            + f"{c['skipped']} skipped, "
            f"{c['failed']} failed[/]{escape(left)} in {seconds:.1f} s "
            f"({self.megapixels:.1f} MP out, {rate:.2f} MP/s)"
        )


class TrainDisplay:
    """A progress bar with loss, validation PSNR and ETA; plain log lines when piped."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.progress: Progress | None = None
        self.task = None

    def __enter__(self) -> TrainDisplay:
        if _live(self.quiet):
            self.progress = Progress(
                TextColumn("training"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[info]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=stderr,
            )
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def update(self, info: TrainProgress) -> None:
        val = info.val_psnr
        text = f"loss {info.loss:.4f}"
        if val is not None:
            text += f"  val {val:.3f} dB (best {info.best_psnr:.3f})"
        if self.progress is not None:
            if self.task is None:
                self.task = self.progress.add_task("train", total=info.total, info="")
            self.progress.update(self.task, completed=info.step, info=text)
        elif not self.quiet:
            print(
                f"step {info.step}/{info.total}  {text}  {info.seconds:.0f} s",
                file=sys.stderr,
                flush=True,
            )


_AUTO_FOR = (("lossless", "default_for"), ("lossy", "default_for_lossy"))


def models_table(rows: list[dict[str, Any]]) -> None:
    table = Table(title="srup models (one row per shipped weights file)")
    cols = ("model", "scale", "trained for", "params", "MACs/px", "Set5 dB", "int8")
    for col in (*cols, "auto for"):
        justify = "left" if col in ("model", "trained for", "auto for") else "right"
        table.add_column(col, justify=justify, no_wrap=col == "model")
    for r in rows:
        for s in r["scales"]:
            psnr = r["set5_psnr"].get(str(s))
            auto = [what for what, key in _AUTO_FOR if s in r.get(key, [])]
            table.add_row(
                r["name"],
                f"×{s}",
                r.get("trained_for", "clean")
                + ("" if r.get("input_space", "Y") == "Y" else f", {r['input_space']} in"),
                f"{r['parameters'][str(s)]:,}",
                f"{r['macs_per_pixel'][str(s)]:,.0f}",
                f"{psnr:.2f}" if psnr else "-",
                "yes" if s in r.get("int8_scales", []) else "",
                ", ".join(auto),
            )
    stdout.print(table)
    stdout.print(
        "[dim]clean: trained on MATLAB-bicubic LR (the papers' protocol); real: on LR "
        "blurred, noisy and JPEG-compressed like a phone photo; capture: on handheld "
        "captures of boards (motion blur, defocus, chroma noise, JPEG 40-90), fine-tuned "
        "from real; RGB in: the network reads "
        "and writes R, G, B (the others read Y and leave colour to bicubic). auto takes the "
        "lossless row's model for lossless files; for JPEG and lossy WebP it walks the lossy "
        "row's architecture from clean (--denoise 0) to real (0.5) to capture (1), "
        "interpolating their weights, by each file's estimated quality, noise, blur and "
        "how document-like it is. int8: runs in --precision int8 (CPU only; calibrated "
        "in weights/int8.json).[/]"
    )


def benchmark_tables(result: Any, per_image: bool = False) -> None:
    deg = result.meta.get("degradation", "clean")
    lr = "" if deg == "clean" else f", LR degraded: {deg}"
    for (dataset, scale), rows in result.grouped().items():
        table = Table(title=f"{dataset} ×{scale} (Y channel, shave {scale}{lr})")
        for col in ("model", "PSNR", "SSIM", "Δ PSNR vs bicubic", "seconds", "MP/s"):
            table.add_column(col, justify="left" if col == "model" else "right")
        for r in rows:
            table.add_row(
                r["model"],
                f"{r['psnr']:.2f}",
                _ssim_text(r["ssim"]),
                f"{r['delta_psnr']:+.2f}",
                f"{r['seconds']:.2f}",
                f"{r['mp_per_s']:.2f}",
            )
        stdout.print(table)
    if per_image:
        table = Table(title="per image")
        for col in ("dataset", "scale", "model", "image", "PSNR", "SSIM"):
            table.add_column(col)
        for r in result.per_image:
            table.add_row(
                r["dataset"],
                str(r["scale"]),
                r["model"],
                r["image"],
                f"{r['psnr']:.2f}",
                _ssim_text(r["ssim"]),
            )
        stdout.print(table)


def stderr_note(text: str) -> None:
    """A ``note:`` line on stderr (what a result leaves out or had to change)."""
    stderr.print(f"[yellow]note:[/] {escape(_one_line(text))}")
