"""Fuzzing: graph files, parameter values, dataset uploads and model files, 10,000 cases by default.

Every case must end in a result or in a refusal with a plain message (tests/fuzzing.py says exactly what that
means); anything else is a crash. Prints one table for all targets, then each target's refusals by class (with
example messages), its case kinds, its slowest cases and its crashes. Exits 1 when there is a crash.

Usage:
    .venv/bin/python -m bench.fuzz [--cases N] [--seed S] [--targets graph,params,datasets,importer]

The same seed gives the same cases. This is a check, not a benchmark, so bench/run.py does not run it (it has no
`main`); CI runs a sample of it as tests/test_fuzz.py.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench`, `builder` and `tests` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Share of the cases per target. Building Keras models (graph, params) is where crashes hide, and costs most.
SHARES = {"graph": 0.3, "params": 0.3, "datasets": 0.2, "importer": 0.2}


def split(total: int, targets: list[str]) -> dict[str, int]:
    """`total` cases over `targets` by SHARES, adding up exactly."""
    weights = {t: SHARES[t] for t in targets}
    scale = sum(weights.values())
    counts = {t: int(total * w / scale) for t, w in weights.items()}
    for t in targets[: total - sum(counts.values())]:
        counts[t] += 1
    return counts


def fuzz_main(argv: list[str] | None = None) -> int:
    """Runs the fuzzer; returns 1 when any case crashed, else 0."""
    parser = argparse.ArgumentParser(description="Fuzzes LayerCanvas's inputs; exits 1 on any crash.")
    parser.add_argument("--cases", type=int, default=10_000, help="cases in all (default 10,000)")
    parser.add_argument("--seed", type=int, default=0, help="hypothesis seed (default 0)")
    parser.add_argument("--targets", default=",".join(SHARES), help="comma-separated subset of " + ",".join(SHARES))
    args = parser.parse_args(argv)
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    unknown = [t for t in targets if t not in SHARES]
    if unknown or not targets or args.cases < 1:
        parser.error(f"targets must be among {', '.join(SHARES)} and cases >= 1")

    start = time.perf_counter()
    from builder.kerasenv import load_keras

    load_keras()  # TensorFlow loads once, before the clock of any target starts
    from tests.fuzzing import fuzz, report

    loaded = time.perf_counter() - start
    tallies = []
    for name, n in split(args.cases, targets).items():
        def progress(tally, n=n):
            if tally.cases % 250 == 0:
                print(f"  {tally.target}: {tally.cases:,}/{n:,} cases, {len(tally.crashes)} crashes, "
                      f"{tally.seconds:.0f} s", file=sys.stderr, flush=True)

        print(f"== {name}: {n:,} cases", file=sys.stderr, flush=True)
        tallies.append(fuzz(name, n, seed=args.seed, progress=progress))
    total = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"seed {args.seed}; {sum(t.cases for t in tallies):,} cases in {total:.0f} s wall "
          f"({loaded:.0f} s loading TensorFlow); peak memory {peak:,.0f} MB; {os.cpu_count()} CPUs")
    print(report(tallies))
    return 1 if any(t.crashes for t in tallies) else 0


if __name__ == "__main__":
    sys.exit(fuzz_main())
