#!/usr/bin/env python3
"""Paired whole-process timing of edasim on bench-mmc against the hand-written loop.

Runs the hand loop (`examples/mmc_loop.rs`) and `edasim run scenarios/bench-mmc.toml
--headless` in turn, N times, and prints the median time of each and the median of the
per-pair ratios (edasim / loop). Pairing run by run cancels most of the drift of a
shared machine; divan's separate medians do not. Give several edasim binaries (say, the
build before a change and after it) to compare them in the same run.

Usage: python3 scripts/bench-ratio.py [-n PAIRS] [--scenario FILE] EDASIM [EDASIM ...]
       (build first: cargo build --release --bins --example mmc_loop)
"""

import argparse
import statistics
import subprocess
import time

parser = argparse.ArgumentParser()
parser.add_argument("-n", type=int, default=21, help="pairs (default 21)")
parser.add_argument("--loop", default="target/release/examples/mmc_loop")
parser.add_argument("--scenario", default="scenarios/bench-mmc.toml")
parser.add_argument(
    "--allow-failure", action="store_true", help="time runs that exit non-zero too (experiments)"
)
parser.add_argument("edasim", nargs="*", default=["target/release/edasim"])
args = parser.parse_args()


def timed(cmd):
    t0 = time.perf_counter()
    subprocess.run(
        cmd, check=not args.allow_failure, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return time.perf_counter() - t0


runs = {b: [] for b in args.edasim}
loops = []
for i in range(args.n):
    order = list(args.edasim) if i % 2 == 0 else list(reversed(args.edasim))
    loops.append(timed([args.loop]))
    for b in order:
        runs[b].append(timed([b, "run", args.scenario, "--headless", "--quiet", "--format", "json"]))

print(f"hand loop: median {statistics.median(loops) * 1e3:.1f} ms over {args.n} runs")
for b, ts in runs.items():
    ratios = [t / l for t, l in zip(ts, loops)]
    print(
        f"{b}: median {statistics.median(ts) * 1e3:.1f} ms, "
        f"paired ratio median {statistics.median(ratios):.3f} "
        f"(p25 {statistics.quantiles(ratios, n=4)[0]:.3f}, p75 {statistics.quantiles(ratios, n=4)[2]:.3f})"
    )
