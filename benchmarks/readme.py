"""Put a script's Markdown between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->`` in the
README, so the documented numbers are always the scripts' own output."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def update(name: str, markdown: str, readme: Path = README) -> None:
    text = readme.read_text()
    pattern = rf"(<!-- {name}:start -->\n).*?(\n<!-- {name}:end -->)"
    if not re.search(pattern, text, flags=re.S):
        raise SystemExit(f"{readme}: no <!-- {name}:start/end --> markers")
    readme.write_text(
        re.sub(pattern, lambda m: m.group(1) + markdown.strip() + m.group(2), text, flags=re.S)
    )
