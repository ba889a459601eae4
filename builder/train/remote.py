"""Training on a Ray cluster (`LAYERCANVAS_RAY`): the worker's task, and the dispatcher that feeds it from the store.

The queue lives in the store, not in any process: the app (or the CLI) records a run with `backend="ray"`, and a
dispatcher takes runs from it in fair order (`Store.claim_next`) as the cluster has room, each as one Ray task
(`max_retries=0`) with its resource request. The task trains in a Ray worker process with the same `TrainingJob` as
in-process training, which writes everything a page shows into the store and the artifact folder: per-epoch
metrics, its live progress (also its heartbeat), the result, the model and its logs. Stop is a flag in the store that
the job reads every second; a worker that has not ended its run a few seconds after Stop is cancelled by force.
A worker that dies marks its run failed (the dispatcher sees the task fail), and a run whose heartbeat stops (a lost
node, a dispatcher that died with its tasks) is marked failed by any dispatcher.

Ray is driven from a process of its own, never from Streamlit's script threads (`ray.init` replaces signal
handlers): each app server starts one dispatcher (`python -m builder.train.remote`); the CLI drives its own run.
Several dispatchers share one queue safely: a run is claimed in one atomic update. No Streamlit here.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import re
import secrets
import socket
import sys
import time
from collections.abc import Callable

from builder.config import number, text
from builder.store import Store, StoreError, artifact_dir, default_location, pid_alive, run_file

SERVICE = "ray"  # the store's `services` row where dispatchers report the cluster they see
HEARTBEAT_LOST_S = 30.0  # a run under way whose worker said nothing for this long is lost (its node, or its driver)
STOP_GRACE_S = 5.0  # after Stop, a worker that has not ended its run by then is ended by force
DISPATCH_EVERY_S = 0.5
REPORT_EVERY_S = 2.0
RETRY_CONNECT_S = 5.0
SERVICE_STALE_S = 20.0  # a report older than this: no dispatcher is reporting (the app starts one again)
LOST_MESSAGE = ("Lost contact with the worker that trained this run (its machine, or the server that sent it, went "
                "away). The epochs it finished are kept; start it again to train it to the end.")
DIED_MESSAGE = ("The worker that trained this run died (killed, or out of memory). The epochs it finished are kept; "
                "try a smaller batch size or model, or start it again.")
FORCED_MESSAGE = "Stopped by force: its worker did not answer within {grace:.0f} s of Stop. The model was not kept."
NO_GPU_MESSAGE = ("This run asks for a GPU (strategy mirrored), and the Ray cluster has none: choose the strategy "
                  "auto or one to train on CPUs, or add a worker with a GPU.")


class RemoteError(Exception):
    """A Ray setting that cannot be used; str(e) is one line that names it."""


def ray_address() -> str | None:
    """`LAYERCANVAS_RAY` checked: None (train in-process), "auto" or a Ray address.

    Raises:
        RemoteError: The value is neither "auto" nor an address (host:port or ray://host:port).
    """
    value = text("LAYERCANVAS_RAY")
    if not value:
        return None
    if value == "auto" or re.fullmatch(r"(ray://)?[A-Za-z0-9_.\-\[\]:]+:\d{1,5}", value):
        return value
    raise RemoteError(f"LAYERCANVAS_RAY={value[:80]!r} is not a Ray address: use auto (the cluster started with "
                      "ray start on this machine), host:port, or ray://host:port")


def gpus_wanted(settings: dict) -> int:
    """GPUs a run asks Ray for: the mirrored strategy trains on every GPU of its machine (one at least)."""
    return 1 if (settings or {}).get("strategy") == "mirrored" else 0


def cpus_wanted() -> float:
    """CPUs each run asks Ray for (`LAYERCANVAS_RAY_CPUS`)."""
    return float(number("LAYERCANVAS_RAY_CPUS"))


def start_weights_path(artifacts: str, run_id: str) -> str:
    """Where the app leaves the weights a Ray run starts from (`<artifacts>/<run>.start.npz`)."""
    return run_file(artifacts, run_id, ".start.npz")


def save_start_weights(artifacts: str, run_id: str, weights: dict | None) -> None:
    """Writes node id -> arrays for the worker (nothing for None or empty)."""
    if not weights:
        return
    import numpy as np

    os.makedirs(artifacts, exist_ok=True)
    arrays = {f"{node}\x1f{i}": np.asarray(a) for node, values in weights.items() for i, a in enumerate(values)}
    path = start_weights_path(artifacts, run_id)
    tmp = path + ".tmp.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def load_start_weights(artifacts: str, run_id: str) -> dict:
    """What `save_start_weights` wrote (an empty dict when nothing was)."""
    path = start_weights_path(artifacts, run_id)
    if not os.path.isfile(path):
        return {}
    import numpy as np

    out: dict[str, list] = {}
    with np.load(path, allow_pickle=False) as data:
        for key in sorted(data.files, key=lambda k: (k.rpartition("\x1f")[0], int(k.rpartition("\x1f")[2]))):
            out.setdefault(key.rpartition("\x1f")[0], []).append(data[key])
    return out


# -- in the worker ---------------------------------------------------------------------------------------------
_worker_stores: dict[str, Store] = {}
_worker_data: dict[str, object] = {}


def _threads_for_tensorflow() -> None:
    """TensorFlow's thread pools sized to the CPUs Ray gave this task (Ray sets OMP_NUM_THREADS only); possible
    only before TensorFlow's first operation in this process, so the first task of a worker sets them."""
    try:
        import ray

        cpus = ray.get_runtime_context().get_assigned_resources().get("CPU")
        if cpus:
            from builder.kerasenv import load_keras

            load_keras()
            import tensorflow as tf

            tf.config.threading.set_intra_op_parallelism_threads(max(1, math.ceil(cpus)))
            tf.config.threading.set_inter_op_parallelism_threads(max(1, min(2, math.ceil(cpus))))
    except Exception:  # noqa: BLE001 - TensorFlow already started in this worker: its pools stay as they are
        pass


def dataset_for(graph, artifacts_root: str):
    """The data a run's graph names (its data choice), loaded once per worker process."""
    from builder.data import datachoice, datasets

    choice = datachoice.in_graph(graph)
    if choice is None:
        raise datasets.DatasetError("the run's graph names no data: pick the data on the Data page")
    cached = _worker_data.get(choice.key)
    if cached is None:
        if choice.kind == "upload":
            cached = datachoice.load(choice, os.path.join(artifacts_root, "uploads"))
        else:
            cached = datasets.load(choice.name)
        _worker_data.clear()  # one dataset kept per worker: they can be large
        _worker_data[choice.key] = cached
    return cached


def execute(location: str, artifacts_root: str, run_id: str) -> str:
    """The Ray task: trains the stored run `run_id` here, as in-process training does, and returns its final status.

    Everything the app shows goes into the store (through the store's `TrainingJob`) and `<artifacts_root>/runs`.
    A cancel (KeyboardInterrupt from `ray.cancel`) stops the run at the next batch, keeping the model.
    """
    from builder.train.job import TrainingJob, failure_message
    from builder.train.settings import TrainSettings

    store = _worker_stores.get(location)
    if store is None:
        store = _worker_stores[location] = Store(location)
    run = store.get_run(run_id)
    if run is None or run["status"] != "queued":
        return run["status"] if run else "gone"
    _threads_for_tensorflow()
    runs_dir = os.path.join(artifacts_root, "runs")
    try:
        if run["graph"] is None:
            raise ValueError("the run's graph cannot be read any more")
        settings = TrainSettings.from_dict(run["settings"])
        data = dataset_for(run["graph"], artifacts_root)
        weights = load_start_weights(runs_dir, run_id)
        job = TrainingJob(run["graph"], data, settings, weights=weights, store=store, run_id=run_id,
                          project_id=run["project_id"], artifact_dir=runs_dir, owner=run["owner_key"])
    except Exception as e:  # noqa: BLE001 - the run fails with a message; the task never raises for bad input
        store.finish_run(run_id, "failed", None, message=failure_message(e))
        return "failed"
    if store.stop_requested(run_id):
        job.stop()
    job.start()
    try:
        while not job.wait(0.5):
            pass
    except KeyboardInterrupt:  # ray.cancel: as Stop
        job.stop()
        job.wait(60)
    with contextlib.suppress(OSError):
        os.remove(start_weights_path(runs_dir, run_id))
    return job.status


# -- the dispatcher --------------------------------------------------------------------------------------------
class Dispatcher:
    """Feeds queued Ray runs to the cluster and watches them; one per app server (or one CLI run).

    Args:
        location: The store (a SQLite file or a PostgreSQL URL); the workers open it too.
        artifacts_root: The artifact folder every worker mounts (`LAYERCANVAS_ARTIFACTS`).
        address: The Ray cluster ("auto", host:port, ray://host:port).
        only: Dispatch only this run (the CLI's own), and end when it has ended.
        parent_pid: End when this process is gone and no run of ours is under way (an app server's dispatcher).
    """

    def __init__(self, location: str, artifacts_root: str, address: str, only: str | None = None,
                 parent_pid: int | None = None, on_tick: Callable[[], None] | None = None):
        self.location, self.artifacts_root, self.address = str(location), str(artifacts_root), address
        self.only, self.parent_pid, self.on_tick = only, parent_pid, on_tick
        self.name = f"{socket.gethostname()}/{os.getpid()}/{secrets.token_hex(3)}"
        self.store = Store(self.location)
        self.refs: dict = {}  # ObjectRef -> run id, of the tasks this dispatcher sent
        self.forced: set[str] = set()
        self.cluster: dict = {}
        self._reported = 0.0
        self._ray = None
        self._task = None

    def connect(self) -> bool:
        """ray.init on the cluster; reports to the store either way. Returns whether it is connected."""
        import ray

        problem = _unreachable(self.address)
        if problem is not None:  # ray.init would wait for minutes on an address where nothing answers
            self.report(ok=False, error=problem)
            return False
        try:
            ray.init(address=self.address, ignore_reinit_error=True, logging_level="WARNING", log_to_driver=False,
                     runtime_env={"env_vars": {"PYTHONPATH": _project_root()}})
        except Exception as e:  # noqa: BLE001 - ConnectionError, a timeout, a bad address: said to every server
            self.report(ok=False, error=_one_line(e))
            return False
        self._ray = ray
        self._task = ray.remote(execute)  # exported once; every run is a call of it
        self.report(ok=True)
        return True

    def report(self, ok: bool, error: str | None = None) -> None:
        info = {"ok": ok, "address": self.address, "dispatcher": self.name}
        if ok and self._ray is not None:
            res = self._ray.cluster_resources()
            self.cluster = {"cpus": float(res.get("CPU", 0)), "gpus": float(res.get("GPU", 0)),
                            "nodes": len([n for n in self._ray.nodes() if n.get("Alive")])}
            info.update(self.cluster, cpus_per_run=cpus_wanted())
        if error:
            info["error"] = error
        with contextlib.suppress(StoreError):
            self.store.set_service(SERVICE, info)
        self._reported = time.monotonic()

    def run(self) -> None:
        """The loop: connect (again every few seconds while the cluster does not answer), then dispatch and watch
        until told to end (`only` ended, or the parent server gone with nothing of ours under way)."""
        while self._ray is None:
            if self.connect():
                break
            if self._should_end():
                return
            time.sleep(RETRY_CONNECT_S)
        while True:
            try:
                self.tick()
            except StoreError:  # the database does not answer for a moment: try again
                pass
            if self.on_tick is not None:
                self.on_tick()
            if self._should_end():
                return
            time.sleep(DISPATCH_EVERY_S)

    def _should_end(self) -> bool:
        if self.only is not None:
            run = self.store.get_run(self.only)
            return run is None or (run["status"] not in ("queued", "compiling", "running") and not self.refs)
        if self.parent_pid is not None and not pid_alive(self.parent_pid):
            return not self.refs
        return False

    def tick(self) -> None:
        """One round: collect ended tasks, end by force what ignores Stop, fail lost runs, send what fits."""
        if time.monotonic() - self._reported >= REPORT_EVERY_S:
            self.report(ok=True)
        self.collect()
        self.force_stops()
        self.store.fail_lost(HEARTBEAT_LOST_S, LOST_MESSAGE)
        if self.parent_pid is None or pid_alive(self.parent_pid):  # an orphan only sees its own runs to their end
            self.dispatch()

    def collect(self) -> None:
        if not self.refs:
            return
        ray = self._ray
        done, _ = ray.wait(list(self.refs), num_returns=len(self.refs), timeout=0)
        for ref in done:
            run_id = self.refs.pop(ref)
            try:
                ray.get(ref)
            except ray.exceptions.TaskCancelledError:
                self.store.end_run_if_active(run_id, "stopped", FORCED_MESSAGE.format(grace=STOP_GRACE_S))
            except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError, ray.exceptions.ActorDiedError,
                    ray.exceptions.LocalRayletDiedError):
                self.store.end_run_if_active(run_id, "failed", DIED_MESSAGE)
            except Exception as e:  # noqa: BLE001 - any other failure of the task: the run says it
                cause = getattr(e, "cause", None) or e
                self.store.end_run_if_active(run_id, "failed", f"Training failed on the cluster: {_one_line(cause)}")
            else:
                self.store.end_run_if_active(run_id, "failed", "The worker ended without ending the run.")

    def force_stops(self) -> None:
        now = time.time()
        for ref, run_id in list(self.refs.items()):
            if run_id in self.forced:
                continue
            asked = self.store.stop_requested(run_id)
            if asked is not None and now - asked > STOP_GRACE_S:
                self.forced.add(run_id)
                self._ray.cancel(ref, force=True)

    def dispatch(self) -> None:
        """Sends queued runs while the cluster has CPUs free for them (counted from the store, so several
        dispatchers share the cluster), in the store's fair order; a run that wants a GPU the cluster lacks fails."""
        per_run = cpus_wanted()
        while True:
            free = self.cluster.get("cpus", 0.0) - self.store.ray_runs_under_way() * per_run
            gpus = self.cluster.get("gpus", 0.0)

            def skip(run: dict, free=free, gpus=gpus) -> bool:
                if self.only is not None and run["id"] != self.only:
                    return True
                wants = gpus_wanted(run["settings"])
                return (wants and gpus < wants) or free < per_run

            run = self.store.claim_next(self.name, skip=skip)
            if run is None:
                self._fail_gpu_runs(gpus)
                return
            self.send(run)

    def _fail_gpu_runs(self, gpus: float) -> None:
        if gpus > 0:
            return
        for run_id in self.store.fair_order():
            run = self.store.get_run(run_id)
            if run is not None and gpus_wanted(run["settings"]) and (self.only in (None, run_id)):
                claimed = self.store.claim_next(self.name, skip=lambda r, rid=run_id: r["id"] != rid)
                if claimed is not None:
                    self.store.end_run_if_active(run_id, "failed", NO_GPU_MESSAGE)

    def send(self, run: dict) -> None:
        task = self._task.options(num_cpus=cpus_wanted(), num_gpus=gpus_wanted(run["settings"]), max_retries=0,
                                  name=f"layercanvas-run-{run['id']}")
        self.refs[task.remote(self.location, self.artifacts_root, run["id"])] = run["id"]


def spawn_dispatcher(parent: int | None = None, only: str | None = None, log_path: str | None = None):
    """Starts a dispatcher process (`python -m builder.train.remote`) with this process's settings; returns it.

    It is a process of its own: `ray.init` must not run in another program's threads (Streamlit's), and it outlives
    the process that started it until the runs it sent have ended (`start_new_session`: a Ctrl+C or a kill of the
    server's process group does not reach it)."""
    import subprocess

    args = [sys.executable, "-m", "builder.train.remote"]
    if parent is not None:
        args += ["--parent", str(parent)]
    if only is not None:
        args += ["--only", only]
    if log_path is not None:
        os.makedirs(os.path.dirname(log_path), exist_ok=True)
        with open(log_path, "ab") as log:  # the child keeps its own copy
            return subprocess.Popen(args, cwd=_project_root(), stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                    start_new_session=True)
    return subprocess.Popen(args, cwd=_project_root(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL, start_new_session=True)


def graph_naming_data(graph, value: str, artifacts_root: str):
    """`graph` naming the data `value` (a dataset name, or a local .csv/.npz/.zip file) as its data choice, so a
    worker on another machine reads the same data: a file is kept in the artifact folder's uploads, as the app
    keeps an upload."""
    from builder.data import datachoice

    choice = datachoice.named(value)
    if choice is None and os.path.isfile(value):
        with open(value, "rb") as f:
            data = f.read()
        choice = datachoice.upload(data, os.path.basename(value))
        datachoice.keep_upload(os.path.join(artifacts_root, "uploads"), choice, data)
    return datachoice.into_graph(graph, choice)


class StoredRun:
    """A run that a Ray worker trains, followed through the store: the part of `TrainingJob`'s interface that the
    command line and a search use (start, wait, stop, snapshot, history, result, model)."""

    def __init__(self, store: Store, run_id: str):
        self.store, self.id = store, run_id
        self.created = time.time()
        self._run = store.get_run(run_id) or {}
        self._model = None

    def start(self) -> None:
        """Nothing to do: the run waits in the store's queue for a dispatcher."""

    def refresh(self) -> dict:
        self._run = self.store.get_run(self.id) or self._run
        return self._run

    def wait(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with contextlib.suppress(StoreError):
                self.refresh()
            if not self.active:
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())) if deadline is not None else 0.2)

    def stop(self) -> None:
        with contextlib.suppress(StoreError):
            self.store.request_stop(self.id)

    @property
    def status(self) -> str:
        return self._run.get("status", "queued")

    @property
    def active(self) -> bool:
        return self.status in ("queued", "compiling", "running")

    @property
    def message(self) -> str | None:
        return self._run.get("message")

    @property
    def notes(self) -> list[str]:
        return list((self._run.get("progress") or {}).get("notes") or [])

    @property
    def history(self) -> list[dict]:
        return [{"epoch": e["epoch"], **e["metrics"]} for e in self._run.get("epochs", [])]

    @property
    def result(self) -> dict | None:
        return self._run.get("result")

    def snapshot(self) -> dict:
        live = self._run.get("progress") or {}
        settings = self._run.get("settings") or {}
        return {"id": self.id, "status": self.status, "message": self.message, "epoch": len(self.history),
                "epochs": settings.get("epochs", 1), "batch": live.get("batch", 0), "steps": live.get("steps", 1),
                "elapsed_s": time.time() - self.created, "samples_per_s": live.get("samples_per_s", 0.0),
                "history": self.history, "batches": live.get("batches") or [], "result": self.result,
                "queue_position": 0, "artifact_path": self._run.get("artifact_path"), "notes": self.notes,
                "inspect": None}

    @property
    def model(self):
        """The trained model, read from the run's `.keras` file once it ended (None before, or without one)."""
        path = self._run.get("artifact_path")
        if self._model is None and path and os.path.isfile(path) and not self.active:
            from builder.kerasenv import load_keras

            self._model = load_keras().saving.load_model(path, safe_mode=True)
        return self._model

    def trained_weights(self) -> dict:
        model = self.model
        return {} if model is None else {layer.name: layer.get_weights() for layer in model.layers if layer.weights}


def queue_estimate(store: Store, run_id: str) -> tuple[int, float | None] | None:
    """A waiting Ray run's place in line (1: next) and an estimated wait in seconds (None: nothing to go by yet);
    None when the run does not wait in line."""
    order = store.fair_order()
    if run_id not in order:
        return None
    place = order.index(run_id) + 1
    seen = store.service(SERVICE)
    info = seen[0] if seen else {}
    slots = max(1, int(info.get("cpus", 0) // max(info.get("cpus_per_run", 1.0), 0.01))) if info.get("cpus") else 1
    durations = sorted(store.run_seconds())
    if not durations:
        return place, None
    typical = durations[len(durations) // 2]
    return place, math.ceil(place / slots) * typical


def cluster_problem(store: Store, address: str) -> str | None:
    """Why training cannot start on Ray now (what the dispatchers last reported), or None."""
    seen = store.service(SERVICE)
    if seen is None:
        return None  # no report yet: the dispatcher is starting
    info, when = seen
    if info.get("ok") is False and time.time() - when < SERVICE_STALE_S + RETRY_CONNECT_S:
        return (f"Training is unavailable: the Ray cluster at {address} does not answer (LAYERCANVAS_RAY). "
                f"{info.get('error') or ''}").strip()
    return None


def _unreachable(address: str, timeout: float = 3.0) -> str | None:
    """Why nothing answers at a host:port Ray address (one TCP connection tried), or None ("auto" is not checked
    here: ray.init says at once when no cluster runs on this machine)."""
    if address == "auto":
        return None
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            return None
    except (OSError, ValueError) as e:
        return f"nothing answers at {host}:{port} ({_one_line(e)})"


def _project_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _one_line(e: BaseException, limit: int = 300) -> str:
    line = " ".join(str(e).split()) or type(e).__name__
    return line if len(line) <= limit else line[: limit - 1] + "…"


def main(argv: list[str] | None = None) -> int:
    """`python -m builder.train.remote [--parent PID] [--only RUN]`: an app server's dispatcher (the app starts it),
    or the command line's for its own run."""
    parser = argparse.ArgumentParser(prog="python -m builder.train.remote", description=__doc__.splitlines()[0])
    parser.add_argument("--parent", type=int, default=None, help="end when this process is gone")
    parser.add_argument("--only", default=None, help="dispatch this run only, and end when it has ended")
    args = parser.parse_args(argv)
    try:
        address = ray_address()
        if address is None:
            print("LAYERCANVAS_RAY is not set: nothing to dispatch", file=sys.stderr)
            return 2
        location = default_location()
        Dispatcher(str(location), str(artifact_dir()), address, only=args.only, parent_pid=args.parent).run()
    except (RemoteError, StoreError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
