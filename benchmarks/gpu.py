"""Upscaling speed on a CUDA GPU, and where the time goes.

    python benchmarks/gpu.py [--models espcn,fsrcnn,espcn7,srcnn] [--train] [--json F]

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
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import srup
from srup.models import registry

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
OUTPUTS = {"1080p": (1920, 1080), "4K": (3840, 2160)}


def cuda_time(fn, repeat: int = 10) -> float:
    """Median seconds of ``fn()`` after two warm-up calls, the GPU drained around each."""
    for _ in range(2):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def matmul_rate(dtype: torch.dtype) -> float:
    """Multiply-adds per second of an 8192³ product (TF32 off for float32)."""
    torch.backends.cuda.matmul.allow_tf32 = False
    a = torch.randn(8192, 8192, device="cuda", dtype=dtype)
    b = torch.randn(8192, 8192, device="cuda", dtype=dtype)
    return 8192**3 / cuda_time(lambda: a @ b, 5)


def picture(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A random-phase smooth picture with noise (never zeros: they run faster)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = 128 + 90 * np.sin(x / 7 + rng.random() * 6) * np.cos(y / 11)
    img = base[:, :, None] + rng.normal(0, 12, (height, width, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def split(up: srup.Upscaler, img: np.ndarray) -> dict[str, float]:
    """Seconds of the whole call and of its three parts, each alone."""
    tiler = up.resident
    assert tiler is not None
    maxv = 255.0
    padded, tiles, pads = tiler.prepare(img)
    out_dev = torch.empty(
        (img.shape[0] * up.scale, img.shape[1] * up.scale, 3), dtype=torch.uint8, device="cuda"
    )
    host = torch.empty(out_dev.shape, dtype=torch.uint8, pin_memory=True)

    def compute() -> None:
        for t in tiles:
            tiler.compute(padded, t, pads, maxv)

    from srup.devices import exact_numerics

    # The parts under srup's own numerics settings, as the whole call runs them.
    with torch.inference_mode(), exact_numerics(up.device, up.dtype):
        return {
            "total": cuda_time(lambda: up.upscale_array(img)),
            "upload": cuda_time(lambda: tiler.prepare(img)),
            "compute": cuda_time(compute),
            "copy": cuda_time(lambda: host.copy_(out_dev, non_blocking=True)),
            "bands": len(tiles),
        }


def speed_rows(
    models: list[str], rates: dict[str, float], scales: set[int] | None = None
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
            for label, (ow, oh) in OUTPUTS.items():
                img = picture(ow // scale, oh // scale)
                for precision in ("fp16", "fp32"):
                    up = srup.load(name, scale, device="cuda", precision=precision)
                    t = split(up, img)
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


def profile(path: Path) -> None:
    """The device's kernels for ESPCN ×3 to 4K in fp16, by total time."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    up = srup.load("espcn", 3, device="cuda", precision="fp16")
    img = picture(1280, 720)
    for _ in range(3):
        up.upscale_array(img)
    with torch_profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        for _ in range(5):
            up.upscale_array(img)
        torch.cuda.synchronize()
    averages = prof.key_averages()
    try:
        table = averages.table(sort_by="device_time_total", row_limit=30)
    except (KeyError, AttributeError, ValueError):  # older torch names it after CUDA
        table = averages.table(sort_by="cuda_time_total", row_limit=30)
    path.write_text(table)


def peak_memory(name: str = "espcn", scale: int = 3) -> dict[str, float]:
    """Peak GPU memory and time of a 108-megapixel ×3 output (6000×2000 in)."""
    img = picture(6000, 2000, seed=1)
    up = srup.load(name, scale, device="cuda")
    up.upscale_array(img[:200, :200])
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    out = up.upscale_array(img)
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated() / 2**30
    return {
        "model": name,
        "output_mp": out.shape[0] * out.shape[1] / 1e6,
        "peak_gib": peak,
        "seconds": seconds,
    }


def train_rate(data: Path, device: str, sampler: str, steps: int, workers: int) -> float:
    from srup.train import TrainConfig, train

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
        train(cfg, progress=lambda p: marks.append((p["step"], time.perf_counter())))
        (first, t0), (last, t1) = marks[0], marks[-1]
        return (last - first) / (t1 - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", default="espcn,fsrcnn,espcn7,srcnn")
    parser.add_argument("--scales", help="comma-separated; default: every scale")
    parser.add_argument(
        "--cudnn-benchmark",
        action="store_true",
        help="let cuDNN time its algorithms per shape (fp16; fp32 stays deterministic)",
    )
    parser.add_argument("--profile", type=Path, help="write a kernel profile of ESPCN ×3 4K")
    parser.add_argument("--train", action="store_true")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("needs a CUDA GPU")
    gpu = torch.cuda.get_device_name()
    rates = {"fp16": matmul_rate(torch.float16), "fp32": matmul_rate(torch.float32)}
    print(
        f"{gpu}; torch {torch.__version__}; matmul: fp16 {2 * rates['fp16'] / 1e12:.0f} "
        f"TFLOP/s, fp32 {2 * rates['fp32'] / 1e12:.0f} TFLOP/s",
        flush=True,
    )
    torch.backends.cudnn.benchmark = args.cudnn_benchmark
    scales = {int(v) for v in args.scales.split(",")} if args.scales else None
    lines, records = speed_rows(args.models.split(","), rates, scales)
    if args.profile:
        profile(args.profile)
    mem = peak_memory()
    lines.append("")
    lines.append(
        f"108 MP ×3 output (espcn, fp16): peak GPU memory {mem['peak_gib']:.2f} GiB, "
        f"{mem['seconds']:.2f} s"
    )
    print(lines[-1], flush=True)
    result = {
        "gpu": gpu,
        "torch": torch.__version__,
        "rows": records,
        "memory": mem,
        "matmul_macs_per_s": rates,
    }
    if args.train:
        train = {
            "cuda, device sampler": train_rate(args.data, "cuda", "device", 2000, 0),
            "cuda, host sampler, 8 threads": train_rate(args.data, "cuda", "host", 300, 8),
            f"cpu ({torch.get_num_threads()} threads), host sampler, 8 threads": train_rate(
                args.data, "cpu", "host", 60, 8
            ),
        }
        cpu = train[next(k for k in train if k.startswith("cpu"))]
        lines += ["", "| ESPCN ×3 training, batch 32 | steps/s | ÷ CPU |", "|---|---|---|"]
        lines += [f"| {k} | {v:.1f} | {v / cpu:.1f} |" for k, v in train.items()]
        print("\n".join(lines[-len(train) - 2 :]), flush=True)
        result["train_steps_per_s"] = train
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
