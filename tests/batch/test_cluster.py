"""A cluster run on a local Ray cluster of two one-CPU workers, started once for the module
(``srup upscale ... --ray --worker-cpus 1``, which joins the session this process holds):
the local run's bytes and records, and a worker SIGKILLed in the middle of writing a file
loses nothing. Marked ``ray``; skipped, saying why, without the ``ray`` extra."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import threading
from pathlib import Path

import pytest
from PIL import Image

from srup.batch.cluster import ATTEMPTS
from srup.cli import cli
from srup.errors import EXIT_OK, EXIT_PARTIAL, EXIT_USAGE
from srup.files import is_temporary
from tests.conftest import photo

ray = pytest.importorskip("ray", reason="the cluster run needs the ray extra: pip install '.[ray]'")
pytestmark = pytest.mark.ray

_TEMPORARY = re.compile(r"^\.srup-[0-9a-f]{8}-(\d+)-")


@pytest.fixture(scope="module")
def cluster():
    """A fresh local cluster of two CPUs, so two workers of one, whatever cluster this
    machine already runs (``address="local"``: never joined; RAY_ADDRESS set aside); no
    dashboard (seconds of start-up, and a web server); Ray's logs kept off the output."""
    saved = os.environ.pop("RAY_ADDRESS", None)
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        logging_level=logging.ERROR,
        log_to_driver=False,
    )
    yield
    ray.shutdown()
    if saved is not None:
        os.environ["RAY_ADDRESS"] = saved


def _upscale(runner, src: Path, out: Path, *more: str):
    args = ["upscale", str(src), "-o", str(out) + "/", "-r", "-m", "espcn", "-s", "2", "--json"]
    res = runner.invoke(cli, [*args, *more])
    return res, [json.loads(line) for line in res.stdout.splitlines()]


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _records(records: list[dict], out: Path) -> dict[str, dict]:
    """By input, without the time taken and with the output folder's name left out."""
    return {
        r["input"]: {
            **{k: v for k, v in r.items() if k != "seconds"},
            "output": r["output"] and Path(r["output"]).relative_to(out).as_posix(),
        }
        for r in records
    }


def test_a_cluster_run_writes_the_local_runs_bytes_and_records(runner, cluster, tmp_path):
    src = tmp_path / "in"
    (src / "sub" / "deeper").mkdir(parents=True)
    names = ["a.png", "b.jpg", "sub/c.png", "sub/deeper/d.png", "e.tif"]
    for i, name in enumerate(names):
        Image.fromarray(photo(40 + 3 * i, 30, seed=i)).save(src / name)
    (src / "sub" / "broken.png").write_bytes(b"not a png")  # its failure, as locally
    (src / "notes.txt").write_text("not a picture")  # left out, as locally
    local, local_records = _upscale(runner, src, tmp_path / "local")
    assert local.exit_code == EXIT_PARTIAL, local.output
    ran, records = _upscale(runner, src, tmp_path / "ray", "--ray", "--worker-cpus", "1")
    assert ran.exit_code == EXIT_PARTIAL, ran.output
    assert "2 Ray workers of 1 CPU" in ran.stderr
    assert _files(tmp_path / "ray") == _files(tmp_path / "local")
    assert len(_files(tmp_path / "ray")) == len(names)
    assert _records(records, tmp_path / "ray") == _records(local_records, tmp_path / "local")
    assert len(records) == len(local_records) == len(names) + 2
    # A second run resumes: every output there, every file skipped.
    again, records = _upscale(runner, src, tmp_path / "ray", "--ray", "--skip-existing")
    assert again.exit_code == EXIT_PARTIAL, again.output
    assert sorted(r["status"] for r in records) == ["failed", "left_out"] + ["skipped"] * 5


def _killer(folder: Path, stop: threading.Event, killed: list[int], times: int = 1) -> None:
    """SIGKILL the process seen writing a temporary file under ``folder``, ``times``
    processes in all: workers, in the middle of writing an output (the pid is in the
    temporary name)."""
    while not stop.is_set() and len(killed) < times:
        for path in folder.rglob(".srup-*"):
            m = _TEMPORARY.match(path.name)
            pid = int(m[1]) if m else os.getpid()
            if pid == os.getpid() or pid in killed:
                continue
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
            killed.append(pid)
        stop.wait(0.001)


def _upscale_killing(runner, src: Path, out: Path, where: Path, times: int):
    """A cluster run of ``src`` into ``out`` while :func:`_killer` watches ``where``."""
    stop, killed = threading.Event(), []
    killer = threading.Thread(target=_killer, args=(where, stop, killed, times), daemon=True)
    killer.start()
    try:
        ran, records = _upscale(runner, src, out, "--ray", "--worker-cpus", "1")
    finally:
        stop.set()
        killer.join()
    return ran, records, killed


def test_a_worker_killed_while_writing_loses_nothing(runner, cluster, tmp_path):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    # Big enough that each output takes a while to encode: the killer sees it being written.
    for i in range(6):
        folder = src / "sub" if i % 2 else src
        Image.fromarray(photo(480, 360, seed=i)).save(folder / f"{i}.png")
    local, _ = _upscale(runner, src, tmp_path / "local")
    assert local.exit_code == EXIT_OK, local.output
    out = tmp_path / "ray"
    out.mkdir()
    ran, records, killed = _upscale_killing(runner, src, out, out, times=1)
    assert killed, "no worker was seen writing; make the pictures bigger"
    assert ran.exit_code == EXIT_OK, ran.output
    assert f"a Ray worker died (pid {killed[0]} on" in ran.stderr
    # Every file once, done; every output whole (the local run's bytes); nothing else left.
    assert sorted(r["input"] for r in records) == sorted(str(p) for p in src.rglob("*.png"))
    assert {r["status"] for r in records} == {"done"}
    assert _files(out) == _files(tmp_path / "local")
    assert not [p for p in out.rglob("*") if is_temporary(p.name)]


def test_a_file_whose_workers_keep_dying_fails_and_the_others_are_done(runner, cluster, tmp_path):
    src = tmp_path / "in"
    (src / "poison").mkdir(parents=True)
    Image.fromarray(photo(480, 360)).save(src / "poison" / "p.png")
    for i in range(3):
        Image.fromarray(photo(40, 30, seed=i)).save(src / f"{i}.png")
    out = tmp_path / "ray"
    (out / "poison").mkdir(parents=True)
    # Whatever writes into out/poison/ dies: every worker that takes p.png.
    ran, records, killed = _upscale_killing(runner, src, out, out / "poison", times=ATTEMPTS)
    assert len(killed) == ATTEMPTS, ran.output
    assert ran.exit_code == EXIT_PARTIAL, ran.output
    by = {Path(r["input"]).name: r for r in records}
    assert sorted(by) == ["0.png", "1.png", "2.png", "p.png"]
    assert by["p.png"]["status"] == "failed"
    assert f"died {ATTEMPTS} times" in by["p.png"]["error"]
    assert [by[n]["status"] for n in ("0.png", "1.png", "2.png")] == ["done"] * 3
    assert sorted(_files(out)) == ["0.png", "1.png", "2.png"]  # and no temporary file


def test_an_error_of_the_run_ends_it_with_the_local_runs_line_and_code(runner, cluster, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(photo(20, 16)).save(src / "a.png")
    args = ["upscale", str(src), "-o", str(tmp_path / "o") + "/", "-m", "nosuch", "-s", "2"]
    local = runner.invoke(cli, args)
    ran = runner.invoke(cli, [*args, "--ray", "--worker-cpus", "1"])
    assert ran.exit_code == local.exit_code == EXIT_USAGE, ran.output
    assert ran.stderr.strip().splitlines()[-1] == local.stderr.strip().splitlines()[-1]
    assert "unknown model 'nosuch'" in ran.stderr
