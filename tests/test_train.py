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
from srup.train import PatchSampler, TrainConfig, load_images, train
from srup.weights import load_state, read_metadata

from .conftest import photo


def train_args(data, out, steps: int, *extra: str) -> list[str]:
    """`srup train` arguments for a tiny ESPCN ×2 run on ``data``."""
    return [
        "train",
        str(data),
        "-m",
        "espcn",
        "-s",
        "2",
        "-o",
        str(out),
        "--max-steps",
        str(steps),
        "--batch-size",
        "4",
        "--patch-size",
        "8",
        *extra,
    ]


def config(hr_folder, out, **kw):
    base = dict(
        model="espcn",
        scale=2,
        data=[str(hr_folder)],
        output=str(out),
        max_steps=6,
        batch_size=4,
        patch_size=8,
        seed=3,
        workers=0,
        device="cpu",
    )
    base.update(kw)
    return TrainConfig(**base)


def test_patches_have_the_right_shapes_and_follow_the_seed(hr_folder):
    sampler = PatchSampler(load_images([hr_folder]), 3, 6, 5)
    lr, hr = sampler(np.random.default_rng(1))
    assert lr.shape == (5, 1, 6, 6) and hr.shape == (5, 1, 18, 18)
    again, _ = sampler(np.random.default_rng(1))
    assert np.array_equal(lr, again)
    assert lr.min() > 0 and lr.max() < 1


def test_short_run_writes_weights_with_a_header(hr_folder, tmp_path):
    out = tmp_path / "w.safetensors"
    summary = train(config(hr_folder, out, val=str(hr_folder)))
    assert summary["step"] == 6
    meta = read_metadata(out)
    assert meta["model"] == "espcn" and meta["scale"] == "2" and meta["steps"] == "6"
    assert float(meta["val_psnr"]) > 20


def test_resume_continues_bit_for_bit(hr_folder, tmp_path):
    straight = tmp_path / "straight.safetensors"
    train(config(hr_folder, straight, max_steps=8))
    split = tmp_path / "split.safetensors"

    def interrupt_at_4(info):
        if info["step"] == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(config(hr_folder, split, max_steps=8), progress=interrupt_at_4)
    assert not split.exists()
    train(config(hr_folder, split, max_steps=8, resume=True))
    a, _ = load_state(straight)
    b, _ = load_state(split)
    assert all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)


def test_same_seed_gives_the_same_weights(hr_folder, tmp_path):
    one, two = tmp_path / "1.safetensors", tmp_path / "2.safetensors"
    train(config(hr_folder, one))
    train(config(hr_folder, two))
    a, _ = load_state(one)
    b, _ = load_state(two)
    assert all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)


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


@pytest.mark.slow
@pytest.mark.skipif(
    shutil.which("torchrun") is None
    and not os.path.exists(os.path.join(os.path.dirname(sys.executable), "torchrun")),
    reason="torchrun not installed",
)
def test_torchrun_two_cpu_processes(hr_folder, tmp_path):
    torchrun = shutil.which("torchrun") or os.path.join(os.path.dirname(sys.executable), "torchrun")
    out = tmp_path / "ddp.safetensors"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    res = subprocess.run(
        [
            torchrun,
            "--nproc_per_node=2",
            "--master_port=29517",
            "-m",
            "srup",
            *train_args(hr_folder, out, 4, "--device", "cpu", "-q"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert read_metadata(out)["steps"] == "4"
