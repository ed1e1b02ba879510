"""One exit-code table for every command: 0 done, 1 fatal, 2 usage error, 3 partial (some
inputs failed), 130/143 interrupted/terminated, 141 stdout closed; docs/cli.md documents the
same table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import Image

from srup import errors
from srup.cli import cli
from srup.errors import EXIT_FATAL, EXIT_OK, EXIT_PARTIAL, EXIT_USAGE
from tests.conftest import REPO, photo


def test_the_codes_are_distinct_and_as_documented():
    codes = [errors.EXIT_OK, EXIT_FATAL, EXIT_USAGE, EXIT_PARTIAL]
    assert codes == [0, 1, 2, 3]
    assert (errors.EXIT_INTERRUPTED, errors.EXIT_TERMINATED) == (130, 143)
    assert errors.EXIT_STDOUT_CLOSED == 141  # 128 + SIGPIPE, as shells report it


def test_every_srup_error_maps_to_fatal_or_usage():
    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    for cls in subclasses(errors.SrupError):
        if cls is errors.StdoutClosedError:  # not an error of the run: its reader left
            assert cls.exit_code == errors.EXIT_STDOUT_CLOSED
            continue
        assert cls.exit_code in (EXIT_FATAL, EXIT_USAGE), cls
    assert errors.UsageError.exit_code == errors.UnknownModelError.exit_code == EXIT_USAGE
    assert errors.BadWeightsError.exit_code == errors.DataError.exit_code == EXIT_FATAL


def test_the_docs_table_lists_every_code():
    text = (REPO / "docs" / "cli.md").read_text()
    section = text[text.index("## Errors and exit codes") :]
    section = section[: section.index("\n## ", 5)]
    rows = dict(re.findall(r"^\| (\d+(?: / \d+)?) \| (.+) \|$", section, re.M))
    assert set(rows) == {"0", "1", "2", "3", "130 / 143", "141"}
    assert "failed" in rows["3"] and "usage" in rows["2"]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "ok").mkdir()
    Image.fromarray(photo(12, 10)).save(tmp_path / "ok" / "a.png")
    (tmp_path / "mixed").mkdir()
    Image.fromarray(photo(12, 10)).save(tmp_path / "mixed" / "a.png")
    (tmp_path / "mixed" / "b.png").write_bytes(b"broken")
    (tmp_path / "pickle.safetensors").write_bytes(b"\x80\x04\x95" + b"\0" * 40)
    (tmp_path / "hr").mkdir()
    Image.fromarray(photo(48, 48)).save(tmp_path / "hr" / "h.png")
    return tmp_path


CASES = {
    # upscale
    "all done": (["upscale", "{t}/ok", "-s", "2", "-o", "{t}/o1"], EXIT_OK),
    "some inputs failed": (["upscale", "{t}/mixed", "-s", "2", "-o", "{t}/o2"], EXIT_PARTIAL),
    "every input failed": (["upscale", "{t}/mixed/b.png", "-s", "2"], EXIT_PARTIAL),
    "bad weights": (
        ["upscale", "{t}/ok", "-o", "{t}/o3", "--weights", "{t}/pickle.safetensors"],
        1,
    ),
    "unknown option": (["upscale", "{t}/ok", "--nope"], EXIT_USAGE),
    "unknown codec": (["upscale", "{t}/ok", "-o", "{t}/o4", "--codec", "nosuch"], EXIT_USAGE),
    "tile of 1": (["upscale", "{t}/ok", "-o", "{t}/o5", "--tile", "1"], EXIT_USAGE),
    "folder into a picture": (["upscale", "{t}/ok", "-o", "{t}/x.png"], EXIT_USAGE),
    # models
    "models": (["models", "--json"], EXIT_OK),
    "models, bad option": (["models", "-x"], EXIT_USAGE),
    # benchmark
    "benchmark, missing data": (["benchmark", "{t}/nowhere"], EXIT_FATAL),
    "benchmark, no model at that scale": (["benchmark", "{t}/hr", "-s", "5"], EXIT_USAGE),
    # export
    "export to a name without .onnx": (["export", "--onnx", "{t}/e.png", "-s", "2"], EXIT_USAGE),
    "export, unknown model": (["export", "--onnx", "{t}/e.onnx", "-m", "nope"], EXIT_USAGE),
    # train
    "train at a scale with no model": (
        ["train", "{t}/hr", "-m", "espcn", "-s", "5", "-o", "{t}/w.safetensors"],
        EXIT_USAGE,
    ),
    "train a weight set, not an architecture": (
        ["train", "{t}/hr", "-m", "espcn-real", "-s", "2", "-o", "{t}/w.safetensors"],
        EXIT_USAGE,
    ),
    "train, missing data": (
        ["train", "{t}/nowhere", "-m", "espcn", "-s", "2", "-o", "{t}/w.safetensors"],
        EXIT_FATAL,
    ),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_every_command_exits_by_the_table(runner, tree, case):
    args, code = CASES[case]
    res = runner.invoke(cli, [a.replace("{t}", str(tree)) for a in args])
    assert res.exit_code == code, res.output
    assert "Traceback" not in res.output
    if code not in (EXIT_OK, EXIT_PARTIAL):
        errors_ = [
            line for line in res.output.splitlines() if line.startswith(("error:", "Error:"))
        ]
        assert len(errors_) == 1, res.output


def test_help_states_the_exit_codes(runner):
    res = runner.invoke(cli, ["--help"])
    assert res.exit_code == 0
    assert "3 some inputs failed" in " ".join(res.output.split())
    assert "--debug" in res.output
