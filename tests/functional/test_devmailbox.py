"""/dev/mailbox: the local mailbox of the embedded default."""

from __future__ import annotations

import mailbox
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.conftest import SECRET, SMTPServer, registration_input
from webapp import create_app
from webapp.extensions import db
from webapp.models import Email
from webapp.services.audit import Actor
from webapp.services.mailer import deliver_email
from webapp.services.registrations import register_participant


def test_mailbox_lists_and_shows_delivered_email(
    app: Flask, client: FlaskClient, smtp: SMTPServer, make_program: Callable[..., int]
) -> None:
    smtp.handler.maildir = app.config["DEV_MAILBOX_DIR"]
    program_id = make_program()
    with app.app_context():
        register_participant(program_id, registration_input(), actor=Actor.participant())
        assert deliver_email(db.session.scalar(select(Email.id))) == "sent"
    index = client.get("/dev/mailbox/").get_data(as_text=True)
    assert "You are registered: Lithium-ion basics" in index and "ayesha@example.com" in index
    [key] = list(mailbox.Maildir(app.config["DEV_MAILBOX_DIR"]).keys())
    page = client.get(f"/dev/mailbox/{key}").get_data(as_text=True)
    assert "https://zoom.us/j/81234567890" in page and "invite.ics" in page
    html = client.get(f"/dev/mailbox/{key}/html")
    assert html.status_code == 200 and "sandbox" in html.headers["Content-Security-Policy"]
    attachment = client.get(f"/dev/mailbox/{key}/attachments/0")
    assert attachment.status_code == 200 and b"BEGIN:VCALENDAR" in attachment.data
    assert client.get("/dev/mailbox/../../etc").status_code == 404
    assert client.get("/dev/mailbox/nope").status_code == 404


def test_mailbox_does_not_exist_in_production(pg_url: str, redis_url: str) -> None:
    app = create_app(
        "production",
        SQLALCHEMY_DATABASE_URI=pg_url,
        CELERY_BROKER_URL=redis_url,
        SECRET_KEY=SECRET,
        DEV_MAILBOX_DIR="/tmp/should-not-be-served",
    )
    assert app.test_client().get("/dev/mailbox/").status_code == 404
    with app.app_context():
        db.engine.dispose()


def test_production_refuses_the_default_secret_key(pg_url: str) -> None:
    import pytest

    from config import ConfigError

    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app("production", SQLALCHEMY_DATABASE_URI=pg_url, CELERY_BROKER_URL="redis://x", SECRET_KEY="dev")
