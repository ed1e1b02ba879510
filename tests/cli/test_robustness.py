"""Every bad input through the real CLI: one clear line, a non-zero exit, nothing left behind.

One parametrised row per kind of bad input in the robustness issue, then the inputs that are
odd but valid (they must work). Faults (full disk, signals, symlinks) are in test_faults.py.
"""

from __future__ import annotations

import io
import pickle
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from srup.cli import cli
from srup.errors import EXIT_PARTIAL
from srup.files import is_temporary
from tests.conftest import photo


def leftovers(root: Path) -> list[Path]:
    """Temporary files an interrupted or failed write could leave (srup.files' names)."""
    return [p for p in root.rglob("*") if is_temporary(p.name) or "srup-part" in p.name]


def png_bytes(img: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", **kw)
    return buf.getvalue()


def jpeg_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG")
    return buf.getvalue()


def bomb_png() -> bytes:
    """A valid PNG header claiming 100000×100000 pixels over a few bytes of data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


RGB = Image.fromarray(photo(64, 48))


def write(tmp: Path, name: str, data: bytes) -> str:
    path = tmp / name
    path.write_bytes(data)
    return str(path)


def weights_file(tmp: Path, kind: str) -> str:
    path = tmp / f"{kind}.safetensors"
    if kind == "pickle":
        path.write_bytes(pickle.dumps({"body.0.weight": [1.0, 2.0]}))
    elif kind == "corrupt":
        path.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    else:  # a valid file whose tensors have the wrong shapes for the model
        import torch
        from safetensors.torch import save_file

        save_file({"body.0.weight": torch.zeros(3, 3)}, str(path), {"model": "espcn", "scale": "2"})
    return str(path)


def with_weights(t: Path, kind: str, *args: str) -> list[str]:
    """`srup upscale` of a small picture with ``--weights`` of the given kind."""
    return ["upscale", write(t, "a.png", png_bytes(RGB)), *args, "--weights", weights_file(t, kind)]


# Each row: (files to make → CLI arguments), exit code, a phrase the one-line error must hold.
Case = Callable[[Path], list[str]]
BAD_INPUTS: dict[str, tuple[Case, int, str]] = {
    "missing path": (lambda t: ["upscale", str(t / "nope.png")], EXIT_PARTIAL, "no such file"),
    "empty directory": (
        lambda t: ["upscale", str(t / "empty"), "-o", str(t / "out")],
        EXIT_PARTIAL,
        "no image files",
    ),
    "zero-byte file": (
        lambda t: ["upscale", write(t, "zero.png", b"")],
        EXIT_PARTIAL,
        "empty file",
    ),
    "text named .png": (
        lambda t: ["upscale", write(t, "note.png", b"just some text\n")],
        EXIT_PARTIAL,
        "not an image",
    ),
    "truncated png": (
        lambda t: ["upscale", write(t, "cut.png", png_bytes(RGB)[:400])],
        EXIT_PARTIAL,
        "damaged or incomplete",
    ),
    "truncated jpeg": (
        lambda t: ["upscale", write(t, "cut.jpg", jpeg_bytes(RGB)[:700])],
        EXIT_PARTIAL,
        "damaged or incomplete",
    ),
    "corrupt header": (
        lambda t: ["upscale", write(t, "head.png", b"\x89PNG\r\n\x1a\n" + b"\xff" * 64)],
        EXIT_PARTIAL,
        "not an image",
    ),
    "unsupported format": (
        lambda t: ["upscale", write(t, "d.svg", b'<svg xmlns="http://www.w3.org/2000/svg"/>')],
        EXIT_PARTIAL,
        "unknown format",
    ),
    "unsupported output extension": (
        lambda t: ["upscale", write(t, "a.png", png_bytes(RGB)), "-o", str(t / "a.xyz")],
        2,
        "unknown output extension",
    ),
    "decompression bomb": (
        lambda t: ["upscale", write(t, "bomb.png", bomb_png())],
        EXIT_PARTIAL,
        "over the limit",
    ),
    "over --max-pixels": (
        lambda t: ["upscale", write(t, "a.png", png_bytes(RGB)), "--max-pixels", "1000"],
        EXIT_PARTIAL,
        "--max-pixels",
    ),
    "scale out of range": (
        lambda t: ["upscale", write(t, "a.png", png_bytes(RGB)), "-s", "40"],
        2,
        "0<x<=16",
    ),
    "unknown model": (
        lambda t: ["upscale", write(t, "a.png", png_bytes(RGB)), "-m", "edsr"],
        2,
        "available: auto, espcn, espcn-real",
    ),
    "pickle weights": (
        lambda t: with_weights(t, "pickle"),
        1,
        "can run code",
    ),
    "corrupt weights": (
        lambda t: with_weights(t, "corrupt"),
        1,
        "corrupt.safetensors",
    ),
    "wrong-shape weights": (
        lambda t: with_weights(t, "shape", "-s", "2"),
        1,
        "shape",
    ),
    "weights of the wrong shapes": (
        lambda t: with_weights(t, "shape", "-s", "3"),
        1,
        "do not fit this model",
    ),
    "missing weights file": (
        lambda t: ["upscale", write(t, "a.png", png_bytes(RGB)), "--weights", str(t / "w.st")],
        1,
        "not found",
    ),
    "output inside a file": (
        lambda t: ["upscale", write(t, "a.png", png_bytes(RGB)), "-o", str(t / "a.png" / "x.png")],
        EXIT_PARTIAL,
        "a.png",
    ),
    "output is the input": (
        lambda t: [
            "upscale",
            write(t, "a.png", png_bytes(RGB)),
            "-o",
            str(t / "a.png"),
            "--overwrite",
        ],
        EXIT_PARTIAL,
        "output is the input",
    ),
    "output exists": (
        lambda t: [
            "upscale",
            write(t, "a.png", png_bytes(RGB)),
            "-o",
            write(t, "b.png", png_bytes(RGB)),
        ],
        EXIT_PARTIAL,
        "--overwrite",
    ),
    "folder to a file": (
        lambda t: ["upscale", str(t / "full"), "-o", write(t, "b.png", png_bytes(RGB))],
        2,
        "cannot go into one image file",
    ),
    "folder without -o": (lambda t: ["upscale", str(t / "full")], 2, "-o DIR"),
    "folder to an existing file without suffix": (
        lambda t: ["upscale", str(t / "full"), "-o", write(t, "plain", b"x")],
        2,
        "is not a folder",
    ),
    "benchmark on a missing folder": (
        lambda t: ["benchmark", str(t / "nowhere")],
        1,
        "no such folder",
    ),
    "benchmark on an empty folder": (
        lambda t: ["benchmark", str(t / "empty")],
        1,
        "no images found",
    ),
    "train on a missing folder": (
        lambda t: [
            "train",
            str(t / "nowhere"),
            "-m",
            "espcn",
            "-s",
            "2",
            "-o",
            str(t / "w.safetensors"),
        ],
        1,
        "no such folder",
    ),
    "train on an empty folder": (
        lambda t: [
            "train",
            str(t / "empty"),
            "-m",
            "espcn",
            "-s",
            "2",
            "-o",
            str(t / "w.safetensors"),
        ],
        1,
        "no training images",
    ),
    "train on unreadable images": (
        lambda t: [
            "train",
            str(t / "junk"),
            "-m",
            "espcn",
            "-s",
            "2",
            "-o",
            str(t / "w.safetensors"),
        ],
        1,
        "x.png",
    ),
    "train an unknown model": (
        lambda t: [
            "train",
            str(t / "full"),
            "-m",
            "edsr",
            "-s",
            "2",
            "-o",
            str(t / "w.safetensors"),
        ],
        2,
        "available: ",
    ),
    "train with a bad batch size": (
        lambda t: [
            "train",
            str(t / "full"),
            "-m",
            "espcn",
            "-s",
            "2",
            "-o",
            "w",
            "--batch-size",
            "0",
        ],
        2,
        "--batch-size",
    ),
}


@pytest.fixture
def sandbox(tmp_path: Path) -> Path:
    (tmp_path / "empty").mkdir()
    (tmp_path / "full").mkdir()
    Image.fromarray(photo(40, 40)).save(tmp_path / "full" / "a.png")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "x.png").write_bytes(b"nope")
    return tmp_path


@pytest.mark.parametrize("case", list(BAD_INPUTS), ids=list(BAD_INPUTS))
def test_bad_input_gives_one_clear_line_and_a_non_zero_exit(runner, sandbox, case):
    make_args, code, phrase = BAD_INPUTS[case]
    args = make_args(sandbox)
    before = set(sandbox.rglob("*"))
    res = runner.invoke(cli, args)
    assert res.exit_code == code, res.output
    assert phrase in res.output
    assert "Traceback" not in res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)
    errors = [line for line in res.output.splitlines() if line.startswith(("error:", "Error:"))]
    assert len(errors) == 1, res.output
    made = set(sandbox.rglob("*")) - before
    assert not [p for p in made if p.is_file()], f"left behind: {made}"


# ------------------------------------------------------------- odd but valid inputs work


def gray16() -> Image.Image:
    return Image.fromarray((np.arange(30 * 20).reshape(20, 30) * 100).astype(np.uint16))


def palette_with_transparency() -> Image.Image:
    img = Image.fromarray(photo(30, 20)).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    img.info["transparency"] = 3
    return img


def animated(fmt: str) -> bytes:
    frames = [Image.fromarray(photo(20, 16, seed=i)) for i in range(3)]
    buf = io.BytesIO()
    frames[0].save(buf, format=fmt, save_all=True, append_images=frames[1:])
    return buf.getvalue()


def encoded(img: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


# name: (file name, bytes, expected output mode, expected (w, h) at ×2, a note to print)
VALID_ODDITIES = {
    "1x1": ("dot.png", encoded(Image.fromarray(photo(1, 1)), "PNG"), "RGB", (2, 2), None),
    "1xN": ("row.png", encoded(Image.fromarray(photo(9, 1)), "PNG"), "RGB", (18, 2), None),
    "Nx1": ("col.png", encoded(Image.fromarray(photo(1, 7)), "PNG"), "RGB", (2, 14), None),
    "cmyk jpeg": (
        "cmyk.jpg",
        encoded(Image.fromarray(photo(24, 16)).convert("CMYK"), "JPEG"),
        "RGB",
        (48, 32),
        "CMYK converted to RGB",
    ),
    "16-bit gray": ("g16.png", encoded(gray16(), "PNG"), "I;16", (60, 40), None),
    "palette transparency": (
        "pal.png",
        encoded(palette_with_transparency(), "PNG"),
        "RGBA",
        (60, 40),
        None,
    ),
    "animated gif": ("anim.gif", animated("GIF"), "RGB", (40, 32), "only the first is upscaled"),
    "animated png": ("anim.png", animated("PNG"), "RGB", (40, 32), "only the first is upscaled"),
    "spaces and non-ascii": (
        "tableau noir – été 写真.png",
        encoded(Image.fromarray(photo(20, 12)), "PNG"),
        "RGB",
        (40, 24),
        None,
    ),
}


@pytest.mark.parametrize("case", list(VALID_ODDITIES), ids=list(VALID_ODDITIES))
def test_odd_but_valid_inputs_are_upscaled(runner, tmp_path, case):
    name, data, mode, size, note = VALID_ODDITIES[case]
    src = tmp_path / name
    src.write_bytes(data)
    out = tmp_path / "out" / (Path(name).stem + "_x2.png")
    out.parent.mkdir()
    res = runner.invoke(cli, ["upscale", str(src), "-s", "2", "-o", str(out)])
    assert res.exit_code == 0, res.output
    with Image.open(out) as img:
        assert (img.mode, img.size) == (mode, size)
    if note:
        assert note in res.output


def test_non_ascii_names_keep_their_names_in_a_batch(runner, tmp_path):
    src = tmp_path / "entrée photos"
    src.mkdir()
    names = ["ça va.png", "写真 1.jpg", "-dash.png", "dots..png"]
    for n in names:
        Image.fromarray(photo(16, 12)).save(src / n)
    out = tmp_path / "sortie x2"
    res = runner.invoke(cli, ["upscale", str(src), "-s", "2", "-o", str(out), "-q"])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in out.iterdir()) == sorted(names)
