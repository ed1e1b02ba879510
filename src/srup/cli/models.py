"""``srup models``: the models, their shipped scales, cost and recorded quality (a table, or
``--json``); torch is never imported. ``srup models --inspect FILE``: what a weights file
is (srup's or another project's), how srup runs it and with which tiling guarantee."""

from __future__ import annotations

import json
from pathlib import Path

import click

from srup.cli.options import debug_option

__all__ = ["models"]


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option(
    "--inspect",
    "inspect",
    type=click.Path(path_type=Path),
    help="Describe a weights file (.safetensors, .pth, .ckpt) instead: architecture, scale, "
    "parameters, precisions, size requirements, tiling guarantee.",
)
@debug_option
def models(as_json: bool, inspect: Path | None) -> None:
    """List the models, their shipped scales, cost and recorded quality."""
    from srup.cli.display import stdout_guard

    if inspect is not None:
        from srup.cli.display import one_line
        from srup.models.inspect import inspect_weights

        facts = inspect_weights(inspect)
        with stdout_guard():
            if as_json:
                click.echo(json.dumps(facts, indent=2))
            else:
                width = max(map(len, facts))
                for key, value in facts.items():
                    if isinstance(value, dict):  # precisions left out: each with its reason
                        shown = "; ".join(f"{k}: {v}" for k, v in value.items())
                    else:
                        shown = ", ".join(value) if isinstance(value, list) else str(value)
                    # A file's own text (its license, author): one line, no escape codes.
                    click.echo(f"{key.replace('_', ' '):<{width}}  {one_line(shown)}")
        return
    from srup.models.catalog import catalog

    rows = catalog()
    with stdout_guard():
        if as_json:
            click.echo(json.dumps(rows, indent=2))
            return
        from srup.cli.display import models_table

        models_table(rows)
