"""The application factory."""

import pytest

from app import create_app
from config import ConfigError


def test_factory_applies_test_config(app):
    assert app.testing
    assert app.config["ANALYSIS_SRID"] == 32638
    assert "_test_" in app.config["SQLALCHEMY_DATABASE_URI"]
    blueprints = set(app.blueprints)
    assert {"auth", "api", "health", "ui"} <= blueprints


def test_factory_rejects_invalid_test_config():
    with pytest.raises(ConfigError, match="unknown setting ANALYSIS_CRS_TYPO"):
        create_app({"ANALYSIS_CRS_TYPO": 1})


def test_invalid_environment_stops_start_up_with_one_message(monkeypatch):
    monkeypatch.setenv("ANALYSIS_CRS", "EPSG:4326")
    with pytest.raises(SystemExit) as info:
        create_app()
    assert str(info.value).startswith("BorderRisk configuration error: ANALYSIS_CRS")
    assert "\n" not in str(info.value)
