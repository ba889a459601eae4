"""AppTest: the Pretrained page's table gives its name columns room for their longest names."""

import json

from components.pretrained_panel import table_rows
from tests.test_app_build import run_app


def test_the_family_and_network_columns_are_wide_enough_for_every_name():
    at = run_app()
    at.switch_page("pages/pretrained.py").run()
    assert not at.exception, [e.value for e in at.exception]
    table = next(d for d in at.dataframe if "network" in d.value.columns)
    config = json.loads(table.proto.columns)
    rows = table_rows()
    for column in ("family", "network"):
        longest = max(len(r[column]) for r in rows)  # "EfficientNetV2", "InceptionResNetV2"
        width = config.get(column, {}).get("width")
        # Auto width measured only the first rows: "EfficientNetV2" showed as "EfficientNetV". About 7 pixels a
        # character of the grid's 14-pixel font, and 16 of padding.
        assert isinstance(width, int) and width >= 7 * longest + 16, (column, config.get(column))
