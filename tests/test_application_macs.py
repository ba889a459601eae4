"""builder/files/application_macs.py is what scripts/application_macs.py computes: every network has a row, and the
rows of a few networks (all 40 take about 12 minutes) equal a count made now."""

import importlib.util
import pathlib

import pytest

from builder.files.application_macs import MACS
from builder.files.pretrained import APPLICATIONS

SCRIPT = pathlib.Path(__file__).resolve().parents[1] / "scripts" / "application_macs.py"


def script():
    spec = importlib.util.spec_from_file_location("application_macs_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_network_has_a_count():
    assert set(MACS) == set(APPLICATIONS)
    assert all(isinstance(v, (int, float)) and v > 1e6 for v in MACS.values())


@pytest.mark.parametrize("name", ["MobileNetV3Small", "MobileNetV2", "EfficientNetB0"])
def test_the_table_equals_a_count_made_now(name):
    assert round(script().count(name)) == MACS[name]
