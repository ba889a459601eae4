"""A trained model on the test data: metrics, the confusion matrix, sample predictions and misclassified examples."""

from __future__ import annotations

from builder.train.settings import CompileSettings


def evaluate(model, dataset, compile_settings: CompileSettings, samples: int = 8, misclassified: int = 16) -> dict:
    """Test metrics, predictions on a few samples and, for classes, the confusion matrix.

    Returns:
        {"metrics": {"loss", ...}, "samples": [{"index", "true", "pred", "confidence"}],
         "confusion": [[...]] (rows = true class) or None, "misclassified": [test indices],
         "misclassified_pred": [the predicted class of each], "predicted": [the predicted class of every test
         sample] (classification only: the examples behind a confusion-matrix cell)}
    """
    import numpy as np

    x, y = dataset.x_test, dataset.y_test
    if len(x) == 0:
        return {"metrics": {}, "samples": [], "confusion": None, "misclassified": []}
    y_fit = y
    if compile_settings.loss == "categorical_crossentropy" and y.ndim == 1:
        y_fit = np.eye(max(int(dataset.classes), int(y.max()) + 1), dtype="float32")[y]
    elif compile_settings.loss == "binary_crossentropy" and y.ndim == 1:
        y_fit = y.astype("float32").reshape(-1, 1)
    metrics = model.evaluate(x, y_fit, verbose=0, return_dict=True)
    metrics = {k: float(v) for k, v in metrics.items()}
    pred = _predict(model, x)
    out = {"metrics": metrics, "samples": [], "confusion": None, "misclassified": []}
    if dataset.task == "classification":
        if pred.ndim == 2 and pred.shape[1] > 1:
            probs = pred if not compile_settings.from_logits else _softmax(pred)
            labels, conf = probs.argmax(axis=1), probs.max(axis=1)
        else:
            p = pred.reshape(len(pred), -1)[:, 0]
            p = 1 / (1 + np.exp(-p)) if compile_settings.from_logits else p
            labels, conf = (p > 0.5).astype("int64"), np.where(p > 0.5, p, 1 - p)
        k = max(int(dataset.classes), int(labels.max()) + 1, int(y.max()) + 1)
        matrix = np.zeros((k, k), dtype="int64")
        np.add.at(matrix, (y.astype("int64"), labels), 1)
        out["confusion"] = matrix.tolist()
        out["predicted"] = labels.astype("int64").tolist()
        out["misclassified"] = [int(i) for i in np.flatnonzero(labels != y)[:misclassified]]
        out["misclassified_pred"] = [int(labels[i]) for i in out["misclassified"]]
        out["samples"] = [{"index": i, "true": int(y[i]), "pred": int(labels[i]), "confidence": float(conf[i])}
                          for i in range(min(samples, len(x)))]
    else:
        flat = pred.reshape(len(pred), -1)[:, 0]
        out["samples"] = [{"index": i, "true": float(np.ravel(y[i])[0]), "pred": float(flat[i])}
                          for i in range(min(samples, len(x)))]
    return out


DIRECT_PREDICT = 1024  # test sets this small are predicted in one direct call (no predict function to trace)


def _predict(model, x):
    """The model's outputs on `x`: one direct call for small sets (`predict` traces a function first, about 0.1 s),
    `predict` in batches otherwise."""
    import numpy as np

    if len(x) <= DIRECT_PREDICT:
        from builder.kerasenv import load_keras

        out = model(x, training=False)
        convert = load_keras().ops.convert_to_numpy
        return np.asarray([convert(o) for o in out] if isinstance(out, (list, tuple)) else convert(out))
    return np.asarray(model.predict(x, verbose=0))


def _softmax(z):
    import numpy as np

    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)
