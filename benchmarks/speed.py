"""In-process speed of every shipped model, with ratios measured in one run.

    pip install -e '.[bench]'
    python benchmarks/speed.py [--repeat 5] [--markdown benchmarks/results/speed.md]

For each shipped network (not its variants: the same network) and scale: the input whose
output is 1920×1080 (×3: 640×360 → 1920×1080), RGB, timed in `Upscaler.upscale_array`
(after a warm-up; median of --repeat runs), against
1. the same network run naively: eager NCHW fp32, untiled, on the Y plane only;
2. the same weights exported by `srup export --onnx` (the whole RGB pipeline, so the same
   work as srup) and run by onnxruntime and by OpenCV's DNN module (`cv2.dnn`, the engine of
   OpenCV's dnn_superres), float32 in and out, each with the machine's cores;
3. the FLOP bound: MACs of the network ÷ a float32 matrix-multiply peak measured here.
A ratio above 1 in "÷ srup" columns means srup is faster. Where the weight set has an int8
calibration (``--precision int8``, :mod:`srup.models.int8`), the same picture in int8 too:
its time, cv2.dnn's (float32, our export) over it, and it over the float32 FLOP bound.
"""

from __future__ import annotations

import copy
import os
import platform
import tempfile
from pathlib import Path

import numpy as np
import torch
from readme import arguments, publish
from timing import apply_memory_option, keep_memory_option, median_time

import srup
from srup.devices import int8_engine
from srup.models.int8 import calibrated
from srup.models.weights import shipped
from srup.runtime.onnx import export_onnx


def matmul_peak(repeat: int) -> float:
    """Multiply-accumulates per second of a large float32 matmul."""
    a, b = torch.rand(2048, 2048), torch.rand(2048, 2048)
    seconds = median_time(lambda: a @ b, repeat)
    return 2048**3 / seconds


def onnx_runners(path: Path):
    """(onnxruntime, cv2.dnn) callables on an NCHW float32 array, or None where missing."""
    runners = []
    try:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = os.cpu_count() or 1
        sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        runners.append(lambda x: sess.run(None, {"rgb": x})[0])
    except ImportError:
        runners.append(None)
    try:
        import cv2

        cv2.setNumThreads(os.cpu_count() or 1)
        net = cv2.dnn.readNetFromONNX(str(path))

        def run_cv2(x):
            net.setInput(x)
            return net.forward()

        runners.append(run_cv2)
    except ImportError:
        runners.append(None)
    return runners


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--models", help="comma-separated (default: every shipped network)")
    keep_memory_option(parser)
    args = parser.parse_args()
    memory = apply_memory_option(args.keep_freed_memory)
    wanted = set(args.models.split(",")) if args.models else None
    peak = matmul_peak(args.repeat)
    lines = [
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"matmul peak {peak / 1e9:.1f} GMAC/s; freed memory {memory}; "
        f"load average {os.getloadavg()[0]:.1f}",
        "",
        "| model | scale | input | srup s | MP/s | naive NCHW ÷ srup | onnxruntime ÷ srup | "
        "cv2.dnn ÷ srup | srup ÷ FLOP bound | srup int8 s | cv2.dnn ÷ srup int8 | "
        "srup int8 ÷ FLOP bound |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    print("\n".join(lines), flush=True)
    rng = np.random.default_rng(0)
    tmp = Path(tempfile.mkdtemp())
    # Variants (fsrcnn-real) are the same networks with other weights: the same speed.
    cases = [(n, s) for n, s in sorted(shipped()) if "-" not in n]
    for name, scale in [c for c in cases if wanted is None or c[0] in wanted]:
        w, h = 1920 // scale, 1080 // scale
        img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        up = srup.load(name, scale, device="cpu")
        t_srup = median_time(lambda up=up, img=img: up.upscale_array(img), args.repeat)
        net = copy.deepcopy(up.net).to(memory_format=torch.contiguous_format)
        y = torch.rand(1, 1, h, w)

        def naive(net=net, y=y):
            with torch.no_grad():
                net(y)

        t_naive = median_time(naive, args.repeat)
        x = np.ascontiguousarray((img.astype(np.float32) / 255).transpose(2, 0, 1)[None])
        others = []
        path = export_onnx(up, tmp / f"{name}_x{scale}.onnx")
        t_cv2 = None
        for run in onnx_runners(path):
            if run is None:
                others.append("n/a")
                continue
            t = t_cv2 = median_time(lambda run=run, x=x: run(x), args.repeat)
            others.append(f"{t / t_srup:.2f}")
        bound = up.spec.macs_per_pixel(scale) * w * h * scale * scale / peak
        mp = w * h * scale * scale / 1e6
        int8 = "| not calibrated | | "
        if calibrated(up.descriptor.path) and int8_engine():
            up8 = srup.load(name, scale, device="cpu", precision="int8")
            t8 = median_time(lambda up=up8, img=img: up.upscale_array(img), args.repeat)
            vs_cv2 = "n/a" if t_cv2 is None else f"{t_cv2 / t8:.2f}"
            int8 = f"| {t8:.3f} | {vs_cv2} | {t8 / bound:.2f}"
        line = (
            f"| {name} | ×{scale} | {w}×{h} | {t_srup:.3f} | {mp / t_srup:.1f} | "
            f"{t_naive / t_srup:.2f} | {' | '.join(others)} | {t_srup / bound:.2f} {int8} |"
        )
        lines.append(line)
        print(line, flush=True)
    publish("speed", lines, args.markdown, args.update_readme)


if __name__ == "__main__":
    main()
