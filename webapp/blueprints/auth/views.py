"""Sign-in at /organiser/login; sign-out is a POST."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response as BaseResponse

from webapp.blueprints.auth import bp
from webapp.blueprints.auth.forms import LoginForm, LogoutForm
from webapp.extensions import limiter
from webapp.services.organisers import authenticate, sign_out_everywhere
from webapp.services.text import has_control_characters


def safe_next(target: str | None) -> str:
    """Only our own paths: "/organiser/x" yes; "//evil", "https://evil", "\\evil" no, and
    nothing with a control character (a CR/LF cannot go into the Location header)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")) or has_control_characters(target):
        return url_for("organiser.dashboard")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return url_for("organiser.dashboard")
    return target


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login() -> str | BaseResponse:
    if current_user.is_authenticated:
        return redirect(url_for("organiser.dashboard"))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        organiser = authenticate(form.email.data or "", form.password.data or "")
        if organiser is None:
            error = _("That email address and password do not match an organiser account.")
        else:
            next_url = safe_next(request.args.get("next"))
            session.clear()  # a fresh session at sign-in (no fixation)
            login_user(organiser)
            return redirect(next_url, code=303)
    return render_template("auth/login.html", form=form, error=error)


@bp.post("/logout")
@login_required
def logout() -> BaseResponse:
    form = LogoutForm()
    if form.validate_on_submit():
        sign_out_everywhere(current_user)  # the proxy forwards the change to the organiser
        logout_user()
        session.clear()
        flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"), code=303)
