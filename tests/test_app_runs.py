"""AppTest: the Runs page's run detail reads as labelled settings and results, never as raw JSON."""

from builder.store import Store, default_path
from builder.train.settings import CompileSettings, TrainSettings
from components import owner, state
from tests.test_app_build import fresh_browser, plain, run_app


def test_a_run_shows_its_settings_and_results_labelled():
    at = run_app(browser=fresh_browser())
    pid, me = at.session_state[state.PROJECT], "key:" + at.session_state[owner.KEY]
    store = Store(default_path())
    graph = at.session_state[state.GRAPH]
    settings = TrainSettings(compile=CompileSettings(optimizer="sgd", learning_rate=0.003, from_logits=True),
                             epochs=7, batch_size=16, validation_split=0.25, patience=3, mixed_precision=True)
    run_id = store.create_run(pid, graph, {**settings.to_dict(), "continues": "abcdef123456",
                                           "finetune": {"unfrozen": 2}}, "iris", owner=me)
    store.add_epoch(run_id, 1, {"epoch": 1, "loss": 0.5, "val_loss": 0.6})
    store.finish_run(run_id, "finished", {"loss": 0.123456, "accuracy": 0.95}, message="Stopped early | <b>x</b>")
    at.switch_page("pages/runs.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.json  # no raw {…} widget
    detail = next(e for e in at.expander if run_id[:6] in plain(e.label))  # ids hold - and _, escaped
    tables = [plain(m.value) for m in detail.markdown]
    settings_table = next(t for t in tables if t.startswith("| Settings"))
    for row in ["| Optimizer | sgd |", "| Learning rate | 0.003 |",
                "| Loss | sparse_categorical_crossentropy (from logits) |", "| Metrics | accuracy |",
                "| Epochs | 7 |", "| Batch size | 16 |", "| Validation split | 0.25 |",
                "| Early stopping | after 3 epochs without a better validation loss |", "| Mixed precision | on |",
                "| Fine-tuning | continues run abcdef, top 2 layers unfrozen |"]:
        assert row in settings_table, (row, settings_table)
    assert "Strategy" not in settings_table and "XLA" not in settings_table  # defaults, left out
    result = next(t for t in tables if t.startswith("| Result"))
    for row in ["| Status | finished |", "| Test loss | 0.1235 |", "| Test accuracy | 0.9500 |"]:
        assert row in result, (row, result)
    # the message is the run's text: escaped, so its '|' does not split the table and its tags show as typed
    raw = next(m.value for m in detail.markdown if m.value.startswith("| Result"))
    assert "Stopped early \\| &lt;b&gt;x&lt;/b&gt;" in raw


def test_a_run_with_few_settings_and_no_result_still_reads():
    at = run_app(browser=fresh_browser())
    pid, me = at.session_state[state.PROJECT], "key:" + at.session_state[owner.KEY]
    store = Store(default_path())
    run_id = store.create_run(pid, at.session_state[state.GRAPH], {"epochs": 1, "odd_thing": [1, 2]}, "iris",
                              owner=me)
    store.finish_run(run_id, "failed", None, message="The loss became NaN")
    at.switch_page("pages/runs.py").run()
    assert not at.exception, [e.value for e in at.exception]
    detail = next(e for e in at.expander if run_id[:6] in plain(e.label))  # ids hold - and _, escaped
    text = "\n".join(plain(m.value) for m in detail.markdown)
    assert "| Epochs | 1 |" in text and "| Odd thing | 1×2 |" in text
    assert "| Status | failed |" in text and "| Message | The loss became NaN |" in text
    assert "| Test metrics | none (the run did not finish) |" in text
