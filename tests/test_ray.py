"""Training on a Ray cluster (builder/train/remote.py): a local cluster that the tests start, a dispatcher process
as an app server starts it, and the store between them.

Ray talks over the machine's primary interface even when told 127.0.0.1, so these tests run only inside a network
namespace of their own, where the loopback is the only interface: `scripts/test` runs the whole suite in one
(`unshare --net`). Every run here checks that no connection left the loopback.
"""

import os
import signal
import subprocess
import sys
import time

import pytest

from builder.model.templates import template
from builder.store import LimitError, Store
from builder.train import remote

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
A, B, C = "key:" + "a" * 22, "key:" + "b" * 22, "key:" + "c" * 22


def only_loopback_connections() -> list[str]:
    """Every TCP connection of this namespace whose ends are not on the loopback (should be none)."""
    outside = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table, encoding="ascii") as f:
            for line in f.readlines()[1:]:
                local, remote_end = line.split()[1:3]
                for end in (local, remote_end):
                    addr = end.split(":")[0]
                    if addr not in ("0100007F", "00000000", "00000000000000000000000001000000",
                                    "00000000000000000000000000000000", "0000000000000000FFFF00000100007F"):
                        outside.append(end)
    return outside


@pytest.fixture(scope="module")
def cluster(ray_cluster):
    return ray_cluster.address


@pytest.fixture(scope="module")
def app(cluster, tmp_path_factory):
    """A store and artifact folder, and the dispatcher an app server would start on them (its parent: this test
    process). Yields (store, artifacts folder, dispatcher process, environment)."""
    folder = tmp_path_factory.mktemp("ray-app")
    env = {**os.environ, "LAYERCANVAS_DB": str(folder / "lc.db"), "LAYERCANVAS_ARTIFACTS": str(folder / "artifacts"),
           "LAYERCANVAS_RAY": cluster, "RAY_USAGE_STATS_ENABLED": "0"}
    store = Store(folder / "lc.db")
    log = open(folder / "dispatcher.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "builder.train.remote", "--parent", str(os.getpid())], cwd=ROOT,
                            env=env, stdout=log, stderr=log)
    deadline = time.time() + 120
    while (store.service(remote.SERVICE) or ({}, 0))[0].get("ok") is not True:
        assert proc.poll() is None, (folder / "dispatcher.log").read_text()
        assert time.time() < deadline, "the dispatcher never reached the cluster"
        time.sleep(0.5)
    yield store, folder / "artifacts", proc, env
    proc.terminate()
    proc.wait(30)
    log.close()
    store.close()


def queue(store: Store, owner: str = A, epochs: int = 3, name: str = "iris_mlp", **settings) -> str:
    graph = template(name)
    return store.create_run(None, graph, {"epochs": epochs, "batch_size": 16, "validation_split": 0.2, **settings},
                            "iris", owner=owner, backend="ray")


def wait_for(store: Store, run_id: str, check, timeout: float = 180) -> dict:
    deadline = time.time() + timeout
    while True:
        run = store.get_run(run_id)
        if check(run):
            return run
        assert time.time() < deadline, f"run {run_id} stayed {run['status']}: {run['message']}"
        time.sleep(0.2)


def ended(run: dict) -> bool:
    return run["status"] not in ("queued", "compiling", "running")


def test_a_run_trains_to_the_end_on_a_worker_with_one_row_per_epoch(app):
    store, artifacts, proc, _ = app
    run_id = queue(store, epochs=3)
    run = wait_for(store, run_id, ended)
    assert run["status"] == "finished", run["message"]
    assert [e["epoch"] for e in run["epochs"]] == [1, 2, 3]
    assert run["claimed_by"] and run["started_at"] >= run["created_at"]
    assert os.path.isfile(run["artifact_path"]) and str(artifacts) in run["artifact_path"]
    assert os.path.isdir(os.path.join(artifacts, "runs", f"{run_id}.tb"))  # TensorBoard logs beside it
    assert run["result"]["confusion"] and run["result"]["metrics"]["accuracy"] == run["final_metrics"]["accuracy"]
    assert run["progress"]["status"] == "finished" and run["progress"]["epoch"] == 3
    assert only_loopback_connections() == []
    import keras

    model = keras.saving.load_model(run["artifact_path"], safe_mode=True)
    assert model.output_shape == (None, 3)  # iris: three classes


def test_stop_ends_a_run_at_the_next_batch_and_keeps_the_model(app):
    store, _, proc, _ = app
    run_id = queue(store, epochs=2000)
    wait_for(store, run_id, lambda r: len(r["epochs"]) >= 2)
    assert store.request_stop(run_id, owner=A)
    run = wait_for(store, run_id, ended, timeout=30)
    assert run["status"] == "stopped" and run["message"].startswith("Stopped"), run["message"]
    assert os.path.isfile(run["artifact_path"])  # what it learned is kept
    assert len(run["epochs"]) < 2000


def _worker_pid(run_id: str, timeout: float = 60) -> int:
    """The Ray worker process running the run's task (Ray names it after the task while it runs)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = subprocess.run(["pgrep", "-f", f"layercanvas-run-{run_id}"], capture_output=True, text=True)
        pids = [int(p) for p in found.stdout.split()]
        if pids:
            return pids[0]
        time.sleep(0.2)
    raise AssertionError("no worker process runs the task")


def test_a_worker_killed_mid_epoch_fails_its_run_and_the_dispatcher_goes_on(app):
    store, _, proc, _ = app
    run_id = queue(store, epochs=2000)
    wait_for(store, run_id, lambda r: r["status"] == "running" and len(r["epochs"]) >= 1)
    os.kill(_worker_pid(run_id), signal.SIGKILL)
    run = wait_for(store, run_id, ended, timeout=60)
    assert run["status"] == "failed" and run["message"] == remote.DIED_MESSAGE
    assert run["epochs"]  # what it finished is kept
    assert proc.poll() is None  # the dispatcher (and the server that started it) keep going
    after = queue(store, epochs=1)
    assert wait_for(store, after, ended)["status"] == "finished"


def test_the_queue_is_fair_and_the_per_owner_limit_holds(app):
    store, _, _, _ = app
    blockers = [queue(store, owner=C, epochs=2000) for _ in range(2)]  # both CPUs busy: the others wait in line
    for run_id in blockers:
        wait_for(store, run_id, lambda r: r["status"] == "running")
    a_runs = [store.create_run(None, template("iris_mlp"), {"epochs": 5, "batch_size": 16}, "iris", owner=A,
                               backend="ray", limit=3) for _ in range(3)]
    with pytest.raises(LimitError, match="3 runs queued or running"):
        store.create_run(None, template("iris_mlp"), {"epochs": 1}, "iris", owner=A, backend="ray", limit=3)
    b_run = store.create_run(None, template("iris_mlp"), {"epochs": 5, "batch_size": 16}, "iris", owner=B,
                             backend="ray", limit=3)
    assert store.fair_order() == [a_runs[0], b_run, a_runs[1], a_runs[2]]  # B's one run before A's second
    place, _ = remote.queue_estimate(store, b_run)
    assert place == 2
    for run_id in blockers:
        store.request_stop(run_id)
    runs = {r: wait_for(store, r, ended) for r in [*a_runs, b_run]}
    assert all(r["status"] == "finished" for r in runs.values()), [r["message"] for r in runs.values()]
    started = sorted(runs.values(), key=lambda r: r["started_at"])
    assert B in [r["owner_key"] for r in started[:2]]  # taken in the store's order, two at a time


def test_a_run_that_wants_a_gpu_fails_at_once_on_a_cluster_without_one(app):
    store, _, _, _ = app
    run_id = queue(store, epochs=1, strategy="mirrored")
    run = wait_for(store, run_id, ended, timeout=30)
    assert run["status"] == "failed" and run["message"] == remote.NO_GPU_MESSAGE


def test_an_unreachable_cluster_is_reported_in_one_line(tmp_path):
    env = {**os.environ, "LAYERCANVAS_DB": str(tmp_path / "lc.db"), "LAYERCANVAS_RAY": "127.0.0.1:9",
           "RAY_USAGE_STATS_ENABLED": "0"}
    store = Store(tmp_path / "lc.db")
    proc = subprocess.Popen([sys.executable, "-m", "builder.train.remote", "--parent", str(os.getpid())], cwd=ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while store.service(remote.SERVICE) is None:
            assert time.time() < deadline
            time.sleep(0.5)
        problem = remote.cluster_problem(store, "127.0.0.1:9")
        assert problem.startswith("Training is unavailable: the Ray cluster at 127.0.0.1:9 does not answer "
                                  "(LAYERCANVAS_RAY)")
    finally:
        proc.kill()
        proc.wait()


def test_the_command_line_trains_and_searches_through_ray(app, tmp_path, monkeypatch, capsys):
    import json

    from builder.cli.main import main

    store, artifacts, _, env = app
    for key in ("LAYERCANVAS_DB", "LAYERCANVAS_ARTIFACTS", "LAYERCANVAS_RAY"):
        monkeypatch.setenv(key, env[key])
    graph = tmp_path / "iris.json"
    data = template("iris_mlp").to_dict()
    data["search"] = {"space": {"dense.units": {"values": [4, 12]}}}
    graph.write_text(json.dumps(data))
    out = tmp_path / "model.keras"
    assert main(["train", str(graph), "--dataset", "iris", "--epochs", "2", "--out", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["status"] == "finished" and [r["epoch"] for r in result["history"]] == [1, 2]
    assert "accuracy" in result["test"] and out.is_file()
    (run,) = [r for r in store.list_runs(limit=50) if r["owner_key"] is None and r["settings"].get("epochs") == 2
              and "search" not in r["settings"]]
    assert run["backend"] == "ray" and run["claimed_by"]  # it went through the queue, as a Ray task
    assert main(["tune", str(graph), "--dataset", "iris", "--epochs", "2", "--max-trials", "2", "--json"]) == 0
    tuned = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert len(tuned["trials"]) == 2 and all(t["status"] == "ok" for t in tuned["trials"]), tuned
    for trial in tuned["trials"]:
        stored = store.get_run(trial["run_id"])
        assert stored["backend"] == "ray" and stored["claimed_by"] and stored["status"] == "finished"
        assert stored["settings"]["search"]["values"] == trial["values"]
    assert {t["values"]["dense.units"] for t in tuned["trials"]} == {4, 12}


class _FakeRay:
    """Ray as the dispatcher sees it, for what cannot be staged on a real cluster in seconds: a worker that does not
    answer Stop."""

    def __init__(self):
        import ray

        self.exceptions = ray.exceptions
        self.cancelled = []

    def cancel(self, ref, force=False):
        self.cancelled.append((ref, force))

    def wait(self, refs, num_returns, timeout):
        return list(refs), []

    def get(self, ref):
        raise self.exceptions.TaskCancelledError()

    def cluster_resources(self):
        return {"CPU": 2.0}

    def nodes(self):
        return [{"Alive": True}]


def test_a_worker_that_ignores_stop_is_ended_by_force_after_the_grace(tmp_path):
    d = remote.Dispatcher(str(tmp_path / "lc.db"), str(tmp_path / "artifacts"), "auto")
    fake = d._ray = _FakeRay()
    run_id = queue(d.store)
    assert d.store.claim_next(d.name)["id"] == run_id
    d.store.set_run_status(run_id, "running")
    d.refs = {"ref-1": run_id}
    d.force_stops()
    assert fake.cancelled == []  # no Stop yet
    d.store.request_stop(run_id)
    d.force_stops()
    assert fake.cancelled == []  # within the grace: the worker ends it itself, keeping the model
    from builder.store import runs

    with d.store.engine.begin() as conn:  # Stop was pressed longer ago than the grace
        conn.execute(runs.update().where(runs.c.id == run_id).values(stop_at=time.time() - remote.STOP_GRACE_S - 1))
    d.force_stops()
    d.force_stops()
    assert fake.cancelled == [("ref-1", True)]  # once, by force
    d.collect()
    run = d.store.get_run(run_id)
    assert run["status"] == "stopped" and run["message"] == remote.FORCED_MESSAGE.format(grace=remote.STOP_GRACE_S)
    assert d.refs == {}
    d.store.close()


def test_a_dispatcher_whose_server_is_gone_takes_no_new_run(tmp_path):
    gone = subprocess.Popen(["true"])
    gone.wait()
    d = remote.Dispatcher(str(tmp_path / "lc.db"), str(tmp_path / "artifacts"), "auto", parent_pid=gone.pid)
    d._ray = _FakeRay()
    run_id = queue(d.store)
    d.tick()
    assert d.store.get_run(run_id)["claimed_by"] is None  # left for a dispatcher whose server is alive
    assert d._should_end()  # and nothing of its own under way: it ends
    d.store.close()
