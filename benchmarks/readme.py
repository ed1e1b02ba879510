"""Put a script's Markdown between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->`` in the
README, so the documented numbers are always the scripts' own output."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def update(name: str, markdown: str, readme: Path = README) -> None:
    text = readme.read_text()
    pattern = rf"(<!-- {name}:start -->\n).*?(<!-- {name}:end -->)"
    if not re.search(pattern, text, flags=re.S):
        raise SystemExit(f"{readme}: no <!-- {name}:start/end --> markers")
    readme.write_text(
        re.sub(
            pattern, lambda m: m.group(1) + markdown.strip() + "\n" + m.group(2), text, flags=re.S
        )
    )


def publish(name: str, lines: list[str], markdown: Path | None, update_readme: bool) -> None:
    """The end of every benchmark script: the table to a file and/or into the README."""
    text = "\n".join(lines) + "\n"
    if markdown:
        markdown.write_text(text)
    if update_readme:
        update(name, text)


def arguments(doc: str | None) -> argparse.ArgumentParser:
    """A table script's parser, with the two options they all share."""
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--update-readme", action="store_true", help="Put the table in README.md.")
    parser.add_argument("--markdown", type=Path, help="Also write the table to this file.")
    return parser
