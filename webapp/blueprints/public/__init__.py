"""Public pages: the list of programs and each program's page."""

from flask import Blueprint

bp = Blueprint("public", __name__)

from webapp.blueprints.public import views  # noqa: E402,F401
