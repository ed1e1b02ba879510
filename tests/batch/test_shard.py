"""``--shard K/N``: N runs of one command cover every planned file exactly once, by a stable
hash of each file's path relative to its input root (:func:`srup.batch.shard`)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from srup import batch
from srup.cli import cli
from srup.errors import EXIT_OK, EXIT_USAGE
from tests.conftest import photo

# Relative paths of a nested tree: up to two folders deep, names without dots (not hidden).
_name = st.text("abcxyz019_-", min_size=1, max_size=6)
_file = st.builds(lambda stem, ext: stem + ext, _name, st.sampled_from([".png", ".jpg", ".tif"]))
_path = st.builds(lambda dirs, f: "/".join([*dirs, f]), st.lists(_name, max_size=2), _file)


def _tree(paths: list[str]) -> list[str]:
    """``paths`` once each, in order (files have a suffix and folders none: never both)."""
    return list(dict.fromkeys(paths))


def _make(root: Path, paths: list[str]) -> None:
    for p in paths:
        (root / p).parent.mkdir(parents=True, exist_ok=True)
        (root / p).write_bytes(b"")  # planning reads no pixels


def _assignment(root: Path, out: Path, n: int) -> dict[str, int]:
    """Each planned file's key → the one shard of ``n`` that holds it (checked: exactly one)."""
    jobs = batch.plan([root], out, 2, recursive=True).jobs
    shards = [batch.shard(jobs, k, n) for k in range(1, n + 1)]
    got: dict[str, int] = {}
    for k, part in enumerate(shards, 1):
        for job in part:
            assert job.key not in got, f"{job.key} in shards {got[job.key]} and {k}"
            got[job.key] = k
    assert sorted(got) == sorted(j.key for j in jobs)  # every job, once
    assert sum(len(p) for p in shards) == len(jobs)
    for part in shards:  # plan order kept
        assert part == [j for j in jobs if j in part]
    return got


@settings(max_examples=40, deadline=None)
@given(
    paths=st.lists(_path, min_size=1, max_size=25),
    added=st.lists(_path, max_size=8),
    renames=st.lists(st.integers(0, 24), max_size=4),
)
def test_shards_cover_every_file_once_and_stay_put_when_others_change(paths, added, renames):
    before_paths = _tree(paths)
    # Between runs: some files renamed (under a new name, maybe a new folder), some added.
    renamed = {before_paths[i % len(before_paths)] for i in renames}
    after_paths = _tree(
        [p for p in before_paths if p not in renamed]
        + [f"moved/{p.replace('/', '_')}" for p in sorted(renamed)]
        + added
    )
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        _make(tmp / "in", before_paths)
        _make(tmp / "other_root_name", after_paths)  # the root itself renamed too
        for n in range(1, 8):
            before = _assignment(tmp / "in", tmp / "out", n)
            after = _assignment(tmp / "other_root_name", tmp / "out", n)
            assert sorted(before) == sorted(before_paths)  # the key: the relative path
            for key in set(before) & set(after):
                assert before[key] == after[key], (key, n)
            if n == 1:
                assert set(before.values()) == {1}


def test_the_rule_is_blake2b_of_the_relative_path_and_does_not_depend_on_the_cwd(
    tmp_path, monkeypatch
):
    # Pinned: a change of rule would move files between the shards of a running job array.
    assert [batch.shard_of("sub/a.png", n) for n in range(1, 8)] == [1, 2, 3, 4, 5, 6, 4]
    assert batch.shard_of("a.png", 7) == 3
    root = tmp_path / "in"
    _make(root, ["sub/a.png", "b.png", "sub/deeper/c.jpg"])
    absolute = batch.plan([root], tmp_path / "out", 2, recursive=True).jobs
    monkeypatch.chdir(root / "sub")
    relative = batch.plan([Path("..")], tmp_path / "out", 2, recursive=True).jobs
    assert [j.key for j in absolute] == [j.key for j in relative]
    assert sorted(j.key for j in absolute) == ["b.png", "sub/a.png", "sub/deeper/c.jpg"]
    # A file given itself: its name, whatever folder it is in.
    one = batch.plan([Path("a.png")], None, 2).jobs
    assert [j.key for j in one] == ["a.png"]
    with pytest.raises(ValueError):
        batch.shard(absolute, 0, 3)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    src = tmp_path / "in"
    (src / "sub" / "deeper").mkdir(parents=True)
    names = ["a.png", "b.png", "c.jpg", "sub/d.png", "sub/e.png", "sub/deeper/f.png", "g.png"]
    for i, name in enumerate(names):
        Image.fromarray(photo(12 + i, 10, seed=i)).save(src / name)
    (src / "notes.txt").write_text("not a picture")  # one left_out record
    return src


def _upscale(runner, *args: str):
    res = runner.invoke(cli, ["upscale", *args, "-m", "espcn", "-s", "2", "-r", "--json"])
    records = [json.loads(line) for line in res.stdout.splitlines()]
    return res, records


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_three_shards_give_one_report_and_the_outputs_of_one_run(runner, tree, tmp_path):
    whole, whole_records = _upscale(runner, str(tree), "-o", str(tmp_path / "whole") + "/")
    assert whole.exit_code == EXIT_OK, whole.output
    lines = []
    for k in (1, 2, 3):
        res, records = _upscale(
            runner, str(tree), "-o", str(tmp_path / "sharded") + "/", "--shard", f"{k}/3"
        )
        assert res.exit_code == EXIT_OK, res.output
        assert all(r["shard"] == f"{k}/3" for r in records)
        planned = sum(r["status"] == "done" for r in records)
        assert f"shard {k}/3: {planned} of 7 files" in res.stderr
        lines += records
    # Concatenated: each input exactly once, left-out included, as in the unsharded report.
    inputs = [r["input"] for r in lines]
    assert len(inputs) == len(set(inputs))
    assert sorted(inputs) == sorted(r["input"] for r in whole_records)
    by_input = {r["input"]: r["status"] for r in lines}
    assert by_input == {r["input"]: r["status"] for r in whole_records}
    assert list(by_input.values()).count("left_out") == 1
    # Byte for byte the outputs of the one run.
    assert _files(tmp_path / "sharded") == _files(tmp_path / "whole")
    assert len(_files(tmp_path / "whole")) == 7
    # A restart resumes the same files: all skipped, none done twice.
    res, records = _upscale(
        runner,
        str(tree),
        "-o",
        str(tmp_path / "sharded") + "/",
        "--shard",
        "2/3",
        "--skip-existing",
    )
    assert res.exit_code == EXIT_OK, res.output
    assert {r["status"] for r in records} <= {"skipped"}


@pytest.mark.parametrize(
    "value", ["0/3", "4/3", "3", "a/b", "1/0", "-1/3", "1/2/3", "", "1/", "/3", "²/3", "1.0/2"]
)
def test_a_bad_shard_is_a_usage_error(runner, tree, tmp_path, value):
    res = runner.invoke(
        cli, ["upscale", str(tree), "-o", str(tmp_path / "o") + "/", "--shard", value]
    )
    assert res.exit_code == EXIT_USAGE, res.output
    assert "--shard" in res.output and len(res.output.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_names_that_are_not_utf8_have_a_shard(tmp_path):
    key = os.fsdecode(b"caf\xe9/x.png")
    assert 1 <= batch.shard_of(key, 5) <= 5
