"""Fuzzing (issue 8): the CI sample of bench/fuzz.py, and one regression test per crash the fuzzer found.

The sample runs every target of tests/fuzzing.py with a few hundred cases (bench/fuzz.py runs 10,000): no case
may crash, and the counts must show that the fuzzer reached both results and refusals, so it is not only
producing garbage that the first check throws out.
"""

from __future__ import annotations

import copy
import json
import time

import pytest

from bench.fuzz import SHARES, split
from builder.data.datasets import DatasetError, parse_csv, parse_image_zip, parse_npz
from builder.files.codegen import CodegenError, generate_script
from builder.files.importer import ModelImportError, import_model
from builder.model.build import build
from builder.model.graph import Graph, GraphEditError, GraphError, GraphFormatError
from builder.model.templates import template
from builder.model.validate import check_structure
from tests import fuzzing
from tests.fuzzing import (
    Case,
    DatasetTarget,
    OracleFailure,
    _config_of,
    _npy_bytes,
    _pets,
    _with_config,
    _zip,
    fuzz,
    message_problem,
    model_file,
    report,
)
from tests.layer_cases import CASES, case_graph

# Cases per target in CI (about 30 s in all on the idle 2-core machine, TensorFlow's start included).
SAMPLE = {"graph": 500, "params": 500, "datasets": 250, "importer": 200}


# ---------------------------------------------------------------------------
# The CI sample
# ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tallies():
    return {name: fuzz(name, n, seed=0) for name, n in SAMPLE.items()}


@pytest.mark.parametrize("name", sorted(SAMPLE))
def test_no_case_crashes(tallies, name):
    tally = tallies[name]
    assert tally.cases == SAMPLE[name]
    assert not tally.crashes, report([tally])
    assert tally.successes + tally.refused == tally.cases


@pytest.mark.parametrize("name", sorted(SAMPLE))
def test_the_fuzzer_reaches_results_and_refusals(tallies, name):
    """At least 3% of the cases end in a result and 30% in a refusal, for more than one reason."""
    tally = tallies[name]
    assert tally.successes >= 0.03 * tally.cases, report([tally])
    assert tally.refused >= 0.3 * tally.cases, report([tally])
    assert sum(len(r) for r in tally.reasons.values()) >= 10  # different messages, not one refusal over and over


def test_graph_files_are_refused_when_read_and_when_built(tallies):
    refusals = tallies["graph"].refusals
    assert refusals["GraphFormatError"] > 0
    assert sum(n for key, n in refusals.items() if key.startswith("issue ")) > 0


def test_every_case_kind_is_drawn(tallies):
    kinds = {name: set(t.kinds) for name, t in tallies.items()}
    assert {"json", "fields", "template", "generated", "text"} <= kinds["graph"]
    assert {"set_param", "set_params", "add_node", "wrapped", "as_is"} <= kinds["params"]
    assert {"random", "mutated", "wrong", "csv_table", "npz_arrays", "zip_images"} <= kinds["datasets"]
    assert {"valid", "truncated", "flipped", "random", "wrong", "zip_text", "config", "h5config", "cap",
            "lambda", "special"} <= kinds["importer"]


def test_params_reach_every_catalog_layer(tallies):
    # the fixed cases build every row of tests/layer_cases.py unedited (a crash if one does not)
    assert tallies["params"].kinds["as_is"] == sum(len(rows) for rows in CASES.values())


def test_the_same_seed_gives_the_same_cases():
    a, b, c = (fuzz("graph", 80, seed=s, fixed=False) for s in (5, 5, 6))
    assert a.reasons == b.reasons and a.kinds == b.kinds and a.successes == b.successes
    assert (a.reasons, a.kinds) != (c.reasons, c.kinds)


def test_bench_splits_the_cases_exactly():
    assert sum(split(10_000, list(SHARES)).values()) == 10_000
    assert split(7, ["graph", "importer"]) == {"graph": 5, "importer": 2}


@pytest.mark.parametrize("message, problem", [
    ("Dense 'head' got (None, 13): add Flatten before it", None),
    ("", "empty message"),
    ("first line\nsecond line", "message on several lines"),
    ("Keras could not load 'm.keras': unhashable type: 'list'", "message leaks an internal error"),
    ("'x.png' could not be read (cannot identify image file <_io.BytesIO object at 0x7f3a2c>)", "leaks"),
    ("KeyError: 'units'", "leaks"),
    ("'units'", "message is a bare repr"),
    ("x" * 5000, "message of 5000 characters"),
])
def test_the_oracle_tells_plain_messages_from_leaks(message, problem):
    found = message_problem(message)
    assert (found is None) if problem is None else (problem in found)


class _Fake:
    """A target whose cases say what to do: return, raise, or sleep."""

    name, expected = "fake", (GraphError,)

    def label(self, case):
        return case.kind

    def run(self, case):
        what = case.args[0]
        if what == "sleep":
            time.sleep(0.05)
            return None
        if isinstance(what, BaseException):
            raise what
        return what


@pytest.mark.parametrize("what, verdict, kind", [
    (None, "success", None),
    (("issue shape", "Dense 'd' got (None, 3): add Flatten before it"), "refusal", None),
    (GraphError("the graph has no Input: add one"), "refusal", None),
    (GraphError("Keras could not load it: 'NoneType' object has no attribute 'shape'"), "crash", "bad message"),
    (("issue shape", "first\nsecond"), "crash", "bad message"),
    (KeyError("units"), "crash", "KeyError"),
    (OracleFailure("the summary disagrees with Keras"), "crash", "oracle"),
    ("sleep", "crash", "slow"),
])
def test_record_files_each_outcome(monkeypatch, what, verdict, kind):
    monkeypatch.setattr(fuzzing, "SLOW_SECONDS", 0.01)
    tally = fuzzing.Tally("fake")
    fuzzing.record(_Fake(), Case("k", (what,)), tally)
    assert tally.by_label == {("k", verdict): 1}
    assert [c.kind for c in tally.crashes] == ([kind] if kind else [])


# ---------------------------------------------------------------------------
# Regression tests: each crash the fuzzer found, as it was found
# ---------------------------------------------------------------------------
def _graph_text(**changes) -> str:
    d = template("mlp").to_dict()
    for key, value in changes.items():
        if key == "units":
            d["nodes"][1]["params"]["units"] = value
        else:
            d[key] = value
    return json.dumps(d)


@pytest.mark.parametrize("text, fragment", [
    (_graph_text().replace('"units": 16', '"units": -1e999'), "Dense 'dense': \"params.units\" is -inf"),
    (_graph_text().replace('"format"', '"compile": {"learning_rate": 1e999}, "format"'),
     '"compile.learning_rate" is inf'),
])
def test_numbers_out_of_range_are_refused_when_read(text, fragment):
    """Was: read as inf, then ValueError (Out of range float values are not JSON compliant) when saved."""
    with pytest.raises(GraphFormatError) as e:
        Graph.loads(text)
    assert fragment in str(e.value) and "write a finite number" in str(e.value)
    with pytest.raises(GraphFormatError):
        Graph.from_dict(json.loads(text))  # a share link decodes to the same dict


def test_a_layout_coordinate_too_large_for_a_float_is_dropped():
    """Was: OverflowError (int too large to convert to float) reading the layout."""
    g = Graph.loads(_graph_text(layout={"input": [int("1" + "0" * 400), 0], "dense": [1, 2]}))
    assert g.layout == {"dense": [1.0, 2.0]}
    assert Graph.loads(g.dumps()) == g


@pytest.mark.parametrize("depth", [101, 600, 900])
def test_deeply_nested_files_are_refused(depth):
    """Was: RecursionError copying the params (Python's json reads up to about 990 levels)."""
    text = _graph_text().replace('"units": 16', '"units": ' + "[" * depth + "]" * depth)
    with pytest.raises(GraphFormatError, match="nests lists or objects more than 100 deep"):
        Graph.loads(text)
    assert Graph.loads(_graph_text().replace('"units": 16', '"units": ' + "[" * 90 + "]" * 90))  # read, then invalid


def test_text_from_the_file_stays_on_one_line_in_messages():
    """Was: an issue message on two lines for a param named '\\n' (and for a type with a newline)."""
    d = template("mlp").to_dict()
    d["nodes"][1]["params"]["\n"] = 1
    d["nodes"][2]["type"] = "Dense\nok"
    messages = [i.message for i in check_structure(Graph.from_dict(d))]
    assert any("has no parameter '\\n'" in m for m in messages)
    assert any("Dense\\nok 'dense_1'" in m for m in messages)
    assert all("\n" not in m for m in messages)


def test_a_required_param_of_a_wrapped_layer_cannot_be_reset():
    """Was: accepted, leaving a graph whose validation says the wrapped Dropout needs 'rate'."""
    g = case_graph("TimeDistributed", *CASES["TimeDistributed"][0])
    g = g.set_param("layer", "layer", {"type": "Dropout", "params": {"rate": 0.5}})
    with pytest.raises(GraphEditError, match=r"\(wrapped Dropout\) needs 'rate': it has no default"):
        g.set_param("layer", "layer.rate", None)
    assert g.set_param("layer", "layer.seed", None).node("layer").params["layer"]["params"] == {"rate": 0.5}


@pytest.mark.parametrize("digits, fragment", [
    (400, "expected a number, got 100000000"),  # was OverflowError (int too large to convert to float)
    (5000, "expected a number, got about 10**5000"),  # was ValueError (Exceeds the limit (4300 digits) ...)
])
def test_whole_numbers_too_large_for_a_float_are_refused(digits, fragment):
    value = 10**digits
    g = case_graph("Rescaling", *CASES["Rescaling"][0])
    with pytest.raises(GraphEditError) as e:
        g.set_param("layer", "scale", value)
    assert fragment in str(e.value) and message_problem(str(e.value)) is None


IMG, SEQ = [8, 8, 3], [5, 6]


@pytest.mark.parametrize("type_, inputs, params, fragment", [
    # the catalog now refuses what Keras fails on with a Python error
    ("Permute", [SEQ], {"dims": 1}, "dims expected a list of axes, e.g. [2, 1], got 1"),  # 'int' object is not iterable
    ("Permute", [SEQ], {"dims": [0, 1]}, "dims expected axes >= 1, got [0, 1]"),
    ("Concatenate", [[4], [3]], {"axis": [1]}, "axis expected one axis (a whole number), got [1]"),  # unsupported operand
    ("BatchNormalization", [IMG], {"axis": [1, 2]}, "axis expected one axis"),  # int() argument must be ... 'tuple'
    ("PReLU", [IMG], {"shared_axes": [0]}, "shared_axes expected axes >= 1, got [0]"),
    # axes the input does not have: Keras says "tuple index out of range"; the issue names the setting
    ("BatchNormalization", [IMG], {"axis": 7}, "axis=7 names an axis its input does not have (4 axes, the batch axis"),
    ("PReLU", [IMG], {"shared_axes": [1, 9]}, "shared_axes=[1, 9] names an axis its input does not have"),
    ("LayerNormalization", [SEQ], {"axis": [9]}, "axis=[9] names an axis its input does not have (3 axes"),
])
def test_settings_keras_fails_on_get_plain_messages(type_, inputs, params, fragment):
    errors = build(case_graph(type_, inputs, params)).errors
    assert errors and fragment in errors[0].message, [e.message for e in errors]
    assert message_problem(errors[0].message) is None


def test_the_training_script_of_a_graph_without_outputs_is_refused():
    """Was: IndexError (list index out of range) picking the loss before the graph was checked."""
    g = Graph.from_dict({"format": "layercanvas-graph", "version": 1})
    with pytest.raises(CodegenError, match="no Input"):
        generate_script(g)
    g = template("two_outputs").set_outputs([])
    with pytest.raises(CodegenError, match="no output"):
        generate_script(g)


def test_library_reprs_stay_out_of_upload_messages():
    """Was: "... (cannot identify image file <_io.BytesIO object at 0x7f...>)" and numpy's "<ast.Call object at ...>"."""
    files = _pets(5)
    files["pets/cat/bad.png"] = b"not an image at all"
    with pytest.raises(DatasetError) as e:
        parse_image_zip(_zip(files), "pets.zip")
    assert "cannot identify image file" in str(e.value) and " at 0x" not in str(e.value)
    npz = _zip([("x_train.npy", _npy_bytes(("<f4", 20, (3,), "range", "no_dict"))),
                ("y_train.npy", _npy_bytes(("<i8", 20, (), "mod2", None)))])
    with pytest.raises(DatasetError) as e:
        parse_npz(npz, "d.npz")
    assert str(e.value).startswith("x_train in d.npz is damaged (") and " at 0x" not in str(e.value)


def test_a_nested_model_without_a_config_is_refused():
    """Was: AttributeError ('int' object has no attribute 'get') in the check before Keras."""
    data = _zip({"config.json": json.dumps({"class_name": "Functional", "config": {
        "layers": [{"class_name": "Functional", "config": 3}]}}), "model.weights.h5": b"x"})
    with pytest.raises(ModelImportError, match="the nested model .* has no config"):
        import_model(data, filename="m.keras")


def test_keras_python_errors_on_a_damaged_config_become_one_plain_line():
    """Was: "Keras could not load 'm.keras': unhashable type: 'list'" (a layer name replaced by a list)."""
    config = copy.deepcopy(_config_of("template:mlp", "keras"))
    config["config"]["layers"][1]["config"]["name"] = [1, 2]
    with pytest.raises(ModelImportError) as e:
        import_model(_with_config("template:mlp", "keras", json.dumps(config)), filename="m.keras")
    assert "is damaged: its model config holds a value of the wrong kind" in str(e.value)
    assert message_problem(str(e.value)) is None


@pytest.mark.parametrize("fmt", ["keras", "h5"])
def test_a_small_file_declaring_huge_layers_is_refused_without_allocating_them(fmt):
    """Was: a 20 kB .keras with Dense(units=10**9) made Keras allocate 4 x 10**9 weights (16 GB, 100 s) before
    it noticed the stored weights did not fit. The model is now first built without values (StatelessScope)."""
    config = copy.deepcopy(_config_of("template:mlp", fmt))
    dense = [layer for layer in config["config"]["layers"] if layer["class_name"] == "Dense"]
    dense[0]["config"]["units"] = 10**9
    dense[1]["build_config"] = {"input_shape": [None, 10**9]}
    start = time.perf_counter()
    with pytest.raises(ModelImportError):
        import_model(_with_config("template:mlp", fmt, json.dumps(config)), filename=f"huge.{fmt}")
    assert time.perf_counter() - start < 10


def test_models_with_more_weights_than_the_limit_are_refused_before_loading():
    data = model_file("template:mlp", "keras")  # 225 weights
    with pytest.raises(ModelImportError, match=r"describes a model with 225 parameters .*the limit is 100 parameters: "
                                               r"set LAYERCANVAS_MAX_PARAMS to allow more"):
        import_model(data, filename="m.keras", max_params=100)
    assert import_model(data, filename="m.keras", max_params=225).graph.nodes == template("mlp").nodes


def test_the_fixed_cases_cover_each_special_upload():
    target = DatasetTarget()
    kinds = {c.kind for c in target.fixed()}
    assert {"over_limit", "zip_bomb", "zip_bomb_forged", "too_many_entries", "image_bomb", "traversal"} <= kinds
    with pytest.raises(DatasetError, match="Unsafe path in zip"):
        target.run(Case("traversal", ("../../etc/passwd.png",)))
    with pytest.raises(DatasetError, match="could be decompression bomb"):  # Pillow's own refusal
        target.run(Case("image_bomb", (100_000,)))
    with pytest.raises(DatasetError, match="is 10000x10000 pixels; the limit is 40,000,000 pixels: shrink it"):
        target.run(Case("image_bomb", (10_000,)))
    with pytest.raises(DatasetError, match=r"unpacks to \d+ GB; the limit is 500 MB"):
        target.run(Case("zip_bomb_forged", ("zip",)))


def test_a_missing_target_column_lists_the_columns_clipped():
    """Was: a 5,000-character message: with '|' between fields the whole header is one column name."""
    header = "|".join(f"w{i}" for i in range(1000))
    data = (header + "\n" + "\n".join("|".join("1" for _ in range(1000)) for _ in range(12))).encode()
    with pytest.raises(DatasetError) as e:
        parse_csv(data, "wide.csv", target="w5")
    assert "has no column 'w5'; its columns are w0|w1|w2|" in str(e.value) and len(str(e.value)) < 200
