"""What every benchmark shares: the machine line and the results table.

A result is a dict with `name`, `ours_ms`, `ref_ms`, `ratio`, `target` and
`passed` (`ratio <= target`).
"""

from __future__ import annotations

import os
import platform


def figure(name: str, ours_ms: float, ref_ms: float, target: float, ratio: float | None = None) -> dict:
    """One benchmark figure; lower ratios are better.

    Args:
        ratio: The measured ratio (e.g. the median of paired ratios); default
            ours_ms / ref_ms.
    """
    ratio = ours_ms / ref_ms if ratio is None else ratio
    return {
        "name": name,
        "ours_ms": round(ours_ms, 2),
        "ref_ms": round(ref_ms, 2),
        "ratio": round(ratio, 3),
        "target": target,
        "passed": ratio <= target,
    }


def machine() -> str:
    """CPU model, cores, load, Python, TensorFlow and Keras versions, on one line."""
    import keras
    import tensorflow as tf

    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores (load average {os.getloadavg()[0]:.2f} at start), "
        f"Python {platform.python_version()}, "
        f"TensorFlow {tf.__version__}, Keras {keras.__version__}"
    )


def table(results: list[dict]) -> str:
    """The results as a fixed-width text (and Markdown) table."""
    width = max([len("name")] + [len(r["name"]) for r in results])
    lines = [
        f"| {'name':<{width}} | ours (ms) | reference (ms) | ratio |  target |      |",
        f"| {'-' * width} | --------: | -------------: | ----: | ------: | ---- |",
    ]
    for r in results:
        lines.append(
            f"| {r['name']:<{width}} | {r['ours_ms']:9.1f} | {r['ref_ms']:14.1f} | {_ratio(r['ratio']):>5} "
            f"| {_target(r['target']):>7} | {'PASS' if r['passed'] else 'MISS'} |"
        )
    return "\n".join(lines)


def _ratio(ratio: float | None) -> str:
    return "-" if ratio is None else format(ratio, ".2f")


def _target(target) -> str:
    """A ratio target as `<= 1.15`; absolute ones (text such as `<= 500 ms`) as they are."""
    return target if isinstance(target, str) else "<= " + format(target, ".2f")


def emit(results: list[dict], json_path: str | None) -> list[dict]:
    """Prints the table and, when asked, writes the results as JSON; returns them."""
    import json
    from pathlib import Path

    print(table(results))
    if json_path:
        Path(json_path).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return results
