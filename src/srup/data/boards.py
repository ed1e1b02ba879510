"""Synthetic boards and pages: text in the training data.

Photos (T91, BSD200) hold almost no writing, yet srup's users photograph blackboards,
whiteboards and printed pages. :func:`render_board` draws one such picture from a seeded
generator: words and formulas in several fonts and sizes, chalk on a dark board, marker on
a whiteboard or print on paper, with a textured background, uneven light and a small
rotation. The picture is the clean HR; training degrades it like any other.

Fonts are the ones Pillow and matplotlib ship (no downloads): matplotlib's DejaVu and
Computer Modern families when matplotlib is installed (``pip install 'srup[train]'``),
Pillow's own scalable font otherwise. ``benchmarks/legibility.py`` draws its boards from
other fonts (STIX) and another word list, so it never measures what training saw.

The capture benchmark (``benchmarks/capture.py``) photographs such boards as a handheld
phone does: :func:`capture_scene` writes known text (printed, or handwriting-like with
``hand`` > 0, also in OpenCV's Hershey stroke fonts), keystones the board in the frame
(:func:`keystone`, :func:`warp_board`) and lights it unevenly (:func:`illumination`): the
HR reference. :func:`draw_capture` draws a camera (:class:`Capture`) and
:func:`capture_photo` takes the photo: motion blur or defocus, the phone's downscale, shot,
read and chroma noise, sharpening, JPEG 4:2:0. Every step is seeded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

__all__ = [
    "HERSHEY_FONTS",
    "STYLES",
    "Capture",
    "Scene",
    "capture_blur",
    "capture_photo",
    "capture_scene",
    "draw_capture",
    "font_files",
    "illumination",
    "keystone",
    "line_width",
    "render_board",
    "render_boards",
    "warp_board",
]

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
    fonts when matplotlib is installed; empty otherwise (Pillow's own font is then used).
    matplotlib is found, not imported: only its font files are read."""
    from importlib.util import find_spec

    spec = find_spec("matplotlib")
    if spec is None or not spec.submodule_search_locations:
        return ()
    folder = Path(next(iter(spec.submodule_search_locations))) / "mpl-data" / "fonts" / "ttf"
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


# OpenCV's Hershey stroke fonts: lines drawn with a pen, much as a marker or chalk writes.
# Training never uses them (the capture benchmark's handwriting-like text does).
_HERSHEY = {"simplex": 0, "duplex": 2, "complex": 3, "triplex": 4}  # cv2.FONT_HERSHEY_*
HERSHEY_FONTS = tuple(f"hershey:{name}" for name in _HERSHEY)
_HERSHEY_EM = 33.0  # font size (px) per unit of OpenCV's fontScale: x-height 0.45 em, as STIX


def _is_hershey(path: str | None) -> bool:
    return path is not None and path.startswith("hershey:")


@lru_cache(maxsize=64)
def _cached_font(path: str | None, size: int):
    return _font(path, size)


def _glyph(path: str | None, ch: str, px: int, stroke: int) -> tuple[np.ndarray, int, int, float]:
    """One character as ink: a float32 ``(h, w)`` mask in [0, 1], the pen's position
    ``(x, y)`` on the baseline inside it, and the advance in pixels. ``path``: a TrueType
    file, None (Pillow's own font) or ``hershey:NAME``; ``px``: font size in pixels;
    ``stroke``: extra pen width in pixels."""
    if _is_hershey(path):
        import cv2

        face, scale = _HERSHEY[path.split(":", 1)[1]], px / _HERSHEY_EM
        thick = max(1, round(px / 14)) + stroke
        (tw, _), _ = cv2.getTextSize(ch, face, scale, thick)
        m = thick + 2
        h, base = round(1.3 * px) + 2 * m, round(0.95 * px) + m
        img = np.zeros((h, tw + 2 * m), np.uint8)
        cv2.putText(img, ch, (m, base), face, scale, 255, thick, cv2.LINE_AA)
        return img.astype(np.float32) / 255, m, base, float(tw)
    from PIL import Image, ImageDraw

    font = _cached_font(path, px)
    left, top, right, bottom = font.getbbox(ch, anchor="ls", stroke_width=stroke)
    m = 2
    img = Image.new("L", (right - left + 2 * m, bottom - top + 2 * m), 0)
    ox, oy = m - left, m - top
    ImageDraw.Draw(img).text(
        (ox, oy), ch, fill=255, font=font, anchor="ls", stroke_width=stroke, stroke_fill=255
    )
    return np.asarray(img, np.float32) / 255, ox, oy, float(font.getlength(ch))


def line_width(text: str, font: str | None, px: int) -> float:
    """How wide ``text`` is set in ``font`` (a TrueType file, None for Pillow's own font, or
    ``hershey:NAME``) at ``px`` pixels, before any hand's jitter: pixels."""
    if _is_hershey(font):
        return sum(_glyph(font, ch, px, 0)[3] for ch in text)
    return float(_cached_font(font, px).getlength(text))


def _turn(mask: np.ndarray, ox: int, oy: int, degrees: float, slant: float):
    """``mask`` rotated by ``degrees`` and slanted (x += slant · height above the baseline)
    about the middle of its baseline; the canvas grows to hold it, the pen moves with it."""
    import cv2

    m = max(mask.shape) // 2 + 1
    big = np.pad(mask, m)
    cx, cy = m + mask.shape[1] / 2, m + oy
    a = math.radians(degrees)
    c, s = math.cos(a), math.sin(a)
    # Slant first (a shear about the baseline), then the turn, both about (cx, cy).
    lin = np.array([[c, -s], [s, c]]) @ np.array([[1.0, -slant], [0.0, 1.0]])
    shift = np.array([cx, cy]) - lin @ np.array([cx, cy])
    out = cv2.warpAffine(
        big,
        np.hstack([lin, shift[:, None]]).astype(np.float64),
        big.shape[::-1],
        flags=cv2.INTER_LINEAR,
    )
    return out, ox + m, oy + m


def _write_line(
    text: str, path: str | None, px: int, stroke: int, hand: float, rng: np.random.Generator
) -> tuple[np.ndarray, int, int]:
    """``text`` set glyph by glyph: a float32 ``(h, w)`` ink mask in [0, 1], and the row of
    the baseline and the column where the pen started in it. ``hand`` = 0 sets the font as it is
    (no draws from ``rng``); above 0 each character's size (σ 5 %·hand), turn (σ 4°·hand),
    height (σ 4 %·hand of px), pen width (+0–1 px, stroke fonts) and advance (σ 6 %·hand;
    spaces only widen), each clipped at 2σ, are drawn; the baseline slopes (up to 1°·hand)
    and wobbles (3 %·hand of px) and the writing slants: a hand, not a typesetter."""
    pieces = []
    x = 0.0
    slope = slant = amp = period = phase = 0.0
    if hand:
        slope = math.tan(math.radians(rng.uniform(-1.0, 1.0) * hand))
        slant = rng.uniform(-0.05, 0.25) * hand
        amp, period = 0.03 * px * hand, rng.uniform(4, 10) * px
        phase = rng.uniform(0, 2 * math.pi)
    for ch in text:
        size, turn, dy, spacing, extra = float(px), 0.0, 0.0, 0.0, 0
        if hand:
            j = rng.standard_normal(5)
            size = px * (1 + 0.05 * hand * float(np.clip(j[0], -2, 2)))
            turn = 4 * hand * float(np.clip(j[1], -2, 2))
            dy = 0.04 * px * hand * float(np.clip(j[2], -2, 2))
            spacing = 0.06 * hand * float(np.clip(j[3], -2, 2))
            extra = int(j[4] > 0.5 and _is_hershey(path))  # a pen pressed harder
        mask, ox, oy, advance = _glyph(path, ch, max(4, round(size)), stroke + extra)
        if not ch.isspace():
            if hand:
                mask, ox, oy = _turn(mask, ox, oy, turn, slant)
            base = x * slope + amp * math.sin(2 * math.pi * x / period + phase) + dy if hand else 0
            pieces.append((mask, round(x) - ox, round(base) - oy))
        # Words stay apart: a hand leaves a space at least as wide as the font's.
        x += advance * (1 + (0.15 + abs(spacing) if ch.isspace() else spacing))
    if not pieces:
        return np.zeros((1, 1), np.float32), 0, 0
    top = min(y for _, _, y in pieces)
    left = min(0, *(x for _, x, _ in pieces))
    h = max(y + m.shape[0] for m, _, y in pieces) - top
    w = max(x + m.shape[1] for m, x, _ in pieces) - left
    out = np.zeros((h, w), np.float32)
    for mask, x, y in pieces:
        view = out[y - top : y - top + mask.shape[0], x - left : x - left + mask.shape[1]]
        np.maximum(view, mask, out=view)
    return out, -top, -left


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


# shape: a public keyword API (the benchmarks and tests name each option; all but rng have defaults)
def render_board(
    rng: np.random.Generator,
    size: tuple[int, int] = (480, 360),
    style: str | None = None,
    fonts: tuple[str, ...] | None = None,
    text_px: tuple[int, int] = (14, 56),
    words: tuple[str, ...] = tuple(WORDS),
    lines: list[str] | None = None,
    max_angle: float = 3.0,
    hand: float = 0.0,
) -> tuple[np.ndarray, list[str]]:
    """One board: ``(H, W, 3)`` uint8 RGB of ``size`` = (W, H), and the lines written on it,
    top to bottom. ``style``: chalk, marker, print or None (drawn at random). ``text_px``:
    the range of font sizes in pixels. ``lines``: write exactly these, in one font and size
    (the legibility benchmark's known text; :class:`ValueError` if one does not fit).
    ``fonts`` may name OpenCV's stroke fonts (:data:`HERSHEY_FONTS`). ``hand`` > 0 writes
    handwriting-like text: each character jittered in size, angle, height, pen width and
    spacing, the line sloping and wobbling (1 is a fair hand; see :func:`_write_line`).
    With ``hand`` = 0 and TrueType fonts the draws from ``rng`` are those of earlier
    versions, so training's boards are unchanged."""
    writing = _Writing(fonts, text_px, words, lines, max_angle, hand)
    img, written, _ = _board(rng, size, style, writing)
    return img, written


@dataclass(frozen=True)
class _Writing:
    """What a board says and how it is written: :func:`render_board`'s arguments of those
    names."""

    fonts: tuple[str, ...] | None
    text_px: tuple[int, int]
    words: tuple[str, ...]
    lines: list[str] | None
    max_angle: float
    hand: float


def _board(
    rng: np.random.Generator, size: tuple[int, int], style: str | None, writing: _Writing
) -> tuple[np.ndarray, list[str], np.ndarray]:
    """:func:`render_board`, and where its ink is: float32 ``(H, W)`` coverage in [0, 1]."""
    w, h = size
    style = style or str(rng.choice(STYLES))
    if style not in STYLES:
        raise ValueError(f"style must be one of {STYLES}, got {style!r}")
    fonts = font_files() if writing.fonts is None else writing.fonts
    choices: list[str | None] = list(fonts) or [None]
    bg, inks = _palette(style, rng)
    angle = float(rng.uniform(-writing.max_angle, writing.max_angle))
    # Drawn larger, then rotated and cut to size, so no corner is left empty.
    pad = math.ceil(0.06 * max(w, h))
    mask_img, ink_img, lines = _write_lines(rng, size, pad, style, choices, inks, writing)
    mask, ink, written = _ink_layers(rng, mask_img, ink_img, style, angle, pad, size)
    return _lit_board(rng, size, style, bg, mask, ink), lines, written[..., 0]


def _write_lines(rng, size, pad, style, choices, inks, writing: _Writing):
    """The text of a board, drawn on a canvas ``pad`` pixels wider on each side than
    ``size``: (its coverage, an "L" picture; its colour, an "RGB" one; the lines written)."""
    from PIL import Image, ImageDraw

    w, h = size
    text_px, words, hand = writing.text_px, writing.words, writing.hand
    cw, ch = w + 2 * pad, h + 2 * pad
    mask_img = Image.new("L", (cw, ch), 0)
    ink_img = Image.new("RGB", (cw, ch), (0, 0, 0))
    draw_mask, draw_ink = ImageDraw.Draw(mask_img), ImageDraw.Draw(ink_img)
    given = list(writing.lines) if writing.lines is not None else None
    lines = []
    y = pad + int(rng.integers(0, max(1, h // 10)))
    font_path = choices[int(rng.integers(len(choices)))]
    px = int(rng.integers(text_px[0], text_px[1] + 1))
    while y < ch - pad if given is None else given:
        if given is None and rng.random() < 0.3:  # a new hand or heading now and then
            font_path = choices[int(rng.integers(len(choices)))]
            px = int(rng.integers(text_px[0], text_px[1] + 1))
        text = _line_text(rng, words) if given is None else given.pop(0)
        x = pad + int(rng.integers(0, max(1, w // 8)))
        color = inks[int(rng.integers(len(inks)))] if rng.random() < 0.4 else inks[0]
        width = max(1, round(px / 16)) if style == "marker" and rng.random() < 0.5 else 0
        fill = tuple(int(c) for c in color)
        if hand or _is_hershey(font_path):  # glyph by glyph
            ink, base, pen = _write_line(text, font_path, px, width, hand, rng)
            length = ink.shape[1] - pen
        else:
            font = _font(font_path, px)
            length = draw_mask.textlength(text, font=font)
        if given is not None and (x + length > pad + w - px or y + 2 * px > pad + h):
            raise ValueError(f"{text!r} at {px} px does not fit a {w}×{h} board")
        if hand or _is_hershey(font_path):
            top = y + round(0.8 * px) - base  # the baseline where a font's ascent puts it
            _paste(mask_img, ink_img, ink, (x - pen, top), fill)
        else:
            draw_mask.text((x, y), text, fill=255, font=font, stroke_width=width, stroke_fill=255)
            draw_ink.text((x, y), text, fill=fill, font=font, stroke_width=width)
        lines.append(text)
        y += int(px * rng.uniform(1.3, 1.9) * (1 + 0.2 * hand))  # a hand wanders: more room
    return mask_img, ink_img, lines


def _ink_layers(rng, mask_img, ink_img, style: str, angle: float, pad: int, size):
    """The drawn text turned by ``angle`` and cut to ``size``: (its coverage as laid on
    the board, ``(H, W, 1)`` in [0, 1]; its colour, ``(H, W, 3)``; its coverage as written)."""
    from PIL import Image, ImageFilter

    w, h = size
    cw, ch = w + 2 * pad, h + 2 * pad
    if style == "chalk":
        # Chalk skips on the board's grain and leaves a soft edge.
        mask_img = mask_img.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 0.8)))
    rotate = {"resample": Image.Resampling.BICUBIC, "center": (cw / 2, ch / 2)}
    mask_img = mask_img.rotate(angle, **rotate)
    ink_img = ink_img.rotate(angle, **rotate)
    box = (pad, pad, pad + w, pad + h)
    mask = written = np.asarray(mask_img.crop(box), dtype=np.float32)[..., None] / 255.0
    ink = np.asarray(ink_img.crop(box), dtype=np.float32)
    # Ink colour where the mask is partial: the rotated ink picture is dark at stroke edges.
    ink = np.where(mask > 0.02, ink / np.maximum(mask, 0.02), 0.0)
    if style == "chalk":
        grain = np.clip(0.75 + 0.35 * rng.standard_normal((h, w, 1)).astype(np.float32), 0, 1)
        mask = mask * grain
    return mask, ink, written


def _lit_board(rng, size, style: str, bg: np.ndarray, mask: np.ndarray, ink: np.ndarray):
    """The ink over the board's background (colour ``bg``, a smooth texture: smudges,
    paper), under uneven light: ``(H, W, 3)`` uint8."""
    w, h = size
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
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def _paste(mask_img, ink_img, ink: np.ndarray, xy: tuple[int, int], fill) -> None:
    """A float32 ``(h, w)`` ink mask in [0, 1] onto the board's mask (the lighter of the
    two) and its colour ``fill`` onto the ink picture, top-left corner at ``xy``."""
    from PIL import Image, ImageChops

    line = Image.fromarray(np.clip(np.rint(ink * 255), 0, 255).astype(np.uint8), "L")
    box = (xy[0], xy[1], xy[0] + line.width, xy[1] + line.height)
    mask_img.paste(ImageChops.lighter(mask_img.crop(box), line), box)
    ink_img.paste(fill, box, mask=line)


def render_boards(count: int, seed: int, size: tuple[int, int] = (480, 360)) -> list[np.ndarray]:
    """``count`` boards for training, the same for the same ``seed``."""
    return [render_board(np.random.default_rng([seed, 7919, i]), size)[0] for i in range(count)]


# ---------------------------------------------------------------------------------------------
# Capture: a board photographed by a handheld phone (benchmarks/capture.py).


def keystone(
    rng: np.random.Generator,
    size: tuple[int, int],
    inset: tuple[float, float] = (0.03, 0.10),
    tilt: float = 0.12,
    max_angle: float = 3.0,
) -> np.ndarray:
    """Where a board's corners land in a photo taken off-axis: ``(4, 2)`` float64 ``(x, y)``
    pixel positions of its top-left, top-right, bottom-right and bottom-left corners in a
    frame of ``size`` = (W, H). The board fills the frame less an ``inset`` (a fraction of
    each side, drawn per side), one horizontal and one vertical edge are shortened by up to
    ``tilt`` (keystone: the camera looks up or across at it), the whole turned by up to
    ``max_angle`` degrees, then shrunk about the frame's centre if need be so that every
    corner keeps 1 % of the frame's side from its edge: all of the board stays in the
    picture."""
    w, h = size
    left, right = rng.uniform(*inset, size=2) * w
    top, bottom = rng.uniform(*inset, size=2) * h
    quad = np.array([[left, top], [w - right, top], [w - right, h - bottom], [left, h - bottom]])
    kx, ky = rng.uniform(-tilt, tilt, size=2)
    bw, bh = quad[1, 0] - quad[0, 0], quad[3, 1] - quad[0, 1]
    edge = 0 if kx > 0 else 3  # the top edge shortens (camera below) or the bottom one
    quad[edge, 0] += abs(kx) * bw / 2
    quad[edge + 1 if edge == 0 else 2, 0] -= abs(kx) * bw / 2
    side = (1, 2) if ky > 0 else (0, 3)  # the right edge is farther away, or the left one
    quad[side[0], 1] += abs(ky) * bh / 2
    quad[side[1], 1] -= abs(ky) * bh / 2
    a = math.radians(rng.uniform(-max_angle, max_angle))
    centre = np.array([w / 2, h / 2])
    turn = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    quad = (quad - centre) @ turn.T
    room = np.array([w / 2, h / 2]) * 0.98
    quad *= min(1.0, float((room / np.abs(quad).max(axis=0)).min()))
    return quad + centre


def _homography(size: tuple[int, int], corners: np.ndarray) -> np.ndarray:
    """The 3×3 float64 perspective map taking a ``size`` = (w, h) board's corners (TL, TR,
    BR, BL) to ``corners``."""
    import cv2

    w, h = size
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    return cv2.getPerspectiveTransform(src, np.asarray(corners, np.float32))


def warp_board(
    board: np.ndarray, corners: np.ndarray, background: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``board`` ``(h, w, 3)`` uint8 seen in perspective over ``background`` ``(H, W, 3)``
    float32 or uint8 (the wall or desk around it): its corners go to ``corners`` (see
    :func:`keystone`). Returns the float32 ``(H, W, 3)`` picture in levels 0–255 and the
    board's float32 ``(H, W)`` coverage in [0, 1] (fractional along its edges). OpenCV,
    bilinear."""
    import cv2

    h, w = board.shape[:2]
    out_h, out_w = background.shape[:2]
    m = _homography((w, h), corners)
    warp = {"dsize": (out_w, out_h), "flags": cv2.INTER_LINEAR, "borderValue": 0}
    seen = cv2.warpPerspective(board.astype(np.float32), m, borderMode=cv2.BORDER_CONSTANT, **warp)
    cover = cv2.warpPerspective(np.ones((h, w), np.float32), m, **warp)
    cover = np.clip(cover, 0, 1)
    return seen + background.astype(np.float32) * (1 - cover[..., None]), cover


def illumination(rng: np.random.Generator, size: tuple[int, int], strength: float = 1.0):
    """A room's uneven light over a frame of ``size`` = (W, H): float32 ``(H, W)`` gain,
    about 0.4–1.2, to multiply the picture by. A linear gradient across the frame (± up to
    30 %·strength, any direction), a lens vignette (corners down by up to 30 %·strength) and,
    two times in three, a soft shadow band (a raised arm, a projector: darkness 15–45 %·
    strength, width 8–30 % of the frame, edges soft over 2–6 %)."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    u, v = (xx - w / 2) / max(w, h), (yy - h / 2) / max(w, h)  # -0.5..0.5 on the long side
    a = rng.uniform(0, 2 * math.pi)
    gain = 1 + strength * rng.uniform(0.05, 0.6) * (u * math.cos(a) + v * math.sin(a))
    r2 = (u * u + v * v) / (0.25 + 0.25 * (min(w, h) / max(w, h)) ** 2)  # 1 at the corners
    gain = gain * (1 - strength * rng.uniform(0.05, 0.3) * r2)
    band, b = rng.random() < 2 / 3, rng.uniform(0, math.pi)
    centre, width = rng.uniform(-0.35, 0.35), rng.uniform(0.08, 0.3)
    soft, depth = rng.uniform(0.02, 0.06), strength * rng.uniform(0.15, 0.45)
    if band:
        t = u * math.cos(b) + v * math.sin(b) - centre
        inside = 1 / (1 + np.exp(-(width / 2 - np.abs(t)) / soft))
        gain = gain * (1 - depth * inside)
    return gain.astype(np.float32)


_WALLS = {
    "chalk": ([205, 200, 185], [170, 175, 170], [215, 210, 200]),  # painted classroom walls
    "marker": ([205, 200, 185], [190, 195, 200], [225, 220, 210]),
    "print": ([120, 90, 60], [150, 150, 150], [90, 70, 55]),  # desks: wood, grey, dark wood
}
_FRAMES = {"chalk": (120, 110, 95), "marker": (175, 178, 182), "print": None}


@dataclass(frozen=True)
class Scene:
    """A board as a perfect camera sees it (:func:`capture_scene`)."""

    pixels: np.ndarray  # (H, W, 3) uint8 RGB: the capture benchmark's HR reference
    lines: tuple[str, ...]  # the text written on it, top to bottom
    text_box: tuple[int, int, int, int]  # (left, top, right, bottom) pixels around the text
    corners: np.ndarray  # (4, 2) float64: the board's corners in the frame (keystone)


def capture_scene(
    rng: np.random.Generator,
    lines: list[str],
    px: int,
    style: str,
    font: str | None,
    hand: float = 0.0,
    size: tuple[int, int] = (1920, 1440),
) -> Scene:
    """What a perfect camera would see of a board holding ``lines``, as a :class:`Scene` of
    ``size`` = (W, H). The board (:func:`render_board`: ``style``, one ``font`` of ``px``
    pixels, ``hand`` as there) is drawn at the frame's size, framed (a wooden or aluminium
    edge; a sheet of paper has none), seen in perspective (:func:`keystone`) over a wall or
    desk, and lit unevenly (:func:`illumination`). The text box is the smallest upright
    box around the text's corners in the frame, widened by ``px`` and kept inside the
    frame. :class:`ValueError` when the lines do not fit."""
    import cv2

    w, h = size
    fonts = () if font is None else (font,)
    writing = _Writing(fonts, (px, px), tuple(WORDS), list(lines), 1.0, hand)
    board, written, ink = _board(rng, size, style, writing)
    corners = keystone(rng, size)
    wall = np.asarray(_WALLS[style][int(rng.integers(3))], np.float32)
    grain = {"chalk": 6.0, "marker": 6.0, "print": 14.0}[style]
    back = wall + grain * _texture(rng, h, w, cell=int(rng.integers(6, 30)))[..., None]
    if _FRAMES[style] is not None:  # the board's edge, 1–2 % of the frame wide
        grow = 1 + rng.uniform(0.025, 0.05)  # about the centre: 1–2 % of the frame
        centre = corners.mean(axis=0)
        rim = np.rint((centre + (corners - centre) * grow) * 16).astype(np.int32)
        frame = tuple(float(c) for c in _FRAMES[style])
        cv2.fillConvexPoly(back, rim, frame, lineType=cv2.LINE_AA, shift=4)
    seen, _ = warp_board(board, corners, back)
    seen *= illumination(rng, size)[..., None]
    rows, cols = np.nonzero(ink > 0.1)
    if not rows.size:  # nothing written: the whole board
        rows, cols = np.array([0, h - 1]), np.array([0, w - 1])
    left, top, right, bottom = cols.min(), rows.min(), cols.max() + 1, rows.max() + 1
    box = np.array([[left, top], [right, top], [right, bottom], [left, bottom]], np.float64)
    out = cv2.perspectiveTransform(box[None], _homography(size, corners))[0]
    (x0, y0), (x1, y1) = out.min(axis=0) - px, out.max(axis=0) + px
    text_box = (max(0, int(x0)), max(0, int(y0)), min(w, math.ceil(x1)), min(h, math.ceil(y1)))
    pixels = np.clip(np.rint(seen), 0, 255).astype(np.uint8)
    return Scene(pixels, tuple(written), text_box, corners)


@dataclass(frozen=True)
class Capture:
    """One handheld photo's camera, drawn by :func:`draw_capture`. Lengths are in the
    photo's own pixels (``1/scale`` of the scene's)."""

    blur: str | None = None  # "motion", "defocus" or None (steady, in focus)
    length: float = 0.0  # motion blur: the shake's length, photo pixels
    angle: float = 0.0  # motion blur: its direction, radians (0 along x, growing toward +y)
    radius: float = 0.0  # defocus: the blur disc's radius, photo pixels
    resize: str = "area"  # the phone's downscale from sensor to photo: "area" or "bilinear"
    shot: float = 0.0  # shot noise: variance per level of signal (σ² = shot·level + read²)
    read: float = 0.0  # read noise σ, levels
    chroma: float = 0.0  # chroma noise σ on Cb/Cr, levels (srup.data.degrade.chroma_noise)
    chroma_blur: float = 1.0  # its blotch size, Gaussian σ in photo pixels
    sharpen: float = 0.0  # the phone's unsharp mask amount (σ 1 photo pixel); 0: none
    quality: int = 75  # JPEG quality (libjpeg scale), 4:2:0 chroma subsampling
    seed: int = 0  # the noise's own generator


def draw_capture(rng: np.random.Generator) -> Capture:
    """A handheld phone photo of a board: motion blur (a line of 2–8 photo pixels at any
    angle) 60 % of the time, else defocus (a disc of radius 0.6–2 pixels) 25 % of the
    time, else neither; the phone's downscale by area (60 %) or bilinear; shot noise of σ
    2–6 levels at white and read noise of σ 1–3; blotchy chroma noise of σ 1.5–5; its
    unsharp mask half the time (amount 0.3–1); JPEG quality 50–85. Draws a fixed number
    of values in a fixed order."""
    u = rng.random(4)
    white = rng.uniform(2.0, 6.0)
    return Capture(
        blur="motion" if u[0] < 0.6 else "defocus" if u[0] < 0.85 else None,
        length=float(rng.uniform(2.0, 8.0)),
        angle=float(rng.uniform(0, math.pi)),
        radius=float(rng.uniform(0.6, 2.0)),
        resize="area" if u[1] < 0.6 else "bilinear",
        shot=float(white * white / 255),
        read=float(rng.uniform(1.0, 3.0)),
        chroma=float(rng.uniform(1.5, 5.0)),
        chroma_blur=float(rng.uniform(0.5, 1.5)),
        sharpen=float(rng.uniform(0.3, 1.0)) if u[2] < 0.5 else 0.0,
        quality=round(float(rng.uniform(50, 85))),
        seed=int(rng.integers(2**63)),
    )


def capture_blur(scene: np.ndarray, capture: Capture, scale: int) -> np.ndarray:
    """The camera's blur on ``scene`` ``(H, W, 3)`` uint8/float32, applied at the scene's
    resolution (before the sensor samples it): a motion line of ``length·scale`` pixels or
    a defocus disc of radius ``radius·scale``. float32 out, same shape."""
    from srup.data.degrade import disc_kernel, filter_image, motion_kernel

    if capture.blur == "motion":
        return filter_image(scene, motion_kernel(capture.length * scale, capture.angle))
    if capture.blur == "defocus":
        return filter_image(scene, disc_kernel(capture.radius * scale))
    return scene.astype(np.float32)


def capture_photo(scene: np.ndarray, capture: Capture, scale: int) -> tuple[bytes, np.ndarray]:
    """The phone's photo of ``scene`` (``(H, W, 3)`` uint8, H and W multiples of
    ``scale``): blur (:func:`capture_blur`), the phone's downscale to ``(H/s, W/s)``, shot
    and read noise (per channel, σ² = shot·level + read², in levels), chroma noise,
    sharpening, then JPEG at ``capture.quality`` with 4:2:0 subsampling. Returns the JPEG
    file's bytes and its decoded ``(H/s, W/s, 3)`` uint8 RGB pixels."""
    import io

    import cv2
    from PIL import Image

    from srup.data.degrade import chroma_noise

    h, w = scene.shape[0] // scale, scene.shape[1] // scale
    img = capture_blur(scene, capture, scale)
    method = Image.Resampling.BOX if capture.resize == "area" else Image.Resampling.BILINEAR
    img = np.stack(
        [
            np.asarray(Image.fromarray(c, "F").resize((w, h), method))
            for c in img.transpose(2, 0, 1)
        ],
        axis=-1,
    )
    rng = np.random.default_rng(capture.seed)
    sigma = np.sqrt(capture.shot * np.clip(img, 0, 255) + capture.read**2)
    img = img + sigma * rng.standard_normal(img.shape, dtype=np.float32)
    lr = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    if capture.chroma:
        lr = chroma_noise(lr, capture.chroma, capture.chroma_blur, int(rng.integers(2**63)))
    if capture.sharpen:
        soft = cv2.GaussianBlur(lr.astype(np.float32), (0, 0), 1.0)
        lr = np.clip(np.rint(lr + capture.sharpen * (lr - soft)), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(lr).save(buf, format="JPEG", quality=capture.quality, subsampling=2)
    data = buf.getvalue()
    with Image.open(io.BytesIO(data)) as im:
        return data, np.asarray(im.convert("RGB"))
