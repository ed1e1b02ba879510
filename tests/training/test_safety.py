"""`srup train` never loses work by accident: outputs and checkpoints are replaced only when
asked, a resume checks its checkpoint and the options, --stop-at leaves usable weights,
SIGTERM and failures save a checkpoint, and usage mistakes are one line with exit 2."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from srup.cli import cli
from srup.errors import (
    BadWeightsError,
    DataError,
    InvalidArgument,
    OutputError,
    SrupError,
    UnknownModelError,
)
from srup.models.weights import load_state, read_metadata, save_state
from srup.training.config import changed_options
from srup.training.loop import train
from tests.conftest import photo, train_args
from tests.conftest import train_config as config


def args(hr_folder, out, *extra: str) -> list[str]:
    """A six-step run, seeded, in this process's thread, on the CPU, quiet."""
    quiet = ("--seed", "3", "--workers", "0", "--device", "cpu", "-q")
    return train_args(hr_folder, out, 6, *quiet, *extra)


def ckpt(out):
    return out.with_name(out.name + ".ckpt.safetensors")


def one_line(output: str) -> None:
    assert "Traceback" not in output and len(output.strip().splitlines()) == 1, output


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    """A run of 6 steps left off at step 2: its folder, data, weights and checkpoint."""
    root = tmp_path_factory.mktemp("staged")
    hr = root / "hr"
    hr.mkdir()
    for i, (w, h) in enumerate([(48, 48), (50, 38)]):
        Image.fromarray(photo(w, h, seed=i)).save(hr / f"img{i}.png")
    out = root / "w.safetensors"
    train(config(hr, out, stop_at=2))
    return hr, out


def copy_run(staged, tmp_path):
    hr, out = staged
    mine = tmp_path / out.name
    shutil.copy(out, mine)
    shutil.copy(ckpt(out), ckpt(mine))
    return hr, mine


# ------------------------------------------------------------------ replacing outputs


@pytest.mark.parametrize("which", ["output", "checkpoint", "both"])
def test_an_existing_output_or_checkpoint_is_not_replaced_without_overwrite(
    hr_folder, tmp_path, runner, which
):
    out = tmp_path / "w.safetensors"
    kept = {}
    if which in ("output", "both"):
        out.write_bytes(b"hours of work")
        kept[out] = out.read_bytes()
    if which in ("checkpoint", "both"):
        ckpt(out).write_bytes(b"the run so far")
        kept[ckpt(out)] = ckpt(out).read_bytes()
    with pytest.raises(OutputError, match="exists; use --overwrite") as caught:
        train(config(hr_folder, out))
    if which != "output":  # a checkpoint is a run to continue
        assert "--resume" in str(caught.value)
    res = runner.invoke(cli, args(hr_folder, out))
    assert res.exit_code == 1 and "--overwrite" in res.output
    one_line(res.output)
    assert {p: p.read_bytes() for p in kept} == kept
    assert out.exists() == (which != "checkpoint") and ckpt(out).exists() == (which != "output")
    res = runner.invoke(cli, args(hr_folder, out, "--overwrite"))
    assert res.exit_code == 0, res.output
    assert read_metadata(out)["steps"] == "6"


def test_resume_and_overwrite_together_are_refused(hr_folder, tmp_path, runner):
    out = tmp_path / "w.safetensors"
    with pytest.raises(InvalidArgument, match="give one of them"):
        train(config(hr_folder, out, resume=True, overwrite=True))
    res = runner.invoke(cli, args(hr_folder, out, "--resume", "--overwrite"))
    assert res.exit_code == 2
    one_line(res.output)


# ----------------------------------------------------------- usage mistakes: exit 2


@pytest.mark.parametrize(
    "extra,words",
    [
        (["-o", "{tmp}/x.pth"], ".safetensors"),
        (["-o", "{tmp}/x.pt"], ".safetensors"),
        (["-o", "{tmp}/x"], ".safetensors"),
        (["-o", "{tmp}/x.safetensors.bak"], ".safetensors"),
        (["-s", "5"], "espcn trains at ×2, ×3, ×4"),
        (["-s", "8"], "espcn trains at ×2, ×3, ×4"),
        (["-m", "espcn-real"], "espcn-real is a shipped weight set of espcn"),
        (["-m", "fsrcnn-real"], "-m fsrcnn --degradation real"),
        (["-m", "espcn-rgb"], "-m espcn --input rgb"),
        (["-m", "espcn7-real"], "espcn, espcn7, fsrcnn, srcnn"),
        (["-m", "nosuch"], "espcn, espcn7, fsrcnn, srcnn"),
        (["-m", "auto"], "espcn, espcn7, fsrcnn, srcnn"),
        (["-m", "srcnn", "--input", "rgb"], "srcnn reads Y"),
    ],
)
def test_training_usage_mistakes_exit_2_in_one_line(hr_folder, tmp_path, runner, extra, words):
    out = tmp_path / "w.safetensors"
    argv = args(hr_folder, out) + [a.replace("{tmp}", str(tmp_path)) for a in extra]
    res = runner.invoke(cli, argv)
    assert res.exit_code == 2, res.output
    one_line(res.output)
    assert words in res.output
    assert list(tmp_path.glob("*.safetensors*")) == [] and not list(tmp_path.glob("x*"))


def test_a_shipped_variant_name_is_refused_by_the_api_naming_the_architectures(hr_folder, tmp_path):
    with pytest.raises(UnknownModelError, match=r"training takes an architecture \(espcn, "):
        train(config(hr_folder, tmp_path / "w.safetensors", model="fsrcnn-real"))


@pytest.mark.parametrize(
    "field,value,error",
    [
        ("scale", 2.0, InvalidArgument),
        ("scale", "2", InvalidArgument),
        ("batch_size", 0, InvalidArgument),
        ("patch_size", -1, InvalidArgument),
        ("lr", 0.0, InvalidArgument),
        ("lr", float("nan"), InvalidArgument),
        ("epochs", 0, InvalidArgument),
        ("max_steps", 0, InvalidArgument),
        ("stop_at", 0, InvalidArgument),
        ("workers", -1, InvalidArgument),
        ("checkpoint_minutes", 0, InvalidArgument),
        ("synthetic_text", 1.5, InvalidArgument),
        ("loss", "huber", InvalidArgument),
        ("sampler", "gpu", InvalidArgument),
        ("input_space", "y", InvalidArgument),
        ("data", [], InvalidArgument),
        ("data", "hr", InvalidArgument),
        ("output", 3, InvalidArgument),
        ("resume", "yes", InvalidArgument),
        ("model", 3, InvalidArgument),
    ],
)
def test_a_config_that_cannot_run_is_refused_before_any_work(
    hr_folder, tmp_path, field, value, error
):
    out = tmp_path / "w.safetensors"
    with pytest.raises(error):
        train(config(hr_folder, out, **{field: value}))
    assert not out.exists() and not ckpt(out).exists()


# ------------------------------------------------------------------------ --stop-at


def test_cli_stop_at_reports_the_weights_and_the_checkpoint(hr_folder, tmp_path, runner):
    out = tmp_path / "w.safetensors"
    res = runner.invoke(cli, args(hr_folder, out, "--stop-at", "2"))
    assert res.exit_code == 0, res.output
    assert "stopped at step 2" in res.output and str(out) in res.output
    assert read_metadata(out)["steps"] == "2" and ckpt(out).is_file()
    # The stage's weights do not make a later fresh run overwrite them silently.
    res = runner.invoke(cli, args(hr_folder, out))
    assert res.exit_code == 1 and "--resume" in res.output
    res = runner.invoke(cli, args(hr_folder, out, "--resume"))
    assert res.exit_code == 0, res.output
    assert read_metadata(out)["steps"] == "6"


def test_stop_at_with_validation_writes_the_best_weights_so_far(hr_folder, tmp_path):
    out = tmp_path / "w.safetensors"
    summary = train(config(hr_folder, out, max_steps=40, stop_at=30, val=str(hr_folder)))
    assert summary.stopped and summary.step == 30
    meta = read_metadata(out)
    assert meta["steps"] == "30" and float(meta["val_psnr"]) > 20
    best, _ = load_state(out)
    state, _ = load_state(ckpt(out))
    assert all(np.array_equal(v.numpy(), state[f"best.{k}"].numpy()) for k, v in best.items())


# ----------------------------------------------------------- --resume checks its input


def rewrite_record(path, change) -> None:
    """Rewrite a checkpoint's srup_checkpoint record (``change`` edits the dict or returns
    the raw text to store)."""
    tensors, header = load_state(path)
    record = json.loads(header["srup_checkpoint"])
    text = change(record)
    save_state(path, tensors, {"srup_checkpoint": text if text is not None else json.dumps(record)})


def set_key(key, value):
    return lambda r: r.__setitem__(key, value)


def drop_key(key):
    return lambda r: r.pop(key) and None


RECORDS = {
    "not-json": (lambda r: "{step: 2", "not valid JSON"),
    "json-list": (lambda r: "[2]", "not a JSON object"),
    "json-number": (lambda r: "2", "not a JSON object"),
    "step-missing": (drop_key("step"), "step None"),
    "step-text": (set_key("step", "2"), "step '2'"),
    "step-negative": (set_key("step", -1), "step -1"),
    "step-fraction": (set_key("step", 2.5), "step 2.5"),
    "step-bool": (set_key("step", True), "step True"),
    "step-past-the-end": (set_key("step", 7), "past this run's last"),
    "best-psnr-text": (set_key("best_psnr", "high"), "best_psnr"),
    "seconds-null": (set_key("seconds", None), "seconds"),
    "config-missing": (drop_key("config"), "no run config"),
    "config-list": (set_key("config", []), "no run config"),
}


@pytest.mark.parametrize("name", sorted(RECORDS))
def test_resume_refuses_a_damaged_checkpoint_record_in_one_line(staged, tmp_path, runner, name):
    hr, out = copy_run(staged, tmp_path)
    change, words = RECORDS[name]
    rewrite_record(ckpt(out), change)
    before = ckpt(out).read_bytes(), out.read_bytes()
    with pytest.raises(BadWeightsError, match=words):
        train(config(hr, out, resume=True))
    res = runner.invoke(cli, args(hr, out, "--resume"))
    assert res.exit_code == 1, res.output
    one_line(res.output)
    assert (ckpt(out).read_bytes(), out.read_bytes()) == before


def test_resume_refuses_a_file_without_srups_record(staged, tmp_path, runner):
    hr, out = copy_run(staged, tmp_path)
    shutil.copy(out, ckpt(out))  # plain weights where the checkpoint should be
    with pytest.raises(BadWeightsError, match="not a srup training checkpoint"):
        train(config(hr, out, resume=True))
    ckpt(out).write_bytes(b"\x80\x04garbage")
    res = runner.invoke(cli, args(hr, out, "--resume"))
    assert res.exit_code == 1 and "pickle" in res.output
    one_line(res.output)


@pytest.mark.parametrize(
    "damage,words",
    [
        ("drop-model-tensor", "missing"),
        ("wrong-optimiser-shape", "optimiser tensor optim.0.exp_avg"),
        ("foreign-optimiser-tensor", "optim.99.exp_avg"),
        ("nan-in-the-moments", "NaN"),
        ("drop-an-optimiser-step", "lacks the optimiser tensor optim.0.step"),
        ("drop-every-optimiser-tensor", "lacks the optimiser tensor optim.0.step"),
        ("float8-weights", "float8_e4m3fn, which srup cannot run"),
    ],
)
def test_resume_refuses_checkpoint_tensors_that_do_not_fit(staged, tmp_path, runner, damage, words):
    import torch

    hr, out = copy_run(staged, tmp_path)
    tensors, header = load_state(ckpt(out))
    if damage == "drop-model-tensor":
        tensors.pop("model.body.0.bias")
    elif damage == "wrong-optimiser-shape":
        tensors["optim.0.exp_avg"] = torch.zeros(3)
    elif damage == "foreign-optimiser-tensor":
        tensors["optim.99.exp_avg"] = torch.zeros(3)
    elif damage == "drop-an-optimiser-step":
        tensors.pop("optim.0.step")
    elif damage == "drop-every-optimiser-tensor":
        tensors = {k: v for k, v in tensors.items() if not k.startswith("optim.")}
    elif damage == "float8-weights":
        tensors["model.body.0.bias"] = tensors["model.body.0.bias"].to(torch.float8_e4m3fn)
    else:
        tensors["optim.1.exp_avg_sq"] = torch.full_like(tensors["optim.1.exp_avg_sq"], np.nan)
    save_state(ckpt(out), tensors, header)
    with pytest.raises(BadWeightsError, match=words):
        train(config(hr, out, resume=True))
    res = runner.invoke(cli, args(hr, out, "--resume"))
    assert res.exit_code == 1 and "internal error" not in res.output, res.output
    one_line(res.output)


@pytest.mark.parametrize(
    "change,words",
    [({"model": "fsrcnn"}, "a run of espcn ×2, not fsrcnn ×2"), ({"scale": 3}, "not espcn ×3")],
)
def test_resume_refuses_a_checkpoint_of_another_model_or_scale(
    staged, tmp_path, runner, change, words
):
    hr, out = copy_run(staged, tmp_path)
    with pytest.raises(InvalidArgument, match=words):
        train(config(hr, out, resume=True, **change))
    flag = ["-m", change["model"]] if "model" in change else ["-s", str(change["scale"])]
    res = runner.invoke(cli, args(hr, out, "--resume", *flag))
    assert res.exit_code == 2 and words in res.output
    one_line(res.output)


def test_resume_without_a_checkpoint_says_so(hr_folder, tmp_path, runner):
    out = tmp_path / "w.safetensors"
    res = runner.invoke(cli, args(hr_folder, out, "--resume"))
    assert res.exit_code == 1 and "no checkpoint" in res.output
    one_line(res.output)


# ------------------------------------------------------ --resume with changed options


def test_resume_with_changed_options_refuses_and_names_each(staged, tmp_path, runner):
    hr, out = copy_run(staged, tmp_path)
    before = ckpt(out).read_bytes()
    with pytest.raises(InvalidArgument) as caught:
        train(config(hr, out, resume=True, lr=5e-4, batch_size=8, loss="mse"))
    message = str(caught.value)
    for change in ("--lr 0.001 → 0.0005", "--batch-size 4 → 8", "--loss l1 → mse"):
        assert change in message
    assert "--allow-changes" in message and "\n" not in message
    res = runner.invoke(cli, args(hr, out, "--resume", "--lr", "5e-4"))
    assert res.exit_code == 2 and "--lr 0.001 → 0.0005" in res.output
    one_line(res.output)
    assert ckpt(out).read_bytes() == before


def test_resume_with_allow_changes_goes_on_and_lists_them(staged, tmp_path, runner):
    hr, out = copy_run(staged, tmp_path)
    res = runner.invoke(cli, args(hr, out, "--resume", "--allow-changes", "--lr", "5e-4"))
    assert res.exit_code == 0, res.output
    assert "note: resumed with changed options: --lr 0.001 → 0.0005" in res.output
    assert read_metadata(out)["steps"] == "6"


def test_options_that_do_not_shape_the_result_may_change_on_resume(staged, tmp_path):
    hr, out = copy_run(staged, tmp_path)
    # Workers, checkpoint interval and staging are how the run goes, not what it computes;
    # a path spelled differently is the same data.
    relative = os.path.relpath(hr)
    summary = train(
        config(relative, out, resume=True, workers=2, checkpoint_minutes=3.0, stop_at=None)
    )
    assert summary.step == 6 and summary.notes == []


def test_changed_options_compares_resolved_paths_and_ignores_staging(tmp_path):
    cfg = config(tmp_path / "hr", tmp_path / "w.safetensors")
    saved = json.loads(json.dumps(cfg.__dict__))
    assert changed_options(saved, cfg) == []
    moved = config(f"{tmp_path}/./hr", tmp_path / "w.safetensors", stop_at=3, workers=5)
    assert changed_options(saved, moved) == []
    other = config(tmp_path / "other", tmp_path / "w.safetensors", input_space="RGB", seed=9)
    assert changed_options(saved, other) == [
        f"DATA {tmp_path / 'hr'} → {tmp_path / 'other'}",
        "--seed 3 → 9",
        "--input y → rgb",
    ]


# ------------------------------------------------------- signals and failures keep work


def test_sigterm_saves_a_checkpoint_then_hands_the_signal_on(hr_folder, tmp_path):
    # Whatever handler was there before gets SIGTERM once the checkpoint is written:
    # the CLI's exits 143.
    class Handed(Exception):
        pass

    def previous(signum, frame):
        raise Handed

    out = tmp_path / "w.safetensors"
    seen = []

    def terminate_at_the_first_log(info):
        if not seen:
            seen.append(info.step)
            os.kill(os.getpid(), signal.SIGTERM)

    old = signal.signal(signal.SIGTERM, previous)
    try:
        with pytest.raises(Handed):
            train(config(hr_folder, out, max_steps=200), progress=terminate_at_the_first_log)
        assert signal.getsignal(signal.SIGTERM) is previous
    finally:
        signal.signal(signal.SIGTERM, old)
    _tensors, header = load_state(ckpt(out))
    # The step under way when the signal came is finished and saved; no more.
    assert json.loads(header["srup_checkpoint"])["step"] == seen[0] < 200
    assert not out.exists()


@pytest.mark.slow
def test_cli_sigterm_during_training_exits_143_with_a_checkpoint_to_resume(hr_folder, tmp_path):
    out = tmp_path / "w.safetensors"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    argv = [sys.executable, "-m", "srup", *args(hr_folder, out)]
    argv[argv.index("--max-steps") + 1] = "1000000"
    proc = subprocess.Popen(
        [*argv, "--checkpoint-minutes", "0.002"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    deadline = time.monotonic() + 120
    while not ckpt(out).exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    assert ckpt(out).exists(), proc.communicate()
    proc.send_signal(signal.SIGTERM)
    _stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 143, stderr
    one_line(stderr)
    assert "terminated" in stderr and "--resume" in stderr
    step = json.loads(load_state(ckpt(out))[1]["srup_checkpoint"])["step"]
    assert step > 0 and not out.exists()
    res = subprocess.run(
        [*argv, "--resume", "--stop-at", str(step + 2)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert read_metadata(out)["steps"] == str(step + 2)


def test_a_failure_during_validation_saves_the_steps_done(hr_folder, tmp_path, monkeypatch):
    from srup.training import validation

    out = tmp_path / "w.safetensors"
    real, calls = validation.validate, []

    def failing(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("validation broke")
        return real(*a, **k)

    monkeypatch.setattr(validation, "validate", failing)
    with pytest.raises(RuntimeError, match="validation broke"):
        train(config(hr_folder, out, max_steps=40, val=str(hr_folder)))
    step = json.loads(load_state(ckpt(out))[1]["srup_checkpoint"])["step"]
    assert step > 2
    monkeypatch.setattr(validation, "validate", real)
    assert train(config(hr_folder, out, max_steps=40, val=str(hr_folder), resume=True)).step == 40


def test_validation_on_pictures_under_the_ssim_window_scores_psnr(tmp_path):
    # 12×12 at ×2: 8×8 once shaved, under SSIM's 11×11 window but enough for PSNR.
    data, val = tmp_path / "hr", tmp_path / "val"
    data.mkdir()
    val.mkdir()
    Image.fromarray(photo(48, 48)).save(data / "a.png")
    for i, size in enumerate([12, 13, 20]):
        Image.fromarray(photo(size, size, seed=i)).save(val / f"v{i}.png")
    out = tmp_path / "w.safetensors"
    summary = train(config(data, out, val=str(val)))
    assert np.isfinite(summary.val_psnr) and float(read_metadata(out)["val_psnr"]) > 10


@pytest.mark.parametrize("size", [1, 4, 5])
def test_a_validation_picture_too_small_to_score_is_refused_before_training(tmp_path, size):
    # ×2 needs 6×6: cropped to a multiple of 2 and shaved by 2, a smaller one leaves nothing.
    data, val = tmp_path / "hr", tmp_path / "val"
    data.mkdir()
    val.mkdir()
    Image.fromarray(photo(48, 48)).save(data / "a.png")
    Image.fromarray(photo(size, size)).save(val / "tiny.png")
    out = tmp_path / "w.safetensors"
    with pytest.raises(DataError, match=r"tiny\.png: .* too small to score at ×2"):
        train(config(data, out, val=str(val)))
    assert not out.exists() and not ckpt(out).exists()


def test_weights_that_diverged_to_nan_are_not_written(hr_folder, tmp_path, monkeypatch):
    import torch

    out = tmp_path / "w.safetensors"
    real_step = torch.optim.Adam.step

    def diverge(self, *a, **k):
        result = real_step(self, *a, **k)
        with torch.no_grad():
            self.param_groups[0]["params"][0].fill_(float("nan"))
        return result

    monkeypatch.setattr(torch.optim.Adam, "step", diverge)
    with pytest.raises(SrupError, match=r"training diverged: tensor .* NaN"):
        train(config(hr_folder, out))
    assert not out.exists()
