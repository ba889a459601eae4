"""Built-in datasets: no download, declared shapes and classes, fixed splits."""

import numpy as np
import pytest

from builder.datasets import BUILTIN, builtin


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_builtin_matches_its_description(name):
    info = builtin(name)
    x_train, y_train, x_test, y_test = info.load()
    assert x_train.shape[1:] == info.input_shape and x_test.shape[1:] == info.input_shape
    assert len(x_train) == len(y_train) and len(x_test) == len(y_test)
    assert len(x_train) + len(x_test) == info.size
    assert 0 < len(x_test) < len(x_train)
    if info.task == "classification":
        assert set(np.unique(np.concatenate([y_train, y_test]))) == set(range(info.classes))
    else:
        assert info.classes == 0 and y_train.dtype == np.float32
    again = info.load()
    np.testing.assert_array_equal(again[0], x_train)  # the split is fixed


def test_unknown_dataset_lists_the_names():
    with pytest.raises(KeyError, match="iris"):
        builtin("mnist_offline")


def test_compile_settings_follow_the_labels_and_the_last_activation():
    from builder.templates import template
    from builder.training import suggest_compile

    logits = suggest_compile(template("cifar_cnn"), "classification", 10)  # head has no activation: logits
    assert (logits.loss, logits.from_logits) == ("sparse_categorical_crossentropy", True)
    probs = suggest_compile(template("iris_mlp"), "classification", 3)
    assert (probs.loss, probs.from_logits) == ("sparse_categorical_crossentropy", False)
    assert suggest_compile(template("mlp"), "regression", 0).loss == "mse"
    optimizer, loss, metrics = logits.keras_objects()
    assert type(optimizer).__name__ == "Adam" and loss.get_config()["from_logits"] is True
    assert metrics[0].name == "accuracy"
    g = template("mlp")
    saved = g.__class__(g.nodes, g.edges, g.name, extra={"compile": {"optimizer": "sgd", "loss": "'; import os", "learning_rate": -1}})
    hostile = suggest_compile(saved, "regression", 0)
    assert (hostile.optimizer, hostile.loss, hostile.learning_rate) == ("sgd", "mse", 0.001)  # bad values ignored
