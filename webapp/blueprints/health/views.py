"""/healthz: the process answers. /readyz: the database and broker answer, and how far
behind the outbox is. Both are JSON and carry no personal data."""

from __future__ import annotations

from flask import Response, current_app, jsonify

from webapp.blueprints.health import bp
from webapp.extensions import csrf, limiter
from webapp.services.health import readiness


@bp.get("/healthz")
@csrf.exempt
@limiter.exempt
def healthz() -> Response:
    return jsonify(status="ok")


@bp.get("/readyz")
@csrf.exempt
@limiter.exempt
def readyz() -> tuple[Response, int]:
    report = readiness(backlog_limit=current_app.config["READY_BACKLOG_SECONDS"])
    return jsonify(report), 200 if report["ready"] else 503
