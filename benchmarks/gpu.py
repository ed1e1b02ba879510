"""Upscaling speed on a GPU, and where the time goes.

    python benchmarks/gpu.py [--models espcn,fsrcnn,espcn7,srcnn] [--train] [--json F]
    python benchmarks/gpu.py --device mps            # Apple GPUs
    python benchmarks/gpu.py --device cpu --quick    # checks the script, not a machine

For each model, scale, output size (1080p, 4K) and precision: output megapixels per second
for the whole `Upscaler.upscale_array` call (NumPy in, NumPy out, median of 10 after
warm-up), and that time split into its parts, each timed alone with the others' data in
place: the upload of the input, the device work (tiles, colour, network, rounding), and
the copy of the finished output to the host (pinned memory) — the floor no upscaler that
returns its result to the host can beat. `÷ copy` is total time over that floor; `÷ FLOP`
is total time over the time the model's multiply-adds take at the measured rate of a
large matrix product in the same precision. Then the peak GPU memory of a 108-megapixel
×3 output, and, with `--train`, ESPCN training steps per second at batch 32 on the GPU
(batches cut on the device, and on the host) against this machine's CPU.

``--device`` runs it on CUDA (the default), MPS or the CPU (the device-resident path on each;
on the CPU no memory is page-locked and no peak memory is reported). ``--quick`` shrinks every
size and count so that the whole script runs in seconds: the test suite runs it so on the
CPU, so that a GPU loan is not spent finding out that it broke.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

import srup
from srup.devices import exact_numerics, precision_name, resolve_device, resolve_precision
from srup.models import registry
from srup.runtime.tilers.device import ResidentTiler

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
PRECISIONS = {"cuda": ("fp16", "fp32"), "mps": ("fp16", "fp32"), "cpu": ("fp32",)}


@dataclass(frozen=True)
class Sizes:
    """How big and how often each part runs."""

    outputs: dict[str, tuple[int, int]]  # output sizes of the speed rows
    repeat: int  # timed calls per measurement (median)
    matmul: int  # side of the product that gives the FLOP rate (a GPU's; a CPU's is 1024)
    profile: tuple[int, int]  # input of the profiled ESPCN ×3
    memory: tuple[int, int]  # input of the peak-memory ×3 upscale
    steps: tuple[int, int, int]  # training: device sampler, host sampler on the device, CPU
    workers: int  # the host sampler's threads


FULL = Sizes(
    outputs={"1080p": (1920, 1080), "4K": (3840, 2160)},
    repeat=10,
    matmul=8192,
    profile=(1280, 720),
    memory=(6000, 2000),
    steps=(2000, 300, 60),
    workers=8,
)
QUICK = Sizes(
    outputs={"360p": (640, 360)},
    repeat=2,
    matmul=1024,
    profile=(320, 180),
    memory=(400, 300),
    steps=(4, 2, 2),
    workers=1,
)


def sync(device: torch.device) -> None:
    """Wait until ``device`` has done all the work queued on it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def device_time(fn, device: torch.device, repeat: int = 10) -> float:
    """Median seconds of ``fn()`` after two warm-up calls, the device drained around each."""
    for _ in range(2):
        fn()
    sync(device)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def matmul_rate(dtype: torch.dtype, device: torch.device, n: int, repeat: int) -> float:
    """Multiply-adds per second of an n³ product (TF32 off for float32, as srup runs)."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    with exact_numerics(device, dtype):
        return n**3 / device_time(lambda: a @ b, device, repeat)


def picture(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A random-phase smooth picture with noise (never zeros: they run faster)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = 128 + 90 * np.sin(x / 7 + rng.random() * 6) * np.cos(y / 11)
    img = base[:, :, None] + rng.normal(0, 12, (height, width, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def split(up: srup.Upscaler, img: np.ndarray, repeat: int) -> dict[str, float]:
    """Seconds of the whole call and of its three parts, each alone."""
    tiler = up.tiler
    assert isinstance(tiler, ResidentTiler)
    maxv = 255.0
    padded, tiles, pads = tiler.prepare(img)
    shape = (img.shape[0] * up.scale, img.shape[1] * up.scale, 3)
    out_dev = torch.empty(shape, dtype=torch.uint8, device=up.device)
    host = torch.empty(shape, dtype=torch.uint8, pin_memory=up.device.type == "cuda")

    def compute() -> None:
        for t in tiles:
            tiler.compute(padded, t, pads, maxv)

    # The parts under srup's own numerics settings, as the whole call runs them.
    with torch.inference_mode(), exact_numerics(up.device, up.dtype):
        return {
            "total": device_time(lambda: up.upscale_array(img), up.device, repeat),
            "upload": device_time(lambda: tiler.prepare(img), up.device, repeat),
            "compute": device_time(compute, up.device, repeat),
            "copy": device_time(lambda: host.copy_(out_dev, non_blocking=True), up.device, repeat),
            "bands": len(tiles),
        }


def speed_rows(
    models: list[str],
    rates: dict[str, float],
    device: torch.device,
    outputs: dict[str, tuple[int, int]],
    repeat: int,
    scales: set[int] | None = None,
) -> tuple[list[str], list[dict]]:
    lines = [
        "| model | × | output | precision | MP/s | ms | upload | device | copy back | "
        "÷ copy | ÷ FLOP |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    records = []
    for name in models:
        spec = registry.get(name)
        for scale in [s for s in spec.scales if scales is None or s in scales]:
            macs = spec.macs_per_pixel(scale)
            for label, (ow, oh) in outputs.items():
                img = picture(ow // scale, oh // scale)
                for precision in PRECISIONS[device.type]:
                    up = srup.load(
                        name, scale, device=str(device), precision=precision, resident=True
                    )
                    t = split(up, img, repeat)
                    mp = ow * oh / 1e6
                    flop_s = macs * ow * oh / rates[precision]
                    rec = dict(model=name, scale=scale, output=label, precision=precision, **t)
                    rec.update(mp_per_s=mp / t["total"], flop_bound_s=flop_s)
                    records.append(rec)
                    lines.append(
                        f"| {name} | {scale} | {label} | {precision} | {mp / t['total']:,.0f} | "
                        f"{t['total'] * 1e3:.2f} | {t['upload'] * 1e3:.2f} | "
                        f"{t['compute'] * 1e3:.2f} | {t['copy'] * 1e3:.2f} | "
                        f"{t['total'] / t['copy']:.2f} | {t['total'] / flop_s:.0f} |"
                    )
                    print(lines[-1], flush=True)
    return lines, records


def profile(path: Path, device: torch.device, size: tuple[int, int]) -> None:
    """The device's kernels for ESPCN ×3 (to 4K from 1280×720) in the device's first
    precision, by total time."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    precision = PRECISIONS[device.type][0]
    up = srup.load("espcn", 3, device=str(device), precision=precision, resident=True)
    img = picture(*size)
    for _ in range(3):
        up.upscale_array(img)
    activities = [ProfilerActivity.CPU]
    if device.type == "cuda":
        activities.append(ProfilerActivity.CUDA)
    with torch_profile(activities=activities) as prof:
        for _ in range(5):
            up.upscale_array(img)
        sync(device)
    averages = prof.key_averages()
    if device.type != "cuda":
        table = averages.table(sort_by="self_cpu_time_total", row_limit=30)
    else:
        try:
            table = averages.table(sort_by="device_time_total", row_limit=30)
        except (KeyError, AttributeError, ValueError):  # older torch names it after CUDA
            table = averages.table(sort_by="cuda_time_total", row_limit=30)
    path.write_text(table)


def peak_memory(
    device: torch.device, size: tuple[int, int], name: str = "espcn", scale: int = 3
) -> dict[str, float | None]:
    """Peak device memory (CUDA only; None elsewhere) and time of a ×3 upscale of ``size``
    (6000×2000 in: a 108-megapixel output)."""
    img = picture(*size, seed=1)
    up = srup.load(name, scale, device=str(device), resident=True)
    up.upscale_array(img[:200, :200])
    sync(device)
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    out = up.upscale_array(img)  # on the host when it returns
    seconds = time.perf_counter() - start
    return {
        "model": name,
        "precision": precision_name(up.dtype),
        "output_mp": out.shape[0] * out.shape[1] / 1e6,
        "peak_gib": torch.cuda.max_memory_allocated(device) / 2**30 if cuda else None,
        "seconds": seconds,
    }


def train_rate(data: Path, device: str, sampler: str, steps: int, workers: int) -> float:
    from srup.training.loop import TrainConfig, train

    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainConfig(
            model="espcn",
            scale=3,
            data=[str(data / "T91")],
            output=str(Path(tmp) / "w.safetensors"),
            max_steps=steps + 20,
            stop_at=20,
            batch_size=32,
            patch_size=24,
            workers=workers,
            device=device,
            sampler=sampler,
        )
        train(cfg)  # the first steps (lazily built buffers), outside the timing
        cfg.resume, cfg.stop_at = True, None
        # Timed between the run's own log points (each reads the loss, so the device has
        # caught up there): steps alone, without loading the pictures or writing weights.
        marks: list[tuple[int, float]] = []
        train(cfg, progress=lambda p: marks.append((p.step, time.perf_counter())))
        (first, t0), (last, t1) = marks[0], marks[-1]
        return (last - first) / (t1 - t0)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cuda", help="cuda, cuda:N, mps or cpu")
    parser.add_argument("--models", default="espcn,fsrcnn,espcn7,srcnn")
    parser.add_argument("--scales", help="comma-separated; default: every scale")
    parser.add_argument(
        "--cudnn-benchmark",
        action="store_true",
        help="let cuDNN time its algorithms per shape (fp16; fp32 stays deterministic)",
    )
    parser.add_argument("--profile", type=Path, help="write a kernel profile of ESPCN ×3 4K")
    parser.add_argument("--train", action="store_true")
    parser.add_argument("--data", type=Path, default=DATA, help="holds T91/ for --train")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--quick", action="store_true", help="tiny sizes and counts")
    args = parser.parse_args()
    try:
        device = resolve_device(args.device)
    except srup.SrupError as e:
        raise SystemExit(str(e)) from None
    sizes = QUICK if args.quick else FULL
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else device.type
    side = sizes.matmul if device.type != "cpu" else 1024
    repeat = min(sizes.repeat, 5)  # an 8192³ product takes long enough to time 5 times
    rates = {
        p: matmul_rate(resolve_precision(p, device), device, side, repeat)
        for p in PRECISIONS[device.type]
    }
    print(
        f"{name}; torch {torch.__version__}; matmul: "
        + ", ".join(f"{p} {2 * r / 1e12:.1f} TFLOP/s" for p, r in rates.items()),
        flush=True,
    )
    torch.backends.cudnn.benchmark = args.cudnn_benchmark
    scales = {int(v) for v in args.scales.split(",")} if args.scales else None
    lines, records = speed_rows(
        args.models.split(","), rates, device, sizes.outputs, sizes.repeat, scales
    )
    if args.profile:
        profile(args.profile, device, sizes.profile)
    mem = peak_memory(device, sizes.memory)
    peak = "not measured" if mem["peak_gib"] is None else f"{mem['peak_gib']:.2f} GiB"
    lines.append("")
    lines.append(
        f"{mem['output_mp']:.0f} MP ×3 output ({mem['model']}, {mem['precision']}): "
        f"peak device memory {peak}, {mem['seconds']:.2f} s"
    )
    print(lines[-1], flush=True)
    result = {
        "gpu": name,
        "device": str(device),
        "torch": torch.__version__,
        "rows": records,
        "memory": mem,
        "matmul_macs_per_s": rates,
    }
    if args.train:
        steps, workers = sizes.steps, sizes.workers
        # The device sampler on the CPU too: what it costs there, and its code path checked.
        train = {
            f"{device.type}, device sampler": train_rate(
                args.data, str(device), "device", steps[0], 0
            )
        }
        if device.type != "cpu":
            train[f"{device.type}, host sampler, {workers} threads"] = train_rate(
                args.data, str(device), "host", steps[1], workers
            )
        cpu_label = f"cpu ({torch.get_num_threads()} threads), host sampler, {workers} threads"
        train[cpu_label] = train_rate(args.data, "cpu", "host", steps[2], workers)
        cpu = train[cpu_label]
        lines += ["", "| ESPCN ×3 training, batch 32 | steps/s | ÷ CPU |", "|---|---|---|"]
        lines += [f"| {k} | {v:.1f} | {v / cpu:.1f} |" for k, v in train.items()]
        print("\n".join(lines[-len(train) - 2 :]), flush=True)
        result["train_steps_per_s"] = train
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
