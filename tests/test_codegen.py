"""Generated code builds the same model as builder.model.build: same config (names included), same counts."""

import ast
import json
import pathlib
import re
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings

from builder.files.codegen import (
    CodegenError,
    fmt,
    generate_code,
    generate_script,
    is_chain,
    var_name,
    var_names,
)
from builder.model.build import build
from builder.model.graph import Edge, Graph, Node, keras_name
from builder.model.templates import TEMPLATES, template
from tests.layer_cases import all_cases, case_graph
from tests.strategies import graphs

CASES = list(all_cases())


def run_code(code: str):
    scope: dict = {}
    exec(compile(code, "<generated>", "exec"), scope)
    return scope["build_model"]()


def config(model) -> str:
    return json.dumps(model.get_config(), sort_keys=True, default=str)


def assert_same_model(graph: Graph, code: str) -> None:
    expected = build(graph).model
    assert expected is not None
    got = run_code(code)
    assert config(got) == config(expected)
    assert got.count_params() == expected.count_params()
    assert [w.shape for w in got.trainable_weights] == [w.shape for w in expected.trainable_weights]


@pytest.mark.parametrize("case_id,type_,inputs,params", CASES, ids=[c[0] for c in CASES])
def test_every_catalog_layer(case_id, type_, inputs, params):
    g = case_graph(type_, inputs, params)
    assert_same_model(g, generate_code(g))


@pytest.mark.parametrize("key", sorted(TEMPLATES))
def test_every_template_functional_and_sequential(key):
    g = template(key)
    code = generate_code(g)
    ast.parse(code)
    assert code.startswith('"""') and "def build_model():" in code
    assert ("import keras\nfrom keras import layers\n" if len(g.nodes) > 1 else "import keras\n\n") in code
    assert_same_model(g, code)
    assert code == generate_code(g)  # deterministic
    assert fmt(code) == code  # black-formatted
    if is_chain(g):
        seq = run_code(generate_code(g, style="sequential"))
        fun = build(g).model
        assert seq.count_params() == fun.count_params()
        assert [layer.name for layer in seq.layers] == [layer.name for layer in fun.layers if layer.name != g.input_ids()[0]]
        assert [layer.get_config() for layer in seq.layers] == [fun.get_layer(layer.name).get_config() for layer in seq.layers]


def test_one_line_per_node_and_only_non_default_params():
    code = generate_code(template("cifar_cnn"))
    assert 'conv2d = layers.Conv2D(32, (3, 3), activation="relu", name="conv2d")(input_)' in code
    assert 'pool = layers.MaxPooling2D(name="pool")(conv2d)' in code
    assert 'head = layers.Dense(10, name="head")(dense)' in code
    assert 'return keras.Model(inputs=input_, outputs=head, name="cifar_cnn")' in code
    g = template("mlp").set_param("dense", "use_bias", True).set_param("dense", "activation", "relu")
    assert 'layers.Dense(16, activation="relu", name="dense")' in generate_code(g)


def test_frozen_layers_ports_and_multiple_outputs():
    g = template("two_inputs").set_trainable("conv", False).set_input_order("joined", ["table_dense", "flat"])
    code = generate_code(g)
    assert "trainable=False" in code and "[table_dense, flat]" in code
    assert "inputs=[image, table]" in code
    assert_same_model(g, code)
    code2 = generate_code(template("two_outputs"))
    assert "outputs=[class_head, value_head]" in code2
    assert_same_model(template("two_outputs"), code2)


def test_keyword_and_reserved_ids_become_safe_variables():
    nodes = (Node("class", "Input", {"shape": [4]}), Node("keras", "Dense", {"units": 2}), Node("lambda", "Dense", {"units": 1}))
    g = Graph(nodes, (Edge("class", "keras"), Edge("keras", "lambda")))
    code = generate_code(g)
    assert var_name("class") == "class_" and "keras_ = layers.Dense(2, name=\"keras\")(class_)" in code
    assert_same_model(g, code)


def assigned_names(code: str) -> set[str]:
    """The names `build_model()` assigns."""
    fn = next(n for n in ast.walk(ast.parse(code)) if isinstance(n, ast.FunctionDef) and n.name == "build_model")
    return {n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def module_names(code: str) -> set[str]:
    """The names a module binds at its top level (imports, functions, assignments)."""
    names = set()
    for stmt in ast.parse(code).body:
        if isinstance(stmt, (ast.FunctionDef, ast.ClassDef)):
            names.add(stmt.name)
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in stmt.names)
        elif isinstance(stmt, ast.Assign):
            names.update(n.id for t in stmt.targets for n in ast.walk(t) if isinstance(n, ast.Name))
    return names


def test_input_id_keeps_its_layer_name_but_not_the_builtin():
    g = template("mlp")
    assert g.input_ids() == ["input"]
    code = generate_code(g)
    assert "input" not in assigned_names(code) and "input_" in assigned_names(code)
    assert 'input_ = keras.Input(shape=(4,), name="input")' in code
    assert run_code(code).get_layer("input").name == "input"
    assert_same_model(g, code)


@pytest.mark.parametrize("nid", ["list", "sum", "max", "id", "type", "print", "len", "match", "_", "exit", "model", "np",
                                 "tf", "keras", "layers", "build_model", "split", "load_data", "main"])
def test_builtin_soft_keyword_and_module_ids_become_safe_variables(nid):
    import builtins
    import keyword

    nodes = (Node("input", "Input", {"shape": [4]}), Node("input_", "Dense", {"units": 3}), Node(nid, "Dense", {"units": 2}),
             Node(nid + "_", "Dense", {"units": 1}))
    g = Graph(nodes, (Edge("input", "input_"), Edge("input_", nid), Edge(nid, nid + "_")))
    names = var_names(g)
    assert len(set(names.values())) == len(names)  # node 'input' does not take the variable of node 'input_'
    for v in names.values():
        assert not keyword.iskeyword(v) and not keyword.issoftkeyword(v) and v not in dir(builtins)
    code = generate_code(g)
    assert assigned_names(code) == set(names.values())
    assert not assigned_names(code) & ({"input", nid} | set(dir(builtins)) | module_names(code))
    assert f'name="{nid}"' in code and 'name="input"' in code
    assert_same_model(g, code)
    script = generate_script(g)
    assert not assigned_names(script) & module_names(script)


def test_wrappers_and_attention():
    g = case_graph("Bidirectional", [[10, 3]], {"layer": {"type": "GRU", "params": {"units": 3, "return_sequences": True}}, "merge_mode": "sum"})
    flat = "".join(generate_code(g).split())
    assert 'layers.Bidirectional(layers.GRU(3,return_sequences=True,name="layer_gru"),merge_mode="sum",name="layer")' in flat
    g2 = case_graph("MultiHeadAttention", [[5, 8], [6, 8]], {"num_heads": 2, "key_dim": 4})
    assert "(in_0, in_1)" in generate_code(g2)


def test_sequential_needs_a_chain():
    with pytest.raises(CodegenError, match="single chain"):
        generate_code(template("small_resnet"), style="sequential")
    assert "keras.Sequential(" in generate_code(template("mlp"), style="sequential")


def test_invalid_graph_is_refused():
    g = template("mlp").remove_node("dense")
    with pytest.raises(CodegenError, match="has no input"):
        generate_code(g)


def test_crafted_names_never_execute():
    import builtins

    payload = 'x"""\'\'\'); __import__("builtins").PWNED = 1; #\n\u202e<script>alert(1)<\\script>\\'
    g = template("mlp").set_name(payload)
    code = generate_code(g)
    ast.parse(code)
    model = run_code(code)
    assert not hasattr(builtins, "PWNED")
    assert model.name == keras_name(payload) and model.name.startswith("x___")  # TensorFlow-safe


def test_generated_code_passes_ruff(tmp_path):
    for i, (_, type_, inputs, params) in enumerate(CASES):
        (tmp_path / f"case_{i}.py").write_text(generate_code(case_graph(type_, inputs, params)))
    for key in TEMPLATES:
        (tmp_path / f"t_{key}.py").write_text(generate_code(template(key)))
        if is_chain(template(key)):
            (tmp_path / f"s_{key}.py").write_text(generate_code(template(key), style="sequential"))
    out = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--isolated", str(tmp_path)],
                         check=False, capture_output=True, text=True, cwd=pathlib.Path(__file__).parent)
    assert out.returncode == 0, out.stdout[-3000:]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs())
def test_generated_graphs_round_trip(g):
    result = build(g)
    if result.model is None:
        return
    code = generate_code(g)
    ast.parse(code)
    assert_same_model(g, code)


def test_cli_code_writes_module_and_script(tmp_path, capsys):
    from builder.cli.main import main

    graph_path = tmp_path / "g.json"
    template("cifar_cnn").save(graph_path)
    assert main(["code", str(graph_path)]) == 0
    printed = capsys.readouterr().out
    assert printed == generate_code(template("cifar_cnn"))
    out = tmp_path / "model.py"
    assert main(["code", str(graph_path), "-o", str(out)]) == 0
    assert out.read_text() == printed and capsys.readouterr().out.strip() == str(out)
    assert main(["code", str(graph_path), "--script", "-o", str(tmp_path / "train.py")]) == 0
    assert 'if __name__ == "__main__":' in (tmp_path / "train.py").read_text()
    template("small_resnet").save(graph_path)
    assert main(["code", str(graph_path), "--style", "sequential"]) == 1
    assert "single chain" in capsys.readouterr().err


@pytest.mark.parametrize("key,dataset", [("iris_mlp", "iris"), ("lstm_text", "tokens")])
def test_training_script_runs_one_epoch(tmp_path, key, dataset):
    from builder.files.codegen import generate_script

    script = tmp_path / "train.py"
    script.write_text(generate_script(template(key), dataset))
    lint = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--isolated", str(script)], check=False, capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout
    run = subprocess.run([sys.executable, str(script), "--epochs", "1", "--output", str(tmp_path / "out.keras")],
                         check=False, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "test: {" in run.stdout and "accuracy" in run.stdout
    assert (tmp_path / "out.keras").exists() and (tmp_path / "out.h5").exists()
    assert (tmp_path / "out_savedmodel" / "saved_model.pb").exists()


def test_training_script_on_jax_without_tensorflow(tmp_path):
    """The script on Keras's JAX backend, where importing TensorFlow fails (a machine without it): the iris MLP and
    the digits CNN train and save, the tf.distribute strategies stop with a one-line message. The saved .keras
    files, loaded here (TensorFlow backend), evaluate to the test loss and accuracy the script printed."""
    import os

    from builder.data.datasets import BUILTIN
    from builder.kerasenv import load_keras

    cases = [("iris_mlp", "iris"), ("digits_cnn", "digits")]
    for key, dataset in cases:
        (tmp_path / f"{key}_train.py").write_text(generate_script(template(key), dataset))
    runner = (
        "import runpy, sys\n"
        "sys.modules['tensorflow'] = None  # import tensorflow raises ImportError\n"
        f"for key in {[key for key, _ in cases]!r}:\n"
        "    sys.argv = [key + '_train.py', '--epochs', '2', '--output', key + '.keras']\n"
        "    runpy.run_path(key + '_train.py', run_name='__main__')\n"
        "for strategy in ['one', 'mirrored', 'multi-worker']:\n"
        "    sys.argv = ['iris_mlp_train.py', '--strategy', strategy]\n"
        "    try:\n"
        "        runpy.run_path('iris_mlp_train.py', run_name='__main__')\n"
        "    except SystemExit as e:\n"
        "        print('exit:', e)\n"
    )
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    run = subprocess.run([sys.executable, "-c", runner], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=600, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    for key, _ in cases:
        assert f"saved {key}.keras {key}.h5\n" in run.stdout  # no SavedModel without TensorFlow
    assert not list(tmp_path.glob("*_savedmodel"))
    exits = re.findall(r"^exit: (.*)$", run.stdout, re.MULTILINE)
    assert exits == [f"strategy {s} needs the TensorFlow backend (KERAS_BACKEND=tensorflow), and Keras runs on jax "
                     "here: use auto" for s in ["one", "mirrored", "multi-worker"]]
    printed = [ast.literal_eval(m) for m in re.findall(r"test: (\{[^}]*\})", run.stdout)]
    assert len(printed) == len(cases)
    keras = load_keras()
    assert keras.backend.backend() == "tensorflow"
    for (key, dataset), metrics in zip(cases, printed, strict=True):
        model = keras.models.load_model(tmp_path / f"{key}.keras")
        _, _, x_test, y_test = BUILTIN[dataset].load()
        again = model.evaluate(x_test, y_test, return_dict=True, verbose=0)
        assert again["loss"] == pytest.approx(metrics["loss"], rel=1e-4), key
        assert abs(again["accuracy"] - metrics["accuracy"]) <= 1 / len(y_test), key


class FakeKeras:
    """Just what the script's make_strategy asks of Keras, on another backend with these devices."""

    def __init__(self, backend: str, devices: list[str]):
        import types

        self.calls: list = []
        self.backend = types.SimpleNamespace(backend=lambda: backend)
        self.distribution = types.SimpleNamespace(
            list_devices=lambda: devices,
            DataParallel=lambda devices: ("DataParallel", tuple(devices)),
            set_distribution=self.calls.append,
        )


@pytest.mark.parametrize("backend,devices,distribution", [
    ("jax", ["gpu:0", "gpu:1"], ("DataParallel", ("gpu:0", "gpu:1"))),
    ("jax", ["tpu:0", "tpu:1", "tpu:2", "tpu:3"], ("DataParallel", ("tpu:0", "tpu:1", "tpu:2", "tpu:3"))),
    ("jax", ["gpu:0"], None),
    ("jax", ["cpu:0"], None),
    ("torch", ["cuda:0", "cuda:1"], None),  # keras.distribution is JAX's: PyTorch places the model itself
])
def test_script_strategy_on_other_backends(backend, devices, distribution):
    """auto: DataParallel over several JAX accelerators, else nothing (no scope); the others need TensorFlow."""
    scope: dict = {"__name__": "generated"}
    exec(compile(generate_script(template("iris_mlp"), "iris"), "<script>", "exec"), scope)
    fake = FakeKeras(backend, devices)
    scope["keras"] = fake
    assert scope["make_strategy"]("auto") is None
    assert fake.calls == ([distribution] if distribution else [])
    for name in ["one", "mirrored", "multi-worker"]:
        with pytest.raises(SystemExit, match=f"strategy {name} needs the TensorFlow backend .* runs on {backend} here"):
            scope["make_strategy"](name)


def test_tensorflow_only_in_the_tf_distribute_code():
    """The script imports TensorFlow in make_strategy (after the backend check) and in the multi-worker fix only;
    the model code never names it."""
    script = generate_script(template("small_resnet"), "digits")
    tree = ast.parse(script)
    where = []
    for fn in tree.body:
        for node in ast.walk(fn):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [getattr(node, "module", None) or ""] + [a.name for a in node.names]
                if any(n.split(".")[0] == "tensorflow" or "backend.tensorflow" in n for n in names):
                    where.append(getattr(fn, "name", "<module>"))
    assert where == ["make_strategy", "fix_keras_multi_worker", "fix_keras_multi_worker"]
    make = next(fn for fn in tree.body if isinstance(fn, ast.FunctionDef) and fn.name == "make_strategy")
    first_tf = next(i for i, s in enumerate(make.body) if isinstance(s, ast.Import))
    assert "keras.backend.backend()" in ast.unparse(make.body[:first_tf])
    main = next(fn for fn in tree.body if isinstance(fn, ast.FunctionDef) and fn.name == "main")
    assert "fix_keras_multi_worker(model, strategy)" in ast.unparse(main)  # only under --strategy multi-worker
    for key in TEMPLATES:
        assert not re.search(r"\btf\.|tensorflow", generate_code(template(key))), key
    for _, type_, inputs, params in CASES:
        assert not re.search(r"\btf\.|tensorflow", generate_code(case_graph(type_, inputs, params))), type_
