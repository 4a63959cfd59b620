"""Endpoints other services call: Zoom's webhook."""

from flask import Blueprint

bp = Blueprint("integrations", __name__, url_prefix="/integrations")

from webapp.blueprints.integrations import views  # noqa: E402,F401
