"""bench/class_sim.py: the class simulation behaves as a queue must."""

import pytest

from bench.class_sim import simulate, table


def test_enough_machines_means_no_wait_only_the_cold_start_and_one_epoch():
    waits = simulate(students=10, machines=10, slots=1, job_s=10.0, epochs=5, cold_s=3.0, warm_s=0.5, seed=1)
    assert waits == pytest.approx([3.0 + 2.0] * 10)


def test_one_machine_serves_the_class_in_turn_and_warm_workers_start_faster():
    waits = simulate(students=3, machines=1, slots=1, job_s=100.0, epochs=10, cold_s=3.0, warm_s=0.5, seed=2)
    assert waits[0] == pytest.approx(13.0)  # cold start, then the first epoch
    # Every Start comes within the minute; each run waits for those before it, then starts warm.
    assert waits[1] >= 3.0 + 100 + 0.5 + 10 - 60 and waits[2] >= 3.0 + 200 + 0.5 + 10 - 60
    more = table(job_s=15.0, epochs=10, cold_s=4.5, warm_s=0.9, slots=1, classes=3)
    by = {(r["students"], r["machines"]): r for r in more}
    assert by[(200, 16)]["p95_s"] < by[(200, 4)]["p95_s"] < by[(200, 1)]["p95_s"]
    assert by[(30, 1)]["p50_s"] <= by[(30, 1)]["p95_s"]
