"""The confirmation path through a real `celery -A worker worker --beat` process."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from tests.conftest import SMTPServer, WorkerProcess, app_settings, free_port, registration_input
from tests.functional.helpers import register
from webapp.extensions import db
from webapp.models import Email
from webapp.services.audit import Actor
from webapp.services.registrations import register_participant
from webapp.services.transactions import DELIVER_TASK

pytestmark = pytest.mark.worker


def _wait_for_status(app: Flask, status: str, count: int, timeout: float = 30) -> list[Email]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with app.app_context():
            rows = list(db.session.scalars(select(Email).where(Email.status == status)))
            db.session.expunge_all()
        if len(rows) >= count:
            return rows
        time.sleep(0.2)
    return rows


@pytest.mark.parametrize("doorbell", ["thread", "inline"])
def test_registering_in_the_browser_form_delivers_the_email(
    app: Flask, smtp: SMTPServer, make_program: Callable[..., int], celery_worker: WorkerProcess, doorbell: str
) -> None:
    make_program()
    app.config["OUTBOX_DOORBELL"] = doorbell
    response = register(app.test_client(), "li-ion-basics")
    assert response.status_code == 303
    messages = smtp.handler.wait_for(1)
    assert len(messages) == 1, celery_worker.log()
    assert b"https://zoom.us/j/81234567890" in messages[0].content
    assert len(_wait_for_status(app, "sent", 1)) == 1


def test_the_same_task_enqueued_twice_sends_once(
    app: Flask, smtp: SMTPServer, make_program: Callable[..., int], celery_worker: WorkerProcess
) -> None:
    program_id = make_program()
    with app.app_context():
        register_participant(program_id, registration_input(), actor=Actor.participant())
        email_id = db.session.scalar(select(Email.id))
        celery = app.extensions["celery"]
        celery.send_task(DELIVER_TASK, args=[[email_id]])
        celery.send_task(DELIVER_TASK, args=[[email_id]])
    assert len(_wait_for_status(app, "sent", 1)) == 1
    time.sleep(2)
    assert len(smtp.handler.messages) == 1


@pytest.fixture
def app_with_broker_down(pg_url: str, smtp: SMTPServer, tmp_path: Path) -> Iterator[Flask]:
    from webapp import create_app

    dead = f"redis://127.0.0.1:{free_port()}/0"
    app = create_app("testing", **app_settings(pg_url, dead, smtp, tmp_path))
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.mark.parametrize("doorbell", ["thread", "inline"])
def test_registration_while_broker_is_down_is_emailed_when_it_returns(
    app: Flask,
    app_with_broker_down: Flask,
    smtp: SMTPServer,
    make_program: Callable[..., int],
    pg_url: str,
    redis_url: str,
    tmp_path: Path,
    doorbell: str,
) -> None:
    from tests.conftest import flush_redis, start_worker, stop_worker, worker_env

    make_program()
    app_with_broker_down.config["OUTBOX_DOORBELL"] = doorbell
    client = app_with_broker_down.test_client()
    started = time.monotonic()
    responses = [register(client, "li-ion-basics", email=f"p{i}@example.com").status_code for i in range(3)]
    elapsed = time.monotonic() - started
    assert responses == [303, 303, 303]
    # Inline, each request waits for kombu to give up on the broker; with the doorbell
    # thread, nobody waits for it.
    assert elapsed < (2 if doorbell == "thread" else 20), f"registering with the broker down took {elapsed:.1f}s"
    assert app_with_broker_down.extensions["doorbell"].wait_idle(timeout=60)
    with app.app_context():
        rows = list(db.session.scalars(select(Email)))
        assert len(rows) == 3 and all(r.status == "pending" and r.enqueued_at is None for r in rows)
    # The broker "returns": a worker with beat on the real Redis sweeps the outbox.
    flush_redis(redis_url)
    worker = start_worker(worker_env(pg_url, redis_url, smtp), tmp_path / "worker.log")
    try:
        messages = smtp.handler.wait_for(3, timeout=30)
        time.sleep(2)
        assert len(smtp.handler.messages) == 3, worker.log()
        assert sorted(m.rcpt_tos[0] for m in messages) == ["p0@example.com", "p1@example.com", "p2@example.com"]
    finally:
        stop_worker(worker)
        flush_redis(redis_url)
