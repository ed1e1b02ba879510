"""Faults: a full disk, unwritable folders, symlinks, Ctrl-C and SIGTERM, killed training.

Nothing is lost and nothing is half-written: finished outputs are whole, the current one never
appears, no temporary file remains, and the exit code says what happened.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from srup import files
from srup.cli import cli
from srup.errors import EXIT_PARTIAL, SrupError
from srup.files import is_temporary
from tests.conftest import photo


def leftovers(root: Path) -> list[Path]:
    """Temporary files an interrupted or failed write could leave (srup.files' names)."""
    return [p for p in root.rglob("*") if is_temporary(p.name) or "srup-part" in p.name]


def fail_writes_of(monkeypatch, marker: str, err: int) -> None:
    """Make the operating system refuse to finish writing files whose name holds ``marker``:
    the error comes after the bytes went to the temporary file, before it is published."""
    real = files.atomic_write

    @contextlib.contextmanager
    def atomic_write(path, overwrite=True):
        with real(path, overwrite) as f:
            yield f
            if marker in Path(path).name:
                raise OSError(err, os.strerror(err))

    monkeypatch.setattr(files, "atomic_write", atomic_write)


def test_a_full_disk_on_one_output_is_reported_and_the_batch_goes_on(runner, tmp_path, monkeypatch):
    src = tmp_path / "in"
    src.mkdir()
    for n in ("one", "two", "three"):
        Image.fromarray(photo(20, 16)).save(src / f"{n}.png")
    fail_writes_of(monkeypatch, "two.png", errno.ENOSPC)
    out = tmp_path / "out"
    res = runner.invoke(cli, ["upscale", str(src), "-s", "2", "-o", str(out)])
    assert res.exit_code == EXIT_PARTIAL
    assert "two.png" in res.output and "No space left on device" in res.output
    assert sorted(p.name for p in out.iterdir()) == ["one.png", "three.png"]
    assert leftovers(tmp_path) == []


def test_an_unwritable_output_folder_is_one_error_per_file(runner, tmp_path, monkeypatch):
    src = tmp_path / "in"
    src.mkdir()
    for n in ("one", "two"):
        Image.fromarray(photo(20, 16)).save(src / f"{n}.png")
    out = tmp_path / "out"
    out.mkdir()

    def open_temporary(*_a, **_k):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    # Tests may run as root, where chmod cannot make a folder unwritable; the OS's answer is
    # simulated at the one place srup creates output files.
    monkeypatch.setattr(files, "_open_temporary", open_temporary)
    res = runner.invoke(cli, ["upscale", str(src), "-s", "2", "-o", str(out)])
    assert res.exit_code == EXIT_PARTIAL
    assert res.output.count("Permission denied") == 2
    assert list(out.iterdir()) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to a read-only folder")
def test_a_read_only_output_folder_is_reported(runner, tmp_path):
    src = tmp_path / "a.png"
    Image.fromarray(photo(20, 16)).save(src)
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o500)
    try:
        res = runner.invoke(cli, ["upscale", str(src), "-s", "2", "-o", str(out / "a.png")])
    finally:
        out.chmod(0o700)
    assert res.exit_code == EXIT_PARTIAL and "Permission denied" in res.output
    assert list(out.iterdir()) == []


def test_outputs_never_follow_a_symlinked_subfolder_out_of_the_output_folder(runner, tmp_path):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    Image.fromarray(photo(20, 16)).save(src / "top.png")
    Image.fromarray(photo(20, 16)).save(src / "sub" / "deep.png")
    outside = tmp_path / "outside"
    outside.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "sub").symlink_to(outside, target_is_directory=True)
    res = runner.invoke(cli, ["upscale", str(src), "-s", "2", "-o", str(out), "-r"])
    assert res.exit_code == EXIT_PARTIAL
    assert "would leave" in res.output
    assert (out / "top.png").is_file()
    assert list(outside.iterdir()) == []


def test_a_batch_refuses_an_output_that_is_a_symlink_leading_out(runner, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(photo(20, 16)).save(src / "a.png")
    precious = tmp_path / "precious.png"
    precious.write_bytes(b"do not touch")
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.png").symlink_to(precious)
    res = runner.invoke(cli, ["upscale", str(src), "-s", "2", "-o", str(out), "--overwrite"])
    assert res.exit_code == EXIT_PARTIAL and "would leave" in res.output
    assert precious.read_bytes() == b"do not touch"


def test_overwriting_a_named_symlink_replaces_the_link_not_its_target(runner, tmp_path):
    src = tmp_path / "a.png"
    Image.fromarray(photo(20, 16)).save(src)
    precious = tmp_path / "precious.png"
    precious.write_bytes(b"do not touch")
    link = tmp_path / "link.png"
    link.symlink_to(precious)
    res = runner.invoke(cli, ["upscale", str(src), "-s", "2", "-o", str(link), "--overwrite"])
    assert res.exit_code == 0, res.output
    assert precious.read_bytes() == b"do not touch"
    assert not link.is_symlink()
    assert Image.open(link).size == (40, 32)


def test_a_symlink_loop_in_a_recursive_batch_does_not_hang(runner, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(photo(20, 16)).save(src / "a.png")
    (src / "loop").symlink_to(src, target_is_directory=True)
    res = runner.invoke(cli, ["upscale", str(src), "-s", "2", "-o", str(tmp_path / "o"), "-r"])
    assert res.exit_code == 0, res.output
    assert [p.name for p in (tmp_path / "o").rglob("*.png")] == ["a.png"]


# ------------------------------------------------------------- signals during a real batch


def wait_for(condition, proc: subprocess.Popen, seconds: float = 120.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if proc.poll() is not None or time.monotonic() > deadline:
            return
        time.sleep(0.01)


@pytest.mark.parametrize(
    "sig,code,word,times",
    [
        (signal.SIGINT, 130, "interrupted", 1),
        (signal.SIGTERM, 143, "terminated", 1),
        (signal.SIGTERM, 143, "terminated", 3),  # a supervisor repeating itself
        (signal.SIGINT, 130, "interrupted", 3),  # an impatient user
    ],
    ids=["sigint", "sigterm", "sigterm-repeated", "sigint-repeated"],
)
def test_a_signal_during_a_batch_keeps_finished_outputs_whole_and_leaves_no_partial_file(
    tmp_path, sig, code, word, times
):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(12):
        Image.fromarray(photo(160, 120, seed=i)).save(src / f"{i:02d}.png")
    out = tmp_path / "out"
    # SRCNN is the slowest model: the batch is still running when the signal comes.
    cmd = [sys.executable, "-m", "srup", "upscale", str(src), "-s", "4", "-m", "srcnn"]
    proc = subprocess.Popen(
        [*cmd, "-o", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A shell starting the tests in the background ignores SIGINT, and children inherit
        # that; a user's terminal does not.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    wait_for(lambda: out.is_dir() and any(out.glob("*.png")), proc)
    for _ in range(times):
        proc.send_signal(sig)
        time.sleep(0.002)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == code, stderr
    assert word in stderr and "Traceback" not in stderr
    assert "--skip-existing" in stderr  # what to run next
    done = sorted(out.glob("*.png"))
    assert 1 <= len(done) < 12
    for path in done:
        with Image.open(path) as img:
            img.load()
            assert img.size == (640, 480)
    assert leftovers(tmp_path) == []


# ------------------------------------------------------------------------------- training


def train_cmd(data: Path, out: Path, *extra: str) -> list[str]:
    from tests.conftest import train_args

    args = train_args(data, out, 300, "--workers", "0", "--seed", "5", "-q", *extra)
    return [sys.executable, "-m", "srup", *args]


def test_a_killed_training_run_resumes_from_its_last_checkpoint(hr_folder, tmp_path):
    from srup.models.weights import load_state, read_metadata

    straight = tmp_path / "straight.safetensors"
    subprocess.run(train_cmd(hr_folder, straight), check=True, capture_output=True)

    killed = tmp_path / "killed.safetensors"
    ckpt = killed.with_name(killed.name + ".ckpt.safetensors")
    # A checkpoint every ~60 ms, then SIGKILL: no handler runs, only the last checkpoint is left.
    proc = subprocess.Popen(
        train_cmd(hr_folder, killed, "--checkpoint-minutes", "0.001"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for(ckpt.is_file, proc)
    proc.kill()
    proc.wait()
    assert not killed.exists(), "the run finished before it could be killed"
    step = json.loads(read_metadata(ckpt)["srup_checkpoint"])["step"]
    assert 0 < step < 300

    res = subprocess.run(train_cmd(hr_folder, killed, "--resume"), capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    a, meta = load_state(straight)
    b, _ = load_state(killed)
    assert all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)
    assert meta["steps"] == "300"


def test_a_failed_checkpoint_write_keeps_the_previous_checkpoint(hr_folder, tmp_path, monkeypatch):
    from srup.models.weights import read_metadata
    from srup.training.loop import TrainConfig, TrainProgress, train
    from tests.conftest import train_config

    out = tmp_path / "w.safetensors"
    ckpt = out.with_name(out.name + ".ckpt.safetensors")

    def config(**kw) -> TrainConfig:
        return train_config(hr_folder, out, max_steps=10, **kw)

    def stop_at(n: int):
        def progress(info: TrainProgress) -> None:
            if info.step == n:
                raise KeyboardInterrupt

        return progress

    with pytest.raises(KeyboardInterrupt):
        train(config(), progress=stop_at(4))
    before = ckpt.read_bytes()
    fail_writes_of(monkeypatch, "ckpt", errno.ENOSPC)
    with pytest.raises((KeyboardInterrupt, OSError, SrupError)):
        train(config(resume=True), progress=stop_at(7))
    assert ckpt.read_bytes() == before
    assert json.loads(read_metadata(ckpt)["srup_checkpoint"])["step"] == 4
    assert leftovers(tmp_path) == []


def allocator_refuses(monkeypatch, runner_class, when, error) -> list[tuple[int, int]]:
    """Make ``runner_class``'s tiles fail as an exhausted allocator does when ``when(tile)``
    holds; returns the (rows, columns) of every tile tried."""
    real = runner_class.compute
    tried = []

    def compute(self, padded, t, *rest):
        shape = (t.read[0].stop - t.read[0].start, t.read[1].stop - t.read[1].start)
        tried.append(shape)
        if when(shape):
            raise error
        return real(self, padded, t, *rest)

    monkeypatch.setattr(runner_class, "compute", compute)
    return tried


def test_a_device_out_of_memory_retries_with_smaller_bands_and_the_same_pixels(monkeypatch):
    import torch

    import srup
    from srup.runtime.tilers.device import ResidentTiler

    img = photo(90, 150, seed=3)
    up = srup.load("fsrcnn", 2, device="cpu", precision="fp32", resident=True)
    expected = up.upscale_array(img)
    oom = torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
    tried = allocator_refuses(monkeypatch, ResidentTiler, lambda s: s[0] > 80, oom)
    assert np.array_equal(up.upscale_array(img), expected)  # exact on the CPU at any tile
    assert max(rows for rows, _ in tried) > 80 and tried[-1][0] <= 80


def test_a_device_that_stays_out_of_memory_raises_memory_error_naming_it(monkeypatch):
    import srup
    from srup.runtime.tilers.device import ResidentTiler

    up = srup.load("fsrcnn", 2, device="cpu", precision="fp32", resident=True)
    oom = RuntimeError("MPS backend out of memory (MPS allocated: 9.00 GB)")
    tried = allocator_refuses(monkeypatch, ResidentTiler, lambda s: True, oom)
    asked = []
    real_prepare = ResidentTiler.prepare

    def prepare(self, pixels, tile=None):
        asked.append(tile)
        return real_prepare(self, pixels, tile)

    monkeypatch.setattr(ResidentTiler, "prepare", prepare)
    with pytest.raises(MemoryError, match="out of memory on cpu"):
        up.upscale_array(photo(300, 200))
    # One band (200 rows, 300 wide), then half as tall down to 64 rows, then narrower.
    assert asked == [(200, 300), (100, 300), (64, 300), (64, 150), (64, 75), (64, 64)]
    # A tile the caller chose is kept: no retry with another.
    tried.clear()
    up.tile = 100
    with pytest.raises(MemoryError):
        up.upscale_array(photo(300, 200))
    assert len(tried) == 1
    # Errors that are not about memory go up as they are.
    allocator_refuses(monkeypatch, ResidentTiler, lambda s: True, RuntimeError("bad kernel"))
    with pytest.raises(RuntimeError, match="bad kernel"):
        up.upscale_array(photo(30, 20))


def test_a_cpu_allocation_failure_is_one_line_and_the_batch_goes_on(runner, tmp_path, monkeypatch):
    from srup.runtime.tilers.host import HostTiler

    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(photo(20, 16)).save(src / "small.png")
    Image.fromarray(photo(120, 100)).save(src / "large.png")
    oom = RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 9 GB")
    real = HostTiler.run

    def run(self, pixels, *rest):
        if pixels.shape[0] > 50:
            raise oom
        return real(self, pixels, *rest)

    monkeypatch.setattr(HostTiler, "run", run)
    out = tmp_path / "out"
    res = runner.invoke(cli, ["upscale", str(src), "-s", "2", "-o", str(out), "--device", "cpu"])
    assert res.exit_code == EXIT_PARTIAL and "Traceback" not in res.output
    assert "large.png: out of memory on cpu; use a smaller --tile" in res.output
    assert [p.name for p in out.iterdir()] == ["small.png"]
    assert leftovers(tmp_path) == []


def test_page_locked_memory_refused_falls_back_to_pageable(monkeypatch):
    import torch

    from srup.runtime.tilers.device import output_buffer

    real = torch.empty

    def empty(*args, pin_memory=False, **kw):
        if pin_memory:
            raise RuntimeError("CUDA error: out of memory")
        return real(*args, **kw)

    monkeypatch.setattr(torch, "empty", empty)
    buf = output_buffer((4, 6, 3), torch.uint8, pinned=True)
    assert buf.shape == (4, 6, 3) and not buf.is_pinned()
