"""Settings of BorderRisk, read from the environment (and a ``.env`` file for local work).

``Config.from_env()`` validates everything at start-up and raises ``ConfigError`` with
one clear message naming the setting. When ``DATABASE_URL`` is unset, the app uses the
embedded PostGIS cluster that ``make run`` keeps under ``instance/`` (see
``app/embedded_db.py``), so the CLI finds the same database with no extra environment.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from dotenv import load_dotenv

from geo.clock import parse_moment
from geo.crs import DEFAULT_ANALYSIS_SRID

BASE_DIR = Path(__file__).resolve().parent
DOTENV_FILE = BASE_DIR / ".env"


def read_dotenv() -> None:
    """Settings from ``.env`` into the environment (real environment variables win). A
    ``.env`` this OS user may not read is skipped: root's, when ``make run`` serves as
    the ``borderrisk`` user, who gets its settings in the environment (app/serve.py)."""
    if os.access(DOTENV_FILE, os.R_OK):
        load_dotenv(DOTENV_FILE, override=False)


# .env first: every setting, those read at import below included, may come from it.
read_dotenv()
INSTANCE_DIR = Path(os.environ.get("BORDERRISK_INSTANCE_DIR", BASE_DIR / "instance"))

# The embedded cluster: a non-default local port, a role without superuser rights,
# and a password generated at initdb time and kept in instance/ (mode 0600).
DEFAULT_EMBEDDED_PG_PORT = 54329
EMBEDDED_PG_PORT_FILE = INSTANCE_DIR / "pg-port"


def embedded_pg_port(environ=os.environ, port_file: Path = EMBEDDED_PG_PORT_FILE) -> int:
    """TCP port of this checkout's embedded cluster: the one recorded in
    ``instance/pg-port`` when the cluster was made (so every later command finds it,
    whatever its environment), else ``BORDERRISK_PG_PORT``, else 54329."""
    if port_file.exists():
        return int(port_file.read_text().strip())
    return int(environ.get("BORDERRISK_PG_PORT", DEFAULT_EMBEDDED_PG_PORT))


EMBEDDED_PG_PORT = embedded_pg_port()
EMBEDDED_PG_DATA = INSTANCE_DIR / "pgdata"
EMBEDDED_PG_SOCKET_DIR = INSTANCE_DIR / "pgsocket"
EMBEDDED_PG_PASSWORD_FILE = INSTANCE_DIR / "pg-password"
EMBEDDED_PG_USER = "borderrisk"
# The role that owns the schema (migrations, maintenance); its password is readable by
# the user who started the cluster only, never by the web server's user.
EMBEDDED_PG_OWNER_PASSWORD_FILE = INSTANCE_DIR / "pg-owner-password"
EMBEDDED_PG_OWNER = "borderrisk_owner"
EMBEDDED_PG_DATABASE = "borderrisk"

ENVIRONMENTS = ("development", "production", "testing")
_EPSG = re.compile(r"^EPSG:(\d{4,6})$", re.IGNORECASE)


class ConfigError(RuntimeError):
    """A setting is missing or invalid; the message names it."""


def embedded_database_url() -> str:
    """URL of the embedded cluster for the web app's role, or ConfigError when the
    cluster was never initialised."""
    if not EMBEDDED_PG_PASSWORD_FILE.exists():
        raise ConfigError(
            "DATABASE_URL is not set and the embedded PostGIS under "
            f"{INSTANCE_DIR} is not initialised: run `make run` (or `make db`), "
            "or set DATABASE_URL=postgresql://user:password@host:port/dbname"
        )
    return _embedded_url(EMBEDDED_PG_USER, EMBEDDED_PG_PASSWORD_FILE)


def embedded_owner_url() -> str | None:
    """URL of the embedded cluster for the owner role, or None when its password file
    is absent or not readable by this process (the web server's user)."""
    try:
        return _embedded_url(EMBEDDED_PG_OWNER, EMBEDDED_PG_OWNER_PASSWORD_FILE)
    except OSError:
        return None


def _embedded_url(user: str, password_file: Path) -> str:
    password = password_file.read_text().strip()
    return (
        f"postgresql+psycopg2://{user}:{password}@127.0.0.1:"
        f"{EMBEDDED_PG_PORT}/{EMBEDDED_PG_DATABASE}"
    )


def _secret_key(env: str, value: str | None) -> str:
    if value:
        if len(value) < 16:
            raise ConfigError("SECRET_KEY must be at least 16 characters long")
        return value
    if env == "production":
        raise ConfigError("SECRET_KEY must be set when BORDERRISK_ENV=production")
    # Development: generate once and keep it, so sessions survive a restart. gunicorn's
    # workers start side by side: the first to link its key in place wins and every
    # process reads that one (a key of its own would refuse the others' cookies).
    path = INSTANCE_DIR / "secret_key"
    if not path.exists():
        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
        mine = INSTANCE_DIR / f".secret_key.{os.getpid()}.{secrets.token_hex(4)}"
        mine.write_text(secrets.token_urlsafe(48))
        mine.chmod(0o600)
        try:
            os.link(mine, path)
        except FileExistsError:
            pass
        finally:
            mine.unlink()
    return path.read_text().strip()


def _epsg(name: str, value: str) -> int:
    match = _EPSG.match(value.strip())
    if not match:
        raise ConfigError(f"{name} must look like EPSG:32638, got {value!r}")
    return int(match.group(1))


def _metric_crs(name: str, value: str) -> int:
    """EPSG code of a projected CRS whose axes are in metres (for distances and grids)."""
    srid = _epsg(name, value)
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        crs = CRS.from_epsg(srid)
    except CRSError:
        raise ConfigError(f"{name}: EPSG:{srid} is not a known CRS") from None
    units = {axis.unit_name for axis in crs.axis_info}
    if not crs.is_projected or units != {"metre"}:
        raise ConfigError(
            f"{name} must be a projected CRS in metres (e.g. EPSG:32638), "
            f"EPSG:{srid} is {crs.name}"
        )
    return srid


def _megabytes(name: str, value: str) -> int:
    try:
        number = float(value)
    except ValueError:
        number = -1
    if not 0 < number <= 10_240:
        raise ConfigError(f"{name} must be a number of megabytes in (0, 10240], got {value!r}")
    return int(number * 1024 * 1024)


def _positive_int(name: str, value: str) -> int:
    if not value.strip().isdigit() or int(value) < 1:
        raise ConfigError(f"{name} must be a positive whole number, got {value!r}")
    return int(value)


def on_unless_testing(config, name: str) -> bool:
    """A switch of ``config`` (a Flask app's) that is on when unset, except under
    ``TESTING`` (``TOKEN_CACHE``, ``WARM_DEFAULT_VIEW``, ``PREFETCH_NEXT_MONTH``), else
    as set."""
    setting = config.get(name)
    return not config.get("TESTING") if setting is None else bool(setting)


def _switch(environ, name: str) -> bool | None:
    """A switch read by :func:`on_unless_testing`: true/false as :func:`_flag`, None when
    unset or empty (on, except under TESTING)."""
    value = environ.get(name, "")
    return _flag(name, value, default=True) if value.strip() else None


def _flag(name: str, value: str | None, default: bool) -> bool:
    """true/false (also 1/0, yes/no, on/off); ``default`` when unset or empty."""
    if value is None or not value.strip():
        return default
    word = value.strip().lower()
    if word in ("1", "true", "yes", "on"):
        return True
    if word in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, got {value!r}")


def _whole_number(name: str, value: str) -> int:
    """A whole number >= 0 (0 switches the setting off)."""
    if not (value.strip().isascii() and value.strip().isdigit()):
        raise ConfigError(f"{name} must be a whole number >= 0, got {value!r}")
    return int(value)


def _positive_number(name: str, value: str) -> float:
    """A number > 0 (a decimal point allowed)."""
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not number > 0 or number == float("inf"):
        raise ConfigError(f"{name} must be a number > 0, got {value!r}")
    return number


def _host_list(name: str, value: str) -> tuple[str, ...]:
    """Comma-separated host names or IP addresses (lower case, no ports or schemes)."""
    hosts = tuple(h.strip().lower() for h in value.split(",") if h.strip())
    for host in hosts:
        if "/" in host or "@" in host or " " in host:
            raise ConfigError(f"{name} lists host names or addresses (a,b,...), "
                              f"got {host!r}")
    return hosts


def _time_zone(name: str, value: str) -> str:
    """An IANA time zone name (Asia/Tbilisi)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{name} must be an IANA time zone such as Asia/Tbilisi, "
                          f"got {value!r}") from None
    return value


def _smtp_url(name: str, value: str) -> str:
    """'' (no e-mail) or smtp://[user:password@]host[:port] (smtps:// for TLS)."""
    from app.inbox.mail import SmtpUrlError, parse_smtp_url

    value = value.strip()
    if value:
        try:
            parse_smtp_url(value)
        except SmtpUrlError as exc:
            raise ConfigError(f"{name} {exc}, got {value.split('@')[-1]!r}") from None
    return value


def _moment(name: str, value: str | None) -> datetime | None:
    """An RFC 3339 date-time with a zone, or None when unset or empty."""
    if not value or not value.strip():
        return None
    try:
        return parse_moment(value)
    except ValueError as exc:
        raise ConfigError(f"{name}: {exc}") from None


def _basemap_url(value: str) -> str:
    """An XYZ tile URL template (http(s), with {z}, {x} and {y}), or '' for none."""
    value = value.strip()
    if not value:
        return ""
    if (not re.match(r"^https?://[^/\s{}]+/", value)
            or not all(part in value for part in ("{z}", "{x}", "{y}"))):
        raise ConfigError("BASEMAP_URL must be an http(s) tile URL template with {z}, {x} "
                          f"and {{y}}, e.g. https://tile.example.org/{{z}}/{{x}}/{{y}}.png, "
                          f"got {value!r}")
    return value


def _port(value: str) -> int:
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise ConfigError(f"PORT must be a TCP port number (1-65535), got {value!r}")
    return int(value)


def _database_url(value: str | None, name: str = "DATABASE_URL") -> str:
    if not value:
        return embedded_database_url()
    if not value.startswith(("postgresql://", "postgresql+psycopg2://", "postgres://")):
        raise ConfigError(
            f"{name} must be a PostgreSQL URL (postgresql://user:password@host:port/db), "
            f"got one starting with {value.split(':', 1)[0]!r}"
        )
    # SQLAlchemy 2 no longer accepts the "postgres://" alias.
    return re.sub(r"^postgres(ql)?://", "postgresql+psycopg2://", value)


def _owner_url(environ) -> str:
    """``DATABASE_OWNER_URL``; else the embedded cluster's owner when ``DATABASE_URL`` is
    unset and this process may read its password; else "" (see ``DATABASE_OWNER_URI``)."""
    if environ.get("DATABASE_OWNER_URL"):
        return _database_url(environ["DATABASE_OWNER_URL"], "DATABASE_OWNER_URL")
    if environ.get("DATABASE_URL"):
        return ""
    return embedded_owner_url() or ""


@dataclass
class Config:
    """Typed settings. Flask reads the upper-case attributes."""

    ENV: str = "development"
    SECRET_KEY: str = ""
    SQLALCHEMY_DATABASE_URI: str = ""
    # The schema owner's URL, for migrations and maintenance only (app/db_roles.py);
    # "" = unknown here (the web server's user cannot read it) or the same role as
    # SQLALCHEMY_DATABASE_URI (a server set up with one role).
    DATABASE_OWNER_URI: str = ""
    # A streaming replica of the same database for read-only requests (app/replicas.py);
    # "" = none. Reads fall back to the primary when it is down, when it lags more than
    # REPLICA_MAX_LAG_S (seconds), and when it has not replayed the caller's last write
    # within REPLICA_WAIT_MS (milliseconds).
    DATABASE_REPLICA_URI: str = ""
    REPLICA_MAX_LAG_S: float = 5.0
    REPLICA_WAIT_MS: int = 200
    ANALYSIS_CRS: str = f"EPSG:{DEFAULT_ANALYSIS_SRID}"
    ANALYSIS_SRID: int = DEFAULT_ANALYSIS_SRID
    PORT: int = 5000
    TESTING: bool = False
    # A database that is down or restarting must fail a request fast (503, app/errors.py)
    # and the next request after it is back must reconnect, with no worker restart:
    # connections the server closed are replaced at checkout (app/connections.py, which
    # replaces SQLAlchemy's pool_pre_ping round trip); connect_timeout (seconds, libpq's
    # minimum is 2) bounds a connection attempt to an unreachable host; pool_timeout
    # (seconds) bounds the wait for a free pooled connection; TCP keepalives notice a
    # server that vanished without closing the connection. JIT is off: the app's
    # statements are short, and PostgreSQL's JIT compiled them for longer than it saved
    # (a z14 tile's statement 20-72 ms with it, 6-7 ms without; docs/benchmarks.md).
    SQLALCHEMY_ENGINE_OPTIONS: dict = field(
        default_factory=lambda: {
            "pool_timeout": 2,
            "connect_args": {"connect_timeout": 2, "keepalives": 1, "keepalives_idle": 10,
                             "keepalives_interval": 2, "keepalives_count": 3,
                             "options": "-c jit=off"},
        }
    )
    SESSION_COOKIE_HTTPONLY: bool = True
    SESSION_COOKIE_SAMESITE: str = "Lax"
    # Secure cookies (sent over HTTPS only): on in production, off over plain http
    # in development and testing (SESSION_COOKIE_SECURE=true|false overrides).
    SESSION_COOKIE_SECURE: bool = False
    # Flask-Login's remember-me cookie is never set (sign-in does not offer it, and a
    # session needs its server-side row anyway); its flags are hardened all the same.
    REMEMBER_COOKIE_HTTPONLY: bool = True
    REMEMBER_COOKIE_SAMESITE: str = "Lax"
    REMEMBER_COOKIE_SECURE: bool = False
    WTF_CSRF_TIME_LIMIT: int | None = None
    # Browser sessions (server-side rows, app/auth/sessions.py): minutes without a request
    # before a session ends, and hours after sign-in when it ends regardless.
    SESSION_IDLE_MINUTES: int = 30
    SESSION_MAX_HOURS: int = 12
    # Sign-in limits (login page and HTTP Basic): an account locks for
    # LOGIN_LOCK_MINUTES after LOGIN_MAX_FAILURES failures; an address with
    # LOGIN_IP_MAX_FAILURES failures within LOGIN_IP_WINDOW_MINUTES gets 429.
    LOGIN_MAX_FAILURES: int = 5
    LOGIN_LOCK_MINUTES: int = 15
    LOGIN_IP_MAX_FAILURES: int = 20
    LOGIN_IP_WINDOW_MINUTES: int = 15
    # The CIRAM risk model's YAML file (default: geo/risk/risk.yaml, shipped and commented).
    RISK_CONFIG: str = ""
    # Analysis results shared by every worker process and app node in the table
    # analysis_results (geo/hotspots/analysis_results.py): megabytes the results may
    # take (the oldest go first), 0 = none; unset (None) = 512, except under TESTING
    # (the suite's tests count computations; the shared results' own tests switch it
    # on). A result above ANALYSIS_CACHE_ENTRY_MAX_MB megabytes is not stored.
    ANALYSIS_CACHE_MAX_MB: int | None = None
    ANALYSIS_CACHE_ENTRY_MAX_MB: int = 32
    # The worker computes into those shared results, after each data change, what the
    # map page asks for on its first load (app/worker/warmup.py): WARM_DEFAULT_VIEW=
    # true|false; unset (None) = on, except under TESTING. Nothing without shared results.
    WARM_DEFAULT_VIEW: bool | None = None
    # The map page asks, once settled on a month, for the analyses of the month the
    # month slider shows next (static/js/prefetch.js), so that a step there finds them
    # computed: a month's analyses per month looked at, asked or not.
    # PREFETCH_NEXT_MONTH=true|false; unset (None) = on, except under TESTING (the e2e
    # tests count the page's requests; the prefetch's own test switches it on).
    PREFETCH_NEXT_MONTH: bool | None = None
    # Most cells a hot-spot grid may have; a smaller cell size is refused with 422.
    HOTSPOT_MAX_CELLS: int = 200_000
    # Bytes of vector tiles each worker process keeps (geo.maps.tiles.TileCache); 0 = none.
    TILE_CACHE_BYTES: int = 64 * 1024 * 1024
    # Each process keeps the callers of verified API tokens, invalidated by the
    # database's NOTIFY (app/auth/token_cache.py): TOKEN_CACHE=true|false; unset (None)
    # = on, except under TESTING (the suite's tests read the database; the cache's own
    # tests switch it on).
    TOKEN_CACHE: bool | None = None
    # Largest WIDTH or HEIGHT (pixels) of a WMS GetMap/GetLegendGraphic.
    WMS_MAX_SIZE: int = 4096
    # Optional online basemap (XYZ tile URL template); '' = only the offline basemap.
    BASEMAP_URL: str = ""
    # Largest request body (bytes); larger uploads are answered with 413.
    MAX_CONTENT_LENGTH: int = 50 * 1024 * 1024
    # Most bytes the members of an uploaded zip may expand to (a zip bomb gets 413).
    IMPORT_MAX_UNZIPPED_BYTES: int = 1024 * 1024 * 1024
    # PostgreSQL statement_timeout (seconds) of the web app's connections, and the longer
    # one of an import (set for its transaction only); 0 = none. CLI commands have none.
    STATEMENT_TIMEOUT_S: int = 30
    IMPORT_STATEMENT_TIMEOUT_S: int = 600
    # Where uploads wait for their import (created 0700; files of killed imports are
    # removed at start-up), and how long (seconds) an import request waits for its job
    # before answering 202 with the job's URL: keep it below gunicorn's --timeout.
    UPLOAD_DIR: str = str(INSTANCE_DIR / "uploads")
    IMPORT_SYNC_WAIT_S: int = 20
    # Reverse proxies in front of the app whose X-Forwarded-For/-Proto/-Host/-Port are
    # trusted (werkzeug ProxyFix); 0 = none, the headers are ignored.
    TRUSTED_PROXIES: int = 0
    # The data clock frozen at this moment (geo/clock.py); None = the wall clock. For
    # tests and reproducible demos: the demo window, "in the future" and the browser's
    # default times follow it; sessions, tokens and lock-outs never do.
    NOW: datetime | None = None
    # Events (geo/events): how long the change feed keeps them (days; an older cursor
    # gets 410), and the CloudEvents ``source`` of this installation.
    EVENT_RETENTION_DAYS: float = 90.0
    EVENT_SOURCE: str = "urn:borderrisk"
    # Webhooks (app/webhooks): the hosts subscriptions may target (none by default: an
    # admin allows them), the request timeout (s), the first retry's delay and the
    # longest (s; doubled each time, with jitter), how long a subscription may fail
    # before it is paused (hours), and the most events in one batched delivery.
    WEBHOOK_ALLOWED_HOSTS: tuple[str, ...] = ()
    WEBHOOK_TIMEOUT_S: float = 10.0
    WEBHOOK_RETRY_BASE_S: float = 10.0
    WEBHOOK_RETRY_MAX_S: float = 3600.0
    WEBHOOK_PAUSE_AFTER_HOURS: float = 24.0
    WEBHOOK_BATCH_MAX: int = 500
    # The worker (flask worker): the longest sleep (s) between looks when no NOTIFY
    # wakes it, and the time zone of the products' schedules.
    WORKER_POLL_S: float = 5.0
    SCHEDULE_TIMEZONE: str = "Asia/Tbilisi"
    # Optional e-mail of bulletins and alerts: smtp://[user:password@]host[:port]
    # ('' = no e-mail), and the sender's address.
    SMTP_URL: str = ""
    MAIL_FROM: str = "borderrisk@localhost"

    @classmethod
    def from_env(cls, environ=None, **overrides) -> Config:
        """Build and validate the settings from ``environ`` (default ``os.environ``).

        ``.env`` in the project directory is read first when ``environ`` is not given;
        real environment variables win over it.
        """
        if environ is None:
            read_dotenv()
            environ = os.environ
        env = environ.get("BORDERRISK_ENV", "development").strip().lower()
        if env not in ENVIRONMENTS:
            raise ConfigError(
                f"BORDERRISK_ENV must be one of {', '.join(ENVIRONMENTS)}, got {env!r}"
            )
        crs = environ.get("ANALYSIS_CRS", f"EPSG:{DEFAULT_ANALYSIS_SRID}")
        settings = cls(
            ENV=env,
            SECRET_KEY=_secret_key(env, environ.get("SECRET_KEY")),
            ANALYSIS_CRS=crs.upper(),
            ANALYSIS_SRID=_metric_crs("ANALYSIS_CRS", crs),
            PORT=_port(environ.get("PORT", "5000")),
            SESSION_COOKIE_SECURE=_flag("SESSION_COOKIE_SECURE",
                                        environ.get("SESSION_COOKIE_SECURE"),
                                        default=env == "production"),
            REMEMBER_COOKIE_SECURE=env == "production",
            SESSION_IDLE_MINUTES=_positive_int(
                "SESSION_IDLE_MINUTES", environ.get("SESSION_IDLE_MINUTES", "30")),
            SESSION_MAX_HOURS=_positive_int("SESSION_MAX_HOURS",
                                            environ.get("SESSION_MAX_HOURS", "12")),
            LOGIN_MAX_FAILURES=_positive_int("LOGIN_MAX_FAILURES",
                                             environ.get("LOGIN_MAX_FAILURES", "5")),
            LOGIN_LOCK_MINUTES=_positive_int("LOGIN_LOCK_MINUTES",
                                             environ.get("LOGIN_LOCK_MINUTES", "15")),
            LOGIN_IP_MAX_FAILURES=_positive_int(
                "LOGIN_IP_MAX_FAILURES", environ.get("LOGIN_IP_MAX_FAILURES", "20")),
            LOGIN_IP_WINDOW_MINUTES=_positive_int(
                "LOGIN_IP_WINDOW_MINUTES", environ.get("LOGIN_IP_WINDOW_MINUTES", "15")),
            MAX_CONTENT_LENGTH=_megabytes("MAX_BODY_MB", environ.get("MAX_BODY_MB", "50")),
            RISK_CONFIG=environ.get("RISK_CONFIG", ""),
            ANALYSIS_CACHE_MAX_MB=(_whole_number("ANALYSIS_CACHE_MAX_MB",
                                                 environ["ANALYSIS_CACHE_MAX_MB"])
                                   if environ.get("ANALYSIS_CACHE_MAX_MB", "").strip()
                                   else None),
            ANALYSIS_CACHE_ENTRY_MAX_MB=_positive_int(
                "ANALYSIS_CACHE_ENTRY_MAX_MB", environ.get("ANALYSIS_CACHE_ENTRY_MAX_MB", "32")),
            WARM_DEFAULT_VIEW=_switch(environ, "WARM_DEFAULT_VIEW"),
            PREFETCH_NEXT_MONTH=_switch(environ, "PREFETCH_NEXT_MONTH"),
            HOTSPOT_MAX_CELLS=_positive_int("HOTSPOT_MAX_CELLS",
                                            environ.get("HOTSPOT_MAX_CELLS", "200000")),
            WMS_MAX_SIZE=_positive_int("WMS_MAX_SIZE", environ.get("WMS_MAX_SIZE", "4096")),
            TILE_CACHE_BYTES=_whole_number("TILE_CACHE_MB",
                                           environ.get("TILE_CACHE_MB", "64")) * 1024 * 1024,
            BASEMAP_URL=_basemap_url(environ.get("BASEMAP_URL", "")),
            TOKEN_CACHE=_switch(environ, "TOKEN_CACHE"),
            IMPORT_MAX_UNZIPPED_BYTES=_megabytes(
                "IMPORT_MAX_UNZIPPED_MB", environ.get("IMPORT_MAX_UNZIPPED_MB", "1024")),
            STATEMENT_TIMEOUT_S=_whole_number("STATEMENT_TIMEOUT_S",
                                              environ.get("STATEMENT_TIMEOUT_S", "30")),
            IMPORT_STATEMENT_TIMEOUT_S=_whole_number(
                "IMPORT_STATEMENT_TIMEOUT_S", environ.get("IMPORT_STATEMENT_TIMEOUT_S", "600")),
            UPLOAD_DIR=environ.get("UPLOAD_DIR", "").strip() or str(INSTANCE_DIR / "uploads"),
            IMPORT_SYNC_WAIT_S=_whole_number("IMPORT_SYNC_WAIT_S",
                                             environ.get("IMPORT_SYNC_WAIT_S", "20")),
            TRUSTED_PROXIES=_whole_number("TRUSTED_PROXIES",
                                          environ.get("TRUSTED_PROXIES", "0")),
            NOW=_moment("BORDERRISK_NOW", environ.get("BORDERRISK_NOW")),
            EVENT_RETENTION_DAYS=_positive_number(
                "EVENT_RETENTION_DAYS", environ.get("EVENT_RETENTION_DAYS", "90")),
            EVENT_SOURCE=environ.get("EVENT_SOURCE", "").strip() or "urn:borderrisk",
            WEBHOOK_ALLOWED_HOSTS=_host_list("WEBHOOK_ALLOWED_HOSTS",
                                             environ.get("WEBHOOK_ALLOWED_HOSTS", "")),
            WEBHOOK_TIMEOUT_S=_positive_number("WEBHOOK_TIMEOUT_S",
                                               environ.get("WEBHOOK_TIMEOUT_S", "10")),
            WEBHOOK_RETRY_BASE_S=_positive_number(
                "WEBHOOK_RETRY_BASE_S", environ.get("WEBHOOK_RETRY_BASE_S", "10")),
            WEBHOOK_RETRY_MAX_S=_positive_number(
                "WEBHOOK_RETRY_MAX_S", environ.get("WEBHOOK_RETRY_MAX_S", "3600")),
            WEBHOOK_PAUSE_AFTER_HOURS=_positive_number(
                "WEBHOOK_PAUSE_AFTER_HOURS", environ.get("WEBHOOK_PAUSE_AFTER_HOURS", "24")),
            WEBHOOK_BATCH_MAX=_positive_int("WEBHOOK_BATCH_MAX",
                                            environ.get("WEBHOOK_BATCH_MAX", "500")),
            WORKER_POLL_S=_positive_number("WORKER_POLL_S",
                                           environ.get("WORKER_POLL_S", "5")),
            SCHEDULE_TIMEZONE=_time_zone("SCHEDULE_TIMEZONE",
                                         environ.get("SCHEDULE_TIMEZONE", "Asia/Tbilisi")),
            SMTP_URL=_smtp_url("SMTP_URL", environ.get("SMTP_URL", "")),
            MAIL_FROM=environ.get("MAIL_FROM", "").strip() or "borderrisk@localhost",
            REPLICA_MAX_LAG_S=_positive_number("REPLICA_MAX_LAG_S",
                                               environ.get("REPLICA_MAX_LAG_S", "5")),
            REPLICA_WAIT_MS=_whole_number("REPLICA_WAIT_MS",
                                          environ.get("REPLICA_WAIT_MS", "200")),
        )
        app_url = overrides.pop("SQLALCHEMY_DATABASE_URI", None)
        if app_url:  # the owner of another database is no owner of this one
            settings.SQLALCHEMY_DATABASE_URI = app_url
        else:
            settings.SQLALCHEMY_DATABASE_URI = _database_url(environ.get("DATABASE_URL"))
            settings.DATABASE_OWNER_URI = _owner_url(environ)
            replica = environ.get("DATABASE_REPLICA_URL", "").strip()
            if replica:
                settings.DATABASE_REPLICA_URI = _database_url(replica, "DATABASE_REPLICA_URL")
        for key, value in overrides.items():
            if not hasattr(settings, key):
                raise ConfigError(f"unknown setting {key}")
            setattr(settings, key, value)
        return settings

    def as_flask_config(self) -> dict:
        return {k: v for k, v in vars(self).items() if k.isupper()}
