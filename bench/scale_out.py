"""Training on Ray against training in the app's process, and the memory a class server needs, measured together.

- Start to the first epoch: a run recorded in the store until its first epoch row, in-process (TensorFlow loaded,
  as in a running app) and as a Ray task on a cold worker (the cluster's first run: the worker imports TensorFlow)
  and on a warm one (the next run). Target: warm <= 1.5x in-process.
- Training throughput: samples per second of the same run on a warm Ray worker and in-process. Target: >= 0.95x.
- Memory (resident set, /proc): an app server with TensorFlow loaded and one browser session, then per further idle
  session (8 open); a Ray worker process after a run (TensorFlow loaded).

Ray talks over the machine's network unless alone on the loopback: run it in a network namespace of its own,

    unshare --net sh -c 'ip link set lo up && exec .venv/bin/python -m bench.scale_out [--json PATH]'

The digits CNN (the built-in 8x8 digits), 8 epochs, batch 32, as a class would train it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

EPOCHS = 8


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def first_epoch_s(store, run_id: str, timeout: float = 300) -> tuple[float, dict]:
    """Seconds from the run's record to its first epoch row, and the run once it ended."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        run = store.get_run(run_id)
        if run["status"] not in ("queued", "compiling", "running"):
            if run["status"] != "finished":
                raise RuntimeError(f"run {run_id} {run['status']}: {run['message']}")
            import sqlalchemy as sa

            from builder.store import epochs

            with store.engine.connect() as conn:
                first = conn.execute(sa.select(epochs.c.created_at).where(
                    epochs.c.run_id == run_id, epochs.c.epoch == 1)).scalar()
            return first - run["created_at"], run
        time.sleep(0.1)
    raise RuntimeError(f"run {run_id} did not end")


def graph():
    from builder.model.templates import template

    return template("digits_cnn")


def settings() -> dict:
    return {"epochs": EPOCHS, "batch_size": 32, "validation_split": 0.2, "inspect": False}


def in_process(store, artifacts: str) -> tuple[float, float]:
    """(Start to first epoch, samples per second) of one run in this process, TensorFlow already loaded."""
    from builder.data.datasets import load
    from builder.kerasenv import load_keras
    from builder.train.job import TrainingJob
    from builder.train.settings import TrainSettings, suggest_compile

    load_keras()
    data = load("digits")
    s = TrainSettings.from_dict(settings())
    s.compile = suggest_compile(graph(), data.task, data.classes)
    run_id = store.create_run(None, graph(), s.to_dict(), "digits")
    job = TrainingJob(graph(), data, s, store=store, run_id=run_id, artifact_dir=artifacts)
    job.start()
    job.wait()
    seconds, run = first_epoch_s(store, run_id)
    return seconds, run["stats"]["samples_per_s"]


def on_ray(store, queue_settings: dict) -> tuple[float, float]:
    run_id = store.create_run(None, graph(), queue_settings, "digits", backend="ray")
    seconds, run = first_epoch_s(store, run_id)
    return seconds, run["stats"]["samples_per_s"]


def server_memory(db: str, artifacts: str) -> tuple[float, float]:
    """(RSS of a server with TensorFlow loaded and one session, RSS added by each further idle session), in MB."""
    from playwright.sync_api import sync_playwright

    from tests.e2e.helpers import CHROMIUM, CHROMIUM_ARGS, metric_value, start_server

    proc, url = start_server(env={"LAYERCANVAS_DB": db, "LAYERCANVAS_ARTIFACTS": artifacts})
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            pages = []
            for _ in range(8):
                ctx = browser.new_context(viewport={"width": 1400, "height": 900})
                pages.append(ctx.new_page())
                pages[-1].goto(url)
                metric_value(pages[-1], "Total params").wait_for(timeout=120_000)
                if len(pages) == 1:
                    time.sleep(20)  # TensorFlow loads in the background after the first paint
                    one = rss_mb(proc.pid)
            time.sleep(3)
            eight = rss_mb(proc.pid)
            browser.close()
    finally:
        proc.terminate()
        proc.wait(10)
    return one, (eight - one) / 7


def ray_worker_memory() -> float:
    """The largest RSS of this cluster's idle worker processes (TensorFlow loaded by the runs), in MB."""
    found = subprocess.run(["pgrep", "-f", "ray::IDLE"], capture_output=True, text=True).stdout.split()
    return max((rss_mb(int(pid)) for pid in found), default=0.0)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3, help="warm runs and in-process runs to take the median of")
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)
    from bench.report import emit, figure, machine
    from builder.store import Store
    from builder.train.settings import suggest_compile
    from tests.raycluster import RayCluster

    print(machine())
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        db, artifacts = os.path.join(tmp, "lc.db"), os.path.join(tmp, "artifacts")
        store = Store(db)
        local = [in_process(store, os.path.join(artifacts, "runs")) for _ in range(args.reps)]
        cluster = RayCluster(cpus=2)
        env = {**os.environ, "LAYERCANVAS_DB": db, "LAYERCANVAS_ARTIFACTS": artifacts,
               "LAYERCANVAS_RAY": cluster.address, "RAY_USAGE_STATS_ENABLED": "0"}
        dispatcher = subprocess.Popen([sys.executable, "-m", "builder.train.remote", "--parent", str(os.getpid())],
                                      env=env, cwd=Path(__file__).resolve().parents[1],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            from builder.data.datasets import load

            data = load("digits")
            queued = {**settings(), "compile": suggest_compile(graph(), data.task, data.classes).to_dict()}
            cold = on_ray(store, queued)
            warm = [on_ray(store, queued) for _ in range(args.reps)]
            worker_mb = ray_worker_memory()
        finally:
            dispatcher.terminate()
            dispatcher.wait(30)
            cluster.close()
        server_mb, session_mb = server_memory(db, artifacts)
        store.close()
    local_start = statistics.median(s for s, _ in local)
    local_rate = statistics.median(r for _, r in local)
    warm_start = statistics.median(s for s, _ in warm)
    warm_rate = statistics.median(r for _, r in warm)
    results.append(figure("Ray, cold worker: Start to first epoch vs in-process", cold[0] * 1000,
                          local_start * 1000, target=float("inf")))
    results.append(figure("Ray, warm worker: Start to first epoch vs in-process", warm_start * 1000,
                          local_start * 1000, target=1.5))
    results.append(figure("Ray, warm worker: time per sample vs in-process fit (1/throughput)",
                          1000 / warm_rate, 1000 / local_rate, target=1 / 0.95))
    for r in results:
        r["target"] = "report" if r["target"] == float("inf") else r["target"]
    print(f"memory: app server with TensorFlow and one session {server_mb:.0f} MB; each further idle session "
          f"{session_mb:.1f} MB; a Ray worker with TensorFlow loaded {worker_mb:.0f} MB")
    print(f"throughput: warm Ray worker {warm_rate:,.0f} samples/s, in-process {local_rate:,.0f} samples/s")
    results.append({"name": "memory: app server with TensorFlow, one session (MB)", "ours_ms": round(server_mb, 1),
                    "ref_ms": 0.0, "ratio": 0.0, "target": "report", "passed": True})
    results.append({"name": "memory: each further idle session (MB)", "ours_ms": round(session_mb, 1),
                    "ref_ms": 0.0, "ratio": 0.0, "target": "report", "passed": True})
    results.append({"name": "memory: Ray worker with TensorFlow loaded (MB)", "ours_ms": round(worker_mb, 1),
                    "ref_ms": 0.0, "ratio": 0.0, "target": "report", "passed": True})
    return emit(results, args.json)


if __name__ == "__main__":
    main()
