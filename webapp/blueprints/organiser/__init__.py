"""The organiser console (behind sign-in)."""

from flask import Blueprint

bp = Blueprint("organiser", __name__, url_prefix="/organiser")

from webapp.blueprints.organiser import views  # noqa: E402,F401
