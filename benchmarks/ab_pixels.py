"""A/B proof that two builds of srup give the same bytes: every output file of `srup upscale`
(the real CLI, one subprocess per run) over a fixed set of inputs, hashed, with each run's
--json records, exit status and stderr.

    python benchmarks/ab_pixels.py --out /tmp/ab/base --srup "python -m srup"
    python benchmarks/ab_pixels.py --compare /tmp/ab/base/manifest.json /tmp/ab/new/manifest.json

What it proves, when --compare exits 0: for the inputs and options below, build B writes the
same output files (sha256 of the bytes; for video, of the decoded frames and their pts, since
muxers stamp their version into the container) and the same --json records, exit statuses and
stderr lines as build A. Inputs:

- Set5 and Set14 LR_bicubic at x2, x3 and x4 (../shared/data), each folder one batch run, with
  the default model (auto), -m espcn7 and -m fsrcnn-real; at x3 also --tile 48 (tiled against
  whole-image) and --reference HR (the scores in the records).
- A format matrix made here with a fixed seed: PNG in RGB, RGBA, L, LA, P, 1 and I;16, a
  16-bit RGB PNG (OpenCV), JPEG at quality 50 and 95 with EXIF orientation 6, a CMYK JPEG,
  lossless and lossy WebP, TIFF, GIF (one frame and animated), BMP, PNG and JPEG with an
  sRGB ICC profile; run at -s 2, at -s 2.5, at --width, at --width/--height --fit cover,
  as JPEG/WebP/TIFF/BMP output (--format, --background), single-file mode, and the JPEGs
  with --denoise auto and --denoise 0.5 -m fsrcnn.
- With PyAV installed: a 2 s H.264 clip with an AAC tone, upscaled x2 to .mp4, and its first
  frames to PNGs (--frames-to).

Volatile parts are left out before hashing: keys of the records containing "seconds", "time"
or "elapsed", and a video record's "fps" (throughput); durations and rates in stderr ("in
0.8 s", "0.72 MP/s"); the absolute folders (--out, the data folder, the repository) become
$OUT, $DATA and $ROOT. The manifest also keeps (not compared) where
srup was imported from, to check that a baseline really ran the old tree.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageCms

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"  # the repository's ../shared/data
SEED = 20240611
# "fps" of a video record is frames upscaled per second (the clip's own rate is in the file).
VOLATILE_KEY = re.compile(r"seconds|time|elapsed|^fps$", re.IGNORECASE)
# "in 0.8 s", "(0.6 MP out, 0.72 MP/s)", "12.3 fps", "1.2 ms": wall-clock figures on stderr.
VOLATILE_TEXT = re.compile(
    r"\b\d+(?:\.\d+)?\s*(?:ms|s|min|h|MP/s|fps|frames/s|it/s)(?![\w/])", re.IGNORECASE
)
PROGRESS = re.compile(r"[^\n]*\r")  # carriage-return progress lines: keep only the last state


@dataclass
class Run:
    """One `srup upscale` invocation: its inputs, its -o target under runs/NAME, its options."""

    name: str
    inputs: list[Path]
    args: list[str]
    output: str = ""  # "" = the folder runs/NAME/; else a file name inside it
    video: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- inputs made here


def pattern(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """An RGB picture with edges, gradients, text-like strokes and noise: something for the
    networks to sharpen, the same on every machine (no fonts, no randomness but the seed)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    r = 128 + 100 * np.sin(x / 5.0) * np.cos(y / 7.0)
    g = 255 * (x + y) / (width + height)
    b = np.where(((x // 8) + (y // 8)) % 2 == 0, 220.0, 30.0)
    img = np.stack([r, g, b], axis=-1)
    img[height // 3 : height // 3 + 2, 4 : width - 4] = 0  # thin strokes
    img[4 : height - 4, width // 2 : width // 2 + 1] = 255
    img += rng.normal(0, 6, img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def exif_orientation(value: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = value
    return exif.tobytes()


def fixed_date(profile: bytes) -> bytes:
    """An ICC profile with its header's creation date (bytes 24-35) set to 2000-01-01: LittleCMS
    stamps the current time there, which made the ICC inputs differ from run to run."""
    stamp = b"".join(value.to_bytes(2, "big") for value in (2000, 1, 1, 0, 0, 0))
    return profile[:24] + stamp + profile[36:]


def make_images(folder: Path) -> dict[str, list[Path]]:
    """The format matrix, by group: "all" (every picture), "jpeg", "alpha", "lossless"."""
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    rgb = pattern(48, 64, rng)
    alpha = np.clip(np.linspace(0, 255, 64)[None, :] + np.zeros((48, 1)), 0, 255)
    alpha = alpha.astype(np.uint8)
    alpha[10:20, 10:30] = 0
    base = Image.fromarray(rgb, "RGB")
    gray = base.convert("L")
    srgb = fixed_date(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())

    made: dict[str, list[Path]] = {"all": [], "jpeg": [], "alpha": [], "lossless": []}

    def add(name: str, *groups: str) -> Path:
        path = folder / name
        made["all"].append(path)
        for group in groups:
            made[group].append(path)
        return path

    base.save(add("rgb.png", "lossless"))
    rgba = base.copy()
    rgba.putalpha(Image.fromarray(alpha, "L"))
    rgba.save(add("rgba.png", "alpha", "lossless"))
    gray.save(add("gray_l.png", "lossless"))
    la = gray.copy().convert("LA")
    la.putalpha(Image.fromarray(alpha, "L"))
    la.save(add("gray_la.png", "alpha"))
    base.quantize(colors=16, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        add("palette_p.png")
    )
    gray.point(lambda v: 255 if v > 127 else 0).convert("1").save(add("bilevel_1.png"))
    i16 = (np.asarray(gray).astype(np.uint16) * 257) ^ rng.integers(0, 256, (48, 64), np.uint16)
    Image.fromarray(i16.astype(np.uint16)).save(add("gray_i16.png"))  # mode I;16
    rgb16 = rgb.astype(np.uint16) * 257 + rng.integers(0, 257, rgb.shape, np.uint16)
    if not cv2.imwrite(str(add("rgb16_cv2.png", "lossless")), rgb16[:, :, ::-1]):
        raise RuntimeError("cv2.imwrite failed on the 16-bit PNG")
    # Stored 64x48 with orientation 6 (rotate 90° clockwise to view): shows as 48x64.
    for quality in (50, 95):
        base.save(add(f"exif6_q{quality}.jpg", "jpeg"), quality=quality, exif=exif_orientation(6))
    base.convert("CMYK").save(add("cmyk.jpg", "jpeg"), quality=90)
    base.save(add("icc_srgb_jpeg.jpg", "jpeg"), quality=85, icc_profile=srgb)
    base.save(add("icc_srgb_png.png"), icc_profile=srgb)
    base.save(add("lossless_webp.webp", "lossless"), lossless=True)
    base.save(add("lossy_webp.webp"), quality=60, method=4)
    base.save(add("plain_tiff.tif", "lossless"))
    rgba.save(add("alpha_tiff.tif", "alpha"))
    base.convert("P", palette=Image.Palette.ADAPTIVE, colors=64).save(add("still_gif.gif"))
    frames = [
        Image.fromarray(np.roll(rgb, shift * 7, axis=1), "RGB").convert(
            "P", palette=Image.Palette.ADAPTIVE, colors=32
        )
        for shift in range(3)
    ]
    frames[0].save(add("animated_gif.gif"), save_all=True, append_images=frames[1:], duration=100)
    base.save(add("plain_bmp.bmp", "lossless"))
    return made


def make_clip(path: Path, seconds: float = 2.0, fps: int = 12) -> None:
    """A small H.264 clip with moving bars and an AAC tone, from the seed."""
    import av

    rng = np.random.default_rng(SEED + 1)
    still = pattern(48, 64, rng)
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        video.options = {"preset": "veryfast", "crf": "23", "threads": "1"}
        audio = container.add_stream("aac", rate=22050)
        audio.layout = "mono"
        for index in range(round(seconds * fps)):
            image = np.roll(still, 3 * index, axis=1)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        samples_per = 1024
        total = round(seconds * 22050)
        for start in range(0, total, samples_per):
            t = np.arange(start, min(start + samples_per, total)) / 22050
            tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]
            frame = av.AudioFrame.from_ndarray(tone, format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 22050, start
            for packet in audio.encode(frame):
                container.mux(packet)
        for packet in audio.encode():
            container.mux(packet)


# ---------------------------------------------------------------- the runs


def data_runs(data: Path) -> list[Run]:
    runs: list[Run] = []
    for dataset in ("Set5", "Set14"):
        for scale in (2, 3, 4):
            folder = data / dataset / "LR_bicubic" / f"X{scale}"
            if not folder.is_dir():
                raise SystemExit(f"missing data folder {folder}")
            for model in ("auto", "espcn7", "fsrcnn-real"):
                args = ["-s", str(scale)] + ([] if model == "auto" else ["-m", model])
                runs.append(Run(f"{dataset}_x{scale}_{model}", [folder], args))
        folder = data / dataset / "LR_bicubic" / "X3"
        runs.append(Run(f"{dataset}_x3_tile48", [folder], ["-s", "3", "--tile", "48"]))
        reference = data / dataset / "HR"
        if reference.is_dir():
            runs.append(
                Run(
                    f"{dataset}_x3_reference",
                    [folder],
                    ["-s", "3", "-m", "espcn7", "--reference", str(reference)],
                )
            )
    return runs


def format_runs(made: dict[str, list[Path]]) -> list[Run]:
    everything, jpegs, alphas = made["all"], made["jpeg"], made["alpha"]
    lossless_alpha = list(dict.fromkeys(made["lossless"] + alphas))  # stems are all unique
    lossless = made["lossless"]
    return [
        Run("fmt_x2", everything, ["-s", "2"]),
        Run("fmt_x3_espcn7", everything, ["-s", "3", "-m", "espcn7"]),
        Run("fmt_x2.5", everything, ["-s", "2.5"]),
        Run("fmt_width150", everything, ["--width", "150"]),
        Run("fmt_cover", lossless, ["--width", "120", "--height", "120", "--fit", "cover"]),
        Run("fmt_to_jpeg", everything, ["-s", "2", "--format", "jpg", "--quality", "90"]),
        Run("fmt_to_webp", lossless_alpha, ["-s", "2", "--format", "webp"]),
        Run("fmt_to_tiff", lossless_alpha, ["-s", "2", "--format", "tif"]),
        Run("fmt_to_bmp_black", alphas, ["-s", "2", "--format", "bmp", "--background", "black"]),
        Run("jpeg_denoise_auto", jpegs, ["-s", "2", "--denoise", "auto"]),
        Run("jpeg_denoise_auto_x3", jpegs, ["-s", "3", "--denoise", "auto"]),
        Run("jpeg_denoise_0.5_fsrcnn", jpegs, ["-s", "3", "-m", "fsrcnn", "--denoise", "0.5"]),
        Run("single_rgba_x3", [alphas[0]], ["-s", "3"], output="rgba_x3.png"),
        Run("single_jpeg_x2", [jpegs[0]], ["-s", "2"], output="exif6_q50_x2.jpg"),
    ]


def video_runs(folder: Path) -> list[Run]:
    try:
        import av  # noqa: F401
    except ImportError:
        print("PyAV not installed: no video runs", file=sys.stderr)
        return []
    folder.mkdir(parents=True, exist_ok=True)
    clip = folder / "clip.mp4"
    make_clip(clip)
    return [
        Run("video_x2", [clip], ["-s", "2"], output="clip_x2.mp4", video=True),
        Run("video_frames_x2", [clip], ["-s", "2", "--frames", "5", "--frames-to", "@RUN@"]),
    ]


# ---------------------------------------------------------------- hashing


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def video_digest(path: Path) -> dict[str, Any]:
    """Decoded content of every stream: frames (native pixel format) with their pts, and the
    stream facts that are not muxer stamps. The container bytes are not compared."""
    import av

    streams: list[dict[str, Any]] = []
    with av.open(str(path)) as container:
        for stream in container.streams:
            info: dict[str, Any] = {
                "type": stream.type,
                "codec": stream.codec_context.name,
                "time_base": str(stream.time_base),
            }
            if stream.type == "video":
                info["size"] = [stream.codec_context.width, stream.codec_context.height]
                info["pix_fmt"] = stream.codec_context.pix_fmt
                info["rate"] = str(stream.average_rate)
            elif stream.type == "audio":
                info["rate"] = stream.codec_context.sample_rate
                info["layout"] = stream.codec_context.layout.name
            info["digest"], info["frames"] = hashlib.sha256(), 0
            streams.append(info)
        for packet in container.demux():
            for frame in packet.decode():
                info = streams[packet.stream.index]
                array = np.ascontiguousarray(frame.to_ndarray())
                info["digest"].update(f"{frame.pts}|{array.dtype}|{array.shape}|".encode())
                info["digest"].update(array.tobytes())
                info["frames"] += 1
    for info in streams:
        info["digest"] = info["digest"].hexdigest()
    return {"streams": streams}


def clean_text(text: str, roots: dict[str, str]) -> str:
    for root, token in sorted(roots.items(), key=lambda item: -len(item[0])):
        text = text.replace(root, token)
    return text


def clean_record(value: Any, roots: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {
            key: clean_record(item, roots)
            for key, item in value.items()
            if not VOLATILE_KEY.search(key)
        }
    if isinstance(value, list):
        return [clean_record(item, roots) for item in value]
    if isinstance(value, str):
        return clean_text(value, roots)
    return value


def clean_stderr(text: str, roots: dict[str, str]) -> list[str]:
    text = PROGRESS.sub("", text.replace("\r\n", "\n"))
    text = VOLATILE_TEXT.sub("<t>", clean_text(text, roots))
    return [line.rstrip() for line in text.splitlines() if line.strip()]


# ---------------------------------------------------------------- running


def srup_origin(srup: list[str], env: dict[str, str]) -> str:
    """Where `srup` is imported from under this command, when it is `PYTHON -m srup`."""
    if len(srup) >= 3 and srup[-2:] == ["-m", "srup"]:
        probe = [*srup[:-2], "-c", "import srup; print(srup.__file__)"]
        done = subprocess.run(probe, capture_output=True, text=True, env=env, check=False)
        return (done.stdout or done.stderr).strip()
    return "(not a `python -m srup` command)"


def run_one(
    run: Run, srup: list[str], out: Path, env: dict[str, str], roots: dict[str, str]
) -> dict[str, Any]:
    target_dir = out / "runs" / run.name
    if target_dir.exists():
        shutil.rmtree(target_dir)
    target_dir.mkdir(parents=True)
    args = [arg.replace("@RUN@", str(target_dir)) for arg in run.args]
    target = str(target_dir / run.output) if run.output else str(target_dir) + os.sep
    if "--frames-to" in args:
        command = [*srup, "upscale", *map(str, run.inputs), *args, "--json"]
    else:
        command = [*srup, "upscale", *map(str, run.inputs), "-o", target, "--json", *args]
    work = out / "cwd"
    work.mkdir(exist_ok=True)
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=work, check=False)
    took = time.perf_counter() - started
    records = []
    for line in done.stdout.splitlines():
        if not line.strip():
            continue
        try:
            records.append(clean_record(json.loads(line), roots))
        except json.JSONDecodeError:
            records.append({"not_json": clean_text(line, roots)})
    strays = sorted(str(path.relative_to(work)) for path in work.rglob("*"))
    files: dict[str, Any] = {}
    for path in sorted(target_dir.rglob("*")):
        if path.is_file():
            relative = str(path.relative_to(out))
            if run.video and path.suffix.lower() in {".mp4", ".mkv", ".webm", ".mov"}:
                files[relative] = video_digest(path)
            else:
                files[relative] = sha256_file(path)
    status = f"rc={done.returncode} files={len(files)} records={len(records)} {took:.1f}s"
    print(f"{run.name:28s} {status}", file=sys.stderr, flush=True)
    return {
        "command": clean_text(shlex.join(command[len(srup) :]), roots),
        "returncode": done.returncode,
        "records": records,
        "stderr": clean_stderr(done.stderr, roots),
        "files": files,
        "strays_in_cwd": strays,
        "wall_s": round(took, 2),  # not compared
    }


def build(out: Path, srup_command: str, data: Path) -> int:
    out, data = out.resolve(), data.resolve()
    out.mkdir(parents=True, exist_ok=True)
    env = {key: value for key, value in os.environ.items() if not key.startswith("SRUP_")}
    env["PYTHONHASHSEED"] = "0"
    srup = shlex.split(srup_command)
    if srup and srup[0] in {"python", "python3"}:
        srup[0] = sys.executable  # the venv's python whatever the caller's PATH
    origin = srup_origin(srup, env)
    print(f"srup from {origin}", file=sys.stderr)
    started = time.perf_counter()
    inputs = out / "inputs"
    if inputs.exists():
        shutil.rmtree(inputs)
    made = make_images(inputs / "formats")
    runs = data_runs(data) + format_runs(made) + video_runs(inputs / "video")
    roots = {str(out): "$OUT", str(data): "$DATA", str(ROOT): "$ROOT"}
    input_hashes = {
        str(path.relative_to(out)): sha256_file(path)
        for path in sorted(inputs.rglob("*"))
        if path.is_file()
    }
    results = {run.name: run_one(run, srup, out, env, roots) for run in runs}
    files = {
        name: digest for result in results.values() for name, digest in result["files"].items()
    }
    manifest = {
        "about": {  # not compared
            "srup_command": srup_command,
            "srup_imported_from": origin,
            "python": sys.version.split()[0],
            "wall_s": round(time.perf_counter() - started, 1),
        },
        "inputs": input_hashes,
        "files": files,
        "runs": {name: {k: v for k, v in r.items() if k != "files"} for name, r in results.items()},
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    failed = [name for name, result in results.items() if result["returncode"] not in (0,)]
    print(
        f"{len(files)} outputs from {len(runs)} runs in {manifest['about']['wall_s']} s "
        f"-> {out / 'manifest.json'}" + (f"; nonzero exit: {', '.join(failed)}" if failed else ""),
        file=sys.stderr,
    )
    return 0


# ---------------------------------------------------------------- comparing

IGNORED = {"about", "wall_s"}


def differences(a: Any, b: Any, where: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        found: list[str] = []
        for key in sorted(set(a) | set(b)):
            if key in IGNORED:
                continue
            here = f"{where}/{key}"
            if key not in b:
                found.append(f"only in A: {here}")
            elif key not in a:
                found.append(f"only in B: {here}")
            else:
                found += differences(a[key], b[key], here)
        return found
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        found = []
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            found += differences(x, y, f"{where}[{index}]")
        return found
    if a != b:
        return [f"differs: {where}\n    A: {json.dumps(a)[:300]}\n    B: {json.dumps(b)[:300]}"]
    return []


def compare(first: Path, second: Path) -> int:
    a, b = (json.loads(path.read_text()) for path in (first, second))
    for label, manifest in (("A", a), ("B", b)):
        print(f"{label}: srup from {manifest.get('about', {}).get('srup_imported_from')}")
    found = differences(a, b)
    if a.get("inputs") != b.get("inputs"):
        print("WARNING: the generated inputs differ, so the outputs cannot be compared fairly")
    for line in found:
        print(line)
    count = len(a.get("files", {}))
    verdict = f"{len(found)} difference(s)" if found else f"identical ({count} outputs)"
    print(verdict)
    return 1 if found else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="folder for outputs and manifest.json")
    parser.add_argument("--srup", default="python -m srup", help="how to run the CLI")
    parser.add_argument("--data", type=Path, default=DATA, help="folder holding Set5/ and Set14/")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("A", "B"))
    options = parser.parse_args(argv)
    if options.compare:
        return compare(*options.compare)
    if options.out is None:
        parser.error("--out DIR or --compare A B")
    return build(options.out, options.srup, options.data)


if __name__ == "__main__":
    sys.exit(main())
