"""The README and docs/ hold together: every relative link names a file that exists and
every #anchor a heading of its page (as GitHub makes them), every page of docs/ is linked
from the README, and every table a script writes has one pair of markers, on one page,
where ``benchmarks/readme.py`` finds it, and every file and module they name exists."""

from __future__ import annotations

import importlib
import importlib.util
import re
from pathlib import Path

import pytest

REPO = next(p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").exists())
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
MARKER = re.compile(r"<!-- (\w+):(start|end) -->")
# `tests/test_tf32.py`, `benchmarks/results/gpu.md`; `srup.media.png`, `srup.describe(...)`
FILE = re.compile(r"`((?:src|tests|benchmarks|weights|examples|docs|\.ci)/[\w./-]*\w)`")
NAME = re.compile(r"`(srup(?:\.\w+)+)|^from (srup(?:\.\w+)*) import (\w+)", re.M)


def without_code_blocks(text: str) -> str:
    """The text outside fenced code blocks, whose lines may start with # or hold brackets."""
    return re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)


def links(page: Path) -> list[str]:
    """The relative link targets of a page's prose (inline code and URLs left out)."""
    prose = re.sub(r"`[^`\n]*`", "", without_code_blocks(page.read_text()))
    return [t for t in LINK.findall(prose) if not re.match(r"[a-z]+:", t)]


def anchors(page: Path) -> set[str]:
    """The anchors GitHub gives a page's headings (a repeated one gets -1, -2, ...)."""
    seen: dict[str, int] = {}
    found = set()
    for heading in re.findall(r"^#{1,6} +(.+?) *#*$", without_code_blocks(page.read_text()), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(f"{slug}-{count}" if count else slug)
    return found


def readme_module():
    """``benchmarks/readme.py``, which the table scripts import as ``readme``."""
    spec = importlib.util.spec_from_file_location("readme", REPO / "benchmarks" / "readme.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_relative_link_resolves(page: Path) -> None:
    broken = []
    for target in links(page):
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{target}: no heading for #{anchor} in {dest.name}")
    assert not broken, "\n".join(broken)


def test_every_page_of_docs_is_linked_from_the_readme() -> None:
    linked = {(REPO / t.partition("#")[0]).resolve() for t in links(REPO / "README.md")}
    assert set(PAGES[1:]) <= linked, set(PAGES[1:]) - linked


def test_every_table_has_one_pair_of_markers_on_one_page() -> None:
    readme = readme_module()
    where: dict[str, list[tuple[Path, str]]] = {}
    for page in PAGES:
        for name, end in MARKER.findall(re.sub(r"`[^`\n]*`", "", page.read_text())):
            where.setdefault(name, []).append((page, end))
    assert where
    for name, places in where.items():
        assert [end for _, end in places] == ["start", "end"], (name, places)
        assert places[0][0] == places[1][0] == readme.find(name), name


def test_a_table_is_written_on_the_page_that_holds_its_markers(tmp_path: Path) -> None:
    readme = readme_module()
    (tmp_path / "docs").mkdir()
    (tmp_path / "README.md").write_text("# x\n<!-- a:start -->\nold\n<!-- a:end -->\n")
    page = tmp_path / "docs" / "speed.md"
    page.write_text("# y\n<!-- b:start -->\nold\n<!-- b:end -->\ntail\n")
    assert readme.update("b", "| new |\n", root=tmp_path) == page
    assert page.read_text() == "# y\n<!-- b:start -->\n| new |\n<!-- b:end -->\ntail\n"
    assert "old" in (tmp_path / "README.md").read_text()
    with pytest.raises(SystemExit, match="no <!-- c:start/end --> markers"):
        readme.update("c", "x", root=tmp_path)


def test_every_file_the_pages_name_exists() -> None:
    missing = [
        f"{page.name}: {name}"
        for page in PAGES
        for name in FILE.findall(page.read_text())
        if not (REPO / name).exists()
    ]
    assert not missing, "\n".join(missing)


def resolves(dotted: str) -> bool:
    """Whether ``srup.a.b.c`` names a module, or an attribute of the longest module in it."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError:
            continue
        for part in parts[i:]:
            if not hasattr(obj, part):
                return False
            obj = getattr(obj, part)
        return True
    return False


def test_every_module_and_name_the_pages_give_exists() -> None:
    names = {
        inline or f"{module}.{name}"
        for page in PAGES
        for inline, module, name in NAME.findall(page.read_text())
    }
    assert names
    assert not [name for name in sorted(names) if not resolves(name)]
