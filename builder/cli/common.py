"""What the commands share: graph files in, problems and results out (one line each), datasets by name or path,
and following a background job."""

from __future__ import annotations

import os
import sys

from builder.model.graph import Graph


def _same_target() -> bool:
    """stdout and stderr go to the same place (a terminal, or `2>&1`): print problems once."""
    try:
        out, err = os.fstat(sys.stdout.fileno()), os.fstat(sys.stderr.fileno())
    except (OSError, ValueError, AttributeError):  # captured streams without file descriptors
        return False
    return (out.st_dev, out.st_ino) == (err.st_dev, err.st_ino)


def one_line(text: str) -> str:
    """A problem as one printable line: messages quote user text (layer types, param names), and a
    newline or carriage return in it must not start a line that reads like another result ("ok")."""
    return "".join(ch if ch.isprintable() or ch == " " else ascii(ch)[1:-1] for ch in str(text))


def print_problems(lines: list[str], to_stdout: bool) -> None:
    """Problem lines: on stderr, and also on stdout when they are the command's output; one line each."""
    for line in map(one_line, lines):
        if to_stdout:
            print(line)
        if not (to_stdout and _same_target()):
            print(line, file=sys.stderr)


def load_graph(path: str) -> Graph:
    return Graph.load(path)


def write_output(text: str, path: str | None) -> None:
    """Prints, or writes to `path` whole (a temp file renamed, so no half-written file is left)."""
    if not path:
        sys.stdout.write(text)
        return
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    print(path)


def open_dataset(value: str, graph: Graph):
    """A built-in or Keras dataset name, or the path of a .csv, .npz or image .zip file.

    Raises:
        DatasetError: unknown name, unreadable or invalid file.
    """
    from builder.data import datasets

    if not os.path.exists(value):
        return datasets.load(value)
    name = os.path.basename(value)
    ext = os.path.splitext(name)[1].lower()
    parsers = {".csv": datasets.parse_csv, ".npz": datasets.parse_npz, ".zip": datasets.parse_image_zip}
    if ext not in parsers:
        raise datasets.DatasetError(f"{name}: use a .csv, .npz or .zip (image folders) file, or a dataset name")
    size = os.path.getsize(value)
    if size > datasets.MAX_UPLOAD_BYTES:
        raise datasets.DatasetError(f"{name} is {size / datasets.MB:.0f} MB; the limit is "
                                    f"{datasets.MAX_UPLOAD_BYTES // datasets.MB} MB: "
                                    f"{datasets.allow_more(datasets.UPLOAD_SETTING)}")
    with open(value, "rb") as f:
        data = f.read()
    if ext == ".zip":
        inputs = [graph.node(i).params.get("shape") for i in graph.input_ids()]
        shape = tuple(inputs[0]) if len(inputs) == 1 and inputs[0] and len(inputs[0]) == 3 else None
        return datasets.parse_image_zip(data, name, image_shape=shape)
    return parsers[ext](data, name)


def checked_dataset(value: str, graph: Graph):
    """The dataset (`open_dataset`) when the model fits it; else None, its problems printed (one line each)."""
    from builder.data import compat
    from builder.data.datasets import DatasetError

    try:
        data = open_dataset(value, graph)
    except DatasetError as e:
        print_problems([f"error: dataset: {e}"], to_stdout=False)
        return None
    problems = [i for i in compat.check(graph, data) if i.level == "error"]
    if problems:
        print_problems([f"error: {i.node_id or 'graph'}: {i.message}" for i in problems], to_stdout=False)
        return None
    return data


def follow(job, rows, show, done=lambda row: True) -> None:
    """Starts a background job and shows each new row of its snapshot as it comes, until it ends; Ctrl+C stops it
    (what it finished is kept).

    Args:
        job: A `BackgroundJob` (training or search).
        rows: snapshot -> the list of rows so far (epochs, trials).
        show: Called with each new row in turn; None shows nothing (`--json`).
        done: Whether a row is final; the rows from the first one that is not wait for the next look.
    """
    job.start()
    shown = 0
    try:
        while True:
            ended = job.wait(0.2)
            for row in rows(job.snapshot())[shown:]:
                if not done(row):
                    break
                if show is not None:
                    show(row)
                shown += 1
            if ended:
                break
    except KeyboardInterrupt:
        job.stop()
        job.wait()
