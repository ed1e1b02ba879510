"""srup against OpenCV's own super-resolution models (``cv2.dnn_superres``), in one run.

    python benchmarks/opencv_superres.py [--models-dir benchmarks/opencv_models] [--repeat 7]
        [--precision auto --precision int8] [--only ESPCN FSRCNN] [--keep-freed-memory]
        [--update-readme] [--json benchmarks/results/opencv_superres.json]

What a Python user would run instead of srup: OpenCV's ``dnn_superres`` with the models
OpenCV documents, ESPCN ×2/×3/×4, FSRCNN and FSRCNN-small ×2/×3/×4, LapSRN ×2/×4/×8. Both
sides upscale the same RGB picture whose output is 1920×1080 (×3: 640×360 → 1920×1080),
uint8 RGB in, uint8 RGB out, the whole upscale: for OpenCV ``DnnSuperResImpl.upsample``
(its network on Y, chroma by bicubic) with the RGB↔BGR conversions, for srup
``srup.load(model, scale, device="cpu").upscale_array``. One process, a warm-up then the
median of --repeat runs, each library with all the machine's cores; "srup ÷ OpenCV" below 1
means srup is faster. srup's model of the same name where it has one (espcn, fsrcnn); for
FSRCNN-small and LapSRN, which srup does not have, srup's fsrcnn and ``auto`` at that scale;
srup has no ×8. The "pipeline alone" column is srup with an identity network (a zeroed 1×1
convolution: bicubic plus nothing): the colour pipeline and tiling without the network.

The ``.pb`` files are the user's to fetch; this script never downloads. Put them, under
their own names, in --models-dir (default benchmarks/opencv_models/, ignored by git):

    https://github.com/fannymonori/TF-ESPCN       export/ESPCN_x2.pb, ESPCN_x3.pb, ESPCN_x4.pb
    https://github.com/Saafke/FSRCNN_Tensorflow   models/FSRCNN_x{2,3,4}.pb,
                                                  models/FSRCNN-small_x{2,3,4}.pb
    https://github.com/fannymonori/TF-LapSRN      export/LapSRN_x2.pb, LapSRN_x4.pb, LapSRN_x8.pb

``cv2.dnn_superres`` is in opencv-contrib-python-headless, not in the opencv-python-headless
srup depends on; the two must not be installed side by side, so measure in a separate
environment::

    python3 -m venv /tmp/cvenv && /tmp/cvenv/bin/pip install -e .
    /tmp/cvenv/bin/pip uninstall -y opencv-python-headless
    /tmp/cvenv/bin/pip install opencv-contrib-python-headless
    /tmp/cvenv/bin/python benchmarks/opencv_superres.py --models-dir DIR --update-readme

A missing file, or a cv2 without ``dnn_superres``, skips its rows with the reason (exit 0).
"""

from __future__ import annotations

import json
import math
import os
import platform
from pathlib import Path

import numpy as np
from readme import ROOT, arguments, publish
from timing import alternating_medians, apply_memory_option, keep_memory_option, median_time

# (OpenCV's file stem, its setModel name, scale, srup models to compare it with)
CASES: list[tuple[str, str, int, tuple[str, ...]]] = [
    *[("ESPCN", "espcn", s, ("espcn",)) for s in (2, 3, 4)],
    *[("FSRCNN", "fsrcnn", s, ("fsrcnn",)) for s in (2, 3, 4)],
    *[("FSRCNN-small", "fsrcnn", s, ("fsrcnn", "auto")) for s in (2, 3, 4)],
    *[("LapSRN", "lapsrn", s, ("fsrcnn", "auto")) for s in (2, 4)],
    ("LapSRN", "lapsrn", 8, ()),
]
SAME_NAME = {"ESPCN": "espcn", "FSRCNN": "fsrcnn"}


def dnn_superres():
    """(cv2, None) where ``cv2.dnn_superres`` exists, else (None, the one-line reason)."""
    try:
        import cv2
    except ImportError as e:
        return None, f"cv2 does not import ({e})"
    if not hasattr(cv2, "dnn_superres"):
        return None, (
            f"cv2 {cv2.__version__} has no dnn_superres "
            "(it is in opencv-contrib-python-headless, see the docstring)"
        )
    return cv2, None


def identity_upscaler(scale: int):
    """srup's Upscaler with a network that adds nothing to bicubic (one zeroed 1×1
    convolution): the colour pipeline and the tiling alone."""
    import torch
    from torch import nn

    from srup.models.descriptor import ModelDescriptor
    from srup.models.layers import BicubicResidual
    from srup.models.registry import ModelSpec
    from srup.runtime.upscaler import Upscaler

    class Identity(BicubicResidual):
        def __init__(self, scale: int, channels: int = 1) -> None:
            super().__init__(scale, channels)
            self.body = nn.Sequential(nn.Conv2d(channels, channels * scale * scale, 1))
            nn.init.zeros_(self.body[0].weight)
            nn.init.zeros_(self.body[0].bias)

    spec = ModelSpec(
        name="identity",
        title="bicubic plus a zeroed 1×1 convolution",
        paper="",
        build=Identity,
        receptive_radius=lambda s: 0,
        scales=(scale,),
        precisions=("fp32",),
    )
    descriptor = ModelDescriptor.from_network(Identity(scale), spec, scale, runs_as="infer")
    return Upscaler(descriptor, torch.device("cpu"), torch.float32)


def picture(scale: int) -> np.ndarray:
    """The RGB input whose output is 1920×1080 at ``scale`` (rounded up), the same on both
    sides: a smooth gradient with noise, like a photo to the networks' arithmetic."""
    h, w = math.ceil(1080 / scale), math.ceil(1920 / scale)
    rng = np.random.default_rng(scale)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([xx / w, yy / h, (xx + yy) / (w + h)], axis=-1) * 200 + 20
    noisy = base + rng.normal(0, 12, base.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def main(argv: list[str] | None = None) -> int:
    parser = arguments(__doc__)
    parser.add_argument(
        "--models-dir",
        type=Path,
        default=ROOT / "benchmarks" / "opencv_models",
        help="Where the .pb files are (default benchmarks/opencv_models/).",
    )
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument(
        "--json",
        type=Path,
        help="Results file (written only when something was measured; default "
        "benchmarks/results/opencv_superres.json, opencv_superres_kept.json with "
        "--keep-freed-memory).",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="OPENCV_MODEL",
        help="measure only these of OpenCV's models (ESPCN, FSRCNN, FSRCNN-small, LapSRN)",
    )
    parser.add_argument(
        "--precision",
        action="append",
        choices=["auto", "fp32", "int8"],
        help="srup precision to measure (repeatable; default auto). int8 rows are measured "
        "only for the models and scales that have calibrated int8 (see --precision int8).",
    )
    keep_memory_option(parser)
    args = parser.parse_args(argv)
    # Each way of keeping memory has its own table (and markers in docs/performance.md).
    table = "opencv_superres_kept" if args.keep_freed_memory else "opencv_superres"
    if args.json is None:
        args.json = ROOT / "benchmarks" / "results" / f"{table}.json"

    import torch

    import srup
    import srup.errors

    precisions = args.precision or ["auto"]
    memory = apply_memory_option(args.keep_freed_memory)

    cv2, no_cv2 = dnn_superres()
    cv_version = cv2.__version__ if cv2 is not None else "n/a"
    head = (
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; "
        f"OpenCV {cv_version}, {cv2.getNumThreads() if cv2 is not None else 'n/a'} threads; "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; "
        f"median of {args.repeat} after a warm-up, OpenCV and srup called in turn; "
        f"freed memory {memory}; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    lines = [
        head,
        "",
        "| OpenCV model | scale | input → output | OpenCV ms | srup model | srup ms | "
        "srup ÷ OpenCV | srup pipeline alone ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    print("\n".join(lines), flush=True)
    rows: list[dict] = []
    identity: dict[int, float] = {}

    def emit(line: str, row: dict) -> None:
        lines.append(line)
        rows.append(row)
        print(line, flush=True)

    for stem, cv_name, scale, srup_models in CASES:
        if args.only and stem not in args.only:
            continue
        label = f"{stem} ×{scale}"
        img = picture(scale)
        h, w = img.shape[:2]
        size = f"{w}×{h} → {w * scale}×{h * scale}"
        path = args.models_dir / f"{stem}_x{scale}.pb"
        base = {"opencv_model": stem, "scale": scale, "input": [w, h]}
        reason = no_cv2 or (None if path.is_file() else f"no {path.name} in {args.models_dir}")
        if reason:
            emit(
                f"| {stem} | ×{scale} | {size} | skipped: {reason} |||||",
                {**base, "skipped": reason},
            )
            continue
        sr = cv2.dnn_superres.DnnSuperResImpl_create()
        sr.readModel(str(path))
        sr.setModel(cv_name, scale)

        def run_cv(sr=sr, img=img):
            bgr = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
            return cv2.cvtColor(sr.upsample(bgr), cv2.COLOR_BGR2RGB)

        assert run_cv().shape == (h * scale, w * scale, 3), label
        if not srup_models:
            t_cv = median_time(run_cv, args.repeat)
            reason = f"srup has no ×{scale}"
            emit(
                f"| {stem} | ×{scale} | {size} | {t_cv * 1e3:.0f} | skipped: {reason} | | | |",
                {**base, "opencv_s": t_cv, "skipped": reason},
            )
            continue
        if scale not in identity:
            ident = identity_upscaler(scale)
            identity[scale] = median_time(lambda u=ident, i=img: u.upscale_array(i), args.repeat)
        for model in srup_models:
            for precision in precisions:
                try:
                    up = srup.load(model, scale=scale, device="cpu", precision=precision)
                except srup.errors.SrupError as e:  # int8 where it is not calibrated
                    emit(
                        f"| {stem} | ×{scale} | {size} | | {model} {precision} | "
                        f"skipped: {e} | | |",
                        {**base, "srup_model": model, "precision": precision, "skipped": str(e)},
                    )
                    continue
                out = up.upscale_array(img)
                assert out.shape == (h * scale, w * scale, 3) and out.dtype == np.uint8, label
                t_cv, t = alternating_medians(
                    [run_cv, lambda u=up, i=img: u.upscale_array(i)], args.repeat
                )
                shown = model if model == up.name else f"{model} ({up.name})"
                if precision != "auto":
                    shown += f" {precision}"
                if SAME_NAME.get(stem) != model:
                    shown += ", not the same network"
                emit(
                    f"| {stem} | ×{scale} | {size} | {t_cv * 1e3:.0f} | {shown} | "
                    f"{t * 1e3:.0f} | {t / t_cv:.2f} | {identity[scale] * 1e3:.0f} |",
                    {
                        **base,
                        "opencv_s": t_cv,
                        "srup_model": model,
                        "srup_weights": up.name,
                        "precision": precision,
                        "srup_s": t,
                        "srup_over_opencv": t / t_cv,
                        "srup_pipeline_alone_s": identity[scale],
                    },
                )
    measured = any("opencv_s" in row for row in rows)
    if measured:
        result = {"machine": head, "repeat": args.repeat, "opencv": cv_version, "rows": rows}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    elif args.update_readme:
        print("nothing measured: docs/performance.md left as it is", flush=True)
    publish(table, lines, args.markdown, args.update_readme and measured)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
