"""How legible photographed text becomes: rendered boards, degraded as a phone would, upscaled,
read back by Tesseract OCR, scored as character error rate (CER).

    apt-get install tesseract-ocr        # Debian/Ubuntu; brew install tesseract on macOS
    python benchmarks/legibility.py [--scale 3] [--update-readme] [--figure docs/board.png]

Each board (chalk on green, marker on white, print on paper) carries known lines at one text
size (the font's pixel size at HR), in fonts and words the training renderer never uses
(matplotlib's STIX fonts and Pillow's own; the sentences below). The "photo" is the board
blurred (Gaussian σ = 0.7 HR pixels), shrunk ×s by MATLAB bicubic, given sensor noise
(σ = 3 levels) and saved as JPEG quality 75; it is then upscaled ×s by bicubic and by each
model, and read by `tesseract --psm 6`. CER = edit distance ÷ reference length, summed over
the boards of a size; lower is better. The seed is fixed, so a rerun gives the same boards.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from readme import arguments, publish

import srup
from srup.data.boards import STYLES, font_files, render_board
from srup.data.degrade import parse

ROOT = Path(__file__).resolve().parents[1]
PHOTO = "clean,sigma=0.7,nsigma=3,gray=0,jpeg=75"  # blur, noise, JPEG 75 (srup.data.degrade)
SIZES = (12, 14, 16, 20, 24)
BOARDS_PER_STYLE = 3
SEED = 20261122

# Sentences no training board holds (srup.data.boards draws from its own word list).
SENTENCES = [
    "Quiz on Friday covers chapters four to six",
    "Bring a calculator and a sharp pencil",
    "The quick brown fox jumps over the lazy dog",
    "Office hours moved to room 214 this week",
    "Read pages 88 to 103 before Tuesday",
    "Photosynthesis needs light water and CO2",
    "Lab reports are due at noon on the 14th",
    "Vocabulary test next Monday unit seven",
    "Group B presents their poster after lunch",
    "Submit drafts by email before midnight",
    "Field trip forms must be signed by parents",
    "Chapter review questions one through twelve",
]


def bench_fonts() -> list[str | None]:
    stix = [f for f in font_files(("STIXGeneral",)) if "Ita" not in Path(f).name]
    return [*stix, None]  # None: Pillow's own scalable font


def boards(px: int, scale: int) -> list[tuple[np.ndarray, str, str]]:
    """(HR board, its text, style) at text size ``px``; the board size fits the text."""
    rng = np.random.default_rng([SEED, px])
    fonts = bench_fonts()
    out = []
    for style in STYLES:
        for i in range(BOARDS_PER_STYLE):
            picks = rng.choice(len(SENTENCES), size=3, replace=False)
            lines = [SENTENCES[j] for j in picks]
            width = int(px * 0.62 * max(len(t) for t in lines)) + 6 * px
            height = int(px * 1.8 * len(lines)) + 4 * px
            width, height = width - width % scale, height - height % scale
            font = fonts[(i + len(out)) % len(fonts)]
            img, written = render_board(
                np.random.default_rng([SEED, px, len(out)]),
                (width, height),
                style=style,
                fonts=(font,) if font else (),
                text_px=(px, px),
                lines=lines,
                max_angle=1.0,
            )
            out.append((img, "\n".join(written), style))
    return out


def ocr_text(img: np.ndarray) -> str:
    """What ``tesseract --psm 6`` (one uniform block of text) reads in ``img``, ``(H, W, 3)``
    uint8 RGB, given to it as an uncompressed BMP on its standard input."""
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="BMP")
    res = subprocess.run(
        ["tesseract", "stdin", "stdout", "--psm", "6"],
        input=buf.getvalue(),
        capture_output=True,
        check=True,
    )
    return res.stdout.decode("utf-8", "replace")


def tesseract_version() -> str:
    out = subprocess.run(["tesseract", "--version"], capture_output=True, text=True).stdout
    return out.split()[1]


def normalise(text: str) -> str:
    """Whitespace collapsed to single spaces, ends stripped: what CER compares."""
    return " ".join(text.split())


def edit_distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--scale", type=int, default=3)
    parser.add_argument(
        "--models",
        default="fsrcnn,fsrcnn-real,espcn,espcn-real,espcn7,espcn7-real",
        help="Comma-separated: NAME, NAME@DENOISE (e.g. fsrcnn@0.75) or a .safetensors file.",
    )
    parser.add_argument("--figure", type=Path, help="Write a side-by-side picture of one board.")
    args = parser.parse_args()
    if shutil.which("tesseract") is None:
        sys.exit("needs Tesseract OCR: apt-get install tesseract-ocr (or brew install tesseract)")
    s = args.scale
    photo = parse(PHOTO)
    ups = {}
    for name in args.models.split(","):
        # NAME, NAME@DENOISE (srup.load's denoise: 0 clean … 1 capture) or a weights file.
        model, _, strength = name.partition("@")
        kwargs = {"denoise": float(strength)} if strength else {}
        if model.endswith(".safetensors"):
            kwargs["weights"], model = model, "auto"
        try:
            ups[name] = srup.load(model, s, device="cpu", precision="fp32", **kwargs)
        except srup.SrupError as e:
            print(f"skipping {name}: {e}", file=sys.stderr)
    methods = {"bicubic": lambda lr: srup.imresize(lr, s)}
    methods |= {name: up.upscale_array for name, up in ups.items()}
    cer: dict[tuple[str, int], float] = {}
    example = None
    for px in SIZES:
        errors = dict.fromkeys(methods, 0)
        chars = 0
        for k, (hr, text, _style) in enumerate(boards(px, s)):
            lr = photo.apply(hr, s, np.random.default_rng([SEED, px, k, 1]))
            ref = normalise(text)
            chars += len(ref)
            outs = {m: fn(lr) for m, fn in methods.items()}
            for m, out in outs.items():
                errors[m] += edit_distance(ref, normalise(ocr_text(out)))
            if px == 20 and k == 3:  # a marker board, where bicubic starts to fail
                example = (hr, outs)
        for m in methods:
            cer[(m, px)] = errors[m] / chars
        print(
            f"{px} px: " + ", ".join(f"{m} {100 * cer[(m, px)]:.1f}%" for m in methods),
            file=sys.stderr,
        )
    lines = [
        f"×{s}; photo: `{PHOTO}` (blur σ 0.7, noise σ 3, JPEG 75); "
        f"{BOARDS_PER_STYLE * len(STYLES)} boards per size; Tesseract {tesseract_version()}",
        "",
        "| method | " + " | ".join(f"{px} px" for px in SIZES) + " |",
        "|---" * (len(SIZES) + 1) + "|",
    ]
    for m in methods:
        lines.append(f"| {m} | " + " | ".join(f"{100 * cer[(m, px)]:.1f} %" for px in SIZES) + " |")
    print("\n".join(lines))
    if args.figure and example is not None:
        figure(example, args.figure)
    publish("legibility", lines, args.markdown, args.update_readme)


def figure(example, path: Path) -> None:
    """bicubic | clean model | real model | the original, one 20 px marker board."""
    hr, outs = example
    names = [
        m
        for m in ("bicubic", "fsrcnn", "fsrcnn-real", "espcn", "espcn-real")
        if m in outs and m in {"bicubic", "fsrcnn", "fsrcnn-real"}
    ]
    h, w = hr.shape[:2]
    crop = (slice(0, min(h, 140)), slice(0, min(w, 420)))
    tiles = [outs[m][crop] for m in names] + [hr[crop]]
    labels = [*names, "original"]
    from PIL import ImageDraw

    gap = 6
    canvas = Image.new(
        "RGB", (tiles[0].shape[1], sum(t.shape[0] + 18 + gap for t in tiles)), "white"
    )
    y = 0
    draw = ImageDraw.Draw(canvas)
    for tile, label in zip(tiles, labels, strict=True):
        draw.text((4, y + 2), label, fill=(0, 0, 0))
        canvas.paste(Image.fromarray(tile), (0, y + 18))
        y += tile.shape[0] + 18 + gap
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path)


if __name__ == "__main__":
    main()
