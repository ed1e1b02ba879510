"""CPU speed of two source trees of srup, interleaved in one run: the check that a change
meant to move code (issue 26) did not move time.

    python benchmarks/ab_speed.py --a /tmp/base/src --b src [--rounds 3] [--repeat 7]

For every shipped network and scale (the same set as benchmarks/speed.py: the input whose
output is 1920×1080, RGB), each tree times ``srup.load(model, scale).upscale_array`` in its
own process (a warm-up, then the median of --repeat runs); the processes alternate A, B, A,
B… for --rounds rounds, so drift of a noisy machine lands on both. Prints B ÷ A per model
(the median over rounds; above 1: B is slower) and exits 0.

On a machine that other work keeps busy, wall time swings by 2-5× from run to run;
``--threads 1 --clock cpu --stat min`` measures the process's own CPU seconds on one thread
(page faults included, waiting for a core not), the best of --repeat, which holds within a
few per cent under such load. ``--keep-freed-memory`` times both trees as ``srup upscale``
runs them (:mod:`srup.runtime.allocator`), where the library call alone does not.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

NETWORKS = {
    "srcnn": (2, 3, 4),
    "fsrcnn": (2, 3, 4),
    "espcn": (2, 3, 4),
    "espcn7": (2, 3),
}

TIMER = r"""
import json, statistics, sys, time
import numpy as np
import torch
import srup
networks, repeat, how = json.loads(sys.argv[1]), int(sys.argv[2]), json.loads(sys.argv[3])
if how["threads"]:
    torch.set_num_threads(how["threads"])
if how["keep"]:
    from srup.runtime.allocator import keep_freed_memory
    keep_freed_memory()
clock = time.process_time if how["clock"] == "cpu" else time.perf_counter
stat = min if how["stat"] == "min" else statistics.median
out = {}
for model, scales in networks.items():
    for s in scales:
        up = srup.load(model, scale=s, device="cpu")
        h, w = -(-1080 // s), -(-1920 // s)
        x = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
        up.upscale_array(x)
        times = []
        for _ in range(repeat):
            t = clock()
            up.upscale_array(x)
            times.append(clock() - t)
        out[f"{model} x{s}"] = stat(times)
print(json.dumps(out))
"""


def time_tree(src: str, networks: dict, repeat: int, how: dict | None = None) -> dict[str, float]:
    """Seconds per model × scale, measured by a fresh process importing srup from ``src``;
    ``how``: threads (0: torch's default), clock (wall or cpu), stat (median or min), keep
    (keep freed memory)."""
    how = how or {"threads": 0, "clock": "wall", "stat": "median", "keep": False}
    env = dict(os.environ, PYTHONPATH=src)
    done = subprocess.run(
        [sys.executable, "-c", TIMER, json.dumps(networks), str(repeat), json.dumps(how)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--a", required=True, help="the reference tree's src folder")
    parser.add_argument("--b", default="src", help="the tree under test's src folder")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--models", help="comma-separated (default: every shipped network)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    parser.add_argument("--stat", choices=("median", "min"), default="median")
    parser.add_argument("--keep-freed-memory", action="store_true")
    args = parser.parse_args()
    networks = NETWORKS
    if args.models:
        networks = {m: NETWORKS[m] for m in args.models.split(",")}
    how = {
        "threads": args.threads,
        "clock": args.clock,
        "stat": args.stat,
        "keep": args.keep_freed_memory,
    }
    print(f"load before: {os.getloadavg()[0]:.2f}; {how}")
    ratios: dict[str, list[float]] = {}
    for _ in range(args.rounds):
        a = time_tree(args.a, networks, args.repeat, how)
        b = time_tree(args.b, networks, args.repeat, how)
        for key in a:
            ratios.setdefault(key, []).append(b[key] / a[key])
    print("| model | B ÷ A (median of rounds) | rounds |")
    print("|---|---|---|")
    for key, values in ratios.items():
        shown = ", ".join(f"{v:.3f}" for v in values)
        print(f"| {key} | {statistics.median(values):.3f} | {shown} |")
    everything = [statistics.median(v) for v in ratios.values()]
    print(f"\nall models: median B ÷ A = {statistics.median(everything):.3f}")
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
