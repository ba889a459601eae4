"""Injection (issue 8): hostile text in every place user text can go.

User text: the model name, node ids, layer types and param names and values read from a graph file or a
share link, upload file names, CSV column and class names, zip folder names. It must never
- run as code: generated code (Functional, Sequential, the training script, the CLI's `code`) always parses,
  and running it never runs the text (a payload that would write MARKER is executed for real);
- render as markup: every Streamlit surface that renders Markdown gets it escaped (checked by rendering the
  page's Markdown with a CommonMark parser), the canvas and the network view get it as plain text;
- pick a path: download and artifact file names are plain, safe names.
Text that is allowed (a model name with quotes, spaces, unicode) survives exactly, as a repr-style literal.
"""

from __future__ import annotations

import ast
import html
import io
import json
import keyword
import os
import re
import subprocess
import sys
import unicodedata
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builder.files.codegen import (
    WINDOWS_DEVICES,
    CodegenError,
    generate_code,
    generate_script,
    is_chain,
    safe_filename,
    var_names,
)
from builder.files.export import FORMATS, file_name
from builder.model.catalog import LAYERS
from builder.model.graph import (
    Graph,
    GraphEditError,
    GraphFormatError,
    keras_name,
    name_problem,
    valid_id,
)
from builder.model.share import ShareLinkError, decode, encode
from builder.model.templates import template
from components.text import clip, md_escape

MARKER = "INJECTED_MARKER"  # a payload that runs creates this file (relative: tests run it in a temp dir)

# One of each class of hostile text.
NASTY = {
    "single quote": "it's",
    "double quote": 'say "hi"',
    "triple single": "'''",
    "triple double": '"""',
    "backslash": "back\\slash\\",
    "backslash at end": "end\\",
    "newline": "two\nlines",
    "carriage return": "cr\rhere",
    "crlf": "a\r\nb",
    "backslash newline": "cont\\\nnext",
    "bold markdown": "**bold**",
    "js link": "[a](javascript:alert(1))",
    "heading": "# h",
    "img onerror": "<img src=x onerror=window.__pwned=1>",
    "b tag": "<b>bold</b>",
    "script close": "</script><script>window.__pwned=1</script>",
    "template dollar": "${x}",
    "template braces": "{{x}}",
    "format braces": "{0.__class__}",
    "percent": "%s%d%(x)s",
    "rtl override": "abc\u202etxt.exe",
    "zero width": "a\u200bb\u200dc\ufeff",
    "combining": "e\u0301\u0302\u0303",
    "emoji": "🧱🔥👩‍💻",
    "nul": "nul\x00here",
    "control": "\x1b[31mred\x07",
    "line separator": "a\u2028b\u2029c",
    "path": "../../etc/passwd",
    "windows path": "C:\\Windows\\system32",
    "dot dot": "..",
    "leading dash": "-rf",
    "leading dot": ".bashrc",
    "device": "CON",
    "long": "x" * 500,
    "spaces": "  my model  ",
    "unicode letters": "модель 模型",
    "sql": "'; DROP TABLE projects; --",
    "streamlit shortcodes": ":material/delete: :smile: :red[x] :red :blue-background[z] :streamlit: :+1:",
    "lone surrogate": "\ud800",
    "low surrogate": "a\udfffb",
}


def payloads(marker: str = MARKER) -> list[str]:
    """Texts that, pasted into code unescaped, would write `marker`."""
    call = f'open({marker!r}, "w").write("1")'
    return [
        f'x"); {call}; ("',
        f"x'); {call}; ('",
        f'x"""); {call}; ("""',
        f"x'''); {call}; ('''",
        f"x\n{call}\n",
        f'x" # \n{call}  #',
        f"x\\\n{call}",
        f'x\\"); {call}; ("',
        f"x\r{call}\r",
        f"x\u2028{call}",
        "{" + call + "}",
        "f'{" + call + "}'",
        f'x", **{{"a": {call}}}, name="y',
    ]


# Hypothesis: any text, and the nasty ones glued to any text.
hostile_text = st.one_of(
    st.sampled_from(list(NASTY.values()) + payloads()),
    st.text(max_size=60),
    st.tuples(st.sampled_from(list(NASTY.values())), st.text(max_size=10)).map("".join),
    st.text(st.characters(exclude_categories=()), max_size=30),  # surrogates and control characters too
)


def is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


# -- generated code -------------------------------------------------------------------------------------------

def build_model_def(code: str) -> ast.FunctionDef:
    tree = ast.parse(code)
    return next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "build_model")


def assert_plain_code(code: str, graph: Graph) -> None:
    """`build_model()` uses only keras, layers and the node variables; the model name is one literal, the
    graph's name made TensorFlow-safe (keras_name); every layer name is a literal node id (or a wrapped
    layer's name)."""
    fn = build_model_def(code)
    allowed = {"keras", "layers", *var_names(graph).values()}
    names = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name)}
    assert names <= allowed, names - allowed
    calls = [n for n in ast.walk(fn) if isinstance(n, ast.Call)]
    model_names = [ast.literal_eval(k.value) for c in calls for k in c.keywords
                   if k.arg == "name" and isinstance(c.func, ast.Attribute) and c.func.attr in ("Model", "Sequential")]
    assert model_names == [keras_name(graph.name)]
    layer_names = [ast.literal_eval(k.value) for c in calls for k in c.keywords
                   if k.arg == "name" and not (isinstance(c.func, ast.Attribute) and c.func.attr in ("Model", "Sequential"))]
    assert all(valid_id(n) for n in layer_names), layer_names


def every_code(graph: Graph) -> list[str]:
    codes = [generate_code(graph)]
    if is_chain(graph):
        codes.append(generate_code(graph, style="sequential"))
    return codes


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_text)
def test_any_model_name_is_refused_clearly_or_becomes_one_literal(name):
    g = template("iris_mlp")
    problem = name_problem(name)
    if problem:
        with pytest.raises(GraphEditError) as e:
            g.set_name(name)
        assert str(e.value) == problem and "model name" in problem
        return
    g = g.set_name(name)
    for code in every_code(g):
        assert_plain_code(code, g)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_text)
def test_any_model_name_in_the_training_script(name):
    if name_problem(name):
        return
    g = template("iris_mlp").set_name(name)
    script = generate_script(g)
    assert_plain_code(script, g)  # the name as code: once, a literal, in build_model()
    # Elsewhere (usage, --output default) only as a file name made safe.
    assert f'default="{safe_filename(name, ".keras")}"' in script


@pytest.mark.parametrize("label,text", list(NASTY.items()), ids=list(NASTY))
def test_each_hostile_class_as_a_model_name(label, text):
    problem = name_problem(text)
    if not is_unicode(text) or "/" in text or not text.strip() or len(text) > 200:
        assert problem, label  # refused, and the message says what to do
        assert "model name" in problem
        return
    assert problem is None, label
    g = template("iris_mlp").set_name(text)
    for code in [*every_code(g), generate_script(g)]:
        assert_plain_code(code, g)


def test_refused_names_say_why():
    assert "cannot contain '/'" in name_problem("../../etc/passwd")
    assert "unpaired surrogate" in name_problem("a\ud800")
    assert "1 to 200 characters" in name_problem("   ")
    assert "1 to 200 characters" in name_problem("x" * 201)


@settings(max_examples=100, deadline=None)
@given(st.one_of(hostile_text, st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_]{0,63}\Z"),
                 st.sampled_from([*keyword.kwlist, "keras", "layers", "__debug__", "None_", "print", "__import__"])))
def test_node_ids_are_identifiers_or_refused_with_the_rule(text):
    g = template("iris_mlp")
    if g.has(text):
        return
    if valid_id(text):
        g2, _ = g.add_node("Dense", {"units": 2}, node_id=text, after="output")
        for code in every_code(g2):
            assert_plain_code(code, g2)
        return
    if text:  # add_node picks an id of its own for ""
        with pytest.raises(GraphEditError, match="is not a valid id: start with a letter or _"):
            g.add_node("Dense", {"units": 2}, node_id=text)
    with pytest.raises(GraphEditError, match="is not a valid id"):
        g.rename("dense", text)
    d = g.to_dict()
    d["nodes"][1]["id"] = text
    with pytest.raises(GraphFormatError, match="has an invalid id|unpaired surrogate"):
        Graph.from_dict(d)


def test_ids_that_would_share_a_variable_get_their_own():
    """`class` becomes `class_`, which another node already is: the code wired the wrong tensors."""
    g = Graph.from_dict({
        "format": "layercanvas-graph", "version": 1, "name": "m",
        "nodes": [{"id": "class", "type": "Input", "params": {"shape": [4]}},
                  {"id": "class_", "type": "Dense", "params": {"units": 3}},
                  {"id": "keras_", "type": "Dense", "params": {"units": 2}},
                  {"id": "keras", "type": "Concatenate", "params": {}},
                  {"id": "__debug__", "type": "Dense", "params": {"units": 1}}],
        "edges": [{"source": "class", "target": "class_"}, {"source": "class", "target": "keras_"},
                  {"source": "class_", "target": "keras"}, {"source": "keras_", "target": "keras"},
                  {"source": "keras", "target": "__debug__"}],
    })
    names = var_names(g)
    assert len(set(names.values())) == len(names)
    assert all(n.isidentifier() and not keyword.iskeyword(n) and n not in ("keras", "layers", "__debug__")
               for n in names.values())
    code = generate_code(g)
    assert_plain_code(code, g)
    fn = build_model_def(code)
    # Each assignment's call reads the variables of that node's own inputs.
    assigned = {}
    for stmt in fn.body:
        if isinstance(stmt, ast.Assign):
            assigned[stmt.targets[0].id] = stmt.value
    out = assigned[names["keras_"]]
    assert isinstance(out, ast.Call) and [a.id for a in out.args] == [names["class"]]


def test_hostile_types_params_and_values_are_refused_before_code():
    base = template("iris_mlp").to_dict()
    cases = {
        "type": lambda d, t: d["nodes"][1].update(type=t),
        "param name": lambda d, t: d["nodes"][1]["params"].update({t: 1}),
        "choice value": lambda d, t: d["nodes"][1]["params"].update(activation=t),
        "wrapped type": lambda d, t: d["nodes"].append(
            {"id": "wrap", "type": "TimeDistributed", "params": {"layer": {"type": t, "params": {}}}}),
    }
    for where, put in cases.items():
        for text in [*NASTY.values(), *payloads()]:
            if not is_unicode(text) or (where == "type" and text in LAYERS):
                continue
            d = json.loads(json.dumps(base))
            put(d, text)
            g = Graph.from_dict(d)
            with pytest.raises(CodegenError) as e:
                generate_code(g)
            assert e.value.node_id in ("dense", "wrap"), (where, text)
            with pytest.raises(CodegenError):
                generate_script(g)


def test_hostile_compile_and_training_fields_fall_back_to_suggestions():
    """A graph file's `compile` and `training` reach the script only as known names and numbers."""
    for bad in [*payloads(), ["adam"], {"a": 1}, 5, None, True]:
        g = template("iris_mlp").set_extra("compile", {"optimizer": bad, "loss": bad, "metrics": [bad],
                                                        "learning_rate": bad, "from_logits": bad})
        g = g.set_extra("training", {"dataset": bad})
        script = generate_script(g)  # was TypeError (unhashable) for a list or an object
        ast.parse(script)
        assert MARKER not in script


def test_payloads_never_run(tmp_path):
    """Every payload, as the model name, in every kind of generated code: exec'd in a fresh interpreter,
    build_model() called. The marker file never appears and the model has the name it should."""
    g0 = template("iris_mlp")
    sources, expected = [], []
    for p in payloads():
        g = g0.set_name(p)
        for code in [*every_code(g), generate_script(g)]:
            assert_plain_code(code, g)
            sources.append(code)
            expected.append(keras_name(p))
    (tmp_path / "cases.json").write_text(json.dumps({"sources": sources, "names": expected}))
    runner = (
        "import json, sys\n"
        "cases = json.load(open('cases.json'))\n"
        "for src, name in zip(cases['sources'], cases['names']):\n"
        "    scope = {'__name__': 'generated'}\n"  # the script's main() stays unrun: only the module and the model
        "    exec(compile(src, '<generated>', 'exec'), scope)\n"
        "    model = scope['build_model']()\n"
        "    assert model.name == name, (model.name, name)\n"
        "print('ran', len(cases['sources']))\n"
    )
    out = subprocess.run([sys.executable, "-c", runner], cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert out.returncode == 0, out.stderr[-3000:]
    assert f"ran {len(sources)}" in out.stdout
    assert not (tmp_path / MARKER).exists()
    assert list(tmp_path.iterdir()) == [tmp_path / "cases.json"]


def test_cli_code_output_parses_and_refuses_clearly(tmp_path, capsys):
    from builder.cli.main import main

    for i, p in enumerate(payloads()):
        path = tmp_path / f"g{i}.json"
        g = template("iris_mlp").set_name(p)
        g.save(path)
        for extra in ([], ["--style", "sequential"], ["--script"]):
            assert main(["code", str(path), *extra]) == 0
            out = capsys.readouterr().out
            assert_plain_code(out, g)
    # A file with an id that is not an identifier: refused, one line per problem, the id quoted.
    d = template("iris_mlp").to_dict()
    d["nodes"][1]["id"] = 'x = open("M")\nok'
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(d))
    assert main(["code", str(bad)]) == 1
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert all(ln.startswith("error: ") for ln in lines) and len(lines) == err.count("\n")
    assert "has an invalid id" in lines[0] and "\\nok" in lines[0]


def test_cli_problem_lines_stay_one_line(tmp_path, capsys):
    """`validate` prints one line per problem: a type or a param name with a newline cannot forge an `ok`."""
    from builder.cli.main import main

    d = template("iris_mlp").to_dict()
    d["nodes"][1]["type"] = "Dense\nok\r\x1b[2K"
    d["nodes"][2]["params"]["units\nok"] = 1
    path = tmp_path / "g.json"
    path.write_text(json.dumps(d))
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert all(ln.startswith(("error: ", "warning: ")) for ln in lines), lines
    assert "ok" not in [ln.strip() for ln in lines] and "\x1b" not in out and "\r" not in out
    assert any("Dense\\nok\\r\\x1b[2K" in ln for ln in lines)


# -- graph files and share links -------------------------------------------------------------------------------

@pytest.mark.parametrize("where", ["name", "type", "param name", "param value", "extra", "node extra"])
def test_unpaired_surrogates_are_refused_with_a_message(where):
    """JSON allows "\\ud800"; such text cannot be written as UTF-8: saving, the store and share links broke."""
    d = template("iris_mlp").to_dict()
    bad = "x\ud800"
    {"name": lambda: d.update(name=bad),
     "type": lambda: d["nodes"][1].update(type=bad),
     "param name": lambda: d["nodes"][1]["params"].update({bad: 1}),
     "param value": lambda: d["nodes"][1]["params"].update(activation=bad),
     "extra": lambda: d.update(notes={"k": [bad]}),
     "node extra": lambda: d["nodes"][1].update(label=bad)}[where]()
    text = json.dumps(d)  # ensure_ascii: the escape, as a file holds it
    with pytest.raises(GraphFormatError, match="unpaired surrogate") as e:
        Graph.loads(text)
    assert "\\ud800" in str(e.value) and is_unicode(str(e.value))
    if where in ("name", "type", "param name", "param value"):
        payload = {k: d[k] for k in ("name", "nodes", "edges")}
        import base64
        import zlib

        token = "1" + base64.urlsafe_b64encode(zlib.compress(json.dumps(payload).encode())).decode().rstrip("=")
        with pytest.raises(ShareLinkError, match="unpaired surrogate"):
            decode(token)


@settings(max_examples=100, deadline=None)
@given(hostile_text, st.sampled_from(["name", "type", "param name", "param value", "extra"]))
def test_hostile_text_in_a_file_reads_saves_and_shares_or_is_refused(text, where):
    d = template("iris_mlp").to_dict()
    {"name": lambda: d.update(name=text),
     "type": lambda: d["nodes"][1].update(type=text),
     "param name": lambda: d["nodes"][1]["params"].update({text: 1}),
     "param value": lambda: d["nodes"][1]["params"].update(activation=text),
     "extra": lambda: d.update(notes=text)}[where]()
    try:
        g = Graph.loads(json.dumps(d))
    except GraphFormatError as e:
        assert is_unicode(str(e)) and str(e)
        return
    again = Graph.loads(g.dumps().encode("utf-8"))  # saved as UTF-8 and read back
    assert again.to_dict() == g.to_dict()
    shared = decode(encode(g))
    assert (shared.name, shared.nodes, shared.edges) == (g.name, g.nodes, g.edges)
    try:
        codes = [generate_code(g)]
    except CodegenError as e:
        assert is_unicode(str(e))
        return
    for code in codes:
        assert_plain_code(code, g)


def test_store_keeps_hostile_names_as_data(tmp_path):
    from builder.store import Store

    store = Store(tmp_path / "s.db")
    for i, (label, text) in enumerate(NASTY.items()):
        if name_problem(text):
            continue
        g = template("iris_mlp").set_name(text)
        pid = f"project-{i:04d}"
        store.save_project(pid, g)
        assert store.load_project(pid).name == text, label
    assert {p["name"] for p in store.list_projects()} >= {"it's", "'; DROP TABLE projects; --"}


# -- file names ---------------------------------------------------------------------------------------------------

def assert_safe_file_name(name: str, ext: str) -> None:
    assert name.endswith(ext), (name, ext)
    stem = name[: len(name) - len(ext)]
    assert stem, name
    assert re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_-]*", stem), name  # no separators, dots, controls, spaces
    assert not stem.startswith(("-", ".")) and ".." not in name
    assert len(stem) <= 60
    assert os.path.basename(name) == name and name not in (".", "..")
    assert stem.upper() not in WINDOWS_DEVICES


@settings(max_examples=300, deadline=None)
@given(hostile_text, st.sampled_from(list(FORMATS)))
def test_download_names_are_plain(text, fmt):
    assert_safe_file_name(file_name(text, fmt), FORMATS[fmt].ext)
    assert_safe_file_name(safe_filename(text, ".json"), ".json")


EXPECTED_NAMES = {
    "path": "etc_passwd.keras",
    "windows path": "C_Windows_system32.keras",
    "dot dot": "model.keras",
    "leading dash": "rf.keras",
    "leading dot": "bashrc.keras",
    "device": "CON_model.keras",
    "long": "x" * 60 + ".keras",
    "spaces": "my_model.keras",
    "unicode letters": "model.keras",
    "nul": "nul_here.keras",
    "newline": "two_lines.keras",
    "img onerror": "img_src_x_onerror_window___pwned_1.keras",
    "rtl override": "abc_txt_exe.keras",
    "lone surrogate": "model.keras",
    "emoji": "model.keras",
    "sql": "DROP_TABLE_projects.keras",
}


@pytest.mark.parametrize("label,text", list(NASTY.items()), ids=list(NASTY))
def test_each_hostile_class_as_a_download_name(label, text):
    for fmt, spec in FORMATS.items():
        assert_safe_file_name(file_name(text, fmt), spec.ext)
    if label in EXPECTED_NAMES:
        assert file_name(text, "keras") == EXPECTED_NAMES[label]
    if not name_problem(text):  # through a graph, as the app and the exported script name files
        g = template("iris_mlp").set_name(text)
        assert file_name(g, "weights") == file_name(text, "weights")
        script = generate_script(g)
        assert f"python {safe_filename(text, '_train.py')} --epochs 20" in script


def test_run_artifacts_are_named_by_checked_run_ids_only(tmp_path):
    from builder.train.job import save_artifact

    class Model:
        def save(self, path):
            with open(path, "wb") as f:
                f.write(b"model")

    folder = tmp_path / "runs"
    good = "AbC-_123xyz"
    assert save_artifact(Model(), str(folder), good) == str(folder / f"{good}.keras")
    for bad in ["../../escape", "x/../../y", "a\x00bcdefgh", "short", ".hidden-run", "with space1",
                "abcdefgh\n", "..", "/abs/olute/path"]:
        with pytest.raises(ValueError, match="run id"):
            save_artifact(Model(), str(folder), bad)
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == [f"{good}.keras"]


def test_uploaded_model_file_names_never_pick_a_path(tmp_path, monkeypatch):
    """The importer copies the bytes to a name of its own; the upload's name is only quoted, on one line."""
    from builder.files.importer import ModelImportError, import_model

    monkeypatch.chdir(tmp_path)
    for name in ["../../evil.keras", "/tmp/evil.keras", "a\nb<img src=x onerror=1>.keras", "..\\..\\x.h5",
                 "\u202esarek.h5", "x.keras\x00.txt"]:
        with pytest.raises(ModelImportError) as e:
            import_model(b"PK\x03\x04 not really a zip", filename=name)
        message = str(e.value)
        assert "\n" not in message and "\r" not in message and "\x00" not in message
    assert list(tmp_path.iterdir()) == []
    assert not os.path.exists(os.path.join(os.path.dirname(str(tmp_path)), "evil.keras"))


# -- data names -----------------------------------------------------------------------------------------------------

HOSTILE_COLUMNS = ["<b>bold</b>", "**md**", "[a](javascript:alert(1))", "a\nb", "${x}", "<img src=x onerror=1>"]


def hostile_csv() -> bytes:
    cols = [f'"{c}"' for c in HOSTILE_COLUMNS] + ['"<i>label</i>"']
    classes = ["<b>cat</b>", "**dog**", "<img src=x onerror=window.__pwned=1>"]
    rows = [",".join(str((i * (j + 3)) % 7) for j in range(len(HOSTILE_COLUMNS))) + f',"{classes[i % 3]}"'
            for i in range(60)]
    return (",".join(cols) + "\n" + "\n".join(rows) + "\n").encode()


def test_csv_column_and_class_names_stay_data():
    from builder.data import datasets
    from components import charts
    from components.data_panel import preview_table

    ds = datasets.parse_csv(hostile_csv(), "<img src=x onerror=1>**f**.csv")
    assert datasets.csv_columns(hostile_csv()) == [*HOSTILE_COLUMNS, "<i>label</i>"]
    table = preview_table(ds)
    assert set(table) >= {"<b>bold</b>", "**md**"}  # a dataframe shows keys as plain text
    fig = charts.class_balance(ds.class_counts())
    assert all("<" not in str(x) for x in fig.data[0].x)  # plotly reads a few HTML tags in text
    # ... and entities: escaped, it shows the names as they are (it showed ‹b› for <b>)
    assert sorted(html.unescape(x) for x in fig.data[0].x) == sorted(ds.class_names)
    assert "<" not in "".join(str(x) for x in charts.confusion([[1, 0], [0, 1]], ds.class_names).data[0].x)
    assert charts.plain("a &amp; <b>") == "a &amp;amp; &lt;b&gt;" and len(html.unescape(charts.plain("x" * 99))) == 60


def test_zip_folder_names_stay_data():
    from PIL import Image

    from builder.data import datasets
    from components import charts

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for cls in ["<img src=x onerror=1>", "**dog** [x](javascript:1)"]:  # a folder name has no "/"
            for i in range(6):
                img = io.BytesIO()
                Image.new("RGB", (8, 8), (i * 30, 0, 0)).save(img, "PNG")
                zf.writestr(f"{cls}/{i}.png", img.getvalue())
    ds = datasets.parse_image_zip(buf.getvalue(), "imgs.zip")
    assert sorted(ds.class_names) == ["**dog** [x](javascript:1)", "<img src=x onerror=1>"]
    fig = charts.class_balance(ds.class_counts())
    assert all("<" not in str(x) for x in fig.data[0].x)


# -- Markdown surfaces (AppTest) ------------------------------------------------------------------------------------

def render_markdown(text: str) -> str:
    """CommonMark (with raw HTML on, as the canvas renders) of a Streamlit Markdown string."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": True}).enable(["strikethrough", "table"]).render(text)


def shown(text: str) -> str:
    """The text a reader sees of some Markdown."""
    return html.unescape(re.sub(r"<[^>]+>", "", render_markdown(text))).strip()


def assert_literal(markdown: str, user_text: str) -> None:
    """`markdown` shows `user_text` as text: no tag, link, heading or emphasis comes from it."""
    rendered = render_markdown(markdown)
    assert "<img" not in rendered and "<script" not in rendered and "<a " not in rendered, rendered
    assert "<h1" not in rendered and "<b>" not in rendered, rendered
    # md_escape puts line breaks as spaces; CommonMark shows NUL as U+FFFD.
    user_text = user_text.replace("\r", " ").replace("\n", " ").replace("\x00", "\ufffd")
    expected = " ".join(unicodedata.normalize("NFC", user_text).split())
    assert expected in " ".join(unicodedata.normalize("NFC", shown(markdown)).split()), (markdown, rendered)


def test_md_escape_stops_streamlit_shortcodes():
    """Streamlit's Markdown draws `:material/…:` icons, `:smile:` emoji, `:red[…]` colours (and `:red` alone
    as an empty colour), `:streamlit:` as the logo; user text with them showed icons and lost words."""
    text = NASTY["streamlit shortcodes"] + " 10:30 javascript:x"
    escaped = md_escape(text)
    assert not re.search(r":[\w+\\-]", escaped)  # no colon before a word: each is "&#58;"
    assert "stream\u2060lit" in escaped  # the logo's name is broken by an invisible word joiner
    assert shown(escaped).replace("\u2060", "") == text
    assert md_escape("Using: a") == "Using: a" and md_escape("a:") == "a:"  # other colons stay as they are


def test_md_escape_shows_every_hostile_class_literally():
    for text in [*NASTY.values(), *payloads()]:
        if is_unicode(text):
            assert_literal(md_escape(text).replace("\u2060", ""), text)
            assert_literal(f"**Using:** {md_escape(text)}".replace("\u2060", ""), text)
    assert clip("x" * 100) == "x" * 79 + "…" and clip("short") == "short"


HOSTILE_TYPE = "<img src=x onerror=window.__pwned=1><b>b</b> **md** [a](javascript:1) # h ${x}"  # < 80: not clipped
HOSTILE_PARAM = "**p** <b>q</b>"


def hostile_graph() -> Graph:
    d = template("iris_mlp").to_dict()
    d["name"] = "<b>bold<b> **name** " + NASTY["img onerror"]  # a model name cannot hold "/"
    d["nodes"].append({"id": "evil", "type": HOSTILE_TYPE, "params": {}})
    d["edges"].append({"source": "input", "target": "evil"})
    d["nodes"][1]["params"][HOSTILE_PARAM] = 1  # on "dense"
    return Graph.from_dict(d)


def markdown_values(at) -> list[str]:
    """Every string the page hands to Streamlit's Markdown: texts, messages, labels and help."""
    values = []
    for kind in ("markdown", "caption", "error", "warning", "info", "success", "subheader", "title", "header"):
        values += [e.value for e in getattr(at, kind)]
    for kind in ("button", "toggle", "checkbox", "text_input", "number_input", "selectbox", "expander"):
        for e in getattr(at, kind):
            values += [v for v in (getattr(e, "label", None), getattr(e, "help", None)) if isinstance(v, str)]
    return values


def assert_no_markup_from(at, user_texts: list[str]) -> None:
    """No Markdown string of the page makes a tag, a link, a heading or bold text out of the user texts."""
    bold = {w for t in user_texts for w in re.findall(r"\*\*(\w+)\*\*", t)}
    values = markdown_values(at)
    assert values
    for value in values:
        rendered = render_markdown(value)
        assert "<img" not in rendered and "<script" not in rendered and "<a " not in rendered, value
        assert "<b>" not in rendered and "<h1" not in rendered and "<i>" not in rendered, value
        assert not any(f"<strong>{w}</strong>" in rendered for w in bold), value


def run_app(graph: Graph | None = None, selected: str | None = None):
    from streamlit.testing.v1 import AppTest

    from components import state

    at = AppTest.from_file("../app.py", default_timeout=120)
    at.run()
    if graph is not None:
        at.session_state[state.GRAPH] = graph
        at.session_state[state.SELECTED] = selected
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_build_page_inspector_issues_and_fix_labels_show_hostile_text_literally():
    from components import state

    g = hostile_graph()
    at = run_app(g, "evil")
    values = markdown_values(at)
    heading = next(v for v in values if v.startswith("#### "))
    assert_literal(heading[5:], HOSTILE_TYPE)  # was: the type's own Markdown (bold, a link, an image tag)
    unknown = next(e.value for e in at.error if "is not a layer LayerCanvas knows. Delete" in e.value)
    assert_literal(unknown, HOSTILE_TYPE)
    # The unknown param's message and its one-click fix (a button label is Markdown too), beside the canvas
    # when its layer is selected.
    at.session_state[state.SELECTED] = "dense"
    at.run()
    fix = next(b for b in at.button if "from dense" in b.label)
    assert_literal(fix.label, f"Remove '{HOSTILE_PARAM}' from dense")
    assert_no_markup_from(at, [HOSTILE_TYPE, HOSTILE_PARAM, g.name])
    fix.click().run()
    assert HOSTILE_PARAM not in at.session_state[state.GRAPH].node("dense").params


def test_rename_and_project_name_errors_quote_what_was_typed_literally():
    at = run_app(template("iris_mlp"), "dense")
    typed = "**x** <img src=x onerror=1>"
    at.text_input(key="rename:dense").set_value(typed).run()
    message = next(e.value for e in at.error if "is not a valid id" in e.value)
    assert_literal(message, repr(typed))  # was: st.error(str(e)), the quoted text rendered as Markdown
    name_box = next(t for t in at.text_input if t.label == "Project name")
    name_box.set_value("**a**/[b](javascript:1)").run()
    message = next(e.value for e in at.error if "cannot contain" in e.value)
    assert_literal(message, repr("**a**/[b](javascript:1)"))


def test_flash_messages_and_the_data_page_show_hostile_names_literally():
    from components import messages
    from tests.test_app_build import use_data

    at = run_app()
    name = "<img src=x onerror=window.__pwned=1> **f** [l](javascript:1).json"
    at.session_state[messages.FLASH] = [("error", f"{name} cannot be opened: bad. Your project is unchanged.")]
    at.run()
    assert_literal(next(e.value for e in at.toast if "cannot be opened" in e.value), name)
    assert at.session_state[messages.FLASH] == []  # shown once
    at.switch_page("pages/data.py").run()
    use_data(at, csv=hostile_csv(), file_name="<b>up</b> **load**.csv")  # kept with the project, as an upload is
    assert not at.exception, [e.value for e in at.exception]
    using = next(m.value for m in at.markdown if m.value.startswith("**Using:**"))
    assert_literal(using, "upload: <b>up</b> **load**.csv")
    assert_no_markup_from(at, ["<b>up</b> **load**.csv", *HOSTILE_COLUMNS])


def test_train_page_network_view_gets_plain_text_labels_and_escaped_titles():
    from builder.model.build import build
    from components.network_view import view_data

    g = hostile_graph()
    nodes, _ = view_data(g, build(g))
    evil = next(n for n in nodes if n.id == "evil")
    assert HOSTILE_TYPE in evil.label.split("\n")  # vis-network draws labels as text: shown as it is
    assert evil.font.get("multi") is False
    assert evil.widthConstraint == {"maximum": 150}  # wraps, instead of covering the nodes beside it
    assert not any(hasattr(n, "widthConstraint") for n in nodes if n.id != "evil")
    assert all("<" not in n.title for n in nodes)  # agraph puts titles into innerHTML
    long = Graph.from_dict({**g.to_dict(), "nodes": [*g.to_dict()["nodes"][:-1],
                                                      {"id": "evil", "type": "T" * 10_000, "params": {}}]})
    assert max(len(n.label) for n in view_data(long, None)[0]) < 200


def test_train_page_runs_with_a_hostile_graph():
    from components import state

    at = run_app(hostile_graph())
    at.switch_page("pages/train.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state[state.GRAPH].name == hostile_graph().name
    assert_no_markup_from(at, [HOSTILE_TYPE, HOSTILE_PARAM])


def test_canvas_node_text_is_sent_as_text_and_clipped():
    """The canvas (React) shows every string as text: the data carries the type as it is, clipped."""
    from builder.model.build import build
    from components.canvas import canvas_data

    g = hostile_graph()
    evil = next(n for n in canvas_data(g, build(g))["nodes"] if n["id"] == "evil")
    assert evil["type"] == HOSTILE_TYPE[:77] + "..." if len(HOSTILE_TYPE) > 80 else evil["type"] == HOSTILE_TYPE
    d = g.to_dict()
    d["nodes"][-1]["type"] = "<b>" * 100_000
    big = Graph.from_dict(d)
    evil = next(n for n in canvas_data(big, None)["nodes"] if n["id"] == "evil")
    assert len(evil["type"]) <= 80


def test_runs_page_shows_hostile_model_and_data_names_literally():
    from builder.store import Store, default_path
    from components import charts, state

    at = run_app(hostile_graph())
    pid = at.session_state[state.PROJECT]
    store = Store(default_path())
    data_name = "upload: <img src=x onerror=window.__pwned=1> **data** [d](javascript:1).csv"
    from components.owner import KEY

    run_id = store.create_run(pid, hostile_graph(), {"epochs": 1}, data_name, owner="key:" + at.session_state[KEY])
    store.add_epoch(run_id, 1, {"epoch": 1, "loss": 0.5, "val_loss": 0.6})
    store.finish_run(run_id, "finished", {"loss": 0.5}, message="done **ok** <b>x</b>")
    at.switch_page("pages/runs.py").run()
    assert not at.exception, [e.value for e in at.exception]
    label = next(e.label for e in at.expander if "on upload" in e.label)
    assert_literal(label, f"{hostile_graph().name} on {data_name}")
    assert_no_markup_from(at, [hostile_graph().name, data_name])
    fig = charts.overlay([{**store.get_run(run_id), "label": label}], "loss")
    assert all("<" not in t.name for t in fig.data)  # plotly legends read a few HTML tags


@settings(max_examples=60, deadline=None)
@given(hostile_text)
def test_share_links_carry_any_allowed_name_as_url_safe_data(text):
    import urllib.parse

    from builder.model.share import link

    if name_problem(text):
        return
    g = template("iris_mlp").set_name(text)
    url = link("http://127.0.0.1:8501/train?project=abcdefgh#x", g)
    parts = urllib.parse.urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path, parts.fragment) == ("http", "127.0.0.1:8501", "/train", "x")
    query = urllib.parse.parse_qs(parts.query)
    assert query["project"] == ["abcdefgh"] and re.fullmatch(r"[A-Za-z0-9_-]+", query["g"][0])
    assert decode(query["g"][0]).name == text


def test_export_page_names_files_safely_for_a_hostile_model_name():
    """A model named with quotes, markup, a path and unicode builds (Keras gets keras_name), exports, and every
    download and "how to load it" snippet uses the safe file name."""
    from components.export_panel import PREPARED

    name = "..\\..\\x \"q\" <b>b<b> **m** {{y}} e\u0301 \u202eexe"  # "/" is refused; "\\" is allowed
    g = template("iris_mlp").set_name(name)
    at = run_app(g)
    at.switch_page("pages/export.py").run()
    assert not at.exception, [e.value for e in at.exception]
    prepared = at.session_state[PREPARED]
    snippets = [c.value for c in at.code]
    for fmt, spec in FORMATS.items():
        safe = file_name(g, fmt)
        assert_safe_file_name(safe, spec.ext)
        assert "{file}" not in spec.load or any(safe in s for s in snippets), fmt
        if fmt in prepared:
            assert isinstance(prepared[fmt], bytes), prepared[fmt]  # exported, not an error message
    assert not any("<b>" in s or "..\\" in s for s in snippets)
    assert Graph.loads(prepared["graph"]).name == name  # the graph file keeps the name as typed
    assert_plain_code(prepared["python"].decode(), g)
    assert_no_markup_from(at, [name])


def test_a_saved_learning_rate_the_train_page_cannot_show_falls_back_to_the_suggestion():
    """A graph file or share link with compile.learning_rate 1e-9 stopped the Train page (its field starts at
    1e-7): StreamlitAPIException."""
    from builder.train.settings import suggest_compile

    for lr, expected in ((1e-9, 0.001), (0.0, 0.001), (1e-7, 1e-7), (0.5, 0.5)):
        g = template("iris_mlp").set_extra("compile", {"learning_rate": lr})
        assert suggest_compile(g, "classification", 3).learning_rate == expected
    at = run_app(template("iris_mlp").set_extra("compile", {"learning_rate": 1e-9}))
    at.switch_page("pages/train.py").run()
    assert not at.exception, [e.value for e in at.exception]
