"""The ``srup`` command line: parse, call the API, render. No arithmetic lives here.

:mod:`~srup.cli.group` is the group (the one boundary where errors become exit codes),
:mod:`~srup.cli.options` the options several commands share, one module per command
(:mod:`~srup.cli.upscale`, :mod:`~srup.cli.benchmark`, :mod:`~srup.cli.train`,
:mod:`~srup.cli.models`, :mod:`~srup.cli.export`), imported when named, and
:mod:`~srup.cli.display` what the user sees.

Exit codes, the same for every command (:mod:`srup.errors` defines them): 0 all done
(skipped existing outputs count as done), 1 fatal (the run could not go on: bad weights, a
missing data set, a device failure, stdout cannot be written, an unexpected internal
error), 2 usage error, 3 partial (a batch ran to its end but some inputs failed), 130
interrupted (Ctrl-C), 141 stdout was closed (``| head``), 143 terminated (SIGTERM).

Every error is one line on stderr, Click's usage errors too (``error: MESSAGE (see 'srup
upscale --help')``); an unexpected exception outside any file is one line ``internal
error: ...`` and exit 1. Tracebacks only with ``--debug`` (``srup --debug`` or ``srup
upscale --debug``) or ``SRUP_DEBUG=1``.
"""

from __future__ import annotations

from srup.cli.group import cli, main
from srup.errors import EXIT_INTERRUPTED, EXIT_TERMINATED

__all__ = ["EXIT_INTERRUPTED", "EXIT_TERMINATED", "cli", "main"]
