"""The ``srup`` group: the one place where errors become exit codes and one line on stderr,
SIGTERM handling, ``--debug``, and the table of commands, each imported when it is named
(as pip's ``commands_dict``), so that ``srup models`` does not pay for ``srup upscale``.

Exit codes, the same for every command (:mod:`srup.errors` defines them): 0 all done
(skipped existing outputs count as done), 1 fatal (the run could not go on: bad weights, a
missing data set, a device failure, stdout cannot be written, an unexpected internal
error), 2 usage error, 3 partial (a batch ran to its end but some inputs failed), 130
interrupted (Ctrl-C), 141 stdout was closed (``| head``), 143 terminated (SIGTERM).
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
import traceback
from typing import Any, ClassVar

import click

from srup import __version__
from srup.errors import (
    EXIT_FATAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TERMINATED,
    SrupError,
    StdoutClosedError,
    StdoutError,
)

__all__ = ["COMMANDS", "SrupGroup", "cli", "debugging", "main", "set_debug"]

# Each command's module; the module holds a Click command of the same name.
COMMANDS = {
    "benchmark": "srup.cli.benchmark",
    "export": "srup.cli.export",
    "models": "srup.cli.models",
    "train": "srup.cli.train",
    "upscale": "srup.cli.upscale",
}


class _Run:
    """Per invocation: whether tracebacks are shown (``--debug`` or ``SRUP_DEBUG``)."""

    debug = False
    signalled: ClassVar[set[int]] = set()  # the signals that came during this invocation


def debugging() -> bool:
    """``srup --debug`` was given, or ``SRUP_DEBUG`` is set to anything but 0 or empty."""
    return _Run.debug or os.environ.get("SRUP_DEBUG", "") not in ("", "0")


def set_debug(_ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """Callback of a command's own ``--debug`` (:data:`srup.cli.options.debug_option`)."""
    if value:
        _Run.debug = True


class Terminated(BaseException):
    """SIGTERM, raised like KeyboardInterrupt so that atomic writes clean up."""


def _on_signal(signum: int, _frame: object) -> None:
    # Honoured once: while atomic writes clean up and the one line is printed, a repeat
    # (a second Ctrl-C, a supervisor's second SIGTERM) must not interrupt them with a
    # traceback. SIGKILL still stops a process whose cleanup hangs.
    _Run.signalled.add(signum)
    signal.signal(signum, signal.SIG_IGN)
    raise Terminated if signum == signal.SIGTERM else KeyboardInterrupt


def _install_handlers() -> dict[int, Any]:
    """:func:`_on_signal` for SIGTERM, and for SIGINT where Python's own handler has it (a
    shell that started srup in the background ignores SIGINT: left so); the handlers
    replaced. None replaced outside the main thread."""
    _Run.signalled = set()
    previous: dict[int, Any] = {}
    try:
        for sig in (signal.SIGTERM, signal.SIGINT):
            old = signal.getsignal(sig)
            if sig == signal.SIGTERM or old is signal.default_int_handler:
                signal.signal(sig, _on_signal)
                previous[sig] = old
    except ValueError:  # not the main thread: leave signals alone
        pass
    return previous


def _restore_handlers(previous: dict[int, Any]) -> None:
    """Put back the handlers :func:`_install_handlers` replaced, except a default one whose
    signal came: the process is ending, and a repeat would otherwise kill it uncounted."""
    for sig, old in previous.items():
        if sig in _Run.signalled and old in (signal.SIG_DFL, signal.default_int_handler):
            continue
        signal.signal(sig, old)


def _error(message: str) -> None:
    from rich.console import Console
    from rich.markup import escape

    from srup.cli.display import one_line

    Console(stderr=True, highlight=False, soft_wrap=True).print(
        f"[bold red]error:[/] {escape(one_line(message))}"
    )


def _traceback() -> None:
    """The current exception's traceback on stderr, when debugging."""
    if debugging():
        traceback.print_exc(file=sys.stderr)


def _silence_stdout() -> None:
    """After stdout failed: point it at the null device, so that Python's own flush at exit
    does not fail again ("Exception ignored ... BrokenPipeError"), as the note on SIGPIPE in
    the docs of Python's signal module recommends."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a file (a test runner's stream)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


def _how_to_continue() -> str:
    """What to run next after an interruption, by the command that was interrupted."""
    words = sys.argv[1:]
    if "train" in words:
        return "finished outputs are whole; run the same command with --resume to continue"
    if "upscale" in words:
        return "finished outputs are whole; run the same command with --skip-existing to continue"
    return "nothing partial was written"


# Click 8.2 raises this for `srup` alone, to show the help; 8.1 shows it itself.
_NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())


class SrupGroup(click.Group):
    """The one place errors become exit codes: every SrupError, Click error, Ctrl-C, SIGTERM
    and unexpected exception becomes one line on stderr and its exit code. Commands are
    imported from :data:`COMMANDS` when named."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *super().list_commands(ctx)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMANDS.get(cmd_name)
        if module is None:
            return super().get_command(ctx, cmd_name)
        return getattr(importlib.import_module(module), cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError as e:  # a write to stdout that no guard named (click.echo)
            raise StdoutClosedError("stdout was closed; stopped") from e

    def main(self, args: Any = None, prog_name: str | None = None, **extra: Any) -> Any:
        extra.pop("standalone_mode", None)
        _Run.debug = False
        previous = _install_handlers()
        try:
            rv = super().main(args, prog_name or "srup", standalone_mode=False, **extra)
        except click.exceptions.Exit as e:
            sys.exit(e.exit_code)
        except _NO_ARGS_IS_HELP as e:  # `srup` alone: the help
            e.show()
            sys.exit(e.exit_code)
        except click.UsageError as e:  # one line, as every other error
            see = f" (see '{e.ctx.command_path} --help')" if e.ctx is not None else ""
            _error(f"{e.format_message().removesuffix('.')}{see}")
            sys.exit(e.exit_code)
        except click.ClickException as e:
            _error(e.format_message())
            sys.exit(e.exit_code)
        except (click.exceptions.Abort, KeyboardInterrupt):
            _error(f"interrupted; {_how_to_continue()}")
            sys.exit(EXIT_INTERRUPTED)
        except Terminated:
            _error(f"terminated; {_how_to_continue()}")
            sys.exit(EXIT_TERMINATED)
        except StdoutError as e:
            _traceback()
            _error(str(e))
            _silence_stdout()
            sys.exit(e.exit_code)
        except MemoryError as e:  # outside any file (a file's own is that file's error)
            # Before SrupError: a DeviceMemoryError is both, and reads "out of memory (...)".
            _traceback()
            _error(f"out of memory ({e})" if str(e) else "out of memory")
            sys.exit(EXIT_FATAL)
        except SrupError as e:
            _traceback()
            _error(str(e))
            sys.exit(e.exit_code)
        except Exception as e:
            _traceback()
            _error(
                f"internal error: {type(e).__name__}: {e} (run with --debug or SRUP_DEBUG=1 "
                "for the traceback, and please report it)"
            )
            sys.exit(EXIT_FATAL)
        finally:
            _restore_handlers(previous)
        sys.exit(rv if isinstance(rv, int) else EXIT_OK)


@click.group(
    "srup",  # the program's name wherever Click shows one, a test's runner included
    cls=SrupGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="Exit codes: 0 done, 1 fatal error, 2 usage error, 3 some inputs failed, "
    "130 interrupted, 141 stdout closed, 143 terminated.",
)
@click.version_option(__version__, prog_name="srup")
@click.option(
    "--debug",
    is_flag=True,
    help="Show the Python traceback of every error (as SRUP_DEBUG=1); for bug reports.",
)
def cli(debug: bool) -> None:
    """Image super-resolution with small convolutional networks."""
    _Run.debug = debug


def main() -> None:
    cli()
