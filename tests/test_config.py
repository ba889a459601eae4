"""The settings table (builder/config.py): one row for every LAYERCANVAS_* setting the code or the README names."""

import pathlib
import re

import pytest

from builder import config

ROOT = pathlib.Path(__file__).resolve().parents[1]
NAME = re.compile(r"LAYERCANVAS_[A-Z_]+[A-Z]")


def _named_in(paths) -> set[str]:
    return {n for p in paths for n in NAME.findall(p.read_text(encoding="utf-8"))}


def test_every_setting_the_code_reads_is_in_the_table():
    code = [*ROOT.glob("builder/**/*.py"), *ROOT.glob("components/*.py"), *ROOT.glob("pages/*.py"), ROOT / "app.py"]
    named = _named_in(code)
    assert "LAYERCANVAS_MAX_JOBS" in named  # the scan sees the code
    assert named - set(config.SETTINGS) == set()


def test_the_readme_names_every_setting_and_no_other():
    readme = _named_in([ROOT / "README.md"])
    assert set(config.SETTINGS) - readme == set(), "settings the README does not explain"
    assert readme - set(config.SETTINGS) == set(), "settings the README names that do not exist"


def test_number_reads_the_environment_with_the_table_default_and_floor(monkeypatch):
    monkeypatch.setenv("LAYERCANVAS_MAX_SAMPLES", "300")
    assert config.number("LAYERCANVAS_MAX_SAMPLES") == 300
    for bad in ("lots", "", "0", "-5", "2.5"):
        monkeypatch.setenv("LAYERCANVAS_MAX_SAMPLES", bad)
        assert config.number("LAYERCANVAS_MAX_SAMPLES") == 200_000, bad
    monkeypatch.setenv("LAYERCANVAS_MAX_CLASSES", "1")  # its floor is 2
    assert config.number("LAYERCANVAS_MAX_CLASSES") == 1000
    monkeypatch.setenv("LAYERCANVAS_WORKER_TIMEOUT", "2.5")
    assert config.number("LAYERCANVAS_WORKER_TIMEOUT") == 2.5
    monkeypatch.delenv("LAYERCANVAS_MAX_SAMPLES")
    assert config.number("LAYERCANVAS_MAX_SAMPLES") == config.SETTINGS["LAYERCANVAS_MAX_SAMPLES"].default


def test_text_and_unknown_names(monkeypatch):
    monkeypatch.setenv("LAYERCANVAS_DB", "  /tmp/x.db ")
    assert config.text("LAYERCANVAS_DB") == "/tmp/x.db"
    monkeypatch.delenv("LAYERCANVAS_DB")
    assert config.text("LAYERCANVAS_DB") == ""
    with pytest.raises(KeyError):
        config.number("LAYERCANVAS_NOT_A_SETTING")
