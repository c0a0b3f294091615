"""BorderRisk: the Flask application factory."""

from __future__ import annotations

import copy

from flask import Flask

from app.request_json import BoundedJSONProvider
from config import BASE_DIR, INSTANCE_DIR, Config, ConfigError
from geo import clock


def create_app(test_config: dict | None = None) -> Flask:
    """Create the app with settings from the environment.

    Parameters
    ----------
    test_config : dict, optional
        Settings that override the environment (tests). Invalid settings raise
        ``config.ConfigError`` here; without ``test_config`` (CLI, gunicorn) they stop
        start-up with one line on stderr instead of a traceback.
    """
    try:
        settings = Config.from_env(**(test_config or {}))
    except ConfigError as exc:
        if test_config is not None:
            raise
        raise SystemExit(f"BorderRisk configuration error: {exc}") from None

    app = Flask(__name__, static_folder="../static", instance_path=str(INSTANCE_DIR))
    app.config.update(settings.as_flask_config())
    app.json = BoundedJSONProvider(app)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = _engine_options(settings)
    app.config["RISK_MODEL"] = _risk_model(settings, test_config is not None)
    clock.freeze(settings.NOW)

    from app.extensions import csrf, db, login_manager, migrate

    db.init_app(app)
    _share_analysis_results(app, settings)
    migrate.init_app(app, db, directory=str(BASE_DIR / "migrations"))
    login_manager.init_app(app)
    csrf.init_app(app)

    from app import audit, auth, cli, connections, errors, health, replicas, security_headers, ui  # noqa: F401
    from app.admin import bp as admin_bp
    from app.api import bp as api_bp
    from app.ogc import bp as ogc_bp

    connections.init_app(app)  # before auth: its before_request comes first
    auth.init_app(app)
    errors.init_app(app)
    security_headers.init_app(app)
    ui.i18n.init_app(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(ogc_bp)
    app.register_blueprint(ui.bp)
    app.register_blueprint(admin_bp)
    replicas.init_app(app)  # after authentication and the views it wraps
    cli.init_app(app)
    return app


def _share_analysis_results(app: Flask, settings: Config) -> None:
    """The analysis results every process and node shares (``ANALYSIS_CACHE_MAX_MB``),
    on the primary's engine: a process waits for another computing the same result
    until 80 % of the statement timeout at most (60 s without one), then computes."""
    from app.extensions import db
    from geo.hotspots.analysis_results import SESSION_INFO_KEY, AnalysisResults, code_fingerprint

    megabytes = settings.ANALYSIS_CACHE_MAX_MB
    if megabytes is None:
        megabytes = 0 if settings.TESTING else 512
    if not megabytes:
        return
    options = app.config["SQLALCHEMY_ENGINE_OPTIONS"].get("connect_args", {}).get("options", "")
    timeout_s = settings.STATEMENT_TIMEOUT_S if "statement_timeout" in options else 0
    # The code's fingerprint (every source of geo/ read and hashed, part of each key)
    # now, while the process starts, not in a gunicorn worker's first analysis request.
    code_fingerprint()
    with app.app_context():
        app.extensions[SESSION_INFO_KEY] = AnalysisResults(
            engine=db.engine, max_bytes=megabytes * 2**20,
            entry_max_bytes=settings.ANALYSIS_CACHE_ENTRY_MAX_MB * 2**20,
            wait_s=0.8 * timeout_s if timeout_s else 60.0)


def _engine_options(settings: Config) -> dict:
    """The engine options, with PostgreSQL's ``statement_timeout`` (``STATEMENT_TIMEOUT_S``)
    on every connection of the web app, so no request holds a connection and a core
    for long (an import sets its own longer one). Commands of the ``flask`` CLI
    (migrations, demo load, imports run by an operator) get none."""
    import click

    options = copy.deepcopy(settings.SQLALCHEMY_ENGINE_OPTIONS)
    if settings.STATEMENT_TIMEOUT_S and click.get_current_context(silent=True) is None:
        connect_args = options.setdefault("connect_args", {})
        given = connect_args.get("options", "")
        connect_args["options"] = (
            f"{given} -c statement_timeout={settings.STATEMENT_TIMEOUT_S * 1000}".strip())
    return options


def _risk_model(settings: Config, testing: bool):
    """The CIRAM model configuration; an invalid file stops start-up with its line."""
    from geo.risk.risk_config import RiskConfigError, load_risk_config

    try:
        return load_risk_config(settings.RISK_CONFIG or None)
    except RiskConfigError as exc:
        if testing:
            raise ConfigError(f"RISK_CONFIG: {exc}") from None
        raise SystemExit(f"BorderRisk configuration error: RISK_CONFIG: {exc}") from None
