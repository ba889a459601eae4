"""AppTest: Inspect's "Layer by layer" says what it compares: the second run of a project starts from the first
run's weights ('Start from the current weights', the default), so beside "Trained" it shows "At the start of this
run" and the freshly initialized weights, "Untrained"."""

from tests.test_app_build import fresh_browser, plain, run_app
from tests.test_app_train import wait_for_job


def layer_by_layer(at) -> tuple[list[str], list[str]]:
    """(column headers, captions of the output layer's pictures, left to right) on the Inspect page."""
    at.switch_page("pages/inspect.py").run()
    at.segmented_control(key="inspect_view").set_value("Layer by layer").run()
    assert not at.exception, [e.value for e in at.exception]
    heads = [m.value for m in at.markdown if m.value.startswith("**") and m.value.endswith("**")]
    return heads, [plain(c.value) for c in at.caption if plain(c.value).startswith("output (Dense)")]


def train(at, epochs: int):
    at.switch_page("pages/train.py").run()
    at.number_input(key="train_epochs").set_value(epochs).run()
    at.button(key="train_start").click().run()
    return wait_for_job(at)


def test_a_second_run_shows_untrained_at_the_start_and_trained():
    at = run_app(browser=fresh_browser())  # iris MLP on iris: the typed values are the first test sample
    first = train(at, 3)
    assert first.status == "finished" and not first.loaded_weights
    heads, _ = layer_by_layer(at)
    assert heads == ["**At the start of this run (untrained)**", "**Trained**"]

    at.switch_page("pages/train.py").run()
    assert at.toggle(key="train_use_weights").value  # the default after a run
    second = train(at, 3)
    assert second.status == "finished" and second.loaded_weights
    heads, outputs = layer_by_layer(at)
    assert heads == ["**Untrained**", "**At the start of this run**", "**Trained**"]
    assert len(outputs) == 3 and len(set(outputs)) == 3, outputs  # three different sets of weights
