"""A class run's score: the trained model on the class's own test split, computed by the server when the run ends
(a student cannot submit a number, nor choose the data it is measured on)."""

from __future__ import annotations

import numpy as np

from builder.classes import run_class_data, set_score
from builder.data.datachoice import DataChoice, load
from builder.model.graph import Graph
from builder.model.profile import profile
from builder.store import Store, artifact_dir
from builder.train.evaluate import evaluate
from builder.train.settings import CompileSettings


def score_class_run(store: Store, run_id: str, model, graph: Graph, compile_settings: CompileSettings) -> float | None:
    """Scores a finished run of a class project on the class's test split and records it with the model's
    parameters and MACs (for the leaderboard). The score is the test accuracy (classification data).

    Returns:
        The score, or None when the run is not a class run, the class has no classification data, or the model
        does not take that data (then nothing is recorded).
    """
    choice = DataChoice.from_dict(run_class_data(store, run_id))
    if choice is None:
        return None
    data = load(choice, artifact_dir("uploads"))
    if data.task != "classification" or len(data.x_test) == 0:
        return None
    shape = model.input_shape
    if isinstance(shape, list) or tuple(shape[1:]) != tuple(data.x_test.shape[1:]):
        return None  # another input than the class's data (or several inputs): not comparable
    result = evaluate(model, data, compile_settings, samples=0, misclassified=0)
    predicted = result.get("predicted")
    if predicted is None:
        return None
    score = float(np.mean(np.asarray(predicted) == np.asarray(data.y_test).astype("int64")))
    set_score(store, run_id, score, int(model.count_params()), int(profile(graph).total_macs))
    return score
