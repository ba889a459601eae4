"""keras.applications networks through LayerCanvas (a representative set; scripts/check_applications.py runs all 40).

Each one: saved as .keras with random weights (its constant-initialized statistics made random too), imported with
Keras's exact parameter count, its generated code builds the same model, and both predict what the original does on
the same weights. Small inputs keep it quick: the parameter counts do not depend on the image size.
"""

import pytest

from scripts.check_applications import TOLERANCE, check

# Keras's own counts at any input size (its documentation's table: 5.3M, 2.5M, 28.6M, 8.1M).
REPRESENTATIVE = {
    "EfficientNetB0": ((32, 32, 3), 5_330_571),  # Normalization (adapted), Rescaling, Dropout with noise_shape
    "MobileNetV3Small": ((32, 32, 3), 2_554_968),  # hard_silu; hard sigmoid written as keras.ops arithmetic
    "ConvNeXtTiny": ((32, 32, 3), 28_589_128),  # Normalization (given), LayerScale, nested Sequential, ops Add
    "DenseNet121": ((32, 32, 3), 8_062_504),  # 429 layers
}


@pytest.mark.parametrize("name", sorted(REPRESENTATIVE))
def test_application_imports_exactly_and_its_code_predicts_the_same(name):
    shape, params = REPRESENTATIVE[name]
    row = check(name, input_shape=shape)
    assert row.error == "", row.error
    assert row.keras_params == row.imported_params == params
    assert row.code_ok, row.notes
    assert row.diff_import <= TOLERANCE and row.diff_code <= TOLERANCE, (row.diff_import, row.diff_code)
    assert row.ok


def test_the_check_sees_wrong_weights(monkeypatch):
    """The comparison has teeth: without the imported weights the predictions are far from the original's."""
    import builder.model.build

    monkeypatch.setattr(builder.model.build, "apply_weights", lambda model, weights: [])  # check() imports it when run
    row = check("MobileNetV3Small", input_shape=(32, 32, 3))
    assert row.error == "" and row.keras_params == row.imported_params
    assert row.diff_import > 1e-2 and row.diff_code > 1e-2 and not row.ok


def test_generated_code_imports_the_application_layers_it_uses():
    import ast

    from builder.files.codegen import generate_code, generate_script
    from builder.model.build import build_model
    from builder.model.graph import Edge, Graph, Node

    g = Graph((Node("x", "Input", {"shape": [4, 4, 3]}),
               Node("LayerScale", "LayerScale", {"init_values": 0.5, "projection_dim": 3}),
               Node("CustomScaleLayer", "CustomScaleLayer", {"scale": 0.17})),
              (Edge("x", "LayerScale"), Edge("x", "CustomScaleLayer", 0), Edge("LayerScale", "CustomScaleLayer", 1)),
              name="ids_like_classes")
    code = generate_code(g)
    assert "from keras.src.applications.convnext import LayerScale" in code
    assert "from keras.src.applications.inception_resnet_v2 import CustomScaleLayer" in code
    assert "LayerScale_ = LayerScale(0.5, 3, name='LayerScale')(x)" in code.replace('"', "'")
    scope: dict = {}
    exec(compile(code, "<generated>", "exec"), scope)
    got, expected = scope["build_model"](), build_model(g)
    assert got.get_config() == expected.get_config() and got.count_params() == expected.count_params() == 3
    # the training script (and the notebook) copy build_model(), imports included
    script = ast.parse(generate_script(g))
    body = next(f for f in script.body if isinstance(f, ast.FunctionDef) and f.name == "build_model").body
    assert any(isinstance(s, ast.ImportFrom) and s.module == "keras.src.applications.convnext" for s in body)
