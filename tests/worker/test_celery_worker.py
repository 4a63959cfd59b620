"""The confirmation path through a real `celery -A worker worker --beat` process."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from tests.conftest import SMTPServer, WorkerProcess, app_settings, free_port, registration_input
from tests.functional.helpers import register
from webapp.extensions import db
from webapp.models import Email, Registration
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


def test_handing_over_to_the_broker_is_bounded(app_with_broker_down: Flask) -> None:
    """A publish gives up after a short connection timeout and one quick retry rather
    than waiting for the broker: the worst case is a few seconds by configuration."""
    conf = app_with_broker_down.extensions["celery"].conf
    policy = conf.task_publish_retry_policy
    attempts = 1 + policy["max_retries"]
    pauses = sum(policy["interval_start"] + i * policy["interval_step"] for i in range(policy["max_retries"]))
    assert 0 < conf.broker_connection_timeout <= 5 and policy["max_retries"] <= 2
    assert attempts * conf.broker_connection_timeout + pauses <= 10


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
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A dead broker never blocks or loses a registration. With the doorbell thread the
    request does not wait on the broker at all: every registration commits, and its
    page is answered, while the thread's hand-over is still held back. Inline, each
    request tries the broker itself, within the bounds above, and gives up. Either way
    the rows stay pending, marked not enqueued, until beat's sweep hands them over."""
    from tests.conftest import flush_redis, start_worker, stop_worker, worker_env

    make_program()
    app_with_broker_down.config["OUTBOX_DOORBELL"] = doorbell
    bell = app_with_broker_down.extensions["doorbell"]
    gate = threading.Event()
    publish = bell.publish

    def held_publish(ids: list[int]) -> None:
        assert gate.wait(timeout=60), "the test never let the doorbell publish"
        publish(ids)

    monkeypatch.setattr(bell, "publish", held_publish)
    client = app_with_broker_down.test_client()
    for i in range(3):
        response = register(client, "li-ion-basics", email=f"p{i}@example.com")
        assert response.status_code == 303
        page = client.get(response.headers["Location"]).get_data(as_text=True)
        assert "Check your inbox" in page and f"It goes to p{i}@example.com." in page
    with app.app_context():
        rows = list(db.session.scalars(select(Email).order_by(Email.id)))
        registrations = list(db.session.scalars(select(Registration).order_by(Registration.id)))
    assert [r.email for r in registrations] == ["p0@example.com", "p1@example.com", "p2@example.com"]
    assert [r.registration_id for r in rows] == [r.id for r in registrations]
    assert all(r.kind == "confirmation" and r.status == "pending" for r in rows)
    if doorbell == "thread":
        # Answered while the hand-over waits at the gate: nothing of it was the request's.
        assert all(r.enqueued_at is not None for r in rows)
    gate.set()
    assert bell.wait_idle(timeout=60)
    with app.app_context():
        rows = list(db.session.scalars(select(Email)))
        assert len(rows) == 3 and all(r.status == "pending" and r.enqueued_at is None for r in rows)
    # The broker "returns": a worker with beat on the real Redis sweeps the outbox.
    flush_redis(redis_url)
    worker = start_worker(worker_env(pg_url, redis_url, smtp), tmp_path / "worker.log")
    try:
        messages = smtp.handler.wait_for(3, timeout=30)
        time.sleep(2)  # room for a duplicate to arrive, were one sent
        assert len(smtp.handler.messages) == 3, worker.log()
        assert sorted(m.rcpt_tos[0] for m in messages) == ["p0@example.com", "p1@example.com", "p2@example.com"]
    finally:
        stop_worker(worker)
        flush_redis(redis_url)
