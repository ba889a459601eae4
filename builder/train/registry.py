"""The job registry: how many jobs run at once (the others wait in line, first come first served), found by id."""

from __future__ import annotations

import os
import threading

from builder.config import number
from builder.train.job import BackgroundJob


def default_max_jobs() -> int:
    """One job per two cores. Jobs share the server's interpreter, and TensorFlow already spreads one job over
    the cores: on 2 cores, four small jobs took about as long two at a time as one after the other (15.7 against
    15.5 s), while every job at once slows the pages that everybody else is using (bench/classroom.py)."""
    return max(1, (os.cpu_count() or 2) // 2)


class JobRegistry:
    """Process-wide: caps how many jobs train at once; the others wait in line.

    Args:
        max_running: Jobs training at once (env LAYERCANVAS_MAX_JOBS, default `default_max_jobs()`).
        keep: Ended jobs kept in memory (their runs stay in the store).
    """

    def __init__(self, max_running: int | None = None, keep: int = 32):
        self.max_running = max_running or number("LAYERCANVAS_MAX_JOBS") or default_max_jobs()
        self.keep = keep
        self._jobs: dict[str, BackgroundJob] = {}
        self._queue: list[BackgroundJob] = []
        self._lock = threading.Lock()

    def submit(self, job: BackgroundJob) -> BackgroundJob:
        """Starts the job now, or queues it."""
        with self._lock:
            self._jobs[job.id] = job
            self._queue.append(job)
            self._prune()
        self._pump()
        return job

    def get(self, run_id: str) -> BackgroundJob | None:
        with self._lock:
            return self._jobs.get(run_id)

    def jobs(self) -> list[BackgroundJob]:
        with self._lock:
            return list(self._jobs.values())

    def running(self) -> int:
        with self._lock:
            return sum(1 for j in self._jobs.values() if j.status in ("compiling", "running"))

    def _pump(self) -> None:
        """Starts queued jobs while there are free slots; updates queue positions."""
        with self._lock:
            self._queue = [j for j in self._queue if not j._done.is_set()]
            busy = sum(1 for j in self._jobs.values() if j._thread is not None and not j._done.is_set())
            starting = []
            while self._queue and busy < self.max_running:
                job = self._queue.pop(0)
                starting.append(job)
                busy += 1
            for i, job in enumerate(self._queue):
                job.queue_position = i + 1
        for job in starting:
            job.queue_position = 0
            job.start()
            threading.Thread(target=self._follow, args=(job,), daemon=True).start()

    def _follow(self, job: BackgroundJob) -> None:
        job.wait()
        self._pump()

    def _prune(self) -> None:
        ended = [j for j in self._jobs.values() if j._done.is_set()]
        for job in sorted(ended, key=lambda j: j.ended or 0)[:max(0, len(ended) - self.keep)]:
            del self._jobs[job.id]
