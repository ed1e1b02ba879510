"""Video speed and memory: `srup upscale clip.mp4` against an OpenCV loop, and peak memory
for a short and a long clip; with --overhead, the whole pipeline against the network alone.

    python benchmarks/video.py [--update-readme] [--seconds 4]
    python benchmarks/video.py --overhead [--size 640x360] [--scale 2] [--model espcn]

Clips are made here (moving shapes on a gradient with an AAC tone, H.264). Speed: frames per
second of the whole `srup upscale` (decode, network, encode, mux) for 640×360 → 1280×720
(×2) and 640×360 → 1920×1080 (×3) with each model, against the same Upscaler inside
OpenCV's VideoCapture → upscale_array → VideoWriter loop (mp4v, no audio), in one run.
Memory: peak RSS of `srup upscale` on a 10 s and a 60 s clip (flat means the pipeline's
queues bound it).

Overhead (--overhead, its own table in docs/performance.md): on the same decoded frames, frames
per second of the network alone (the Engine's process on RGB arrays already in memory, as
the pipeline hands them over) against the whole `upscale_video` (demux, decode, colour conversion,
network, conversion back, encode, mux, audio copied), and of the pipeline with a
do-nothing network (nearest-neighbour enlargement: decode and encode alone). The ratio is
what the video machinery costs over the network; the encoder's threads and preset are
stated, as are torch's threads.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from readme import arguments, publish

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from test_video import make_clip, probe  # noqa: E402  (the tests' clip maker)


def srup_fps(clip: Path, out: Path, model: str, scale: int, codec: str | None = None) -> float:
    """The pipeline of `srup upscale` in this process, as the OpenCV loop runs in it."""
    from srup.imaging.sizing import Sizing
    from srup.media.video import VideoOptions, upscale_video
    from srup.runtime.auto import Engine

    start = time.perf_counter()
    engine = Engine(Sizing(scale), model, device="cpu", precision="fp32")
    done = upscale_video(clip, out, engine.process, VideoOptions(codec=codec))
    return done.frames / (time.perf_counter() - start)


def duration(path: Path) -> float:
    import av

    with av.open(str(path)) as c:
        return c.duration / 1e6


def opencv_fps(clip: Path, out: Path, model: str, scale: int) -> float:
    import cv2

    import srup

    start = time.perf_counter()
    up = srup.load(model, scale, device="cpu", precision="fp32")
    cap = cv2.VideoCapture(str(clip))
    fps = cap.get(cv2.CAP_PROP_FPS)
    writer, frames = None, 0
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        sr = up.upscale_array(np.ascontiguousarray(bgr[:, :, ::-1]))[:, :, ::-1]
        if writer is None:
            fourcc = cv2.VideoWriter_fourcc(*"mp4v")
            writer = cv2.VideoWriter(str(out), fourcc, fps, (sr.shape[1], sr.shape[0]))
        writer.write(np.ascontiguousarray(sr))
        frames += 1
    cap.release()
    writer.release()
    return frames / (time.perf_counter() - start)


def peak_rss_mib(clip: Path, out: Path) -> float:
    code = (
        "import resource, sys; from srup.cli import main; sys.argv = ['srup', 'upscale', "
        f"{str(clip)!r}, '-s', '2', '-o', {str(out)!r}, '-q', '--overwrite']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(res.stdout.split()[-1]) / 1024


def encoder_setup() -> str:
    """libx264 as srup opens it by default (no --preset, no --crf): its preset and threads."""
    import io

    import av

    with av.open(io.BytesIO(), "w", format="mp4") as out:
        s = out.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        threads = s.codec_context.thread_count
    auto = "auto: x264 picks 1.5 × the logical cores" if threads == 0 else str(threads)
    return f"libx264, preset medium (x264's default), crf 23, threads {auto}"


def nearest(scale: int):
    """A do-nothing network: each pixel repeated (what decode and encode cost alone)."""
    from dataclasses import replace

    def process(picture):
        px = np.repeat(np.repeat(picture.pixels, scale, 0), scale, 1)
        return replace(picture, pixels=np.ascontiguousarray(px)), "nearest"

    return process


def overhead(args) -> list[str]:
    import av
    import torch

    from srup.imaging.sizing import Sizing
    from srup.media import pictures as imageio
    from srup.media import video_colour
    from srup.media.video import upscale_video
    from srup.runtime.auto import Engine

    w, h = (int(v) for v in args.size.split("x"))
    frames = int(25 * args.seconds)
    engine = Engine(Sizing(args.scale), args.model, device="cpu", precision="fp32")
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        clip = make_clip(t / "clip.mp4", frames=frames, size=(w, h), fps=25)
        with av.open(str(clip)) as c:
            vin = c.streams.video[0]
            rgbs = [video_colour.to_rgb(f, vin) for f in c.decode(vin)]
        engine.process(imageio.Picture(rgbs[0], format="VIDEO", lossy=True))  # warm

        def network_alone():
            for rgb in rgbs:
                engine.process(imageio.Picture(rgb, format="VIDEO", lossy=True))

        runs = {
            "network": network_alone,
            "whole": lambda: upscale_video(clip, t / "out.mp4", engine.process),
            "io": lambda: upscale_video(clip, t / "io.mp4", nearest(args.scale)),
        }
        best = dict.fromkeys(runs, float("inf"))
        for _ in range(args.repeat):  # interleaved, the best of each: load comes and goes
            for name, run in runs.items():
                start = time.perf_counter()
                run()
                best[name] = min(best[name], time.perf_counter() - start)
        network, whole, io_only = best["network"], best["whole"], best["io"]
        done = upscale_video(clip, t / "out.mp4", engine.process)
    n = len(rgbs)
    lines = [
        f"{args.seconds:g} s at 25 fps, {w}×{h} → {w * args.scale}×{h * args.scale} "
        f"(×{args.scale}, {args.model}, CPU fp32, torch threads {torch.get_num_threads()}), "
        f"H.264 + AAC in MP4; encoder: {encoder_setup()}; the best of {args.repeat} "
        "interleaved runs of each on this machine",
        "",
        "| what runs | frames | seconds | fps | × network alone |",
        "|---|---|---|---|---|",
        f"| network alone (frames already decoded) | {n} | {network:.2f} | {n / network:.2f} "
        "| 1.00 |",
        f"| whole pipeline (`upscale_video`) | {done.frames} | {whole:.2f} | "
        f"{done.frames / whole:.2f} | {whole / network:.2f} |",
        f"| decode + encode alone (nearest-neighbour) | {n} | {io_only:.2f} | "
        f"{n / io_only:.2f} | {io_only / network:.2f} |",
    ]
    return lines


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--seconds", type=float, default=4.0, help="Length of the speed clip.")
    parser.add_argument("--models", default="espcn,fsrcnn")
    parser.add_argument(
        "--overhead", action="store_true", help="Only the pipeline against the network alone."
    )
    parser.add_argument("--size", default="640x360", help="--overhead: the clip's WxH.")
    parser.add_argument("--scale", type=int, default=2, help="--overhead: the scale.")
    parser.add_argument("--model", default="espcn", help="--overhead: the model.")
    parser.add_argument("--repeat", type=int, default=3, help="--overhead: runs of each.")
    args = parser.parse_args()
    if args.overhead:
        lines = overhead(args)
        print("\n".join(lines), flush=True)
        publish("video_overhead", lines, args.markdown, args.update_readme)
        return
    lines = [
        f"{args.seconds:g} s clips at 25 fps, 640×360 in; frames per second of the whole run "
        "(decode, upscale, encode; srup: H.264 through PyAV with the decode-ahead and "
        "encode-behind threads; OpenCV: its mp4v writer, no audio), both in one process, "
        "one run on this machine",
        "",
        "| model | scale | output | srup, H.264 | srup, MPEG-4 (as OpenCV) | OpenCV loop | "
        "srup MPEG-4 ÷ OpenCV |",
        "|---|---|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        clip = make_clip(t / "clip.mp4", frames=int(25 * args.seconds), size=(640, 360), fps=25)
        for model in args.models.split(","):
            for scale in (2, 3):
                h264 = srup_fps(clip, t / "srup.mp4", model, scale)
                mpeg4 = srup_fps(clip, t / "srup4.mp4", model, scale, codec="mpeg4")
                theirs = opencv_fps(clip, t / "cv.mp4", model, scale)
                lines.append(
                    f"| {model} | ×{scale} | {640 * scale}×{360 * scale} | {h264:.2f} | "
                    f"{mpeg4:.2f} | {theirs:.2f} | {mpeg4 / theirs:.2f} |"
                )
                print(lines[-1], flush=True)
        lines += [
            "",
            "`srup upscale clip.mp4 -s 2` (auto model), 640×360 → 1280×720 with an AAC track:",
            "",
            "| clip | frames in / out | frame rate in / out | seconds in / out | "
            "audio packets identical | peak RSS MiB |",
            "|---|---|---|---|---|---|",
        ]
        for seconds in (10, 60):
            long = make_clip(t / f"c{seconds}.mp4", frames=25 * seconds, size=(640, 360), fps=25)
            out = t / "long_x2.mp4"
            rss = peak_rss_mib(long, out)
            a, b = probe(long), probe(out)
            same = "yes" if a["audio"] == b["audio"] and a["audio"] else "no"
            lines.append(
                f"| {seconds} s | {a['frames']} / {b['frames']} | {a['rate']} / {b['rate']} | "
                f"{duration(long):.2f} / {duration(out):.2f} | {same} | {rss:.0f} |"
            )
            print(lines[-1], flush=True)
    publish("video", lines, args.markdown, args.update_readme)


if __name__ == "__main__":
    main()
