"""House rule 1: builder/ never imports streamlit."""

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_every_builder_module_imports_without_streamlit():
    modules = sorted(".".join(p.relative_to(ROOT / "builder").with_suffix("").parts)
                     for p in (ROOT / "builder").rglob("*.py") if p.stem not in ("__main__", "__init__"))
    assert {"model.catalog", "model.graph", "model.validate", "model.build", "data.datasets", "train.job", "train.settings",
            "files.codegen", "cli.main", "store"} <= set(modules)
    code = (
        "import sys, importlib\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'streamlit' or name.startswith('streamlit.'):\n"
        "            raise ImportError('streamlit is blocked in this test')\n"
        "sys.meta_path.insert(0, Block())\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module('builder.' + m)\n"
        "import builder.model.build, builder.model.templates\n"
        "from builder.model.build import build\n"
        "build(builder.model.templates.template('mlp'))\n"
        "assert not any(k.split('.')[0] == 'streamlit' for k in sys.modules)\n"
        "print('clean')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("clean")


def test_no_layer_specific_branches_outside_the_catalog():
    """House rule 2: no `type == "Dense"` outside builder/model/catalog.py."""
    import re

    from builder.model.catalog import LAYERS

    pattern = re.compile(r"""type_?\s*(==|!=|in)\s*\(?\s*["'](%s)["']""" % "|".join(LAYERS))
    offenders = []
    for path in list((ROOT / "builder").rglob("*.py")) + list((ROOT / "components").glob("*.py")) + list((ROOT / "pages").glob("*.py")):
        if path.name in ("catalog.py", "templates.py"):
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(line):
                offenders.append(f"{path.name}:{n}: {line.strip()}")
    assert offenders == []


def test_no_module_imports_another_modules_private_names():
    """A name that starts with '_' is its module's own: the app and the builder never import one from elsewhere."""
    import ast

    offenders = []
    files = [ROOT / "app.py", *(ROOT / "builder").rglob("*.py"), *(ROOT / "components").rglob("*.py"),
             *(ROOT / "pages").glob("*.py")]
    for path in files:
        if "frontend" in path.parts or "node_modules" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in ("builder", "components"):
                offenders += [f"{path.relative_to(ROOT)}:{node.lineno}: {node.module}.{a.name}" for a in node.names
                              if a.name.startswith("_") and not a.name.startswith("__")]
    assert offenders == []
