"""Put a script's Markdown between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->`` in the
page that holds those markers (README.md or a page of docs/), so the documented numbers are
always the scripts' own output."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def pages(root: Path = ROOT) -> list[Path]:
    """Every page a table may live on: the README, then docs/*.md."""
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def _pattern(name: str) -> str:
    return rf"(<!-- {re.escape(name)}:start -->\n).*?(<!-- {re.escape(name)}:end -->)"


def find(name: str, root: Path = ROOT) -> Path:
    """The one page under ``root`` that holds ``name``'s markers."""
    found = [
        page
        for page in pages(root)
        if page.exists() and re.search(_pattern(name), page.read_text(), flags=re.S)
    ]
    if not found:
        raise SystemExit(f"no <!-- {name}:start/end --> markers in README.md or docs/*.md")
    if len(found) > 1:
        names = ", ".join(str(page.relative_to(root)) for page in found)
        raise SystemExit(f"<!-- {name}:start/end --> markers in more than one page: {names}")
    return found[0]


def update(name: str, markdown: str, readme: Path | None = None, root: Path = ROOT) -> Path:
    """Replace what is between ``name``'s markers with ``markdown``, in ``readme`` when given,
    else in the page under ``root`` that holds them (:func:`find`); returns the page written."""
    page = find(name, root) if readme is None else readme
    text = page.read_text()
    pattern = _pattern(name)
    if not re.search(pattern, text, flags=re.S):
        raise SystemExit(f"{page}: no <!-- {name}:start/end --> markers")
    page.write_text(
        re.sub(
            pattern, lambda m: m.group(1) + markdown.strip() + "\n" + m.group(2), text, flags=re.S
        )
    )
    return page


def publish(name: str, lines: list[str], markdown: Path | None, update_readme: bool) -> None:
    """The end of every benchmark script: the table to a file and/or into its page."""
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
    parser.add_argument(
        "--update-readme",
        action="store_true",
        help="Put the table between its markers (in README.md or a page of docs/).",
    )
    parser.add_argument("--markdown", type=Path, help="Also write the table to this file.")
    return parser
