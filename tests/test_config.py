"""Settings: read from the environment, validated with one clear message."""

import pytest

import config
from config import Config, ConfigError

URL = "postgresql://u:p@127.0.0.1:5432/db"


def test_defaults_from_environment():
    settings = Config.from_env({"DATABASE_URL": URL, "SECRET_KEY": "x" * 32})
    assert settings.ANALYSIS_CRS == "EPSG:32638"
    assert settings.ANALYSIS_SRID == 32638
    assert settings.PORT == 5000
    assert settings.SQLALCHEMY_DATABASE_URI == "postgresql+psycopg2://u:p@127.0.0.1:5432/db"
    assert settings.SESSION_COOKIE_SECURE is False


def test_values_from_environment():
    settings = Config.from_env(
        {"DATABASE_URL": "postgres://a:b@h:1/d", "SECRET_KEY": "y" * 20, "PORT": "8080",
         "ANALYSIS_CRS": "epsg:3857", "BORDERRISK_ENV": "production"}
    )
    assert settings.PORT == 8080
    assert settings.ANALYSIS_SRID == 3857
    assert settings.SQLALCHEMY_DATABASE_URI.startswith("postgresql+psycopg2://a:b@h:1/d")
    assert settings.SESSION_COOKIE_SECURE is True


def test_a_replica_is_optional_and_read_like_the_primary():
    assert Config.from_env({"DATABASE_URL": URL, "SECRET_KEY": "x" * 32}
                           ).DATABASE_REPLICA_URI == ""
    settings = Config.from_env({"DATABASE_URL": URL, "SECRET_KEY": "x" * 32,
                                "DATABASE_REPLICA_URL": "postgres://u:p@10.0.0.2:5432/db",
                                "REPLICA_MAX_LAG_S": "2.5", "REPLICA_WAIT_MS": "0"})
    assert settings.DATABASE_REPLICA_URI == "postgresql+psycopg2://u:p@10.0.0.2:5432/db"
    assert (settings.REPLICA_MAX_LAG_S, settings.REPLICA_WAIT_MS) == (2.5, 0)


def test_the_default_views_warm_up_is_on_unless_set_off():
    base = {"DATABASE_URL": URL, "SECRET_KEY": "x" * 32}
    assert Config.from_env(base).WARM_DEFAULT_VIEW is None  # on, off under TESTING
    assert Config.from_env({**base, "WARM_DEFAULT_VIEW": "false"}).WARM_DEFAULT_VIEW is False
    assert Config.from_env({**base, "WARM_DEFAULT_VIEW": "on"}).WARM_DEFAULT_VIEW is True


def test_the_next_months_prefetch_is_on_unless_set_off():
    base = {"DATABASE_URL": URL, "SECRET_KEY": "x" * 32}
    assert Config.from_env(base).PREFETCH_NEXT_MONTH is None  # on, off under TESTING
    assert Config.from_env({**base, "PREFETCH_NEXT_MONTH": "0"}).PREFETCH_NEXT_MONTH is False
    assert Config.from_env({**base, "PREFETCH_NEXT_MONTH": "yes"}).PREFETCH_NEXT_MONTH is True


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"ANALYSIS_CRS": "32638"}, "ANALYSIS_CRS must look like EPSG:32638"),
        ({"ANALYSIS_CRS": "EPSG:4326"}, "ANALYSIS_CRS must be a projected CRS in metres"),
        ({"ANALYSIS_CRS": "EPSG:999999"}, "ANALYSIS_CRS: EPSG:999999 is not a known CRS"),
        ({"PORT": "http"}, "PORT must be a TCP port number"),
        ({"PORT": "70000"}, "PORT must be a TCP port number"),
        ({"DATABASE_URL": "sqlite:///x.db"}, "DATABASE_URL must be a PostgreSQL URL"),
        ({"BORDERRISK_ENV": "staging"}, "BORDERRISK_ENV must be one of"),
        ({"DATABASE_REPLICA_URL": "mysql://r@h/db"},
         "DATABASE_REPLICA_URL must be a PostgreSQL URL"),
        ({"REPLICA_MAX_LAG_S": "0"}, "REPLICA_MAX_LAG_S must be a number > 0"),
        ({"REPLICA_WAIT_MS": "-1"}, "REPLICA_WAIT_MS must be a whole number >= 0"),
        ({"HOTSPOT_MAX_CELLS": "0"}, "HOTSPOT_MAX_CELLS must be a positive whole number"),
        ({"MAX_BODY_MB": "lots"}, "MAX_BODY_MB must be a number of megabytes"),
        ({"WARM_DEFAULT_VIEW": "sometimes"}, "WARM_DEFAULT_VIEW must be true or false"),
        ({"PREFETCH_NEXT_MONTH": "later"}, "PREFETCH_NEXT_MONTH must be true or false"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY must be at least 16 characters"),
        ({"BORDERRISK_ENV": "production", "SECRET_KEY": ""},
         "SECRET_KEY must be set when BORDERRISK_ENV=production"),
    ],
)
def test_invalid_settings_name_the_setting(environ, message):
    base = {"DATABASE_URL": URL, "SECRET_KEY": "z" * 32}
    with pytest.raises(ConfigError) as info:
        Config.from_env({**base, **environ})
    assert message in str(info.value)


def test_development_secret_key_is_generated_once_and_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "INSTANCE_DIR", tmp_path)
    first = Config.from_env({"DATABASE_URL": URL}).SECRET_KEY
    second = Config.from_env({"DATABASE_URL": URL}).SECRET_KEY
    assert first == second
    assert len(first) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_workers_starting_together_share_the_key_the_first_one_made(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "INSTANCE_DIR", tmp_path)
    theirs = "k" * 64

    def key_made_while_another_worker_wins(nbytes):
        (tmp_path / "secret_key").write_text(theirs)  # another worker got there first
        return "m" * 64

    monkeypatch.setattr(config.secrets, "token_urlsafe", key_made_while_another_worker_wins)
    assert Config.from_env({"DATABASE_URL": URL}).SECRET_KEY == theirs
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]


def test_missing_embedded_database_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "EMBEDDED_PG_PASSWORD_FILE", tmp_path / "absent")
    with pytest.raises(ConfigError, match="make run"):
        Config.from_env({"SECRET_KEY": "z" * 32})


def test_embedded_database_url_uses_the_generated_password(tmp_path, monkeypatch):
    password_file = tmp_path / "pg-password"
    password_file.write_text("s3cret\n")
    monkeypatch.setattr(config, "EMBEDDED_PG_PASSWORD_FILE", password_file)
    url = Config.from_env({"SECRET_KEY": "z" * 32}).SQLALCHEMY_DATABASE_URI
    assert url == (
        f"postgresql+psycopg2://borderrisk:s3cret@127.0.0.1:{config.EMBEDDED_PG_PORT}/borderrisk"
    )


def test_embedded_port_recorded_by_the_checkout_wins(tmp_path):
    """A CLI call without BORDERRISK_PG_PORT finds this checkout's cluster, not the
    default port (issue 14 item 8)."""
    port_file = tmp_path / "pg-port"
    assert config.embedded_pg_port({}, port_file) == config.DEFAULT_EMBEDDED_PG_PORT
    assert config.embedded_pg_port({"BORDERRISK_PG_PORT": "6000"}, port_file) == 6000
    port_file.write_text("7000\n")
    assert config.embedded_pg_port({}, port_file) == 7000
    assert config.embedded_pg_port({"BORDERRISK_PG_PORT": "6000"}, port_file) == 7000


def copy_config_module(directory) -> None:
    """config.py and what it imports from geo/, copied into ``directory``."""
    import shutil

    from config import BASE_DIR

    (directory / "geo").mkdir()
    shutil.copy(BASE_DIR / "config.py", directory / "config.py")
    for module in ("clock.py", "crs.py"):
        shutil.copy(BASE_DIR / "geo" / module, directory / "geo" / module)


def test_dotenv_is_read_before_the_embedded_port(tmp_path):
    """config.py read BORDERRISK_PG_PORT at import, before .env: a value in .env was
    ignored. A copy of config.py beside a .env, imported in a fresh interpreter."""
    import os
    import subprocess
    import sys


    copy_config_module(tmp_path)
    (tmp_path / ".env").write_text("BORDERRISK_PG_PORT=6123\n")
    env = {k: v for k, v in os.environ.items()
           if k not in ("BORDERRISK_PG_PORT", "PYTHONPATH")}
    env["BORDERRISK_INSTANCE_DIR"] = str(tmp_path / "instance")
    result = subprocess.run([sys.executable, "-c", "import config; print(config.EMBEDDED_PG_PORT)"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "6123"
