"""Login and logout pages."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, url_for
from flask_login import login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from app.auth import bp
from app.auth.service import authenticate
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
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            user = authenticate(db.session, form.username.data, form.password.data)
            if user is not None:
                db.session.commit()
                login_user(user)
                return redirect(_safe_next(request.args.get("next")))
            flash("Unknown user name or wrong password.", "error")
        else:
            flash("Fill in both fields (the form may have expired: try again).", "error")
        status = 401
    return render_template("login.html", form=form), status


@bp.route("/logout", methods=["POST"])
def logout():
    logout_user()
    return redirect(url_for("auth.login"))
