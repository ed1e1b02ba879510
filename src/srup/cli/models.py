"""``srup models``: the models, their shipped scales, cost and recorded quality (a table, or
``--json``); torch is never imported."""

from __future__ import annotations

import json

import click

from srup.cli.options import debug_option

__all__ = ["models"]


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@debug_option
def models(as_json: bool) -> None:
    """List the models, their shipped scales, cost and recorded quality."""
    from srup.cli.display import stdout_guard
    from srup.models.catalog import catalog

    rows = catalog()
    with stdout_guard():
        if as_json:
            click.echo(json.dumps(rows, indent=2))
            return
        from srup.cli.display import models_table

        models_table(rows)
