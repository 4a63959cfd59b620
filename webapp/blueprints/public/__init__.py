"""Public pages: the list of programs, each program's page, and certificate verification."""

from flask import Blueprint

bp = Blueprint("public", __name__)

from webapp.blueprints.public import views  # noqa: E402,F401
