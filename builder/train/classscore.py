"""A class run's score: the trained model on the class's own test split, computed by the server when the run ends
(a student cannot submit a number, nor choose the data it is measured on)."""

from __future__ import annotations

import numpy as np

from builder.classes import HIDDEN, SERVER, hidden_test_split, run_class, set_score
from builder.data.datachoice import DataChoice, load
from builder.data.datasets import Dataset
from builder.model.build import BuildResult
from builder.model.profile import profile
from builder.store import Store, artifact_dir
from builder.train.evaluate import evaluate
from builder.train.settings import CompileSettings


def score_class_run(store: Store, run_id: str, model, built: BuildResult, compile_settings: CompileSettings,
                    dataset=None, result: dict | None = None) -> float | None:
    """Scores a finished run of a class project on the class's test split and records it with the model's
    parameters and MACs (for the leaderboard). The score is the test accuracy (classification data). A class made
    from the teacher's own file is scored on its hidden test split, which the students' data does not hold.

    Args:
        built: The run's build (its MACs are counted from it).
        dataset, result: The data the run trained on and its evaluation: when that data is the class's own
            built-in dataset, its test split is the class's, and the evaluation is not made twice.

    Returns:
        The score, or None when the run is not a class run, the class has no classification data, or the model
        does not take that data (then nothing is recorded).
    """
    found = run_class(store, run_id)
    choice = DataChoice.from_dict(found[1]) if found is not None else None
    if choice is None:
        return None
    if found[1].get(HIDDEN):
        data = _hidden(store, found[0])
    elif result is not None and choice.kind != "upload" and getattr(dataset, "name", None) == choice.name:
        data = dataset
    else:
        data = load(choice, artifact_dir("uploads"))
    if data is dataset:
        predicted = result.get("predicted")
    else:
        shape = model.input_shape
        if isinstance(shape, list) or tuple(shape[1:]) != tuple(data.x_test.shape[1:]):
            return None  # another input than the class's data (or several inputs): not comparable
        predicted = None if data.task != "classification" or len(data.x_test) == 0 else evaluate(
            model, data, compile_settings, samples=0, misclassified=0).get("predicted")
    if data.task != "classification" or predicted is None:
        return None
    score = float(np.mean(np.asarray(predicted) == np.asarray(data.y_test).astype("int64")))
    set_score(store, run_id, score, int(model.count_params()), int(profile(built).total_macs))
    return score


def _hidden(store: Store, class_id: str) -> Dataset:
    """The class's hidden test split as a Dataset to evaluate on (no training part)."""
    x, y, classes = hidden_test_split(store, class_id, SERVER)
    return Dataset("the class's test split", "classification", x[:0], y[:0], x, y, classes,
                   [str(i) for i in range(classes)], "table")
