"""A class pressing Start within one minute, simulated: how long until each student sees a first epoch, by class
size and by how many worker machines train (LAYERCANVAS_RAY).

Fed with what bench/scale_out.py measures on this machine: a run's length, and the start cost of a worker that is
cold (imports TensorFlow first) or warm (reused). Each machine trains `--slots` runs at once (one per two cores, as
the app's own default); the queue is the store's fair order, which for one run per student is first come, first
served. A worker process is cold for its first run and warm after.

    .venv/bin/python -m bench.class_sim [--job-s 15] [--epochs 10] [--cold-s 4.5] [--warm-s 0.9] [--json PATH]

Prints, for 30, 100 and 200 students on 1, 4 and 16 machines: time from Start to the first epoch, p50 and p95
(median over 20 random classes).
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import random
import statistics
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

STUDENTS = (30, 100, 200)
MACHINES = (1, 4, 16)


def simulate(students: int, machines: int, slots: int, job_s: float, epochs: int, cold_s: float, warm_s: float,
             seed: int) -> list[float]:
    """Seconds from each student's Start to their first finished epoch, for one random class."""
    rng = random.Random(seed)
    presses = sorted(rng.uniform(0, 60) for _ in range(students))
    free = [(0.0, m * slots + s, True) for m in range(machines) for s in range(slots)]  # (free at, slot, cold)
    heapq.heapify(free)
    first_epoch = job_s / epochs
    waits = []
    for pressed in presses:  # first come, first served: each takes the slot that frees first
        at, slot, cold = heapq.heappop(free)
        begin = max(at, pressed) + (cold_s if cold else warm_s)
        waits.append(begin + first_epoch - pressed)
        heapq.heappush(free, (begin + job_s, slot, False))
    return waits


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def table(job_s: float, epochs: int, cold_s: float, warm_s: float, slots: int, classes: int = 20) -> list[dict]:
    rows = []
    for n in STUDENTS:
        for m in MACHINES:
            p50s, p95s = [], []
            for seed in range(classes):
                waits = simulate(n, m, slots, job_s, epochs, cold_s, warm_s, seed)
                p50s.append(percentile(waits, 0.5))
                p95s.append(percentile(waits, 0.95))
            rows.append({"students": n, "machines": m, "p50_s": round(statistics.median(p50s), 1),
                         "p95_s": round(statistics.median(p95s), 1)})
    return rows


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--job-s", type=float, default=15.0, help="one run, Start to end, on a warm worker (s)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--cold-s", type=float, default=4.5, help="a cold worker's start cost (s)")
    parser.add_argument("--warm-s", type=float, default=0.9, help="a warm worker's start cost (s)")
    parser.add_argument("--slots", type=int, default=1, help="runs each machine trains at once")
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)
    rows = table(args.job_s, args.epochs, args.cold_s, args.warm_s, args.slots)
    print(f"Start to first epoch; a run of {args.job_s:g} s ({args.epochs} epochs), start cost {args.cold_s:g} s cold, "
          f"{args.warm_s:g} s warm, {args.slots} run(s) per machine at once")
    print("| students | machines | p50 | p95 |\n| --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['students']} | {r['machines']} | {r['p50_s']:g} s | {r['p95_s']:g} s |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return rows


if __name__ == "__main__":
    main()
