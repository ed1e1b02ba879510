"""How legible a handheld phone photo of a board becomes: a fixed set of realistic captures,
upscaled, read back by Tesseract OCR, scored as character error rate (CER) and Y-PSNR.

    apt-get install tesseract-ocr; pip install 'srup[bench]'    # matplotlib's STIX fonts
    python benchmarks/capture.py [--model NAME[,key=value...]] [--weights FILE[,...]]
        [--load key=value] [--denoise X] [--save DIR] [--jobs 2] [--update-readme]

Each photo (srup.data.boards: capture_scene, draw_capture, capture_photo) is a 1920×1440 scene
(HR) seen by a 640×480 camera at ×3: a chalkboard, whiteboard or printed page with known
text, printed (STIX serif, OpenCV's Hershey stroke serifs) or handwriting-like (Hershey
stroke fonts and STIX italic, each character jittered in size, angle, height and spacing,
lines sloping and wobbling), in fonts and sentences training never sees; keystoned by an
off-axis camera, lit unevenly (gradient, vignette, a shadow band). The camera then blurs it
(motion: a line of 2–8 photo pixels at any angle; or defocus: a disc of radius 0.6–2; both
applied to the HR scene, scaled ×3), the phone shrinks it to 640×480 (area or bilinear),
adds shot, read and blotchy chroma noise, sometimes sharpens, and saves a JPEG of quality
50–85 with 4:2:0 chroma. The HR reference for Y-PSNR is the scene before blur and noise.

Methods: bicubic (srup.imresize: MATLAB's bicubic on the decoded JPEG), then each
``--model`` (a shipped name, or ``auto``) and ``--weights`` file, each optionally followed
by ``,key=value``: ``denoise`` (auto or 0–1) and options for ``srup.load`` (``--load
key=value`` and ``--denoise X`` give one to every model); without any, fsrcnn-real,
espcn7-real and auto. Each runs as ``srup upscale photo.jpg`` runs it: srup.runtime.auto.Engine
on the file as srup.media.pictures.read reads it, quantization tables and all, so ``auto`` with
the default ``denoise=auto`` picks its strength per photo (the JSON records what ran).
Every output and the HR scene itself (the ceiling: about 1 % CER) are read by ``tesseract
--psm 6`` with its default (global Otsu) binarization, over the same crop: the box around
the text (the wall, frame and empty board are left out; Sauvola's adaptive threshold reads
the uneven light better but turns chalkboard texture into letters). CER = edit distance ÷
reference length per photo, whitespace collapsed. A method is better (worse) than bicubic
on a photo when its CER is more than 1 point lower (higher). Y-PSNR: BT.601 Y, ``scale``
pixels shaved (srup.imaging.metrics.psnr), whole frame. The seed is fixed: a rerun gives the same
photos bit for bit (with the same Pillow, FreeType and OpenCV). The 24 photos take about 2
minutes of CPU time for four methods (``--jobs`` tesseracts run side by side while the
next photo is drawn).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from legibility import SENTENCES, edit_distance, normalise, ocr_text, tesseract_version
from PIL import Image
from readme import arguments, publish

import srup
from srup.data.boards import (
    STYLES,
    Capture,
    capture_photo,
    capture_scene,
    draw_capture,
    font_files,
    line_width,
)
from srup.imaging.metrics import psnr
from srup.imaging.sizing import Sizing
from srup.media.pictures import Picture, read
from srup.runtime.auto import Engine

ROOT = Path(__file__).resolve().parents[1]
SEED = 20260125
SCALE = 3
PHOTO = (640, 480)  # the photo's size; the HR scene is SCALE times larger
KINDS = ("printed", "hand")
SIZES = (54, 44, 36, 30)  # the font's size on the board, HR pixels: easy to hard
HAND = {"hershey:simplex": 1.0, "hershey:duplex": 1.0, "STIXGeneralItalic": 0.6}
SAME = 0.01  # CER within 1 point of bicubic's: the same

# More sentences no training board holds (legibility.py's too).
TEXT = [
    *SENTENCES,
    "Homework is page 57 problems 3 to 9",
    "Remember to label both axes of your graph",
    "The museum visit starts at half past nine",
    "Write a short summary of the second act",
    "Compare the two maps and list three changes",
    "Plants grow toward the window in winter",
    "No class next Thursday because of the fair",
    "Check your answers with a partner first",
    "The library closes early on Wednesdays",
    "Bring your permission slip signed by Friday",
    "Draw the food web for a pond in spring",
    "Practice the song for the concert in June",
    "Volunteers needed to clean the garden beds",
    "Your essay should have five clear paragraphs",
    "Measure the room in meters and centimeters",
    "Keep your notebook neat and date every page",
]


@dataclass(frozen=True)
class Photo:
    """One benchmark photo: where it came from and what it holds."""

    index: int
    style: str
    kind: str
    font: str
    hand: float
    px: int
    lines: tuple[str, ...]
    text_box: tuple[int, int, int, int]
    capture: Capture


def bench_fonts() -> dict[str, list[str]]:
    """The capture benchmark's fonts by kind: never DejaVu, Computer Modern or Pillow's own
    font (training draws its boards from those)."""
    stix = {Path(f).stem: f for f in font_files(("STIXGeneral",))}
    need = ("STIXGeneral", "STIXGeneralBol", "STIXGeneralItalic")
    if not all(n in stix for n in need):
        sys.exit("needs matplotlib's STIX fonts: pip install 'srup[bench]' (or matplotlib)")
    return {
        "printed": [
            stix["STIXGeneral"],
            "hershey:complex",
            stix["STIXGeneralBol"],
            "hershey:triplex",
        ],
        "hand": ["hershey:simplex", stix["STIXGeneralItalic"], "hershey:duplex"],
    }


def font_name(font: str) -> str:
    return Path(font).stem if not font.startswith("hershey:") else font


def wrap(words: list[str], font: str, px: int, width: float) -> list[str]:
    """``words`` in lines no wider than ``width`` pixels (greedy)."""
    lines: list[str] = []
    for word in words:
        if lines and line_width(f"{lines[-1]} {word}", font, px) <= width:
            lines[-1] += f" {word}"
        else:
            lines.append(word)
    return lines


def photo_plan(index: int, fonts: dict[str, list[str]]) -> tuple[str, str, str, float, int]:
    """Photo ``index``'s style, kind, font, hand and text size: the first 24 cover every
    style × kind at every size once, round-robin over the kind's fonts."""
    style = STYLES[index % len(STYLES)]
    kind = KINDS[(index // len(STYLES)) % len(KINDS)]
    group = index // (len(STYLES) * len(KINDS))
    px = SIZES[group % len(SIZES)]
    choices = fonts[kind]
    font = choices[(index + group) % len(choices)]
    hand = HAND.get(font_name(font), 0.0) if kind == "hand" else 0.0
    return style, kind, font, hand, px


def make_photo(index: int, fonts: dict[str, list[str]]) -> tuple[Photo, np.ndarray, bytes]:
    """Photo ``index`` of the fixed set: its description, the HR scene and the JPEG."""
    style, kind, font, hand, px = photo_plan(index, fonts)
    w, h = PHOTO[0] * SCALE, PHOTO[1] * SCALE
    rng = np.random.default_rng([SEED, index])
    order = rng.permutation(len(TEXT))
    words = " ".join(TEXT[i] for i in order).split()
    # Lines of about 40 characters, as a board holds them (render_board starts a line up to
    # w/8 in and keeps px from the right; a hand spreads).
    lines = wrap(words, font, px, min(20 * px, (0.86 * w - px) / (1.2 if hand else 1.02)))
    room = min(9, int((0.88 * h - 2 * px) / (1.9 * px * (1 + 0.2 * hand))) + 1)
    while True:
        try:
            scene = capture_scene(
                np.random.default_rng([SEED, index, 1]), lines[:room], px, style, font, hand, (w, h)
            )
            break
        except ValueError:  # the spacing drawn was wide: one line fewer
            room -= 1
    capture = draw_capture(np.random.default_rng([SEED, index, 2]))
    jpeg, _ = capture_photo(scene.pixels, capture, SCALE)
    photo = Photo(
        index, style, kind, font_name(font), hand, px, scene.lines, scene.text_box, capture
    )
    return photo, scene.pixels, jpeg


@dataclass
class Method:
    name: str
    # The photo as srup reads the file (a Picture) → (H, W, 3) uint8 and what made it.
    upscale: Callable[[Picture], tuple[np.ndarray, str]]


def keywords(items: list[str]) -> dict:
    """``["key=value", ...]`` → keyword arguments, numbers and true/false/none parsed."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            sys.exit(f"{item!r}: expected key=value")
        out[key.strip()] = literal(value.strip())
    return out


def parse_method(spec: str, is_file: bool, extra: dict) -> tuple[str, dict]:
    """``NAME[,key=value...]`` → (NAME, srup.load keyword arguments): ``extra`` first, the
    spec's own after, ``weights`` for a file."""
    head, *rest = spec.split(",")
    kwargs = {**extra, **keywords(rest)}
    if is_file:
        kwargs["weights"] = head
    return head, kwargs


def literal(text: str):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"true": True, "false": False, "none": None}.get(text.lower(), text)


def methods(args: argparse.Namespace) -> list[Method]:
    """bicubic, then each model or weights file as ``srup upscale photo.jpg`` runs it: an
    Engine (srup.runtime.auto) at ×SCALE, which with ``auto`` and ``denoise=auto`` chooses the
    strength per file from what the JPEG says (srup.imaging.estimate)."""

    def bicubic(picture: Picture) -> tuple[np.ndarray, str]:
        return srup.imresize(picture.pixels, SCALE), "bicubic"

    out = [Method("bicubic", bicubic)]
    specs = [(m, False) for m in args.model] + [(f, True) for f in args.weights]
    for spec, is_file in specs:
        head, options = parse_method(spec, is_file, keywords(args.load))
        denoise = options.pop("denoise", "auto")
        options = {"device": args.device, "precision": "fp32", **options}
        model, weights = ("auto", options.pop("weights")) if is_file else (head, None)
        try:
            engine = Engine(Sizing(scale=SCALE), model, weights, denoise, **options)
        except (srup.SrupError, TypeError) as e:
            sys.exit(f"{spec}: {e}")
        name = Path(head).stem if is_file else head
        name += "".join(f",{k}={v}" for k, v in options.items() if k not in ("device", "precision"))
        name += f",denoise={denoise}" if denoise != "auto" else ""

        def upscale(picture: Picture, engine: Engine = engine) -> tuple[np.ndarray, str]:
            done, used = engine.process(picture)
            return done.pixels, used

        out.append(Method(name, upscale))
    return out


def run(args: argparse.Namespace) -> dict:
    fonts = bench_fonts()
    meths = methods(args)
    names = ["HR", *(m.name for m in meths)]
    rows = []
    pending: list[tuple[dict, dict[str, Future], str]] = []
    save = args.save
    if save:
        save.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(args.jobs) as pool, tempfile.TemporaryDirectory() as tmp:
        made = pool.submit(make_photo, 0, fonts)
        for index in range(args.photos):
            photo, hr, jpeg = made.result()
            if index + 1 < args.photos:  # the next photo is drawn while this one is read
                made = pool.submit(make_photo, index + 1, fonts)
            left, top, right, bottom = photo.text_box
            reference = normalise("\n".join(photo.lines))
            row = {**asdict(photo), "capture": asdict(photo.capture), "cer": {}, "psnr": {}}
            outs = {"HR": hr}
            path = Path(tmp) / "photo.jpg"
            path.write_bytes(jpeg)
            picture = read(path)  # as srup upscale reads it: lossy, with its tables
            row["used"] = {}
            for m in meths:
                outs[m.name], row["used"][m.name] = m.upscale(picture)
                row["psnr"][m.name] = psnr(outs[m.name], hr, crop_border=SCALE)
            if save:
                stem = f"{index:02d}_{photo.style}_{photo.kind}_{photo.px}"
                (save / f"{stem}_photo.jpg").write_bytes(jpeg)
                for name, img in outs.items():
                    Image.fromarray(img).save(save / f"{stem}_{safe(name)}.png", compress_level=1)
            futures = {
                name: pool.submit(ocr_text, img[top:bottom, left:right])
                for name, img in outs.items()
            }
            pending.append((row, futures, reference))
            if len(pending) > 1:  # keep at most two photos' outputs in memory
                rows.append(collect(*pending.pop(0)))
        rows += [collect(*p) for p in pending]
    return {"rows": rows, "methods": names}


def collect(row: dict, futures: dict[str, Future], reference: str) -> dict:
    row["text"] = {}
    for name, fut in futures.items():
        text = normalise(fut.result())
        row["text"][name] = text
        row["cer"][name] = edit_distance(reference, text) / len(reference)
    cers = ", ".join(f"{n} {100 * c:.1f}" for n, c in row["cer"].items())
    print(f"{row['index']:2d} {row['style']} {row['kind']} {row['px']} px: {cers}", file=sys.stderr)
    return row


def safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def summary(rows: list[dict], names: list[str]) -> dict[str, dict]:
    """Per method: CER mean and median, photos better/same/worse than bicubic, Y-PSNR."""
    out = {}
    for name in names:
        cer = [r["cer"][name] for r in rows]
        delta = [r["cer"][name] - r["cer"]["bicubic"] for r in rows]
        out[name] = {
            "cer_mean": statistics.fmean(cer),
            "cer_median": statistics.median(cer),
            "better": sum(d < -SAME for d in delta),
            "same": sum(abs(d) <= SAME for d in delta),
            "worse": sum(d > SAME for d in delta),
            "psnr_y": statistics.fmean(r["psnr"][name] for r in rows) if name != "HR" else None,
        }
    return out


def table(result: dict) -> list[str]:
    s, rows = result["summary"], result["rows"]
    n = len(rows)
    lines = [
        f"×{SCALE}; {n} photos {PHOTO[0]}×{PHOTO[1]} (seed {SEED}); Tesseract {result['tesseract']}"
        "; CER per photo, lower is better; better/same/worse: photos whose CER is more than "
        "1 point below / within 1 point of / more than 1 point above bicubic's",
        "",
        "| method | CER mean | CER median | better / same / worse | Y-PSNR dB |",
        "|---|---|---|---|---|",
    ]
    for name, v in s.items():
        label = "HR (the scene itself)" if name == "HR" else name
        vs = "" if name in ("HR", "bicubic") else f"{v['better']} / {v['same']} / {v['worse']}"
        db = "" if v["psnr_y"] is None else f"{v['psnr_y']:.2f}"
        lines.append(
            f"| {label} | {100 * v['cer_mean']:.1f} % "
            f"| {100 * v['cer_median']:.1f} % | {vs} | {db} |"
        )
    groups = [(st, k) for k in KINDS for st in STYLES]
    lines += [
        "",
        "Mean CER by board and writing:",
        "",
        "| method | " + " | ".join(f"{st} {k}" for st, k in groups) + " |",
        "|---" * (len(groups) + 1) + "|",
    ]
    for name in s:
        cells = []
        for st, k in groups:
            sel = [r["cer"][name] for r in rows if r["style"] == st and r["kind"] == k]
            cells.append(f"{100 * statistics.fmean(sel):.1f} %" if sel else "–")
        lines.append(f"| {'HR' if name == 'HR' else name} | " + " | ".join(cells) + " |")
    ran = []
    for name in s:
        used = Counter(r["used"][name] for r in rows if name in r.get("used", {}))
        if set(used) - {name}:
            ran.append(f"{name}: " + ", ".join(f"{u} ×{k}" for u, k in sorted(used.items())))
    if ran:
        lines += ["", "What ran (photos): " + "; ".join(ran)]
    return lines


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument(
        "--model", action="append", default=[], help="NAME[,key=value...]: a shipped model or auto"
    )
    parser.add_argument(
        "--weights", action="append", default=[], help="FILE[,key=value...]: a .safetensors file"
    )
    parser.add_argument(
        "--load", action="append", default=[], help="key=value for every model (denoise, tile)"
    )
    parser.add_argument("--denoise", help="auto or 0–1 for every model: --load denoise=X")
    parser.add_argument("--photos", type=int, default=24, help="How many of the fixed set.")
    parser.add_argument(
        "--jobs", type=int, default=min(2, os.cpu_count() or 1), help="Tesseracts at once."
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--save", type=Path, help="Write each photo, HR and output here.")
    parser.add_argument(
        "--json", type=Path, default=ROOT / "benchmarks" / "results" / f"capture_x{SCALE}.json"
    )
    args = parser.parse_args()
    if args.denoise is not None:
        args.load.append(f"denoise={args.denoise}")
    if not args.model and not args.weights:
        args.model = ["fsrcnn-real", "espcn7-real", "auto"]
    if shutil.which("tesseract") is None:
        sys.exit("needs Tesseract OCR: apt-get install tesseract-ocr (or brew install tesseract)")
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # tesseract: one thread per job
    start = time.perf_counter()
    result = run(args)
    result["tesseract"] = tesseract_version()
    result["summary"] = summary(result["rows"], result["methods"])
    result["seconds"] = time.perf_counter() - start
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    lines = table(result)
    print("\n".join(lines))
    print(f"{result['seconds']:.0f} s", file=sys.stderr)
    publish("capture", lines, args.markdown, args.update_readme)


if __name__ == "__main__":
    main()
