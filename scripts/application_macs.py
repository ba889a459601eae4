"""Counts the MACs of every keras.applications network (with its top, at its training size) and rewrites
builder/files/application_macs.py.

Each network is built with random weights, read into a graph by the importer and profiled by builder.model.profile,
the count the Build page shows. One child process per network keeps memory down.

Usage:
    .venv/bin/python scripts/application_macs.py            # all, rewrites the table
    .venv/bin/python scripts/application_macs.py MobileNetV2  # some: prints them
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def count(name: str) -> float:
    import os

    os.environ.setdefault("LAYERCANVAS_MAX_PARAMS", "500000000")
    from builder.files.importer import import_keras_model
    from builder.files.pretrained import application
    from builder.kerasenv import load_keras
    from builder.model.profile import profile

    keras = load_keras()
    app = application(name)
    model = getattr(keras.applications, name)(weights=None, input_shape=(app.size, app.size, 3))
    graph = import_keras_model(model, name).graph
    del model
    return float(profile(graph).total_macs)


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--one":
        print(json.dumps(count(argv[1])))
        return 0
    from builder.files.pretrained import APPLICATIONS

    names = argv or list(APPLICATIONS)
    macs = {}
    for name in names:
        out = subprocess.run([sys.executable, __file__, "--one", name], capture_output=True, text=True, cwd=ROOT, check=False)
        if out.returncode:
            print(f"{name}: failed\n{out.stderr[-2000:]}", file=sys.stderr)
            return 1
        macs[name] = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{name}: {macs[name] / 1e9:.3f} G MACs", flush=True)
    if argv:
        return 0
    path = ROOT / "builder" / "files" / "application_macs.py"
    head = path.read_text().split("MACS: dict[str, float] = ")[0]
    rows = "".join(f"    {name!r}: {value:.0f},\n" for name, value in macs.items())
    path.write_text(f"{head}MACS: dict[str, float] = {{\n{rows}}}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
