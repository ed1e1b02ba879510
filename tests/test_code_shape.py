"""The shape of the code, as a contract the suite keeps (issue 26): the layers of
docs/architecture.md hold (import-linter, configured in pyproject.toml), no function grows
past ~60 lines or ~8 parameters without a stated reason, the light packages stay light,
and the top level of ``src/srup`` holds only cross-cutting modules."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from tests.conftest import REPO

SRC = REPO / "src" / "srup"
MAX_LINES = 60
MAX_PARAMS = 8
# A function may be longer or take more parameters when the line above its ``def`` (or its
# first decorator) says why: ``# shape: <reason>``.
REASON = "# shape:"
# The modules that may sit at the top of src/srup: the public API, the entry point and the
# cross-cutting vocabularies every layer uses (docs/architecture.md, "Where things are").
TOP_LEVEL = {
    "__init__",
    "__main__",
    "_moved",
    "errors",
    "choices",
    "concurrency",
    "units",
    "notes",
    "arguments",
    "files",
    "devices",
}


def _functions():
    for path in sorted(SRC.rglob("*.py")):
        lines = path.read_text().splitlines()
        for node in ast.walk(ast.parse("\n".join(lines))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                first = min([d.lineno for d in node.decorator_list] + [node.lineno])
                reason = first >= 2 and lines[first - 2].strip().startswith(REASON)
                yield path.relative_to(SRC), node, reason


def _body_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines of the body after the docstring."""
    body = node.body
    doc = isinstance(body[0], ast.Expr) and isinstance(
        getattr(body[0], "value", None), ast.Constant
    )
    start = body[0].end_lineno + 1 if doc and len(body) > 1 else body[0].lineno
    return node.end_lineno - start + 1


def _params(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    a = node.args
    names = [p.arg for p in a.posonlyargs + a.args + a.kwonlyargs]
    return len(names) - (1 if names and names[0] in ("self", "cls") else 0)


def test_no_function_is_long_or_takes_many_parameters_without_a_stated_reason():
    over = [
        f"{path}:{node.lineno} {node.name}: {_body_lines(node)} lines, {_params(node)} parameters"
        for path, node, reason in _functions()
        if not reason and (_body_lines(node) > MAX_LINES or _params(node) > MAX_PARAMS)
    ]
    assert not over, "split these or say why above the def (# shape: …):\n" + "\n".join(over)


def test_the_top_level_holds_only_cross_cutting_modules():
    top = {p.stem for p in SRC.glob("*.py")}
    assert top <= TOP_LEVEL, f"move into the package of their concern: {sorted(top - TOP_LEVEL)}"


def test_the_layer_contract_holds():
    """Lower layers never import upper ones (pyproject.toml, [tool.importlinter])."""
    pytest.importorskip("importlinter", reason="import-linter is in the test extra")
    done = subprocess.run(
        [sys.executable, "-c", "from importlinter.cli import lint_imports_command as c; c()"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]


@pytest.mark.parametrize("package", ["srup.media", "srup.imaging", "srup.data", "srup.cli"])
def test_light_packages_do_not_import_torch_at_module_level(package):
    """``srup --help``, reading pictures and pixel maths must not pay torch's import; torch
    is imported inside the functions that need it (imaging.resize_torch is torch's own)."""
    modules = sorted(
        ".".join(p.relative_to(SRC.parent).with_suffix("").parts).removesuffix(".__init__")
        for p in (SRC / package.split(".")[1]).rglob("*.py")
    )
    modules = [m for m in modules if m != "srup.imaging.resize_torch"]
    code = (
        "import sys, importlib\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]", f"{package} imports torch: {done.stdout[:300]}"
