"""A cluster run on Ray against a local run, on this machine, in one run.

    python benchmarks/cluster.py [--files 24] [--model fsrcnn] [--scale 3] [--tiny 300]
        [--rounds 3] [--update-readme] [--markdown FILE] [--json benchmarks/results/cluster.json]

Needs the ``ray`` extra (``pip install '.[ray]'``). What it measures, all in this process:

- **Files per second**: --files copies of a 640×360 photograph (scikit-image's astronaut,
  turned), PNG in and out (×3: 1920×1080), upscaled by the local run
  (``srup.batch.run_jobs``, overlapped, torch on every core), then by
  ``srup.batch.Cluster`` on a local Ray cluster of this machine's cores, with one worker
  holding every core and with one worker per core. Each runs a few files first (warm: the
  workers have started and run files; so has the local run), then the timed batch into an
  empty folder. The three alternate, --rounds times, and each number is the median over
  the rounds. "× local" above 1 is faster than the local run.
- **Start-up**, apart: ``ray.init`` of a local cluster, and entering the Cluster (each worker
  imports torch and loads the model).
- **The driver's overhead per file**: --tiny 16×16 PNGs upscaled once, then run again with
  ``skip_existing``, so each worker only finds the output there: the wall time per file is
  the driver's round trip with every worker busy (hand out, wait, collect, the records), and
  the driver's CPU time per file is what one driver spends on each file, whatever the
  workers do. The local run's time per such file is beside it.

Other work on the machine moves every number; the ratios come from one run of the script.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from PIL import Image
from readme import ROOT, arguments, publish
from skimage import data

import srup
from srup import batch
from srup.batch.worker import settle_process
from srup.imaging.sizing import Sizing


def photos(folder: Path, count: int, size: tuple[int, int]) -> Path:
    """``count`` PNGs of the astronaut at ``size``, each turned differently."""
    folder.mkdir(parents=True)
    photo = Image.fromarray(data.astronaut()).resize(size)
    for i in range(count):
        photo.rotate(i * 7 % 360).save(folder / f"{i:04d}.png")
    return folder


def timed(run, jobs: list, options: batch.Options) -> tuple[float, float, list]:
    """Wall and this process's CPU seconds of ``run(jobs, options)``, and its results."""
    wall, cpu = time.perf_counter(), time.process_time()
    results = list(run(jobs, options))
    return time.perf_counter() - wall, time.process_time() - cpu, results


def local(args, out: Path, src: Path, tiny: Path) -> dict:
    """The local run, in a process set up as the command line's (and each worker's) is:
    files/s, and the seconds per already-done tiny file."""
    settle_process()  # as `srup upscale` does: without it each tile maps fresh memory
    up = srup.load(args.model, args.scale, device="cpu")

    def run(jobs, options):
        return batch.run_jobs(up, jobs, options)

    return measure(run, args, out, src, tiny)


def measure(run, args, out: Path, src: Path, tiny: Path) -> dict:
    """One executor (``run(jobs, options)``): warm-up, files/s, the overhead per file."""
    o = batch.Options()
    warm = batch.plan([src], out / "warm", args.scale).jobs[:4]
    assert all(r.status == "done" for r in run(warm, o))
    jobs = batch.plan([src], out / "timed", args.scale).jobs
    wall, _, results = timed(run, jobs, o)
    assert [r.status for r in results].count("done") == len(jobs), results
    megapixels = sum(r.megapixels for r in results)
    small = batch.plan([tiny], out / "tiny", args.scale).jobs
    assert all(r.status == "done" for r in run(small, o))
    again, cpu, results = timed(run, small, batch.Options(skip_existing=True))
    assert {r.status for r in results} == {"skipped"}
    return {
        "files": len(jobs),
        "seconds": wall,
        "files_per_s": len(jobs) / wall,
        "megapixels_per_s": megapixels / wall,
        "done_file_ms": again / len(small) * 1e3,
        "driver_cpu_ms_per_file": cpu / len(small) * 1e3,
    }


def on_ray(args, out: Path, src: Path, tiny: Path, worker_cpus: int) -> dict:
    """A Cluster of ``cores // worker_cpus`` workers: start-up, files/s, overhead."""
    spec = batch.EngineSpec(Sizing(float(args.scale)), args.model, device="cpu")
    began = time.perf_counter()
    with batch.Cluster(spec, worker_cpus=worker_cpus) as cluster:
        start = time.perf_counter() - began
        assert len(cluster.workers) == cluster.planned
        row = measure(cluster.run, args, out, src, tiny)
        row |= {"workers": cluster.planned, "worker_cpus": worker_cpus, "start_s": start}
    return row


def medians(rounds: list[dict]) -> dict:
    """Each measured number's median over the rounds (the counts are every round's)."""
    counts = ("files", "workers", "worker_cpus")
    return {
        key: rounds[0][key] if key in counts else statistics.median(r[key] for r in rounds)
        for key in rounds[0]
    }


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--files", type=int, default=24)
    parser.add_argument("--tiny", type=int, default=300)
    parser.add_argument("--model", default="fsrcnn")
    parser.add_argument("--scale", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    default = ROOT / "benchmarks" / "results" / "cluster.json"
    parser.add_argument("--json", type=Path, default=default)
    args = parser.parse_args()
    import ray

    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        src = photos(tmp / "in", args.files, (640, 360))
        tiny = photos(tmp / "tiny", args.tiny, (16, 16))
        began = time.perf_counter()
        ray.init(num_cpus=cores, include_dashboard=False, logging_level=logging.ERROR)
        ray_init = time.perf_counter() - began
        shapes = sorted({cores, 1}, reverse=True)
        rounds: dict[str, list[dict]] = {"local": [], **{f"ray_{c}cpu": [] for c in shapes}}
        try:  # interleaved, so that other work on the machine falls on every row alike
            for r in range(args.rounds):
                rounds["local"].append(local(args, tmp / f"local_{r}", src, tiny))
                for c in shapes:
                    row = on_ray(args, tmp / f"ray_{c}_{r}", src, tiny, c)
                    rounds[f"ray_{c}cpu"].append(row)
        finally:
            ray.shutdown()
    report(args, {key: medians(rows) for key, rows in rounds.items()}, ray_init, cores)


def report(args, rows: dict, ray_init: float, cores: int) -> None:
    """The table, the JSON, and the docs' lines."""
    base = rows["local"]["files_per_s"]
    head = (
        f"{rows['local']['files']} × 640×360 PNG → ×{args.scale} {args.model} (1920×1080), "
        f"{platform.machine()}, {cores} cores, srup {srup.__version__}, ray "
        f"{__import__('ray').__version__}; median of {args.rounds} interleaved rounds"
    )
    lines = [
        head,
        "",
        "| run | workers × CPUs | files/s | × local | start-up | already-done file | "
        "driver CPU per file |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, row in rows.items():
        who = "local (`run_jobs`)" if key == "local" else "Ray (`--ray`)"
        shape = f"1 × {cores}" if key == "local" else f"{row['workers']} × {row['worker_cpus']}"
        start = "–" if key == "local" else f"{ray_init:.1f} s + {row['start_s']:.1f} s"
        lines.append(
            f"| {who} | {shape} | {row['files_per_s']:.2f} | {row['files_per_s'] / base:.2f} | "
            f"{start} | {row['done_file_ms']:.1f} ms | {row['driver_cpu_ms_per_file']:.2f} ms |"
        )
    print("\n".join(lines))
    result = {"machine": head, "ray_init_s": ray_init, "rows": rows}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    publish("cluster", lines, args.markdown, args.update_readme)


if __name__ == "__main__":
    main()
