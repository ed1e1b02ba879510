"""`srup train`: patches, a few steps, exact resume, errors, two-process DDP."""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from srup.cli import cli
from srup.errors import DataError, SrupError
from srup.models.weights import load_state, read_metadata
from srup.training.loop import choose_sampler, load_images, train
from srup.training.samplers import DevicePatchSampler, PatchSampler, TextBoards
from tests.conftest import photo, same_tensors, train_args
from tests.conftest import train_config as config


def test_patches_have_the_right_shapes_and_follow_the_seed(hr_folder):
    sampler = PatchSampler(load_images([hr_folder]), 3, 6, 5)
    lr, hr = sampler(np.random.default_rng(1))
    assert lr.shape == (5, 1, 6, 6) and hr.shape == (5, 1, 18, 18)
    again, _ = sampler(np.random.default_rng(1))
    assert np.array_equal(lr, again)
    assert lr.min() > 0 and lr.max() < 1


def test_device_sampler_cuts_the_host_samplers_patches_from_the_same_draws(hr_folder):
    # Without the zoom (whose resize differs by design) both make the same HR crops and
    # MATLAB-bicubic LR: equal but for float32 rounding at exact .5 ties.
    import torch

    images = load_images([hr_folder])
    host = PatchSampler(images, 3, 10, 6, min_zoom=1.0)
    device = DevicePatchSampler(images, 3, 10, 6, min_zoom=1.0, device=torch.device("cpu"))
    lr_h, hr_h = host(np.random.default_rng(5))
    lr_d, hr_d = (t.numpy() for t in device(np.random.default_rng(5)))
    assert lr_d.shape == lr_h.shape == (6, 1, 10, 10) and hr_d.shape == hr_h.shape
    assert np.abs(hr_d - hr_h).max() < 1e-6
    off = np.abs(lr_d - lr_h) > 1e-6
    assert np.abs(lr_d - lr_h).max() < 1.0 / 255 and off.mean() < 1e-3


def test_device_sampler_zooms_follow_the_seed_and_stay_in_range(hr_folder):
    import torch

    sampler = DevicePatchSampler(load_images([hr_folder]), 2, 8, 5, device=torch.device("cpu"))
    lr, hr = sampler(np.random.default_rng(9))
    again, _ = sampler(np.random.default_rng(9))
    other, _ = sampler(np.random.default_rng(10))
    assert torch.equal(lr, again) and not torch.equal(lr, other)
    assert lr.shape == (5, 1, 8, 8) and hr.shape == (5, 1, 16, 16)
    assert float(hr.min()) >= 16 / 255 - 1e-6 and float(hr.max()) <= 235 / 255 + 1e-6


def test_device_sampler_uploads_only_its_draws_and_without_blocking(hr_folder, monkeypatch):
    # A plain upload makes the host wait for the GPU's queue to drain; once every crop size
    # has been met, a batch's one upload is its draws, through devices.upload (pinned and
    # asynchronous on CUDA). The meta device shows any copy from the CPU.
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    from srup import devices

    class Uploads(TorchDispatchMode):
        count = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            if func.__name__.split(".")[0] in ("_to_copy", "copy_"):
                source = args[1] if func.__name__.startswith("copy_") else args[0]
                target = out if torch.is_tensor(out) else args[0]
                self.count += source.device.type == "cpu" and target.device.type == "meta"
            return out

    sampler = DevicePatchSampler(load_images([hr_folder]), 3, 8, 6, device=torch.device("meta"))
    through = []
    plain = devices.upload
    monkeypatch.setattr(devices, "upload", lambda a, d: through.append(a.shape) or plain(a, d))
    for seed in range(3):
        sampler(np.random.default_rng(seed))
    through.clear()
    with Uploads() as uploads:
        for seed in range(3):
            lr, hr = sampler(np.random.default_rng(seed))
    assert lr.shape == (6, 1, 8, 8) and hr.shape == (6, 1, 24, 24)
    assert uploads.count == 3 and len(through) == 3


def test_training_on_cuda_uses_the_fused_optimiser_and_the_cpu_the_plain_one():
    import torch

    from srup.training.loop import optimizer

    params = list(torch.nn.Linear(2, 2).parameters())
    assert optimizer(params, 1e-3, torch.device("cuda")).defaults["fused"] is True
    assert not optimizer(params, 1e-3, torch.device("cpu")).defaults["fused"]


def test_auto_sampler_is_the_device_for_clean_data_on_a_gpu_only():
    import torch

    from srup.data.degrade import parse

    clean, real = parse("clean"), parse("real")
    assert choose_sampler("auto", torch.device("cuda"), clean) == "device"
    assert choose_sampler("auto", torch.device("mps"), clean) == "device"
    assert choose_sampler("auto", torch.device("cuda"), real) == "host"
    assert choose_sampler("auto", torch.device("cpu"), clean) == "host"
    assert choose_sampler("device", torch.device("cpu"), clean) == "device"
    with pytest.raises(SrupError, match="clean"):
        DevicePatchSampler(
            [np.zeros((64, 64, 3), np.uint8)], 2, 8, 2, degradation=real, device=torch.device("cpu")
        )


def test_short_run_writes_weights_with_a_header(hr_folder, tmp_path):
    out = tmp_path / "w.safetensors"
    summary = train(config(hr_folder, out, val=str(hr_folder)))
    assert summary.step == 6
    meta = read_metadata(out)
    assert meta["model"] == "espcn" and meta["scale"] == "2" and meta["steps"] == "6"
    assert float(meta["val_psnr"]) > 20


def ckpt(out):
    return out.with_name(out.name + ".ckpt.safetensors")


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"val": "HR"},
        {"workers": 2},
        {"degradation": "real", "synthetic_text": 0.3},
        {"sampler": "device", "synthetic_text": 0.3},
    ],
    ids=["plain", "val", "workers", "real", "device-sampler"],
)
def test_resume_continues_bit_for_bit(hr_folder, tmp_path, extra):
    extra = {k: str(hr_folder) if v == "HR" else v for k, v in extra.items()}
    straight = tmp_path / "straight.safetensors"
    train(config(hr_folder, straight, max_steps=8, **extra))
    split = tmp_path / "split.safetensors"

    def interrupt_at_4(info):
        if info.step == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(config(hr_folder, split, max_steps=8, **extra), progress=interrupt_at_4)
    assert not split.exists()
    train(config(hr_folder, split, max_steps=8, resume=True, **extra))
    assert same_tensors(straight, split)
    assert same_tensors(ckpt(straight), ckpt(split))


def test_validation_never_changes_the_trajectory(hr_folder, tmp_path):
    # The output holds the best validated weights; the checkpoint holds where training is.
    without, with_val = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    train(config(hr_folder, without, max_steps=8))
    train(config(hr_folder, with_val, max_steps=8, val=str(hr_folder)))
    a, _ = load_state(ckpt(without))
    b, _ = load_state(ckpt(with_val))
    model = [k for k in a if k.startswith(("model.", "optim."))]
    assert model and all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in model)


def test_stop_at_leaves_off_with_weights_and_a_checkpoint_that_resumes_bit_for_bit(
    hr_folder, tmp_path
):
    straight, staged = tmp_path / "straight.safetensors", tmp_path / "staged.safetensors"
    train(config(hr_folder, straight, max_steps=8))
    summary = train(config(hr_folder, staged, max_steps=8, stop_at=3))
    assert summary.stopped and summary.step == 3 and summary.output == staged
    # The weights so far (no validation: the current ones), usable at once.
    meta = read_metadata(staged)
    assert meta["steps"] == "3" and meta["total_steps"] == "8"
    weights, _ = load_state(staged)
    state, _ = load_state(ckpt(staged))
    assert weights.keys() == {k[len("model.") :] for k in state if k.startswith("model.")}
    assert all(np.array_equal(v.numpy(), state[f"model.{k}"].numpy()) for k, v in weights.items())
    train(config(hr_folder, staged, max_steps=8, resume=True))
    assert same_tensors(straight, staged)
    assert read_metadata(staged)["steps"] == "8"


def test_real_degradation_patches_follow_the_seed_and_differ_from_clean(hr_folder):
    from srup.data.boards import render_boards

    images = load_images([hr_folder])
    boards = render_boards(2, seed=0, size=(96, 80))
    real = PatchSampler(images, 2, 8, 6, degradation="real", text=TextBoards(boards, 0.5))
    clean = PatchSampler(images, 2, 8, 6)
    lr, hr = real(np.random.default_rng(4))
    again, hr_again = real(np.random.default_rng(4))
    assert np.array_equal(lr, again) and np.array_equal(hr, hr_again)
    assert lr.shape == (6, 1, 8, 8) and hr.shape == (6, 1, 16, 16)
    assert not np.array_equal(lr, clean(np.random.default_rng(4))[0])


def test_degradation_and_text_fraction_are_recorded_in_the_header(hr_folder, tmp_path):
    out = tmp_path / "real.safetensors"
    train(config(hr_folder, out, degradation="real,jpeg=50:90", synthetic_text=0.2))
    meta = read_metadata(out)
    assert meta["degradation"] == "real,jpeg=50:90" and meta["synthetic_text"] == "0.2"


def test_same_seed_gives_the_same_weights(hr_folder, tmp_path):
    one, two = tmp_path / "1.safetensors", tmp_path / "2.safetensors"
    train(config(hr_folder, one))
    train(config(hr_folder, two))
    assert same_tensors(one, two)


def test_mse_loss_trains_differently_and_is_recorded(hr_folder, tmp_path):
    l1, mse = tmp_path / "l1.safetensors", tmp_path / "mse.safetensors"
    train(config(hr_folder, l1))
    train(config(hr_folder, mse, loss="mse"))
    assert read_metadata(mse)["loss"] == "mse" and read_metadata(l1)["loss"] == "l1"
    a, _ = load_state(l1)
    b, _ = load_state(mse)
    assert not np.array_equal(a["body.0.weight"].numpy(), b["body.0.weight"].numpy())
    with pytest.raises(SrupError, match="--loss"):
        train(config(hr_folder, tmp_path / "x.safetensors", loss="huber"))


def test_init_fine_tunes_across_scales(hr_folder, tmp_path):
    x3 = tmp_path / "x3.safetensors"
    train(config(hr_folder, x3, scale=3))
    x2 = tmp_path / "x2.safetensors"
    train(config(hr_folder, x2, scale=2, init=str(x3), max_steps=1, lr=1e-9))
    a, _ = load_state(x3)
    b, _ = load_state(x2)
    assert np.allclose(a["body.0.weight"].numpy(), b["body.0.weight"].numpy(), atol=1e-6)


def test_empty_and_unreadable_data_are_clear_errors(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="no training images"):
        train(config(empty, tmp_path / "o.safetensors"))
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.png").write_bytes(b"nope")
    with pytest.raises(SrupError, match=r"x\.png"):
        train(config(bad, tmp_path / "o.safetensors"))


def test_too_small_images_ask_for_a_smaller_patch(tmp_path):
    small = tmp_path / "small"
    small.mkdir()
    Image.fromarray(photo(12, 12)).save(small / "a.png")
    with pytest.raises(DataError, match="--patch-size"):
        train(config(small, tmp_path / "o.safetensors", patch_size=24))


def test_cli_train_reports_the_output(runner, hr_folder, tmp_path):
    out = tmp_path / "cli.safetensors"
    res = runner.invoke(
        cli,
        [
            "train",
            str(hr_folder),
            "-m",
            "fsrcnn",
            "-s",
            "2",
            "-o",
            str(out),
            "--max-steps",
            "3",
            "--batch-size",
            "2",
            "--patch-size",
            "8",
            "--device",
            "cpu",
            "-q",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "wrote" in res.output and out.is_file()


def test_cli_device_sampler_trains_on_the_cpu_and_refuses_jpeg_degradations(
    runner, hr_folder, tmp_path
):
    out = tmp_path / "dev.safetensors"
    base = train_args(hr_folder, out, 3, "--device", "cpu", "--sampler", "device", "-q")
    res = runner.invoke(cli, base)
    assert res.exit_code == 0, res.output
    assert read_metadata(out)["sampler"] == "device"
    real = train_args(hr_folder, tmp_path / "r.safetensors", 3, "--device", "cpu", "-q")
    res = runner.invoke(cli, [*real, "--sampler", "device", "--degradation", "real"])
    assert res.exit_code != 0 and "--sampler host" in res.output
    assert "Traceback" not in res.output and len(res.output.strip().splitlines()) == 1


@pytest.mark.slow
@pytest.mark.skipif(
    shutil.which("torchrun") is None
    and not os.path.exists(os.path.join(os.path.dirname(sys.executable), "torchrun")),
    reason="torchrun not installed",
)
def test_torchrun_two_cpu_processes_resume_bit_for_bit_with_validation(hr_folder, tmp_path):
    torchrun = shutil.which("torchrun") or os.path.join(os.path.dirname(sys.executable), "torchrun")
    env = dict(os.environ, OMP_NUM_THREADS="1")

    def run(out, *extra):
        args = train_args(hr_folder, out, 4, "--device", "cpu", "-q", "--val", str(hr_folder))
        res = subprocess.run(
            [torchrun, "--nproc_per_node=2", "--master_port=29517", "-m", "srup", *args, *extra],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
        )
        assert res.returncode == 0, res.stderr[-2000:]

    straight, staged = tmp_path / "ddp.safetensors", tmp_path / "staged.safetensors"
    run(straight, "--degradation", "real")
    assert read_metadata(straight)["steps"] == "4"
    run(staged, "--degradation", "real", "--stop-at", "2")
    assert read_metadata(staged)["steps"] == "2"
    run(staged, "--degradation", "real", "--resume")
    assert same_tensors(straight, staged)


def test_running_out_of_memory_saves_a_checkpoint_and_says_how_to_continue(
    hr_folder, tmp_path, monkeypatch
):
    import torch

    out = tmp_path / "m.safetensors"
    real = PatchSampler.__call__
    calls = []

    def sample(self, rng):
        calls.append(1)
        if len(calls) > 3:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 1.00 GiB")
        return real(self, rng)

    monkeypatch.setattr(PatchSampler, "__call__", sample)
    with pytest.raises(SrupError, match="out of memory on cpu after step 3, saved"):
        train(config(hr_folder, out))
    assert (tmp_path / "m.safetensors.ckpt.safetensors").is_file() and not out.exists()
    monkeypatch.setattr(PatchSampler, "__call__", real)
    assert train(config(hr_folder, out, resume=True)).step == 6
