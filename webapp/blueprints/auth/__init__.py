"""Organiser sign-in and sign-out."""

from flask import Blueprint

bp = Blueprint("auth", __name__, url_prefix="/organiser")

from webapp.blueprints.auth import views  # noqa: E402,F401
