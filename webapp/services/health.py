"""Readiness checks: can we reach the database and the broker, and is mail flowing?"""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy import text

from webapp.extensions import db
from webapp.services import outbox


def readiness(backlog_limit: float) -> dict[str, Any]:
    """A report; `ready` is False if the database or broker is unreachable or the
    oldest due email has waited longer than `backlog_limit` seconds."""
    report: dict[str, Any] = {"database": "ok", "broker": "ok", "oldest_pending_seconds": None}
    try:
        db.session.execute(text("SELECT 1"))
        age = outbox.oldest_pending_age()
        report["oldest_pending_seconds"] = round(age.total_seconds()) if age is not None else None
    except Exception as exc:
        db.session.rollback()
        report["database"] = f"unreachable: {type(exc).__name__}"
    finally:
        db.session.rollback()
    try:
        celery = current_app.extensions["celery"]
        with celery.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        report["broker"] = f"unreachable: {type(exc).__name__}"
    backlog = report["oldest_pending_seconds"]
    report["backlog_ok"] = backlog is None or backlog <= backlog_limit
    report["ready"] = report["database"] == "ok" and report["broker"] == "ok" and report["backlog_ok"]
    return report
