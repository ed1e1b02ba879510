"""Does an int8 precision pay end to end on this CPU, and what does it cost in dB? (issue 28)

    python benchmarks/int8.py [--models espcn fsrcnn] [--scales 2 3 4] [--repeat 7]
                              [--json benchmarks/results/int8.json]
    python benchmarks/int8.py --calibrate     # writes weights/int8.json (srup's int8 precision)

benchmarks/int8_layers.py found oneDNN's int8 convolutions 3.4-8.5x faster than float32 per
layer on this CPU (AVX-512 VNNI, no AMX). This script asks the question a precision has to
answer: what the whole network, and the whole ``upscale_array``, gain once the activations
between the layers, the input's quantization and the output's dequantization are paid for,
and what the quantization costs on Set5 and Set14. The quantizer is srup's own
(:mod:`srup.models.int8`, ``--precision int8``); here a float32 Upscaler's ``net.detail`` is
replaced by an :class:`Int8Detail` of each kind, calibrated afresh on T91.

``--calibrate`` writes what ``--precision int8`` reads: the T91 calibration of each weight
set within the quality bound (``CALIBRATION``: ≤ 0.05 dB on Set5 and Set14 in
benchmarks/results/int8.json), keyed by file name and sha256, in ``weights/int8.json``
(or ``$SRUP_WEIGHTS``'s), beside the unchanged float32 weights.

How the network is quantized (static, on PyTorch's oneDNN operators, the int8 path in torch
2.13's CPU wheel that runs without a compiler), on srup's own infer form of the network:

- weights: int8, symmetric, one scale per output channel (absmax / 127), bias-corrected
  (:func:`int8_weight`);
- activations: uint8, one scale and zero point per tensor, from the min and max over the
  training set (T91, each picture MATLAB-bicubic downscaled by the scale, as the networks
  were trained);
- ESPCN's tanh is already a sigmoid in the infer form (:mod:`srup.models.forms`), FSRCNN has
  PReLU; neither is a post-op ``onednn::qconv2d_pointwise`` takes in torch 2.13 (relu,
  hardtanh, hardswish and swish only), so the activations between layers are held one of
  two ways (``BETWEEN``, both measured; :class:`Int8Detail`): uint8 throughout, or float32
  from each convolution's output to its activation's;
- the network's input (Y in [0, 1], float32) is quantized once; the bicubic path that
  carries the picture, the colour pipeline and the tiler stay float32, as with bf16.

Timing: one thread, CPU seconds (``time.process_time``), the best of --repeat, int8 and
float32 alternating, freed memory kept (as ``srup upscale`` runs): the network's learned part
alone on a 640x360 Y plane, and the whole ``upscale_array`` of a 640x360 RGB picture (at
every scale). Quality: the protocol of ``srup benchmark`` (Y-PSNR, shave = scale) on Set5 and
Set14 from /work/shared/data (or $SRUP_DATA), float32 and int8, and int8's output against
float32's. A missing data set is skipped, and said so.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from srup.models.int8 import Int8Detail, calibrate, store_calibration

BETWEEN = ("int8", "float")
# What each shipped weight set is calibrated on (calibration_pictures): the ones --calibrate
# stores, each of whose int8 costs at most 0.05 dB on Set5, Set14 and the photos
# (benchmarks/results/int8.json). "wide" keeps crisp input (screenshots, scans) near float32
# as well; "photos" where "wide" cost more than 0.05 dB.
CALIBRATION: dict[tuple[str, int], str] = {
    **{(m, s): "wide" for m in ("espcn", "espcn7", "fsrcnn", "srcnn") for s in (2, 3, 4)},
    ("fsrcnn", 2): "photos",  # "wide": 0.061 dB on Set5
}
PHOTOS: Path | None = None  # --photos: pictures training never saw
# ../shared/data beside the checkout, as the tests find it (SRUP_DATA elsewhere).
DATA = Path(os.environ.get("SRUP_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")


def cpu_flags() -> str:
    """The CPU's int8 dot-product flags, as /proc/cpuinfo names them."""
    try:
        words = set(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        return "unknown"
    wanted = ("avx512_vnni", "avx_vnni", "amx_int8", "amx_tile")
    return ", ".join(f for f in wanted if f in words) or "none of avx512_vnni/avx_vnni/amx"


# --- calibration -----------------------------------------------------------------------


def training_y(scale: int) -> list[torch.Tensor] | None:
    """T91's pictures as the networks saw them in training: each MATLAB-bicubic downscaled by
    ``scale`` (HR cropped to a multiple of it), BT.601 Y in [16/255, 235/255] as
    ``(1, 1, h, w)`` float32 channels-last. None when T91 is not there."""
    from srup.data.datasets import read_rgb
    from srup.imaging.color import rgb_to_y
    from srup.imaging.resize import imresize

    folder = DATA / "T91"
    files = sorted(folder.glob("*.png")) if folder.is_dir() else []
    if not files:
        return None
    out = []
    for f in files:
        hr = read_rgb(f)
        h, w = hr.shape[:2]
        lr = imresize(hr[: h - h % scale, : w - w % scale], 1 / scale)
        y = torch.from_numpy(rgb_to_y(lr / 255.0).astype(np.float32))[None, None]
        out.append(y.contiguous(memory_format=torch.channels_last))
    return out


def _y(rgb: np.ndarray) -> torch.Tensor:
    from srup.imaging.color import rgb_to_y

    y = torch.from_numpy(rgb_to_y(rgb / 255.0).astype(np.float32))[None, None]
    return y.contiguous(memory_format=torch.channels_last)


def text_page(seed: int, size: tuple[int, int] = (240, 200)) -> np.ndarray:
    """``(h, w, 3)`` uint8: lines of random printable characters in Pillow's default font,
    dark on a light background, as a screenshot or a scan at its own resolution is: the crisp
    input a downscaled photo never is."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    page = Image.new("RGB", size, tuple(int(v) for v in rng.integers(180, 256, 3)))
    draw = ImageDraw.Draw(page)
    for line in range(size[1] // 14):
        words = "".join(chr(c) for c in rng.integers(33, 127, 30))
        ink = tuple(int(v) for v in rng.integers(0, 80, 3))
        draw.text((int(rng.integers(0, 20)), 4 + line * 14), words, fill=ink)
    return np.asarray(page)


def calibration_pictures(scale: int, kind: str) -> list[torch.Tensor] | None:
    """What a weight set is calibrated on (``CALIBRATION``): ``photos``, T91 downscaled as in
    training (:func:`training_y`); ``wide``, those plus T91's pictures at their own
    resolution and 8 pages of :func:`text_page`, so that crisp input (a screenshot, a scan) stays
    within the ranges. None when T91 is not there."""
    pictures = training_y(scale)
    if pictures is None or kind == "photos":
        return pictures
    from srup.data.datasets import read_rgb

    hr = [_y(read_rgb(f)) for f in sorted((DATA / "T91").glob("*.png"))]
    return pictures + hr + [_y(text_page(seed)) for seed in range(8)]


def screenshot() -> np.ndarray:
    """A text screenshot none of the calibration pages is: 12 lines in Pillow's default
    font, black on white, 300×160."""
    from PIL import Image, ImageDraw

    page = Image.new("RGB", (300, 160), "white")
    draw = ImageDraw.Draw(page)
    for line in range(12):
        draw.text((4, 4 + line * 13), "Screenshot text: Hello, world! 0123456789 {}[]", (0, 0, 0))
    return np.asarray(page)


# --- measurements ------------------------------------------------------------------------


def alternating_best(fns: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    """The least CPU seconds of ``repeat`` calls of each of ``fns``, called in turn (A, B, A,
    B…) after a warm-up each, so that a burst of other work lands on all of them."""
    for fn in fns.values():
        fn()
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeat):
        for name, fn in fns.items():
            start = time.process_time()
            fn()
            best[name] = min(best[name], time.process_time() - start)
    return best


def quality(
    fp32: Callable[[np.ndarray], np.ndarray],
    int8: Callable[[np.ndarray], np.ndarray],
    scale: int,
) -> dict[str, dict[str, float]]:
    """Mean Y-PSNR (dB, the evaluation protocol) of both on Set5, Set14 and the --photos
    folder (HR pictures, LR by MATLAB bicubic), and int8's output against float32's; a data
    set that is not there is left out, and said so."""
    from srup.evaluation.protocol import discover, pairs, psnr

    out = {}
    sets = {"Set5": DATA / "Set5", "Set14": DATA / "Set14"}
    if PHOTOS is not None:
        sets["photos"] = PHOTOS
    for name, folder in sets.items():
        if not folder.is_dir():
            print(f"  {name}: skipped, not at {folder}", flush=True)
            continue
        a, b, ab = [], [], []
        for _, lr, hr in pairs(discover(folder), scale):
            sa, sb = fp32(lr), int8(lr)
            a.append(psnr(sa, hr, crop_border=scale))
            b.append(psnr(sb, hr, crop_border=scale))
            ab.append(psnr(sb, sa, crop_border=scale))
        out[name] = {
            "fp32_db": float(np.mean(a)),
            "int8_db": float(np.mean(b)),
            "cost_db": float(np.mean(a) - np.mean(b)),
            "worst_picture_cost_db": float(max(x - y for x, y in zip(a, b, strict=True))),
            "int8_vs_fp32_db": float(np.mean(ab)),
        }
    return out


def measure(
    model: str,
    scale: int,
    repeat: int,
    pictures: list[torch.Tensor],
    betweens: tuple[str, ...] = BETWEEN,
    kind: str = "wide",
) -> dict:
    """Everything the script reports for one model and scale, for both ways of holding the
    activations between layers (:class:`Int8Detail`), calibrated on ``pictures`` (of the
    ``kind`` :func:`calibration_pictures` says)."""
    import srup
    from srup.evaluation.protocol import psnr

    shot = screenshot()

    fp32 = srup.load(model, scale, device="cpu", precision="fp32")
    cal = calibrate(fp32.net, pictures)
    runs = {"fp32": fp32}
    details = {"fp32": fp32.net.detail}
    for between in betweens:
        up = srup.load(model, scale, device="cpu", precision="fp32")
        details[between] = Int8Detail(up.net, cal, between)
        # The colour pipeline calls net.detail: an instance attribute shadows the method.
        up.net.detail = details[between]
        runs[between] = up
    y = torch.rand(1, 1, 360, 640, generator=torch.Generator().manual_seed(28))
    y = ((16 + 219 * y) / 255).contiguous(memory_format=torch.channels_last)
    rgb = np.random.default_rng(28).integers(0, 256, (360, 640, 3), dtype=np.uint8)
    out: dict = {"model": model, "scale": scale}
    with torch.inference_mode():
        net_s = alternating_best({k: lambda d=d: d(y) for k, d in details.items()}, repeat)
        whole_s = alternating_best(
            {k: lambda u=u: u.upscale_array(rgb) for k, u in runs.items()}, repeat
        )
        out["fp32"] = {"network_ms": net_s["fp32"] * 1e3, "upscale_ms": whole_s["fp32"] * 1e3}
        for between in betweens:
            up = runs[between]
            # Tiled == untiled: the same picture whole and in the smallest tiles.
            up.tile = 0
            whole = up.upscale_array(rgb)
            up.tile = 64
            tiled = up.upscale_array(rgb)
            up.tile = "auto"
            out[f"int8, {between} between layers"] = {
                "network_ms": net_s[between] * 1e3,
                "network_fp32_over_int8": net_s["fp32"] / net_s[between],
                "upscale_ms": whole_s[between] * 1e3,
                "upscale_fp32_over_int8": whole_s["fp32"] / whole_s[between],
                "quality": quality(fp32.upscale_array, up.upscale_array, scale),
                "screenshot_vs_fp32_db": float(
                    psnr(up.upscale_array(shot), fp32.upscale_array(shot), crop_border=0)
                ),
                "tiled_equals_untiled": bool(np.array_equal(whole, tiled)),
            }
    out["calibrated_on"] = kind
    out["calibration_ranges"] = cal.ranges
    return out


def store_calibrations() -> None:
    """Calibrate every shipped weight set in ``CALIBRATION`` on its pictures and store it
    beside the weights (:func:`srup.models.int8.store_calibration`)."""
    from srup.models.descriptor import describe

    for (model, scale), kind in CALIBRATION.items():
        pictures = calibration_pictures(scale, kind)
        if pictures is None:
            raise SystemExit(f"no T91 at {DATA / 'T91'} to calibrate on")
        described = describe(model, scale)
        cal = calibrate(described.build("infer"), pictures)
        store_calibration(described.path, cal, kind)
        print(f"{described.path.name}: calibrated on {kind} ({len(pictures)} pictures)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=["espcn", "fsrcnn", "espcn7", "srcnn"])
    parser.add_argument("--scales", nargs="+", type=int, default=[2, 3, 4])
    parser.add_argument(
        "--between",
        nargs="+",
        choices=BETWEEN,
        default=list(BETWEEN),
        help="the ways of holding activations to measure (Int8Detail)",
    )
    parser.add_argument(
        "--photos",
        type=Path,
        help="a folder of photos training never saw (HR; LR made by MATLAB bicubic), scored "
        "beside Set5 and Set14: e.g. scikit-image's sample photos (see the docstring)",
    )
    parser.add_argument(
        "--calibration",
        choices=["photos", "wide", "shipped"],
        default="shipped",
        help="what to calibrate on (calibration_pictures); shipped: each weight set's own "
        "(CALIBRATION)",
    )
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--calibrate", action="store_true", help="write weights/int8.json, and measure nothing"
    )
    args = parser.parse_args()
    global PHOTOS
    PHOTOS = args.photos
    if args.calibrate:
        torch.set_num_threads(1)  # the ranges as the measurements saw them, to the last bit
        store_calibrations()
        return
    from srup.runtime.allocator import keep_freed_memory

    keep_freed_memory()
    torch.set_num_threads(1)
    torch.backends.quantized.engine = "onednn"
    print(f"CPU flags: {cpu_flags()}; torch {torch.__version__}; engine onednn", flush=True)
    results = []
    for scale in args.scales:
        for model in args.models:
            kind = args.calibration
            if kind == "shipped":
                kind = CALIBRATION.get((model, scale), "wide")
            pictures = calibration_pictures(scale, kind)
            if pictures is None:
                print(f"skipped: no T91 at {DATA / 'T91'} to calibrate on", flush=True)
                return
            r = measure(model, scale, args.repeat, pictures, tuple(args.between), kind)
            results.append(r)
            print(json.dumps(r, indent=1), flush=True)
    if args.json:
        meta = {
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {cpu_flags()}",
            "torch": torch.__version__,
            "threads": 1,
            "clock": f"CPU seconds, best of {args.repeat}, alternating",
        }
        args.json.write_text(json.dumps({"meta": meta, "results": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
