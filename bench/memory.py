"""Memory: RSS growth over 500 edits of a 50-layer graph (our incremental builder + summary), against raw Keras
building the same 500 models from scratch in the same process. Target: our growth <= 50 MB.

Usage:
    python bench/memory.py [--edits N] [--json PATH]
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import emit, machine

TARGET_MB = 50.0
WARMUP = 50


def rss_mb() -> float:
    """Resident memory after returning the allocator's free pages to the system (glibc keeps them otherwise)."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:  # not glibc
        pass
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def chain(n: int = 50):
    from bench.browser import chain_graph

    return chain_graph(n)


def ours(edits: int) -> float:
    """RSS growth (MB) from after WARMUP edits to after `edits` more."""
    from builder.model.build import ModelBuilder
    from builder.model.summary import summarize

    graph = chain()
    builder = ModelBuilder()
    start = None
    for i in range(WARMUP + edits):
        edited = graph.set_param(f"n{(i * 14) % 50 // 2 * 2}", "units", 32 + i % 64)
        result = builder.build(edited)
        assert result.model is not None
        summarize(result)
        if i == WARMUP - 1:
            gc.collect()
            start = rss_mb()
    gc.collect()
    return rss_mb() - start


def raw(edits: int) -> float:
    from builder.kerasenv import load_keras

    keras = load_keras()
    start = None
    for i in range(WARMUP + edits):
        x = inp = keras.Input((64,), name="input")
        for j in range(50):
            units = 32 + i % 64 if j == (i * 14) % 50 // 2 * 2 else 64
            x = (keras.layers.Dense(units, activation="relu", name=f"n{j}") if j % 2 == 0
                 else keras.layers.Dropout(0.1, name=f"n{j}"))(x)
        model = keras.Model(inp, x)
        model.count_params()
        del model, x, inp
        if i == WARMUP - 1:
            gc.collect()
            start = rss_mb()
    gc.collect()
    return rss_mb() - start


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description="RSS growth over many edits.")
    parser.add_argument("--edits", type=int, default=500)
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)
    from builder.kerasenv import load_keras

    load_keras()
    print(machine())
    ref = raw(args.edits)
    mine = ours(args.edits)
    print(f"RSS growth over {args.edits} edits: ours {mine:.1f} MB, raw Keras rebuilding {ref:.1f} MB", file=sys.stderr)
    result = {"name": f"RSS growth over {args.edits} edits (MB)", "ours_ms": round(mine, 1), "ref_ms": round(ref, 1),
              "ratio": None, "target": f"<= {TARGET_MB:.0f} MB", "passed": mine <= TARGET_MB,
              "note": "the ms columns hold MB here"}
    return emit([result], args.json)


if __name__ == "__main__":
    main()
