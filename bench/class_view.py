"""The class view's data for a big class: a generated class of 200 students with 2,000 runs (10 each: finished with
scores, some running with live progress), on SQLite and, with --pg, on a PostgreSQL server started for the run.

Times `builder.classes.overview` (the teacher's grid: every student's latest project and run) and
`builder.classes.leaderboard`, p95 over the repetitions, and counts the SELECTs each makes: the same number whatever
the size of the class (aggregates and indexes, not a query per student). Then the whole page in headless Chromium
(unless --no-browser): a teacher (the teacher key) opens the Class page of the same generated class, from the
address to its first page of cards drawn (every card's drawing and button). Target (issue 26): the class view
opens in <= 1 s (p95).

Usage:
    python bench/class_view.py [--students N] [--runs-each K] [--reps R] [--pg] [--no-browser] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import emit

TARGET_MS = 1000.0


def populate(store, students: int, runs_each: int, teacher: str = "user:teacher@school.org"):
    """A class of `teacher`'s with `students`, each with the handed-out project and `runs_each` runs (the last of
    every fifth student still running, with a published progress of 200 batch points)."""
    import sqlalchemy as sa

    from builder import classes as cl
    from builder.model.templates import template
    from builder.store import runs

    c = cl.create_class(store, teacher, "Big class", data={"kind": "builtin", "name": "iris"})
    cl.hand_out(store, c.id, teacher, template("iris_mlp"))
    rnd = random.Random(0)
    graph = template("iris_mlp")
    progress = json.dumps({"status": "running", "epoch": 3, "epochs": 10, "batches": [[i, 0.5] for i in range(200)]})
    for i in range(students):
        who = f"key:student{i:04d}" + "x" * 12
        cl.join(store, c.token, who, f"Student {i:03d}")
        (pid,) = cl.class_projects(store, c.id, who)
        for k in range(runs_each):
            run = store.create_run(pid, graph, {"epochs": 10}, "iris", owner=who)
            if k == runs_each - 1 and i % 5 == 0:
                with store.transaction() as conn:
                    conn.execute(runs.update().where(runs.c.id == run).values(status="running", progress=progress))
            else:
                store.finish_run(run, "finished", {"accuracy": rnd.random()})
                cl.set_score(store, run, rnd.random(), 243, rnd.randint(200, 5000))
    with store.transaction(write=False) as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(runs)).scalar() == students * runs_each
    return c, teacher


def timed(store, call, reps: int) -> tuple[list[float], int]:
    """ms of each of `reps` calls, and the SELECTs one call makes."""
    import sqlalchemy as sa

    seen: list[str] = []

    def count(conn, cursor, statement, *args):
        seen.append(statement)

    call()  # warm: connections, statement caches
    sa.event.listen(store.engine, "before_cursor_execute", count)
    call()
    sa.event.remove(store.engine, "before_cursor_execute", count)
    selects = sum(1 for s in seen if s.lstrip().upper().startswith(("SELECT", "WITH")))
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        call()
        times.append((time.perf_counter() - t) * 1000)
    return times, selects


def p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=20)[18] if len(times) >= 2 else times[0]


def measure(location, label: str, students: int, runs_each: int, reps: int) -> list[dict]:
    from builder import classes as cl
    from builder.store import Store

    with Store(location) as store:
        t = time.perf_counter()
        c, teacher = populate(store, students, runs_each)
        made_s = time.perf_counter() - t
        out = []
        for name, call in (("overview (the teacher's grid)", lambda: cl.overview(store, c.id, teacher)),
                           ("leaderboard", lambda: cl.leaderboard(store, c.id, teacher))):
            times, selects = timed(store, call, reps)
            ours = p95(times)
            out.append({"name": f"{label}: {name}, {students} students, {students * runs_each} runs, p95",
                        "ours_ms": round(ours, 1), "ref_ms": TARGET_MS, "ratio": round(ours / TARGET_MS, 3),
                        "target": f"<= {TARGET_MS:.0f} ms", "passed": ours <= TARGET_MS,
                        "note": f"p50 {statistics.median(times):.1f} ms; {selects} SELECTs a call; class made in "
                                f"{made_s:.0f} s"})
        return out


def page_open(students: int, runs_each: int, reps: int) -> list[dict]:
    """The Class page in a real browser: a teacher's first page of cards, from the address to every card drawn."""
    import sqlalchemy as sa
    from playwright.sync_api import sync_playwright

    from bench.browser import chromium_missing, start_server
    from builder.store import Store, teachers
    from tests.e2e.helpers import CHROMIUM, CHROMIUM_ARGS

    if chromium_missing():
        return []
    key = "bench-teacher-key"
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        db = str(Path(tmp) / "class.db")
        proc, url, _ = start_server(db, env={"LAYERCANVAS_TEACHER_KEY": key})
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(url + "/classes")
            page.get_by_text("I teach: enter the teacher key").click()
            page.get_by_role("textbox", name="Teacher key", exact=True).fill(key)
            page.get_by_role("button", name="Enter").click()
            page.get_by_label("Class name").wait_for(timeout=60_000)
            with Store(db) as store:
                with store.transaction(write=False) as conn:
                    teacher = conn.execute(sa.select(teachers.c.owner)).scalar_one()
                populate(store, students, runs_each, teacher)
            cards = ("() => [...document.querySelectorAll('button')].filter(b => b.textContent.trim() === "
                     "'Open (read-only)').length === 24 && document.querySelectorAll('[data-testid=\"stImage\"] img')"
                     ".length === 24 && [...document.querySelectorAll('[data-testid=\"stImage\"] img')]"
                     ".every(i => i.complete && i.naturalWidth > 0)")
            times = []
            for i in range(reps + 2):
                t = time.perf_counter()
                page.goto(url + "/classes")
                page.wait_for_function(cards, timeout=60_000, polling="raf")
                if i >= 2:
                    times.append((time.perf_counter() - t) * 1000)
        finally:
            browser.close()
            proc.terminate()
            proc.wait(10)
    ours = p95(times)
    return [{"name": f"browser: the Class page, {students} students, {students * runs_each} runs: address -> first "
                     f"{24} cards drawn, p95", "ours_ms": round(ours, 1), "ref_ms": TARGET_MS,
             "ratio": round(ours / TARGET_MS, 3), "target": f"<= {TARGET_MS:.0f} ms", "passed": ours <= TARGET_MS,
             "note": f"p50 {statistics.median(times):.0f} ms over {reps} page loads (SQLite)"}]


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=200)
    parser.add_argument("--runs-each", type=int, default=10)
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--pg", action="store_true", help="also on a PostgreSQL server started for the run")
    parser.add_argument("--no-browser", action="store_true", help="the store part only")
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        results += measure(Path(tmp) / "class.db", "SQLite", args.students, args.runs_each, args.reps)
    if args.pg:
        from tests.pgserver import PostgresServer

        server = PostgresServer()
        try:
            results += measure(server.create_db(), "PostgreSQL", args.students, args.runs_each, args.reps)
        finally:
            server.close()
    if not args.no_browser:
        results += page_open(args.students, args.runs_each, min(args.reps, 20))
    return emit(results, args.json)


if __name__ == "__main__":
    main()
