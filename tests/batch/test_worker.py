"""A cluster run's worker without Ray (:mod:`srup.batch.worker`): the same results as a
local run, the retry rule for an output a dead worker published, and the command line's
cluster options, checked before any work (Ray missing: one line saying what to install)."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

import srup
from srup import batch
from srup.batch.worker import CLOCK_SLACK, EngineSpec, RemoteError, Worker, retry_options
from srup.cli import cli
from srup.errors import EXIT_FATAL, EXIT_USAGE
from srup.imaging.sizing import Sizing
from tests.conftest import photo


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    Image.fromarray(photo(30, 20)).save(src / "a.png")
    Image.fromarray(photo(20, 30, seed=1)).save(src / "sub" / "b.png")
    (src / "broken.png").write_bytes(b"broken")
    return src


def test_a_worker_gives_run_jobs_results_and_bytes(folder, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    up = srup.load("espcn", 2, device="cpu")
    local = {r.input: r for r in batch.run_jobs(up, batch.plan([Path("in")], Path("l"), 2).jobs)}
    worker = Worker(EngineSpec(Sizing(2.0), "espcn", device="cpu"), str(tmp_path), threads=1)
    info = worker.start()
    assert (info.name, info.device, info.precision) == ("espcn", "cpu", "fp32")
    assert info.owner == srup.files.owner() and info.pid == os.getpid()
    for job in batch.plan([Path("in")], Path("w"), 2).jobs:
        res, notes = worker.run(job, batch.Options())
        want = local[res.input]
        assert (res.status, res.error, res.model, res.out_size) == (
            want.status,
            want.error,
            want.model,
            want.out_size,
        )
        assert notes == []
        if res.status == "failed":  # what --debug prints, as text that survives pickling
            assert isinstance(res.exception, RemoteError)
            assert "Traceback" in str(res.exception)
        else:
            assert Path(res.output).read_bytes() == Path(want.output).read_bytes()


def test_a_worker_refuses_a_folder_its_node_does_not_have(tmp_path):
    worker = Worker(EngineSpec(Sizing(2.0), "espcn", device="cpu"), str(tmp_path / "absent"))
    with pytest.raises(srup.errors.SrupError, match="same path"):
        worker.start()


def test_a_retry_writes_again_only_over_what_the_dead_attempt_published(tmp_path):
    job = batch.Job(tmp_path / "a.png", tmp_path / "out" / "a.png", "PNG")
    o = batch.Options(skip_existing=True)
    since = time.time()
    assert retry_options(job, o, since) == o  # nothing published: as a first attempt
    job.dst.parent.mkdir()
    job.dst.write_bytes(b"whole")  # published by the attempt that died
    again = retry_options(job, o, since)
    assert again.overwrite and not again.skip_existing
    # An output older than the first attempt (less the clock slack) is someone else's.
    old = since - CLOCK_SLACK - 60
    os.utime(job.dst, (old, old))
    assert retry_options(job, o, since) == o
    assert retry_options(job, replace(o, skip_existing=False, overwrite=True), since).overwrite
    # --frames-to: the frames folder is what the attempt wrote.
    video = batch.Job(tmp_path / "clip.mp4", tmp_path / "out" / "clip.mp4", batch.VIDEO)
    frames = replace(o, video=replace(o.video, frames_to=tmp_path / "frames"))
    (tmp_path / "frames" / "clip").mkdir(parents=True)
    assert retry_options(video, frames, since).overwrite


def test_without_ray_the_cluster_run_says_what_to_install(runner, folder, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails, as without the extra
    res = runner.invoke(cli, ["upscale", str(folder), "-o", str(tmp_path / "o") + "/", "--ray"])
    assert res.exit_code == EXIT_FATAL, res.output
    assert res.stderr.strip() == "error: a cluster run needs Ray: pip install 'ray>=2.60,<3'"
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--ray", "IN", "-o", "OUT"], "is not a Ray address"),  # --ray took the input
        (["IN", "-o", "OUT", "--worker-cpus", "2"], "give --ray too"),
        (["IN", "-o", "OUT", "--ray", "--worker-cpus", "0"], "--worker-cpus"),
    ],
)
def test_cluster_options_that_cannot_mean_anything_are_usage_errors(
    runner, folder, tmp_path, args, says
):
    out = str(tmp_path / "o") + "/"
    argv = [str(folder) if a == "IN" else out if a == "OUT" else a for a in args]
    res = runner.invoke(cli, ["upscale", *argv])
    assert res.exit_code == EXIT_USAGE, res.output
    assert says in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()
