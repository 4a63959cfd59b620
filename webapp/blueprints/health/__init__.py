"""Liveness and readiness probes for monitoring and load balancers."""

from flask import Blueprint

bp = Blueprint("health", __name__)

from webapp.blueprints.health import views  # noqa: E402,F401
