"""Organiser landing page: every program with its registrations and email health."""

from __future__ import annotations

from flask import render_template
from flask_login import current_user, login_required

from webapp.blueprints.organiser import bp
from webapp.services.dashboard import program_overview


@bp.get("/")
@login_required
def dashboard() -> str:
    return render_template("organiser/dashboard.html", rows=program_overview(current_user))
