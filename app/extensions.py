"""Flask extensions, created unbound here and bound in ``create_app``."""

from flask import current_app, g, has_app_context
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.session import Session as FlaskSession
from flask_wtf.csrf import CSRFProtect

from geo.hotspots.analysis_results import SESSION_INFO_KEY
from geo.models import Base

# The engine a request reads from instead of the primary's (``app.replicas``), in ``g``.
READ_ENGINE = "_borderrisk_read_engine"


class Session(FlaskSession):
    """Flask-SQLAlchemy's session, whose statements go to the read replica's engine
    while a request has chosen it (``g``'s :data:`READ_ENGINE`, set by
    ``app.replicas``), else to the primary as always; it shares analysis results
    through the app's ``geo.hotspots.analysis_results.AnalysisResults`` (its ``info``)
    when the app has one."""

    def __init__(self, db, **kwargs):
        super().__init__(db, **kwargs)
        if has_app_context():
            shared = current_app.extensions.get(SESSION_INFO_KEY)
            if shared is not None:
                self.info[SESSION_INFO_KEY] = shared

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        if bind is None and has_app_context():
            engine = g.get(READ_ENGINE)
            if engine is not None:
                return engine
        return super().get_bind(mapper, clause, bind, **kwargs)


db = SQLAlchemy(model_class=Base, session_options={"class_": Session})
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
