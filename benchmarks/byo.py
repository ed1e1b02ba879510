"""Other projects' super-resolution networks ("bring your own model") through srup, in one run.

    python benchmarks/byo.py [--quick] [--archs compact,esrgan] [--size 640x360] [--repeat 5]
        [--budget 30] [--memory-archs all] [--memory-size 4000x3000]
        [--update-readme] [--markdown FILE] [--json benchmarks/results/byo.json]

srup runs weights files of other projects through spandrel (``srup.load(weights=...)``). For
each architecture, at a realistic size (the configuration of a published model: Real-ESRGAN's
realesr-general-x4v3 and RealESRGAN_x4plus, SwinIR-light, SPAN, HAT-S, DAT-light, OmniSR; all
×4), with random weights (``_randomise`` of tests/models/foreign/conftest.py, the output layer
scaled so the network adds a picture-sized signal) saved as a ``.pth`` file:

1. **Time**: a 640×360 RGB photo (scikit-image's astronaut) to ×4, srup's
   ``srup.load(weights=..., scale=4, device="cpu").upscale_array`` (tile ``auto``) against
   the same network in plain PyTorch: untiled, NCHW float32, eager, ``torch.inference_mode``,
   uint8 HWC in, the output clamped, rounded and back to uint8 HWC (the conversions timed on
   both sides). One warm-up of each, then the median of up to --repeat runs taken in turn
   (srup, plain, srup, plain, …), fewer where a round would take the arch past --budget
   seconds (one at least). Three archs are too slow for 640×360 on a small CPU (a plain run
   of RealESRGAN_x4plus takes about a minute on two cores, HAT-S two, and srup's DAT-light in
   64-pixel tiles as long): without --size they are timed at 320×180 (ESRGAN, DAT) and
   160×90 (HAT); the row says so, with the plain run's time at 640×360 estimated from a
   64×64 run, and the JSON keeps both sizes. "srup ÷ plain" above 1 means srup is slower.
2. **Tiling**: what srup's descriptor says (``srup.describe(weights=...)``: ``exact``, tiled
   equals untiled; or ``bounded``, an overlap of a fixed width around tiles whose network
   sees further, or whose windows are anchored to the tile's corner) and the tiles' overlap,
   then srup with 64-pixel tiles against srup untiled (``tile=0``) on a 128×96 photo: the
   largest level difference and the share of output values that differ. Exact archs must
   show 0.
3. **Memory**: a fresh process per arch upscales a 12 MP photo (4000×3000, ×4: 576 MB of
   uint8 output) with tile ``auto`` and is stopped after its first two tiles (a ``progress``
   callback that raises): every later tile has the same working set. "setup" is the
   process's RSS once torch, srup, the model and the input exist; "working" is the peak
   above it during the tiles (the kernel's high-water mark, reset after setup): the tiler's
   own memory (the padded input copy, one tile's activations), compared with the host
   tiler's per-tile budget ``TILE_BUDGET_BYTES`` (256 MiB). srup's "estimate" is what it
   sizes the auto tile by (``bytes_per_out_px`` × the tile's output, overlap not counted).
   A baseline process that only allocates the input and touches a 12000×16000×3 output
   gives what the pictures alone cost.

--quick (what tests/benchmarks/test_byo.py runs, on three archs): the conftest's tiny
configurations, a 96×64 input, 1 timed round, a 64×48 tiling check in 32-pixel tiles, the
memory of esrgan alone on a 1600×1200 picture (large enough to be tiled). spandrel missing:
one line, exit 0, nothing written.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from readme import ROOT, arguments, publish

ORDER = ("compact", "esrgan", "swinir", "span", "hat", "dat", "omnisr")
QUICK_SIZE = (96, 64)
SIZE = (640, 360)
# Full mode without --size: the archs too slow to time at SIZE here (the module doc).
SLOW = {"esrgan": (320, 180), "dat": (320, 180), "hat": (160, 90)}
MEMORY_SIZE = (4000, 3000)
MEMORY_QUICK_SIZE = (1600, 1200)
STOP_AFTER = 2  # tiles run in a memory process
MiB = 2**20


# (the published model whose configuration it is, what it changes in the conftest's tiny
# configuration of the arch, tests/models/foreign/conftest.py CONFIGS): every one ×4, RGB.
REALISTIC: dict[str, tuple[str, dict]] = {
    "compact": ("realesr-general-x4v3 (64 feat, 32 conv)", dict(num_feat=64, num_conv=32)),
    "esrgan": ("RealESRGAN_x4plus (RRDB 64×23)", dict(num_filters=64, num_blocks=23)),
    "swinir": (
        "SwinIR-light (60, 4×6, window 8)",
        dict(embed_dim=60, depths=[6] * 4, num_heads=[6] * 4),
    ),
    "span": ("SPAN (48 channels)", dict(feature_channels=48)),
    "hat": (
        "HAT-S (144, 6×6, window 16)",
        dict(
            embed_dim=144,
            depths=[6] * 6,
            num_heads=[6] * 6,
            window_size=16,
            compress_ratio=24,
            squeeze_factor=24,
            conv_scale=0.01,
            num_feat=64,
            upsampler="pixelshuffle",
            resi_connection="1conv",
        ),
    ),
    "dat": (
        "DAT-light (60, depth 18, split 8×32)",
        dict(
            embed_dim=60,
            split_size=[8, 32],
            depth=[18],
            num_heads=[6],
            resi_connection="3conv",
        ),
    ),
    "omnisr": ("OmniSR (64 feat, 5 residual)", dict(num_feat=64, res_num=5)),
}


def _conftest():
    """tests/models/foreign/conftest.py (its tiny ARCHS, ``build``, ``save``, and the
    randomising it builds on)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.models.foreign import conftest

    return conftest


def _output_layer(model) -> str:
    """The name of the last convolution: the output layer of every arch here (the one the
    conftest's ``_OUTPUT_LAYER`` names for its tiny configurations)."""
    from torch import nn

    return [name for name, m in model.named_modules() if isinstance(m, nn.Conv2d)][-1]


def realistic(name: str, seed: int = 0):
    """Arch ``name`` in its published configuration, eval mode, random weights calibrated as
    the conftest's ``build`` does (its output layer scaled so the output varies by about
    0.2 around the input's mean colour)."""
    import torch

    conftest = _conftest()
    with torch.random.fork_rng(devices=[]):
        model = conftest.construct(name, **REALISTIC[name][1]).eval()
    conftest._randomise(model, torch.Generator().manual_seed(seed))
    gain, first = conftest._INPUT_GAIN.get(name, (1.0, ()))
    with torch.no_grad():
        for path in first:
            model.get_submodule(path).weight.div_(gain)
    picture = conftest.probe(3, seed=seed)
    layer = model.get_submodule(_output_layer(model))
    with torch.inference_mode():
        full = model(picture)
    weight, bias = layer.weight.detach().clone(), layer.bias.detach().clone()
    with torch.no_grad():
        layer.weight.zero_()
        layer.bias.zero_()
        spread = (full - model(picture)).std().item()
        if not math.isfinite(spread) or spread == 0.0:
            raise RuntimeError(f"{name}: random weights give an output of spread {spread}")
        layer.weight.copy_(weight * (0.2 / spread))
        layer.bias.copy_(bias * (0.2 / spread))
        shift = picture.mean(dim=(0, 2, 3)) - model(picture).mean(dim=(0, 2, 3))
        layer.bias.view(len(shift), -1).add_(shift[:, None])
    return model


def photo(width: int, height: int) -> np.ndarray:
    """A natural RGB photo of ``width``×``height``: scikit-image's astronaut cropped to the
    aspect and resized (Lanczos); without scikit-image, a smooth picture with noise."""
    from PIL import Image

    try:
        from skimage import data

        src = data.astronaut()
    except ImportError:
        rng = np.random.default_rng(0)
        yy, xx = np.mgrid[0:512, 0:512].astype(np.float32)
        base = np.stack([xx / 512, yy / 512, (xx + yy) / 1024], axis=-1) * 200 + 20
        src = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
    h, w = src.shape[:2]
    if w / h > width / height:
        cw = round(h * width / height)
        src = src[:, (w - cw) // 2 : (w - cw) // 2 + cw]
    else:
        ch = round(w * height / width)
        src = src[(h - ch) // 2 : (h - ch) // 2 + ch]
    img = Image.fromarray(np.ascontiguousarray(src)).resize((width, height), Image.LANCZOS)
    return np.asarray(img, dtype=np.uint8).copy()


def plain_runner(model, img: np.ndarray) -> Callable[[], np.ndarray]:
    """The network without srup: uint8 HWC → NCHW float32 in [0, 1], one eager untiled call,
    → clamped, rounded uint8 HWC."""
    import torch

    def run() -> np.ndarray:
        with torch.inference_mode():
            x = torch.from_numpy(img).permute(2, 0, 1)[None].float().div_(255)
            y = model(x)[0].clamp_(0, 1).mul_(255).round_().to(torch.uint8)
            return y.permute(1, 2, 0).contiguous().numpy()

    return run


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def alternate(
    fns: list[Callable[[], object]],
    repeat: int,
    budget: float,
    warm: list[float] | None = None,
) -> tuple[list[float], int]:
    """(median seconds per call of each of ``fns``, rounds): one warm-up call of each (or
    ``warm``, the seconds of calls already made), then rounds calling each once in turn, as
    many as ``repeat`` or as fit in ``budget`` seconds (at least one)."""
    warm = warm or [_timed(fn) for fn in fns]
    rounds = max(1, min(repeat, int(budget / max(sum(warm), 1e-9))))
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(rounds):
        for fn, ts in zip(fns, times, strict=True):
            ts.append(_timed(fn))
    return [statistics.median(ts) for ts in times], rounds


def plain_seconds(model, size: tuple[int, int]) -> float:
    """A plain run's seconds at ``size``, estimated from a 64×64 one (the faster of two after
    a warm-up) in proportion to the pixels."""
    import torch

    x = torch.rand(1, 3, 64, 64)
    with torch.inference_mode():
        model(x)
        seconds = min(_timed(lambda: model(x)) for _ in range(2))
    return seconds * size[0] * size[1] / 64**2


def differences(a: np.ndarray, b: np.ndarray) -> tuple[int, float]:
    """(largest level difference, share of values that differ) of two uint8 arrays."""
    diff = np.abs(a.astype(np.int16) - b.astype(np.int16))
    return int(diff.max()), float((diff > 0).mean())


def _status() -> dict[str, int]:
    """This process's resident memory now and its high-water mark, bytes (Linux)."""
    text = Path("/proc/self/status").read_text()
    return {
        k: int(re.search(rf"{k}:\s+(\d+) kB", text).group(1)) * 1024 for k in ("VmRSS", "VmHWM")
    }


class _Stop(Exception):
    """Raised from the progress callback: the tiles wanted have run."""


def memory_child(spec: dict) -> dict:
    """In a fresh process: the numbers of the memory table for ``spec`` (``weights``,
    ``scale``, ``size``, ``stop``), or the baseline's (``baseline``: the input and a touched
    output only)."""
    w, h = spec["size"]
    if spec.get("baseline"):
        s = spec["scale"]
        pixels = np.resize(photo(500, 375), (h, w, 3))
        out = np.empty((h * s, w * s, 3), dtype=np.uint8)
        out.fill(1)
        # Not getrusage: a forked child's ru_maxrss keeps its parent's peak across exec.
        peak = _status()["VmHWM"]
        return {
            "peak_mb": peak / MiB,
            "input_mb": pixels.nbytes / MiB,
            "output_mb": out.nbytes / MiB,
        }
    import srup

    start = time.perf_counter()
    up = srup.load(weights=spec["weights"], scale=spec["scale"], device="cpu")
    load_s = time.perf_counter() - start
    pixels = np.resize(photo(500, 375), (h, w, 3))
    load_peak = _status()["VmHWM"]
    try:
        Path("/proc/self/clear_refs").write_text("5")  # the high-water mark back to now
        reset = True
    except OSError:
        reset = False
    setup = _status()["VmRSS"]
    total: list[int] = []

    def progress(done: int, count: int) -> None:
        total.append(count)
        if done >= spec["stop"]:
            raise _Stop

    start = time.perf_counter()
    with contextlib.suppress(_Stop):
        up.upscale_array(pixels, progress=progress)
    run_s = time.perf_counter() - start
    peak = _status()["VmHWM"]
    side, s, overlap = up.tile, up.scale, up.overlap
    per_px = up.tiler.bytes_per_out_px
    return {
        "tile": side,
        "overlap": overlap,
        "tiles": total[-1] if total else None,
        "tiles_run": len(total),
        "load_s": load_s,
        "tiles_s": run_s,
        "load_peak_mb": load_peak / MiB,
        "setup_mb": setup / MiB,
        "peak_mb": peak / MiB,
        "working_mb": (peak - setup) / MiB if reset else None,
        "peak_reset": reset,
        "estimate_mb": per_px * (side * s) ** 2 / MiB,
        "estimate_with_overlap_mb": per_px * ((side + 2 * overlap) * s) ** 2 / MiB,
        "bytes_per_out_px": per_px,
    }


def run_child(spec: dict) -> dict:
    """:func:`memory_child` in a new process (its last stdout line, JSON)."""
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--memory-child", json.dumps(spec)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"memory process failed: {last}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _tiles_seen() -> tuple[list[int], Callable[[int, int], None]]:
    """(the tile counts reported, a ``progress`` callback that records them)."""
    seen: list[int] = []
    return seen, lambda _done, total: seen.append(total)


def interior(a: np.ndarray, margin: int) -> np.ndarray:
    """``a`` less a band of ``margin`` pixels at each edge."""
    return a[margin : a.shape[0] - margin, margin : a.shape[1] - margin]


def share(x: float) -> str:
    """A share as a percentage, to two significant digits (0 as 0)."""
    return "0" if x == 0 else f"{100 * x:.2g}%"


def time_arch(up, model, size, requested, repeat: int, budget: float) -> dict:
    """Section 1 for one arch at ``size`` (``requested`` where it is not too slow): srup
    (tile auto) and the plain network, alternately."""
    w, h = size
    img = photo(w, h)
    plain = plain_runner(model, img)
    seen, progress = _tiles_seen()

    def srup_run() -> np.ndarray:
        return up.upscale_array(img, progress=progress)

    # The first call of each is the warm-up, and its output is compared.
    start = time.perf_counter()
    ours = srup_run()
    warm = [time.perf_counter() - start]
    start = time.perf_counter()
    theirs = plain()
    warm.append(time.perf_counter() - start)
    assert ours.shape == theirs.shape == (h * 4, w * 4, 3), (ours.shape, theirs.shape)
    # At the edges srup's network sees the picture mirrored (plan.py), plain PyTorch its
    # zero padding: compared inside, beyond the overlap.
    margin = 4 * up.overlap
    inside = (
        differences(interior(ours, margin), interior(theirs, margin))[0]
        if min(w, h) > 2 * up.overlap + 8
        else None
    )
    edges = differences(ours, theirs)[0]
    (t_srup, t_plain), rounds = alternate([srup_run, plain], repeat, budget, warm)
    shrunk = None
    if tuple(size) != tuple(requested):
        estimate = plain_seconds(model, requested)
        shrunk = (
            f"{_px(requested)}: ~{estimate:.0f} s a plain run, and srup's in its tiles "
            "longer: too slow to repeat here"
        )
    return {
        "requested": list(requested),
        "input": [w, h],
        "shrunk": shrunk,
        "srup_s": t_srup,
        "plain_s": t_plain,
        "srup_over_plain": t_srup / t_plain,
        "rounds": rounds,
        "tile": up.tile,
        "tiles": seen[0],
        "overlap": up.overlap,
        "max_diff_vs_plain_inside": inside,
        "max_diff_vs_plain": edges,
    }


def time_line(row: dict) -> str:
    t = row["time"]
    w, h = t["input"]
    size = f"{_px((w, h))} → {_px((w * 4, h * 4))}"
    if t["shrunk"]:
        size += f" ({t['shrunk']})"
    tiles = "whole" if t["tiles"] == 1 else f"{t['tiles']} × {t['tile']} px"
    inside = "n/a" if t["max_diff_vs_plain_inside"] is None else t["max_diff_vs_plain_inside"]
    return (
        f"| {row['arch']} | {row['config']} | {row['parameters'] / 1e6:.2f} M | {size} | "
        f"{t['srup_s'] * 1e3:.0f} | {t['plain_s'] * 1e3:.0f} | {t['srup_over_plain']:.2f} | "
        f"{tiles} (+{t['overlap']}) | {t['rounds']} | {inside} / {t['max_diff_vs_plain']} | "
        f"{row['describe_s']:.1f} |"
    )


def tiling_arch(up, desc, size: tuple[int, int], tile: int) -> dict:
    """Section 2 for one arch: the descriptor's guarantee, and srup in ``tile``-pixel tiles
    against srup untiled on a ``size`` photo."""
    guarantee, why = desc.tiling
    pic = photo(*size)
    seen, progress = _tiles_seen()
    up.tile = tile
    tiled = up.upscale_array(pic, progress=progress)
    up.tile = 0
    whole = up.upscale_array(pic)
    up.tile = "auto"
    worst, differing = differences(tiled, whole)
    return {
        "guarantee": guarantee,
        "why": why,
        "overlap": desc.receptive_radius,
        "alignment": int(desc.metadata.get("tile_alignment", 1)),
        "spandrel_tiling": desc.metadata.get("spandrel_tiling"),
        "precisions": list(desc.precisions),
        "picture": list(size),
        "tile": tile,
        "tiles": seen[0],
        "max_diff": worst,
        "differing": differing,
    }


def tiling_line(row: dict) -> str:
    t = row["tiling"]
    if t["guarantee"] == "exact":
        shown = "exact: 0" if t["max_diff"] == 0 else f"**{t['max_diff']}: exact broken**"
    else:
        shown = str(t["max_diff"])
    return (
        f"| {row['arch']} | {t['guarantee']} | {t['overlap']} | {t['why']} | {t['tiles']} | "
        f"{shown} | {share(t['differing'])} |"
    )


def memory_line(row: dict, budget: float) -> str:
    """A row of the memory table; ``budget``: the host tiler's per-tile budget, MiB."""
    m = row["memory"]
    working = m["working_mb"]
    return (
        f"| {row['arch']} | {m['tile']} (+{m['overlap']}) | {m['tiles']} | {m['setup_mb']:.0f} | "
        + ("n/a | n/a" if working is None else f"{working:.0f} | {working / budget:.2f}")
        + f" | {m['estimate_mb']:.0f} ({m['estimate_with_overlap_mb']:.0f}) | "
        f"{m['peak_mb']:.0f} |"
    )


def srup_source() -> dict:
    """Which srup was measured: its package folder, and where that is a git checkout, the
    commit and whether src/ differs from it."""
    import srup

    folder = Path(srup.__file__).resolve().parent
    found: dict = {"version": srup.__version__, "path": str(folder), "commit": None}

    def git(*argv: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "--no-optional-locks", "-C", str(folder), *argv],
                capture_output=True,
                text=True,
                timeout=30,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit:
        found["commit"] = commit
        found["src_modified"] = bool(git("status", "--porcelain", "--", "."))
    return found


def _size(text: str) -> tuple[int, int]:
    w, _, h = text.lower().replace("×", "x").partition("x")
    return int(w), int(h)


def _px(size) -> str:
    return f"{size[0]}×{size[1]}"


def main(argv: list[str] | None = None) -> int:
    parser = arguments(__doc__)
    parser.add_argument("--quick", action="store_true", help="Tiny networks, a 96×64 input.")
    parser.add_argument("--archs", help=f"comma-separated, of {', '.join(ORDER)} (default all)")
    parser.add_argument("--size", type=_size, help="Timing input WxH (default 640x360).")
    parser.add_argument("--repeat", type=int, help="Timed rounds at most (default 5; quick 1).")
    parser.add_argument(
        "--budget", type=float, default=30.0, help="Seconds of timed rounds per arch (default 30)."
    )
    parser.add_argument(
        "--memory-archs", help="comma-separated, 'all' or 'none' (default all; quick: esrgan)"
    )
    parser.add_argument("--memory-size", type=_size, help="default 4000x3000 (quick 1600x1200)")
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "byo.json")
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.memory_child:
        print(json.dumps(memory_child(json.loads(args.memory_child))), flush=True)
        return 0

    from srup.errors import MissingExtraError
    from srup.models.foreign.spandrel_import import spandrel

    try:
        sp = spandrel()
    except MissingExtraError as e:
        print(f"byo: skipped, {e}", flush=True)
        return 0

    import torch

    import srup
    from srup.runtime.tilers.host import TILE_BUDGET_BYTES

    conftest = _conftest()
    quick = args.quick
    archs = args.archs.split(",") if args.archs else list(ORDER)
    unknown = [a for a in archs if a not in ORDER]
    if unknown:
        parser.error(f"unknown arch {', '.join(unknown)}; of {', '.join(ORDER)}")
    size = args.size or (QUICK_SIZE if quick else SIZE)
    repeat = args.repeat or (1 if quick else 5)
    check_size, check_tile = ((64, 48), 32) if quick else ((128, 96), 64)
    mem_default = "esrgan" if quick else "all"
    mem_text = args.memory_archs or mem_default
    mem_archs = [] if mem_text == "none" else archs if mem_text == "all" else mem_text.split(",")
    mem_size = args.memory_size or (MEMORY_QUICK_SIZE if quick else MEMORY_SIZE)
    started = time.perf_counter()
    load_start = list(os.getloadavg())  # other work on the machine skews the times

    kind = "tiny test configurations (--quick)" if quick else "published configurations"
    head = (
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; spandrel "
        f"{sp.__version__}; {kind}, "
        f"random weights, ×4; median of up to {repeat} alternate runs after a warm-up"
    )
    time_lines = [
        "| arch | configuration | parameters | input → output | srup ms | plain PyTorch ms | "
        "srup ÷ plain | srup tiles (+overlap) | rounds | max level diff vs plain: inside / "
        "edges | describe s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    tiling_lines = [
        f"| arch | guarantee | overlap px | why | tiled ({check_tile} px) vs untiled on "
        f"{_px(check_size)}: tiles | max level diff | values that differ |",
        "|---|---|---|---|---|---|---|",
    ]
    memory_lines = [
        f"| arch | {_px(mem_size)} → ×4: tile (auto, +overlap) | tiles | setup MiB | "
        "working MiB | "
        f"working ÷ {TILE_BUDGET_BYTES // MiB} MiB | srup's estimate MiB (with overlap) | "
        "peak MiB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    print(head, flush=True)
    rows: list[dict] = []
    tmp = Path(tempfile.mkdtemp(prefix="byo-"))
    source = srup_source()
    # srup keeps each file's measured reach in a cache: an empty one, so "describe s" is a
    # first use's; the memory processes (which inherit it) then find it filled.
    os.environ["SRUP_CACHE_DIR"] = str(tmp / "cache")

    def save_json(done: bool) -> None:
        """The results so far (each arch as it ends; a run cut short keeps them)."""
        result = {
            "machine": head,
            "quick": quick,
            "complete": done,
            "size": list(size),
            "repeat": repeat,
            "budget_s": args.budget,
            "tile_budget_mb": TILE_BUDGET_BYTES / MiB,
            "torch": torch.__version__,
            "spandrel": sp.__version__,
            "srup": source,
            "seconds": time.perf_counter() - started,
            "load_average": {"start": load_start, "now": list(os.getloadavg())},
            "archs": rows,
            "memory_baseline": baseline,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")

    baseline = None
    for name in archs:
        config = "conftest tiny" if quick else REALISTIC[name][0]
        row: dict = {"arch": name, "config": config}
        rows.append(row)
        arch_start = time.perf_counter()
        try:
            model = conftest.build(name) if quick else realistic(name)
            weights = conftest.save(model, tmp / f"{name}.pth")
            row["parameters"] = sum(p.numel() for p in model.parameters())
            start = time.perf_counter()
            desc = srup.describe(weights=weights, scale=4)
            row["describe_s"] = time.perf_counter() - start
            up = srup.load(weights=weights, scale=4, device="cpu")
            at = size if quick or args.size else SLOW.get(name, size)
            row["time"] = time_arch(up, model, at, size, repeat, args.budget)
            time_lines.append(time_line(row))
            print(time_lines[-1], flush=True)
            row["tiling"] = tiling_arch(up, desc, check_size, check_tile)
            tiling_lines.append(tiling_line(row))
            print(tiling_lines[-1], flush=True)
            del up, model
            if name in mem_archs:
                spec = {"weights": str(weights), "scale": 4, "size": list(mem_size)}
                row["memory"] = {"size": list(mem_size), **run_child({**spec, "stop": STOP_AFTER})}
                memory_lines.append(memory_line(row, TILE_BUDGET_BYTES / MiB))
                print(memory_lines[-1], flush=True)
        except Exception as e:  # one arch's failure is its row, the others still run
            reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            row["failed"] = f"{type(e).__name__}: {reason}"
            line = f"| {name} | failed: {row['failed']} |" + "|" * 8
            time_lines.append(line)
            print(line, flush=True)
        row["seconds"] = time.perf_counter() - arch_start
        save_json(False)
    if mem_archs:
        baseline = run_child({"baseline": True, "scale": 4, "size": list(mem_size)})
    elapsed = time.perf_counter() - started
    busy = (
        f"{elapsed / 60:.0f} min in all; load average {load_start[0]:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end ({os.cpu_count()} CPUs: above that, other work "
        "was slowing both sides)"
    )
    lines = [
        head,
        busy,
        "",
        "Time (srup tile auto; plain: the network untiled in eager PyTorch; "
        '"srup ÷ plain" above 1: srup slower):',
        "",
        *time_lines,
        "",
        "Tiling (srup's guarantee, and srup tiled against srup untiled on a photo):",
        "",
        *tiling_lines,
    ]
    if mem_archs:
        lines += [
            "",
            f"Memory for a {mem_size[0] * mem_size[1] / 1e6:.3g} MP input, stopped after "
            f"{STOP_AFTER} tiles (setup: torch, srup, the model and the input; working: the "
            "peak above setup; the output buffer fills as tiles are written, "
            f"{mem_size[0] * mem_size[1] * 48 / MiB:.0f} MiB in the end):",
            "",
            *memory_lines,
        ]
        if baseline:
            lines += [
                "",
                f"Baseline process (numpy only, the input and a touched output): "
                f"{baseline['peak_mb']:.0f} MiB peak.",
            ]
    save_json(True)

    print("\n" + "\n".join(lines), flush=True)
    print(f"\n{elapsed:.0f} s in all; {args.json}", flush=True)
    publish("byo", lines, args.markdown, args.update_readme)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
