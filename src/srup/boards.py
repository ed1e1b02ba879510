"""Synthetic boards and pages: text in the training data.

Photos (T91, BSD200) hold almost no writing, yet srup's users photograph blackboards,
whiteboards and printed pages. :func:`render_board` draws one such picture from a seeded
generator: words and formulas in several fonts and sizes, chalk on a dark board, marker on
a whiteboard or print on paper, with a textured background, uneven light and a small
rotation. The picture is the clean HR; training degrades it like any other.

Fonts are the ones Pillow and matplotlib ship (no downloads): matplotlib's DejaVu and
Computer Modern families when matplotlib is installed (``pip install 'srup[train]'``),
Pillow's own scalable font always. ``benchmarks/legibility.py`` draws its boards from
other fonts (STIX) and another word list, so it never measures what training saw.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numpy as np

__all__ = ["STYLES", "font_files", "render_board", "render_boards"]

STYLES = ("chalk", "marker", "print")

# Words of a classroom: maths, physics, chemistry, languages, the timetable.
WORDS = [
    "theorem",
    "proof",
    "lemma",
    "vector",
    "matrix",
    "integral",
    "derivative",
    "limit",
    "series",
    "function",
    "domain",
    "range",
    "equation",
    "solve",
    "graph",
    "slope",
    "tangent",
    "circle",
    "radius",
    "area",
    "volume",
    "angle",
    "triangle",
    "probability",
    "mean",
    "median",
    "variance",
    "sample",
    "energy",
    "force",
    "mass",
    "velocity",
    "momentum",
    "charge",
    "current",
    "voltage",
    "field",
    "wave",
    "frequency",
    "photon",
    "atom",
    "molecule",
    "reaction",
    "acid",
    "base",
    "oxygen",
    "carbon",
    "hydrogen",
    "cell",
    "protein",
    "enzyme",
    "gene",
    "history",
    "essay",
    "chapter",
    "homework",
    "exam",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "deadline",
    "page",
    "exercise",
    "question",
    "answer",
    "example",
    "definition",
    "note",
    "remember",
    "important",
    "today",
    "week",
    "project",
    "group",
    "lecture",
    "room",
    "the",
    "of",
    "and",
    "to",
    "in",
    "is",
    "for",
    "with",
    "on",
    "as",
    "by",
    "at",
    "from",
    "this",
    "that",
    "we",
    "let",
    "then",
    "therefore",
    "hence",
    "where",
    "if",
]
FORMULAS = (
    "E = mc^2",
    "F = ma",
    "a^2 + b^2 = c^2",
    "x = (-b ± √(b²-4ac)) / 2a",
    "f'(x) = lim h→0",
    "∫ f(x) dx = F(b) - F(a)",
    "Σ n = n(n+1)/2",
    "PV = nRT",
    "sin²θ + cos²θ = 1",
    "V = IR",
    "y = mx + c",
    "H2O + CO2",
    "p(A|B) = p(B|A)p(A)/p(B)",
    "λ = h / p",
    "Δx Δp ≥ ħ/2",
    "d/dx e^x = e^x",
    "1/2 + 1/3 = 5/6",
    "3.14159",
    "v = u + at",
    "2x + 5 = 17",
)

_TRAIN_FONTS = ("DejaVu", "cmr10", "cmss10", "cmtt10", "cmb10", "cmti10")


@lru_cache(maxsize=8)
def font_files(prefixes: tuple[str, ...] = _TRAIN_FONTS) -> tuple[str, ...]:
    """TrueType files whose names start with one of ``prefixes``, from matplotlib's bundled
    fonts when matplotlib is installed; empty otherwise (Pillow's own font is then used)."""
    try:
        import matplotlib
    except ImportError:
        return ()
    folder = Path(matplotlib.__file__).parent / "mpl-data" / "fonts" / "ttf"
    return tuple(
        str(p)
        for p in sorted(folder.glob("*.ttf"))
        if p.name.startswith(prefixes) and "Display" not in p.name
    )


def _font(path: str | None, size: int):
    from PIL import ImageFont

    if path is None:
        return ImageFont.load_default(size)
    return ImageFont.truetype(path, size)


def _texture(rng: np.random.Generator, h: int, w: int, cell: int) -> np.ndarray:
    """Smooth noise in [-1, 1]: random values on a coarse grid, resized up bicubically."""
    from PIL import Image

    gh, gw = max(2, h // cell + 2), max(2, w // cell + 2)
    grid = rng.uniform(-1, 1, size=(gh, gw)).astype(np.float32)
    return np.asarray(Image.fromarray(grid, "F").resize((w, h), Image.Resampling.BICUBIC))


def _palette(style: str, rng: np.random.Generator) -> tuple[np.ndarray, list[np.ndarray]]:
    """A background colour and ink colours, RGB in [0, 255]."""
    if style == "chalk":
        board = rng.choice([[38, 70, 52], [30, 34, 36], [46, 58, 48], [22, 48, 40]])
        inks = [[235, 235, 228], [240, 230, 150], [170, 210, 240], [240, 180, 190]]
    elif style == "marker":
        board = [rng.uniform(235, 252)] * 3
        inks = [[20, 30, 110], [25, 25, 30], [170, 30, 30], [20, 110, 50]]
    else:
        board = [rng.uniform(238, 252), rng.uniform(234, 248), rng.uniform(222, 240)]
        inks = [[20, 20, 20], [35, 35, 60]]
    bg = np.asarray(board, dtype=np.float32)
    return bg, [np.asarray(c, dtype=np.float32) for c in inks]


def _line_text(rng: np.random.Generator, words: tuple[str, ...]) -> str:
    if rng.random() < 0.3:
        return str(rng.choice(FORMULAS))
    n = int(rng.integers(1, 6))
    text = " ".join(str(rng.choice(words)) for _ in range(n))
    if rng.random() < 0.3:
        text = text.capitalize()
    if rng.random() < 0.15:
        text = text.upper()
    return text


def render_board(
    rng: np.random.Generator,
    size: tuple[int, int] = (480, 360),
    style: str | None = None,
    fonts: tuple[str, ...] | None = None,
    text_px: tuple[int, int] = (14, 56),
    words: tuple[str, ...] = tuple(WORDS),
    lines: list[str] | None = None,
    max_angle: float = 3.0,
) -> tuple[np.ndarray, list[str]]:
    """One board: ``(H, W, 3)`` uint8 RGB of ``size`` = (W, H), and the lines written on it,
    top to bottom. ``style``: chalk, marker, print or None (drawn at random). ``text_px``:
    the range of font sizes in pixels. ``lines``: write exactly these, in one font and size
    (the legibility benchmark's known text; :class:`ValueError` if one does not fit)."""
    from PIL import Image, ImageDraw, ImageFilter

    w, h = size
    style = style or str(rng.choice(STYLES))
    if style not in STYLES:
        raise ValueError(f"style must be one of {STYLES}, got {style!r}")
    fonts = font_files() if fonts is None else fonts
    choices: list[str | None] = list(fonts) or [None]
    bg, inks = _palette(style, rng)
    angle = float(rng.uniform(-max_angle, max_angle))
    # Drawn larger, then rotated and cut to size, so no corner is left empty.
    pad = math.ceil(0.06 * max(w, h))
    cw, ch = w + 2 * pad, h + 2 * pad
    mask_img = Image.new("L", (cw, ch), 0)
    ink_img = Image.new("RGB", (cw, ch), (0, 0, 0))
    draw_mask, draw_ink = ImageDraw.Draw(mask_img), ImageDraw.Draw(ink_img)
    given = list(lines) if lines is not None else None
    lines = []
    y = pad + int(rng.integers(0, max(1, h // 10)))
    font_path = choices[int(rng.integers(len(choices)))]
    px = int(rng.integers(text_px[0], text_px[1] + 1))
    while y < ch - pad if given is None else given:
        if given is None and rng.random() < 0.3:  # a new hand or heading now and then
            font_path = choices[int(rng.integers(len(choices)))]
            px = int(rng.integers(text_px[0], text_px[1] + 1))
        font = _font(font_path, px)
        text = _line_text(rng, words) if given is None else given.pop(0)
        x = pad + int(rng.integers(0, max(1, w // 8)))
        if given is not None and (
            x + draw_mask.textlength(text, font=font) > pad + w - px or y + 2 * px > pad + h
        ):
            raise ValueError(f"{text!r} at {px} px does not fit a {w}×{h} board")
        color = inks[int(rng.integers(len(inks)))] if rng.random() < 0.4 else inks[0]
        width = max(1, round(px / 16)) if style == "marker" and rng.random() < 0.5 else 0
        draw_mask.text((x, y), text, fill=255, font=font, stroke_width=width, stroke_fill=255)
        draw_ink.text(
            (x, y), text, fill=tuple(int(c) for c in color), font=font, stroke_width=width
        )
        lines.append(text)
        y += int(px * rng.uniform(1.3, 1.9))
    if style == "chalk":
        # Chalk skips on the board's grain and leaves a soft edge.
        mask_img = mask_img.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 0.8)))
    rotate = {"resample": Image.Resampling.BICUBIC, "center": (cw / 2, ch / 2)}
    mask_img = mask_img.rotate(angle, **rotate)
    ink_img = ink_img.rotate(angle, **rotate)
    box = (pad, pad, pad + w, pad + h)
    mask = np.asarray(mask_img.crop(box), dtype=np.float32)[..., None] / 255.0
    ink = np.asarray(ink_img.crop(box), dtype=np.float32)
    # Ink colour where the mask is partial: the rotated ink picture is dark at stroke edges.
    ink = np.where(mask > 0.02, ink / np.maximum(mask, 0.02), 0.0)
    if style == "chalk":
        grain = np.clip(0.75 + 0.35 * rng.standard_normal((h, w, 1)).astype(np.float32), 0, 1)
        mask = mask * grain
    # Background: colour, a smooth texture (smudges, paper), and uneven light.
    tex = _texture(rng, h, w, cell=int(rng.integers(8, 40)))[..., None]
    strength = {"chalk": 10.0, "marker": 5.0, "print": 4.0}[style]
    board = bg + strength * tex
    if style == "chalk" and rng.random() < 0.7:  # old chalk wiped across
        board = board + 18.0 * np.clip(_texture(rng, h, w, cell=60), 0, 1)[..., None]
    img = board * (1 - mask) + ink * mask
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    gx, gy = rng.uniform(-0.25, 0.25, size=2)
    light = 1 + gx * (xx / w - 0.5) + gy * (yy / h - 0.5)
    cx, cy = rng.uniform(0, w), rng.uniform(0, h)
    glare = rng.uniform(0, 0.25) * np.exp(-(((xx - cx) ** 2 + (yy - cy) ** 2) / (0.3 * w * w)))
    img = img * light[..., None] + 255 * glare[..., None] * (style != "chalk")
    return np.clip(np.rint(img), 0, 255).astype(np.uint8), lines


def render_boards(count: int, seed: int, size: tuple[int, int] = (480, 360)) -> list[np.ndarray]:
    """``count`` boards for training, the same for the same ``seed``."""
    return [render_board(np.random.default_rng([seed, 7919, i]), size)[0] for i in range(count)]
