"""srup.files, the one rule for writing files: short temporary names, create or fail at the
final rename, stale temporary files of dead runs removed; and what it means for batches
(names up to 255 bytes, concurrent runs, a SIGKILLed run)."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from srup import files
from srup.cli import cli
from srup.errors import EXIT_OK, EXIT_PARTIAL, OutputError
from srup.files import OutputExistsError, is_temporary
from tests.conftest import photo

NAME_MAX = 255


def temporaries(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if is_temporary(p.name)]


def test_temporary_names_are_short_whatever_the_final_name(tmp_path, monkeypatch):
    seen = []
    real = files._open_temporary

    def spy(folder, suffix):
        fd, path = real(folder, suffix)
        seen.append(path.name)
        return fd, path

    monkeypatch.setattr(files, "_open_temporary", spy)
    target = tmp_path / ("x" * 251 + ".bin")
    files.write_file(target, lambda f: f.write(b"data"))
    assert target.read_bytes() == b"data"
    assert len(seen) == 1 and len(seen[0].encode()) <= 40 and is_temporary(seen[0])


@pytest.mark.parametrize("length", [236, 245, 255])
def test_output_names_of_236_to_255_bytes_are_written_in_a_batch(runner, tmp_path, length):
    src = tmp_path / "in"
    src.mkdir()
    # Multi-byte characters count as bytes, not characters, against the file system's limit.
    stem = "é" * ((length - 4) // 2) + "e" * ((length - 4) % 2)
    name = stem + ".png"
    assert len(name.encode()) == length
    Image.fromarray(photo(12, 10)).save(src / name)
    out = tmp_path / "out"
    res = runner.invoke(cli, ["upscale", str(src), "-s", "2", "-o", str(out), "--json"])
    assert res.exit_code == EXIT_OK, res.output
    assert [p.name for p in out.iterdir()] == [name]
    assert Image.open(out / name).size == (24, 20)
    assert temporaries(tmp_path) == []


def test_without_overwrite_an_existing_name_is_never_replaced(tmp_path):
    target = tmp_path / "a.png"
    target.write_bytes(b"finished by another run")
    with pytest.raises(OutputExistsError, match="--overwrite"):
        files.write_file(target, lambda f: f.write(b"mine"), overwrite=False)
    assert target.read_bytes() == b"finished by another run"
    assert temporaries(tmp_path) == []
    files.write_file(target, lambda f: f.write(b"mine"), overwrite=True)
    assert target.read_bytes() == b"mine"


def test_a_name_taken_while_the_file_was_written_is_not_replaced(tmp_path):
    target = tmp_path / "a.png"

    def fill(f):
        f.write(b"mine")
        target.write_bytes(b"the other run was faster")  # appears before the final rename

    with pytest.raises(OutputExistsError):
        files.write_file(target, fill, overwrite=False)
    assert target.read_bytes() == b"the other run was faster"
    assert temporaries(tmp_path) == []


@pytest.mark.parametrize("renameat2", [True, False], ids=["renameat2", "placeholder"])
def test_create_or_fail_holds_where_hard_links_are_unsupported(tmp_path, monkeypatch, renameat2):
    def no_links(*_a, **_k):
        raise OSError(errno.EPERM, os.strerror(errno.EPERM))  # FAT, some network shares

    monkeypatch.setattr(files.os, "link", no_links)
    if not renameat2:
        monkeypatch.setattr(files, "_renameat2_noreplace", lambda: None)
    fresh = tmp_path / "fresh.png"
    files.write_file(fresh, lambda f: f.write(b"new"), overwrite=False)
    assert fresh.read_bytes() == b"new"
    taken = tmp_path / "taken.png"
    taken.write_bytes(b"keep")
    with pytest.raises(OutputExistsError):
        files.write_file(taken, lambda f: f.write(b"new"), overwrite=False)
    assert taken.read_bytes() == b"keep"
    assert temporaries(tmp_path) == []


def test_published_files_get_the_usual_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        files.write_file(tmp_path / "a", lambda f: f.write(b"x"), overwrite=False)
        files.write_file(tmp_path / "b", lambda f: f.write(b"x"))
    finally:
        os.umask(umask)
    assert (tmp_path / "a").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "b").stat().st_mode & 0o777 == 0o644


def test_an_os_failure_is_an_output_error_naming_the_file(tmp_path):
    with pytest.raises(OutputError, match=r"nowhere/a\.png: cannot write"):
        files.write_file(tmp_path / "nowhere" / "a.png", lambda f: f.write(b"x"))


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_temporary_files_of_dead_processes_are_removed_and_others_kept(tmp_path):
    mine = f".srup-{files._HOST}-{os.getpid()}-00aa11bb22cc.part"
    dead = f".srup-{files._HOST}-{dead_pid()}-00aa11bb22cc.part"
    other_host = f".srup-{'0' * 8 if files._HOST != '0' * 8 else '1' * 8}-{dead_pid()}-ab.part"
    video = f".srup-{files._HOST}-{dead_pid()}-00aa11bb22cd.part.mp4"
    for name in (mine, dead, other_host, video, "photo.png", ".srup-notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    removed = files.remove_stale(tmp_path)
    assert sorted(p.name for p in removed) == sorted([dead, video])
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted([mine, other_host, "photo.png", ".srup-notes.txt"])


def test_a_named_processs_temporary_files_are_removed_whatever_its_host(tmp_path):
    """A cluster run's driver removes a dead worker's temporary files by the owner its
    workers told it: on any host, and nothing else (srup.batch.cluster)."""
    worker = "0a1b2c3d-4242"  # another host's process, which the driver knows has ended
    theirs = [f".srup-{worker}-00aa11bb22cc.part", f".srup-{worker}-00aa11bb22cd.part.mp4"]
    others = [".srup-0a1b2c3d-42420-ab.part", f".srup-{files.owner()}-ab.part", "a.png"]
    for name in theirs + others:
        (tmp_path / name).write_bytes(b"x")
    assert files.owner() == f"{files._HOST}-{os.getpid()}"
    removed = files.remove_temporaries(tmp_path, worker)
    assert sorted(p.name for p in removed) == sorted(theirs)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(others)
    assert files.remove_temporaries(tmp_path / "missing", worker) == []


def test_a_sigkilled_runs_temporary_file_is_removed_by_the_next_run(runner, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    # A writer killed mid-file: no handler runs, its temporary file stays behind.
    code = (
        "import sys, time; from srup import files\n"
        "with files.atomic_write(sys.argv[1]) as f:\n"
        "    f.write(b'half'); f.flush(); print('writing', flush=True); time.sleep(60)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(out / "a.png")], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "writing"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(temporaries(out)) == 1 and not (out / "a.png").exists()
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(photo(12, 10)).save(src / "b.png")
    res = runner.invoke(cli, ["upscale", str(src), "-s", "2", "-o", str(out)])
    assert res.exit_code == EXIT_OK, res.output
    assert temporaries(out) == []
    assert sorted(p.name for p in out.iterdir()) == ["b.png"]


def test_two_concurrent_runs_into_one_folder_never_replace_each_others_outputs(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(6):
        Image.fromarray(photo(40, 32, seed=i)).save(src / f"{i}.png")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "srup", "upscale", str(src), "-s", "2", "-o", f"{out}/"]
    cmd += ["--json", "-q", "-m", "espcn", "--device", "cpu"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in "ab"]
    results = [p.communicate(timeout=300) for p in procs]
    done: dict[str, int] = {}
    for proc, (stdout, stderr) in zip(procs, results, strict=True):
        assert proc.returncode in (EXIT_OK, EXIT_PARTIAL), stderr
        assert b"Traceback" not in stderr
        for line in stdout.decode().splitlines():
            rec = json.loads(line)
            if rec["status"] == "done":
                done[rec["input"]] = done.get(rec["input"], 0) + 1
            else:  # the other run had it first: refused, never replaced
                assert rec["status"] == "failed" and "exists" in rec["error"], rec
    # Each picture was finished by exactly one run; every output is whole.
    assert sorted(Path(k).name for k in done) == [f"{i}.png" for i in range(6)]
    assert set(done.values()) == {1}
    for i in range(6):
        with Image.open(out / f"{i}.png") as img:
            img.load()
            assert img.size == (80, 64)
    assert temporaries(tmp_path) == []


def test_skip_existing_takes_an_output_another_run_finished_meanwhile(tmp_path, monkeypatch):
    import srup
    from srup import batch
    from srup.media import pictures as imageio

    src = tmp_path / "a.png"
    Image.fromarray(photo(12, 10)).save(src)
    dst = tmp_path / "out" / "a.png"
    dst.parent.mkdir()
    real_write = imageio.write

    def write(picture, path, *args, **kwargs):
        Path(path).write_bytes(b"the other run's")  # finished while this one encoded
        return real_write(picture, path, *args, **kwargs)

    monkeypatch.setattr(imageio, "write", write)
    up = srup.load("espcn", 2, device="cpu", precision="fp32")
    job = batch.Job(src, dst, "PNG")
    res = batch.run_job(up, job, skip_existing=True)
    assert res.status == "skipped" and dst.read_bytes() == b"the other run's"
    res = batch.run_job(up, batch.Job(src, tmp_path / "out" / "b.png", "PNG"))
    assert res.status == "failed" and "exists" in res.error
    assert temporaries(tmp_path) == []
