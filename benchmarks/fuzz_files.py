"""Fuzz run: mutated picture files through ``srup upscale DIR -o OUT/ --json``; no input may
abort a batch.

    python benchmarks/fuzz_files.py [--count 2000] [--batch 500] [--seed 0] [--keep DIR]
                                    [--update-readme] [--markdown FILE]

Makes ``--count`` files from valid generated pictures (JPEG with camera EXIF and GPS, PNG
with text, eXIf, iCCP, gAMA and tRNS chunks, palette and 16-bit PNG, TIFF with resolution
and camera tags, 16-bit TIFF, WebP, BMP, animated GIF), each mutated one or more ways:
bytes flipped inside the EXIF, PNG chunks corrupted (with and without a valid CRC),
duplicated, reordered, dropped or given a bad length, TIFF tags given another type, count,
value or tag number, bytes flipped anywhere in the header, truncation. Then it runs them in
batches of ``--batch`` through the real command (``-s 2 -m espcn --max-pixels 1000000``:
the run checks robustness, not throughput) and checks each batch:

- the exit code is 0 or 3 (never 1: no input may abort the run);
- every stdout line is a JSON object, one per input file;
- no traceback on stderr;
- no temporary file left in the output folder.

Prints what the inputs became (done / failed, by message) and any violation; exits 1 if
there was one. ``tests/test_fuzz_files.py`` runs it small by default and at 2,000 files
when slow tests are asked for.
"""

from __future__ import annotations

import argparse
import collections
import io
import json
import os
import random
import re
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, PngImagePlugin, TiffImagePlugin

# ------------------------------------------------------------------------------ seeds


def _picture(w: int = 16, h: int = 12, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([x * 255 // w, y * 255 // h, (x + y) * 127 // (w + h)], 2)
    return np.clip(img + rng.integers(-8, 8, img.shape), 0, 255).astype(np.uint8)


def _exif() -> Image.Exif:
    """Camera EXIF as phones write it: make, model, dates, resolution, orientation, an
    Exif IFD with rationals and a UserComment, a GPS IFD."""
    exif = Image.Exif()
    exif[0x010F] = "srupCam"  # Make
    exif[0x0110] = "Fuzz 1"  # Model
    exif[0x0112] = 6  # Orientation: rotate 90°
    exif[0x011A] = 300.0  # XResolution
    exif[0x011B] = 300.0
    exif[0x0128] = 2  # ResolutionUnit: inch
    exif[0x0132] = "2024:05:01 12:00:00"
    ifd = exif.get_ifd(0x8769)
    ifd[0x9003] = "2024:05:01 12:00:00"  # DateTimeOriginal
    ifd[0x829A] = 1 / 125  # ExposureTime
    ifd[0x829D] = 2.8  # FNumber
    ifd[0x8827] = 200  # ISO
    ifd[0x9286] = b"ASCII\0\0\0a comment"  # UserComment
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (35.0, 41.0, 22.5)
    gps[3] = "E"
    gps[4] = (139.0, 41.0, 30.0)
    return exif


def _encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def seeds() -> dict[str, bytes]:
    """Valid files, by name (their suffix says the format), each with much to mutate."""
    rgb = Image.fromarray(_picture())
    srgb = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    # LittleCMS stamps the profile's creation time (header bytes 24–35): a fixed one keeps
    # the corpus the same from run to run, even across a second's boundary.
    srgb[24:36] = struct.pack(">6H", 2026, 1, 1, 0, 0, 0)
    srgb = bytes(srgb)
    exif = _exif().tobytes()
    info = PngImagePlugin.PngInfo()
    info.add_text("Title", "fuzz seed")
    info.add_itxt("Comment", "été 写真", lang="fr")
    info.add(b"gAMA", struct.pack(">I", 45455))
    rgba = Image.fromarray(np.dstack([_picture(), np.full((12, 16), 200, np.uint8)]))
    palette = rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=8)
    gray16 = Image.fromarray((np.arange(16 * 12).reshape(12, 16) * 300).astype(np.uint16))
    tiff_info = TiffImagePlugin.ImageFileDirectory_v2()
    tiff_info[0x010F] = "srupCam"
    tiff_info[0x0131] = "fuzz"  # Software
    tiff_info[0x8298] = "(c) nobody"  # Copyright
    frames = [Image.fromarray(_picture(seed=i)).convert("P") for i in range(3)]
    gif = io.BytesIO()
    frames[0].save(gif, format="GIF", save_all=True, append_images=frames[1:], duration=50)
    return {
        "exif.jpg": _encode(rgb, "JPEG", exif=exif, icc_profile=srgb, quality=90),
        "exif.png": _encode(rgb, "PNG", exif=exif, icc_profile=srgb, pnginfo=info),
        "alpha.png": _encode(rgba, "PNG", pnginfo=info),
        "palette.png": _encode(palette, "PNG", transparency=2),
        "gray16.png": _encode(gray16, "PNG"),
        "key.png": _encode(rgb.convert("L"), "PNG", transparency=255),
        "exif.tif": _encode(
            rgb, "TIFF", exif=exif, tiffinfo=tiff_info, dpi=(300, 300), compression="tiff_lzw"
        ),
        "gray16.tif": _encode(gray16, "TIFF"),
        "exif.webp": _encode(rgb, "WEBP", exif=exif, quality=80),
        "plain.bmp": _encode(rgb, "BMP"),
        "anim.gif": gif.getvalue(),
    }


# -------------------------------------------------------------------------- mutations


def _exif_span(data: bytes) -> tuple[int, int] | None:
    """Where the EXIF's TIFF structure lies in a JPEG (APP1), PNG (eXIf), WebP (EXIF) or a
    TIFF (the whole file)."""
    if data[:2] == b"\xff\xd8":
        i = data.find(b"Exif\0\0")
        if i > 0:
            size = int.from_bytes(data[i - 2 : i], "big")
            return i + 6, i - 2 + size
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        for start, kind, length in _png_chunks(data):
            if kind == b"eXIf":
                return start + 8, start + 8 + length
    if data[:4] == b"RIFF":
        i = data.find(b"EXIF")
        if i > 0:
            return i + 8, i + 8 + int.from_bytes(data[i + 4 : i + 8], "little")
    if data[:4] in (b"II*\0", b"MM\0*"):
        return 0, min(len(data), 4096)
    return None


def flip_exif(data: bytes, rng: random.Random) -> bytes:
    """Flip 1–8 bytes inside the EXIF (PNG's chunk CRC is fixed, so the chunk is read)."""
    span = _exif_span(data)
    if span is not None:  # an earlier mutation may have cut the file or bent a length
        span = (min(span[0], len(data)), min(span[1], len(data)))
    if span is None or span[1] - span[0] < 8:
        return flip_header(data, rng)
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        i = rng.randrange(span[0], span[1])
        out[i] = rng.randrange(256) if rng.random() < 0.5 else out[i] ^ (1 << rng.randrange(8))
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        out = bytearray(_fix_crcs(bytes(out)))
    return bytes(out)


def _png_chunks(data: bytes) -> list[tuple[int, bytes, int]]:
    """(offset, type, data length) of each chunk, as far as the lengths hold."""
    chunks, pos = [], 8
    while pos + 8 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        chunks.append((pos, kind, length))
        pos += 12 + length
        if kind == b"IEND":
            break
    return chunks


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _fix_crcs(data: bytes) -> bytes:
    out = bytearray(data)
    for pos, _kind, length in _png_chunks(data):
        end = pos + 8 + length
        if end + 4 <= len(out):
            out[end : end + 4] = struct.pack(">I", zlib.crc32(bytes(out[pos + 4 : end])))
    return bytes(out)


def png_chunks(data: bytes, rng: random.Random) -> bytes:
    """One chunk-level mutation of a PNG: corrupt a chunk's data (CRC fixed or not),
    duplicate, swap, drop, give a wrong length, or insert an odd chunk."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return flip_header(data, rng)
    parts = [data[p : p + 12 + n] for p, _, n in _png_chunks(data)]
    if len(parts) < 2:
        return truncate(data, rng)
    op = rng.choice(["corrupt", "corrupt-crc", "duplicate", "swap", "drop", "length", "insert"])
    i = rng.randrange(len(parts))
    if op in ("corrupt", "corrupt-crc") and len(parts[i]) > 12:
        body = bytearray(parts[i][8:-4])
        for _ in range(rng.randint(1, 4)):
            body[rng.randrange(len(body))] = rng.randrange(256)
        fixed = _chunk(parts[i][4:8], bytes(body))
        parts[i] = fixed if op == "corrupt" else fixed[:-4] + parts[i][-4:]
    elif op == "duplicate":
        parts.insert(i, parts[i])
    elif op == "swap":
        j = rng.randrange(len(parts))
        parts[i], parts[j] = parts[j], parts[i]
    elif op == "drop":
        del parts[i]
    elif op == "length":
        bad = rng.choice([0, 1, 0x7FFFFFFF, 0xFFFFFFFF, rng.randrange(1 << 16)])
        parts[i] = struct.pack(">I", bad) + parts[i][4:]
    else:
        kind = rng.choice([b"eXIf", b"iCCP", b"tRNS", b"pHYs", b"zTXt", b"acTL", b"fcTL", b"sRGB"])
        body = bytes(rng.randrange(256) for _ in range(rng.choice([0, 1, 4, 9, 13, 40])))
        parts.insert(max(1, i), _chunk(kind, body))
    return data[:8] + b"".join(parts)


def tiff_tags(data: bytes, rng: random.Random) -> bytes:
    """Mutate 1–4 entries of a TIFF's first IFD in place: type, count, value or offset, or
    the tag number itself."""
    if data[:4] not in (b"II*\0", b"MM\0*"):
        return flip_exif(data, rng)
    end = "<" if data[:2] == b"II" else ">"
    out = bytearray(data)
    (ifd,) = struct.unpack(end + "I", data[4:8])
    if ifd + 2 > len(data):
        return truncate(data, rng)
    (n,) = struct.unpack(end + "H", data[ifd : ifd + 2])
    n = min(n, (len(data) - ifd - 2) // 12)
    if n == 0:
        return truncate(data, rng)
    for _ in range(rng.randint(1, 4)):
        e = ifd + 2 + 12 * rng.randrange(n)
        field_ = rng.choice(["type", "count", "value", "tag"])
        if field_ == "type":
            out[e + 2 : e + 4] = struct.pack(end + "H", rng.randrange(0, 20))
        elif field_ == "count":
            count = rng.choice([0, 1, 2, 255, 65536, 0x7FFFFFFF, 0xFFFFFFFF, rng.randrange(64)])
            out[e + 4 : e + 8] = struct.pack(end + "I", count)
        elif field_ == "value":
            value = rng.choice([0, 1, len(data) - 1, len(data) + 100, 0xFFFFFFFF])
            out[e + 8 : e + 12] = struct.pack(
                end + "I", rng.choice([value, rng.randrange(1 << 32)])
            )
        else:
            tag = rng.choice([256, 257, 258, 259, 262, 273, 277, 278, 279, 284, 317, 338, 34665])
            out[e : e + 2] = struct.pack(end + "H", tag)
    return bytes(out)


def flip_header(data: bytes, rng: random.Random) -> bytes:
    """Flip 1–6 bytes in the first 512 bytes (headers, chunk tables, markers)."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 6) if data else 0):
        i = rng.randrange(min(len(out), 512))
        out[i] = rng.randrange(256)
    return bytes(out)


def truncate(data: bytes, rng: random.Random) -> bytes:
    """Cut the file anywhere, the header included."""
    return data[: rng.randrange(0, len(data))] if data else data


MUTATIONS = {
    "exif": flip_exif,
    "chunks": png_chunks,
    "tags": tiff_tags,
    "header": flip_header,
    "truncate": truncate,
}
# Which mutations suit which seeds (by suffix); any mutation may follow another.
SUITS = {
    ".jpg": ["exif", "exif", "header", "truncate"],
    ".png": ["chunks", "chunks", "exif", "header", "truncate"],
    ".tif": ["tags", "tags", "exif", "header", "truncate"],
    ".webp": ["exif", "header", "truncate"],
    ".bmp": ["header", "truncate"],
    ".gif": ["header", "truncate"],
}


def make_corpus(folder: Path, count: int, seed: int = 0, start: int = 0) -> list[Path]:
    """``count`` mutated files in ``folder``: ``NNNNN_SEEDNAME_MUTATIONS.SUFFIX``. The same
    ``seed`` and ``start`` give the same files."""
    base = seeds()
    names = sorted(base)
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for i in range(start, start + count):
        rng = random.Random(f"{seed}:{i}")
        name = names[i % len(names)]
        stem, suffix = name.rsplit(".", 1)
        data = base[name]
        done = []
        for _ in range(1 if rng.random() < 0.7 else rng.randint(2, 3)):
            kind = rng.choice(SUITS["." + suffix])
            data = MUTATIONS[kind](data, rng)
            done.append(kind)
        path = folder / f"{i:05d}_{stem}_{'+'.join(done)}.{suffix}"
        path.write_bytes(data)
        made.append(path)
    return made


# ------------------------------------------------------------------------------- runs


@dataclass
class Outcome:
    """What one batch gave: the inputs' statuses, the messages of failed ones, and every
    broken rule (``violations``: empty when the batch held)."""

    files: int
    returncode: int
    seconds: float
    statuses: collections.Counter = field(default_factory=collections.Counter)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)


TEMP = re.compile(r"^\.srup-.*\.part|srup-part")


def run_batch(
    folder: Path, out: Path, timeout: float = 600, extra: tuple[str, ...] = ()
) -> Outcome:
    """``srup upscale folder -o out/ --json`` in a subprocess, and the checks."""
    files = sorted(p.name for p in folder.iterdir())
    cmd = [sys.executable, "-m", "srup", "upscale", str(folder), "-o", f"{out}/", "--json"]
    cmd += ["-s", "2", "-m", "espcn", "--max-pixels", "1000000", "--device", "cpu", *extra]
    env = {**os.environ, "PYTHONIOENCODING": "utf-8:strict"}
    start = time.perf_counter()
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        result = Outcome(len(files), -1, time.perf_counter() - start)
        result.violations.append(f"{folder}: no result within {timeout:.0f} s")
        return result
    result = Outcome(len(files), done.returncode, time.perf_counter() - start)
    bad = result.violations
    if done.returncode not in (0, 3):
        bad.append(f"exit code {done.returncode}: {done.stderr.decode(errors='replace')[-500:]}")
    stderr = done.stderr.decode("utf-8", "replace")
    if "Traceback" in stderr:
        bad.append("traceback on stderr: " + stderr[stderr.index("Traceback") :][:800])
    seen = []
    for line in done.stdout.splitlines():
        try:
            rec = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            bad.append(f"not a JSON line ({e}): {line[:200]!r}")
            continue
        seen.append(Path(rec["input"]).name)
        result.statuses[rec["status"]] += 1
        if rec["status"] == "failed":
            result.errors.append(rec["error"])
        result.notes += rec["notes"]
    if sorted(seen) != files:
        missing = sorted(set(files) - set(seen))[:5]
        extra_ = sorted(set(seen) - set(files))[:5]
        bad.append(
            f"{len(seen)} records for {len(files)} files (missing {missing}, extra {extra_})"
        )
    if out.exists():
        left = [p.name for p in out.rglob("*") if TEMP.search(p.name)]
        if left:
            bad.append(f"temporary files left: {left[:5]}")
    return result


def kind_of(error: str) -> str:
    """A failure message without its file name: what went wrong."""
    text = error.split(": ", 1)[-1]
    text = re.sub(r"\d+", "N", text)
    return text[:90]


def fuzz(count: int, batch: int, seed: int, keep: Path | None = None) -> list[Outcome]:
    outcomes = []
    with tempfile.TemporaryDirectory() as tmp:
        root = keep or Path(tmp)
        for b, start in enumerate(range(0, count, batch)):
            folder = root / f"in{b:02d}"
            make_corpus(folder, min(batch, count - start), seed, start)
            outcomes.append(run_batch(folder, root / f"out{b:02d}"))
            o = outcomes[-1]
            print(
                f"batch {b}: {o.files} files, exit {o.returncode}, {dict(o.statuses)}, "
                f"{o.seconds:.0f} s, {len(o.violations)} violation(s)",
                file=sys.stderr,
                flush=True,
            )
    return outcomes


def summary(outcomes: list[Outcome]) -> list[str]:
    files = sum(o.files for o in outcomes)
    statuses = sum((o.statuses for o in outcomes), collections.Counter())
    violations = [v for o in outcomes for v in o.violations]
    seconds = sum(o.seconds for o in outcomes)
    unexpected = [e for o in outcomes for e in o.errors if "failed while" in e]
    lines = [
        f"{files} mutated files in {len(outcomes)} batches ({seconds:.0f} s): "
        f"{statuses['done']} done, {statuses['failed']} failed with one line each, "
        f"{len(violations)} broken rules (aborted batch, bad JSON line, missing record, "
        "traceback, temporary file left); "
        f"{len(unexpected)} of the failures were a library's own exception that reading did "
        "not translate, caught by the file's boundary"
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, help="Keep the files and outputs in this folder.")
    parser.add_argument("--update-readme", action="store_true", help="Put the line in docs/cli.md.")
    parser.add_argument("--markdown", type=Path, help="Also write the summary to this file.")
    args = parser.parse_args()
    outcomes = fuzz(args.count, args.batch, args.seed, args.keep)
    lines = summary(outcomes)
    kinds = collections.Counter(kind_of(e) for o in outcomes for e in o.errors)
    print("\n".join(lines))
    print("\nfailures by message:")
    for text, n in kinds.most_common(25):
        print(f"{n:6d}  {text}")
    notes = collections.Counter(kind_of(n) for o in outcomes for n in o.notes)
    print("\nnotes:")
    for text, n in notes.most_common(15):
        print(f"{n:6d}  {text}")
    violations = [v for o in outcomes for v in o.violations]
    for v in violations:
        print(f"VIOLATION: {v}")
    if args.update_readme or args.markdown:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from readme import publish

        publish("fuzz_files", lines, args.markdown, args.update_readme)
    sys.exit(1 if violations else 0)


if __name__ == "__main__":
    main()
