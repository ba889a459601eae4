"""Runs every benchmark in bench/ (each module with a `main()`) in one process.

Prints each benchmark's own report, then all results and the targets missed.
Always exits 0: benchmarks report, they do not fail CI.

Usage:
    python bench/run.py [--json PATH]
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
import traceback
from pathlib import Path

BENCH = Path(__file__).resolve().parent
if __package__ in (None, ""):  # run as a script: make `bench` and `builder` importable
    sys.path.insert(0, str(BENCH.parent))

from bench.report import table  # noqa: E402 - after the path set-up above


def benchmarks() -> list[str]:
    """Names of the modules in bench/, but this runner."""
    return [m.name for m in pkgutil.iter_modules([str(BENCH)]) if m.name != "run"]


def main(argv: list[str] | None = None) -> int:
    """Runs every benchmark; returns 0 whatever they measured."""
    parser = argparse.ArgumentParser(description="Runs every LayerCanvas benchmark.")
    parser.add_argument("--json", metavar="PATH", help="also write all results to PATH as JSON")
    args = parser.parse_args(argv)
    results, broken = [], []
    for name in benchmarks():
        try:
            module = importlib.import_module(f"bench.{name}")
            if not callable(getattr(module, "main", None)):
                continue
            print(f"== {name}", flush=True)
            results += module.main([])
        except Exception:  # noqa: BLE001 - one broken benchmark must not hide the others
            traceback.print_exc()
            broken.append(name)
    print("\n== all results")
    print(table(results))
    missed = [r["name"] for r in results if not r["passed"]]
    print(f"\n{len(results) - len(missed)} of {len(results)} targets met.")
    for name in missed:
        print(f"MISSED: {name}")
    for name in broken:
        print(f"DID NOT RUN: {name} (see the traceback above)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
