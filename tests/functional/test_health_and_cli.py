"""/healthz, /readyz and the `emails` commands."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask import Flask
from sqlalchemy import select, update

from tests.conftest import SMTPServer, app_settings, free_port, registration_input
from webapp import create_app
from webapp.extensions import db
from webapp.models import Email
from webapp.services.audit import Actor
from webapp.services.mailer import deliver_emails
from webapp.services.registrations import register_participant


def test_healthz_and_readyz(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/healthz").get_json() == {"status": "ok"}
    response = client.get("/readyz")
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["database"] == "ok" and body["broker"] == "ok" and body["ready"] is True


def test_readyz_reports_a_dead_broker(pg_url: str, smtp: SMTPServer, tmp_path: Path) -> None:
    app = create_app("testing", **app_settings(pg_url, f"redis://127.0.0.1:{free_port()}/0", smtp, tmp_path))
    try:
        response = app.test_client().get("/readyz")
        assert response.status_code == 503
        assert response.get_json()["broker"].startswith("unreachable")
    finally:
        with app.app_context():
            db.engine.dispose()


def test_readyz_reports_an_old_backlog(app: Flask, make_program: Callable[..., int]) -> None:
    program_id = make_program()
    with app.app_context():
        register_participant(program_id, registration_input(), actor=Actor.participant())
        db.session.execute(update(Email).values(created_at=datetime.now(UTC) - timedelta(hours=2)))
        db.session.commit()
    body = app.test_client().get("/readyz").get_json()
    assert body["ready"] is False and body["backlog_ok"] is False
    assert body["oldest_pending_seconds"] >= 7200


def test_emails_status_and_retry(app: Flask, smtp: SMTPServer, make_program: Callable[..., int]) -> None:
    program_id = make_program()
    smtp.handler.rcpt_replies["bad@example.com"] = "550 5.1.1 No such user"
    with app.app_context():
        for address in ("good@example.com", "bad@example.com"):
            register_participant(program_id, registration_input(email=address), actor=Actor.participant())
        deliver_emails(list(db.session.scalars(select(Email.id))))
    runner = app.test_cli_runner()
    status = runner.invoke(args=["emails", "status"])
    assert status.exit_code == 0
    lines = status.output.splitlines()
    assert lines[0].split() == ["kind", "sent", "failed"]
    assert lines[1].split() == ["confirmation", "1", "1"]
    assert "Oldest waiting email: none" in status.output
    smtp.handler.rcpt_replies.clear()
    retry = runner.invoke(args=["emails", "retry"])
    assert "Queued 1 failed email(s)" in retry.output
    with app.app_context():
        row = db.session.scalar(select(Email).where(Email.recipient == "bad@example.com"))
        assert row.status == "pending" and row.attempts == 0
        assert deliver_emails([row.id]) == {row.id: "sent"}
