"""Strategies: TF_CONFIG checks, fallbacks, batch size against replicas, worker timeouts, and two real workers
training the same graph through the CLI and through the exported script."""

import json
import os
import socket
import subprocess
import sys
import time
import types

import pytest

from builder.files.codegen import generate_script
from builder.model.templates import template
from builder.train.distribute import (
    StrategyError,
    check_batch,
    is_chief,
    make_strategy,
    parse_tf_config,
    wait_for_workers,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def tf_config(ports, index):
    return json.dumps({"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
                       "task": {"type": "worker", "index": index}})


@pytest.mark.parametrize("text,fragment", [
    (None, "needs the TF_CONFIG"),
    ("{", "not valid JSON"),
    ('{"task": {}}', '"cluster" object'),
    ('{"cluster": {"ps": ["a:1"]}, "task": {"type": "ps", "index": 0}}', "not supported"),
    ('{"cluster": {"worker": []}, "task": {"type": "worker", "index": 0}}', "non-empty list"),
    ('{"cluster": {"worker": ["nohost"]}, "task": {"type": "worker", "index": 0}}', "host:port"),
    ('{"cluster": {"worker": ["a:99999"]}, "task": {"type": "worker", "index": 0}}', "1 to 65535"),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "chief", "index": 0}}', "must name one of"),
    ('{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 2}}', "index must be 0 to 1"),
])
def test_malformed_tf_config_is_refused_with_a_message(text, fragment):
    with pytest.raises(StrategyError, match=fragment):
        parse_tf_config(text)


def test_chief_is_worker_zero_or_the_chief_task():
    assert is_chief(parse_tf_config(tf_config([1, 2], 0)))
    assert not is_chief(parse_tf_config(tf_config([1, 2], 1)))
    with_chief = {"cluster": {"chief": ["a:1"], "worker": ["b:2"]}, "task": {"type": "worker", "index": 0}}
    assert not is_chief(parse_tf_config(json.dumps(with_chief)))


def test_mirrored_without_a_gpu_falls_back_with_a_notice():
    notes = []
    strategy = make_strategy("mirrored", notes)
    assert strategy.num_replicas_in_sync == 1
    assert notes and "none is visible" in notes[0]
    assert make_strategy("one").num_replicas_in_sync == 1
    with pytest.raises(StrategyError, match="unknown strategy"):
        make_strategy("tpu")


def test_batch_smaller_than_replicas_is_refused():
    with pytest.raises(StrategyError, match="at least 4"):
        check_batch(2, types.SimpleNamespace(num_replicas_in_sync=4))
    check_batch(4, types.SimpleNamespace(num_replicas_in_sync=4))


def test_a_worker_that_never_comes_up_times_out():
    ports = free_ports(2)
    started = time.monotonic()
    with pytest.raises(StrategyError, match=f"worker 1 at 127.0.0.1:{ports[1]} did not come up within 1 s"):
        wait_for_workers(parse_tf_config(tf_config(ports, 0)), timeout=1)
    assert time.monotonic() - started < 10


def run_workers(commands, ports, cwd, timeout=600):
    procs = []
    for i, cmd in enumerate(commands):
        env = {**os.environ, "TF_CONFIG": tf_config(ports, i), "LAYERCANVAS_WORKER_TIMEOUT": "120",
               "PYTHONPATH": ROOT, "CUDA_VISIBLE_DEVICES": ""}
        procs.append(subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outs = []
    try:
        for p in procs:
            out, err = p.communicate(timeout=timeout)
            outs.append((p.returncode, out, err))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    return outs


def test_two_workers_train_through_the_cli(tmp_path):
    graph = tmp_path / "g.json"
    graph.write_text(template("iris_mlp").dumps())
    ports = free_ports(2)
    cmd = [sys.executable, "-m", "builder", "train", str(graph), "--dataset", "iris", "--epochs", "2",
           "--learning-rate", "0.01", "--strategy", "multi-worker", "--out", str(tmp_path / "model.keras"), "--json"]
    outs = run_workers([cmd, cmd], ports, tmp_path)
    for code, _out, err in outs:
        assert code == 0, err[-3000:]
    results = [json.loads(out.strip().splitlines()[-1]) for _, out, _ in outs]
    assert all(r["status"] == "finished" for r in results)
    history = results[0]["history"]
    assert len(history) == 2 and history[1]["loss"] < history[0]["loss"]
    assert results[0]["model"] == str(tmp_path / "model.keras") and results[1]["model"] is None
    from builder.kerasenv import load_keras

    assert load_keras().models.load_model(tmp_path / "model.keras").count_params() == 243


def test_two_workers_run_the_exported_script(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(generate_script(template("iris_mlp"), "iris"))
    ports = free_ports(2)
    cmd = [sys.executable, str(script), "--epochs", "2", "--strategy", "multi-worker", "--output",
           str(tmp_path / "out.keras")]
    outs = run_workers([cmd, cmd], ports, tmp_path)
    for code, _, err in outs:
        assert code == 0, err[-3000:]
    assert "saved" in outs[0][1] and "the chief saves the model" in outs[1][1]
    assert (tmp_path / "out.keras").exists() and (tmp_path / "out.h5").exists()


def test_the_cli_gives_up_on_a_missing_worker_with_a_message(tmp_path):
    graph = tmp_path / "g.json"
    graph.write_text(template("iris_mlp").dumps())
    ports = free_ports(2)
    env = {**os.environ, "TF_CONFIG": tf_config(ports, 0), "LAYERCANVAS_WORKER_TIMEOUT": "3", "PYTHONPATH": ROOT}
    started = time.monotonic()
    run = subprocess.run([sys.executable, "-m", "builder", "train", str(graph), "--dataset", "iris", "--epochs", "1",
                          "--strategy", "multi-worker"], env=env, cwd=tmp_path, capture_output=True, text=True,
                         timeout=300, check=False)
    assert run.returncode == 1
    assert f"worker 1 at 127.0.0.1:{ports[1]} did not come up within 3 s" in run.stderr
    assert "Traceback" not in run.stderr
    assert time.monotonic() - started < 120


def test_malformed_tf_config_in_the_cli(tmp_path, capsys, monkeypatch):
    from builder.cli.main import main

    graph = tmp_path / "g.json"
    graph.write_text(template("iris_mlp").dumps())
    monkeypatch.setenv("TF_CONFIG", '{"cluster": ')
    assert main(["train", str(graph), "--dataset", "iris", "--strategy", "multi-worker"]) == 1
    assert "error: strategy: TF_CONFIG is not valid JSON" in capsys.readouterr().err
