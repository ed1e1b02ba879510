"""The CUDA path: run with `python -m pytest -m cuda` on a machine with an NVIDIA GPU.

Skipped, visibly, where torch sees no CUDA device (CI, laptops). What they check is what the
README promises for CUDA; on the first GPU run, a failure here is the finding to act on.
"""

from __future__ import annotations

import numpy as np
import pytest

import srup
from srup.models import registry

from .conftest import SHARED, needs_shared, photo
from .test_train import config, same_tensors

torch = pytest.importorskip("torch")

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


@pytest.mark.parametrize("name", registry.names())
def test_cuda_fp32_tiled_output_equals_untiled_output(name):
    img = photo(203, 131, seed=2)
    whole = srup.load(name, 3, device="cuda", precision="fp32", tile=0).upscale_array(img)
    for tile in (64, 100, 157):
        up = srup.load(name, 3, device="cuda", precision="fp32", tile=tile)
        assert np.array_equal(whole, up.upscale_array(img)), tile


@pytest.mark.parametrize("name", registry.names())
def test_cuda_fp32_agrees_with_the_cpu_within_one_level(name):
    img = photo(120, 90, seed=4)
    cpu = srup.load(name, 3, device="cpu", precision="fp32").upscale_array(img).astype(int)
    gpu = srup.load(name, 3, device="cuda", precision="fp32").upscale_array(img).astype(int)
    diff = np.abs(cpu - gpu)
    assert diff.max() <= 1 and (diff > 0).mean() <= 0.001


def test_fp32_on_cuda_runs_without_tf32_and_restores_the_callers_setting():
    torch.backends.cudnn.allow_tf32 = True
    seen = []
    up = srup.load("fsrcnn", 2, device="cuda", precision="fp32")
    hook = up.net.register_forward_hook(lambda *_: seen.append(torch.backends.cudnn.allow_tf32))
    up.upscale_array(photo(40, 30))
    hook.remove()
    assert seen and not any(seen) and torch.backends.cudnn.allow_tf32


@needs_shared
@pytest.mark.parametrize("name", registry.names())
def test_fp16_on_cuda_stays_within_two_hundredths_of_a_db_on_set5(name):
    from srup import benchmark as bm

    pairs = bm.pairs(bm.discover(SHARED / "Set5"), 3)
    psnr = {}
    for precision in ("fp32", "fp16"):
        up = srup.load(name, 3, device="cuda", precision=precision)
        psnr[precision] = np.mean([s.psnr for s in bm.evaluate(up.upscale_array, pairs, 3)])
    assert psnr["fp16"] >= psnr["fp32"] - 0.02


def test_training_on_cuda_resumes_bit_for_bit(hr_folder, tmp_path):
    from srup.train import train

    straight, split = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    train(config(hr_folder, straight, max_steps=8, device="cuda"))
    train(config(hr_folder, split, max_steps=8, device="cuda", stop_at=4))
    train(config(hr_folder, split, max_steps=8, device="cuda", resume=True))
    assert same_tensors(straight, split)
