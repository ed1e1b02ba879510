"""Fuzzing: mutated pictures (EXIF bytes flipped, PNG chunks corrupted, duplicated,
reordered, TIFF tags mutated, truncation) never abort a batch, and every record is valid
JSON. The corpus and the checks are benchmarks/fuzz_files.py's; hypothesis drives the same
mutations in-process, where it can shrink a failing file to its smallest form."""

from __future__ import annotations

import importlib.util
import json
import random
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import srup
from srup import batch
from srup.cli.display import BatchDisplay
from srup.files import is_temporary
from srup.media import pictures as imageio
from tests.conftest import REPO


def _load_fuzzer():
    spec = importlib.util.spec_from_file_location(
        "fuzz_files", REPO / "benchmarks" / "fuzz_files.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["fuzz_files"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


fuzz_files = _load_fuzzer()


def test_the_corpus_is_reproducible_and_covers_every_mutation(tmp_path):
    a = fuzz_files.make_corpus(tmp_path / "a", 80, seed=3)
    b = fuzz_files.make_corpus(tmp_path / "b", 80, seed=3)
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    kinds = {m for p in a for m in p.stem.split("_", 2)[2].split("+")}
    assert kinds == set(fuzz_files.MUTATIONS)
    seeds = fuzz_files.seeds()
    assert sum(p.read_bytes() != seeds[p.name.split("_")[1] + p.suffix] for p in a) >= 75


def test_a_representative_fuzz_batch_holds_every_rule(tmp_path):
    folder = tmp_path / "in"
    fuzz_files.make_corpus(folder, 66, seed=0)  # six per seed file, each mutation kind
    outcome = fuzz_files.run_batch(folder, tmp_path / "out", timeout=300)
    assert outcome.violations == []
    assert outcome.returncode in (0, 3)
    assert sum(outcome.statuses.values()) == 66
    assert outcome.statuses["done"] > 0 and outcome.statuses["failed"] > 0


@pytest.mark.slow
def test_two_thousand_mutated_files_never_abort_a_batch(request):
    if "slow" not in (request.config.option.markexpr or ""):
        pytest.skip("2,000 files (about 2 minutes on 2 cores): run with -m slow")
    outcomes = fuzz_files.fuzz(2000, 500, seed=1)
    assert [v for o in outcomes for v in o.violations] == []
    assert sum(o.files for o in outcomes) == 2000
    assert {o.returncode for o in outcomes} <= {0, 3}


# ---------------------------------------------------------------------------- hypothesis

SEEDS = fuzz_files.seeds()


@pytest.fixture(scope="module")
def upscaler():
    return srup.load("espcn", 2, device="cpu", precision="fp32")


@st.composite
def mutated(draw) -> tuple[str, bytes]:
    """A seed file, then 1–3 mutations of the fuzzer's kinds, or raw byte edits."""
    name = draw(st.sampled_from(sorted(SEEDS)))
    data = SEEDS[name]
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from([*fuzz_files.MUTATIONS, "bytes"]))
        if kind == "bytes" and data:
            edits = draw(
                st.lists(st.tuples(st.integers(0, len(data) - 1), st.integers(0, 255)), max_size=8)
            )
            buf = bytearray(data)
            for i, v in edits:
                buf[i] = v
            data = bytes(buf)
        elif kind != "bytes":
            rng = random.Random(draw(st.integers(0, 2**32 - 1)))
            data = fuzz_files.MUTATIONS[kind](data, rng)
    return name, data


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=mutated())
def test_any_mutation_is_one_result_and_one_json_line(upscaler, case, capsysbinary):
    name, data = case
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / name
        src.write_bytes(data)
        out = Path(tmp) / "out" / name  # each format to its own, GIF to PNG as a batch does
        if out.suffix not in imageio.EXTENSIONS:
            out = out.with_suffix(".png")
        res = batch.run_job(upscaler, batch.Job(src, out, imageio.format_for(out)))
        assert res.status in ("done", "failed")
        if res.status == "failed":
            assert res.error and "\n" not in res.error and name in res.error
            assert not out.exists()
        assert all("\n" not in n for n in res.notes)
        assert [p for p in Path(tmp).rglob("*") if is_temporary(p.name)] == []
        capsysbinary.readouterr()
        BatchDisplay(quiet=True, as_json=True).result(res)
        line = capsysbinary.readouterr().out
        assert json.loads(line.decode("utf-8"))["status"] == res.status
        assert line.count(b"\n") == 1
