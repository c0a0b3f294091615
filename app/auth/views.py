"""Login and logout pages.

Signing in checks the password under the sign-in limits (``signin.sign_in``), then
starts a new server-side session: the old cookie's contents are dropped and a new random
id issued (no session fixation). Signing out revokes the session's row, so a replayed
cookie is refused.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from flask import current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from app import audit
from app.auth import SESSION_ID_KEY, bp, login_policy, too_many_attempts
from app.auth.sessions import end_session, start_session
from app.auth.signin import SignInRefusedError, sign_in
from app.extensions import db


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


def _safe_next(target: str | None) -> str:
    # Only local paths: an open redirect would help phishing.
    if target and target.startswith("/") and not target.startswith("//"):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("ui.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    status, headers = 200, {}
    if request.method == "POST":
        status = 401
        if not form.validate_on_submit():
            flash(gettext("Fill in both fields (the form may have expired: try again)."), "error")
            return render_template("login.html", form=form), status
        try:
            user = sign_in(db.session, form.username.data, form.password.data,
                           request.remote_addr, login_policy())
        except SignInRefusedError as exc:
            db.session.commit()  # the refusal's audit record
            if exc.retry_after is None:
                flash(gettext("Too many failed sign-ins: this account is locked for a while. "
                              "Try again later."), "error")
            else:
                status, headers = 429, too_many_attempts(exc)
                flash(gettext("Too many failed sign-ins from your address. Try again later."),
                      "error")
            return render_template("login.html", form=form), status, headers
        if user is None:
            db.session.commit()  # the failed attempt (and a lock-out it caused)
            flash(gettext("Unknown user name or wrong password."), "error")
            return render_template("login.html", form=form), status
        _end_cookie_session()
        sid = start_session(db.session, user,
                            timedelta(hours=current_app.config["SESSION_MAX_HOURS"]),
                            request.remote_addr, request.user_agent.string)
        db.session.commit()
        _clear_cookie_session()  # nothing carried over from before sign-in
        login_user(user, remember=False)
        session[SESSION_ID_KEY] = sid
        return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html", form=form), status, headers


def _clear_cookie_session() -> None:
    """Empty the session cookie, and forget this request's CSRF token, which was
    bound to it."""
    session.clear()
    g.pop("csrf_token", None)


def _end_cookie_session() -> None:
    """Revoke the server-side session the cookie names, if any (not committed)."""
    sid = session.get(SESSION_ID_KEY)
    if isinstance(sid, str):
        end_session(db.session, sid)


@bp.route("/logout", methods=["POST"])
def logout():
    if current_user.is_authenticated:
        audit.record(db.session, "sign_out", "user", current_user.id)
    _end_cookie_session()
    db.session.commit()
    logout_user()
    _clear_cookie_session()
    return redirect(url_for("auth.login"))
