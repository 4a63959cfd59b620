"""Break things on purpose; count what the SMTP server received.

Each test runs a real `celery -A worker worker --beat` process against PostgreSQL, a
Redis broker and the loopback SMTP server, breaks one of them, and checks that every
email arrives exactly once (or, after a SIGKILL, reports how many arrived twice).
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, insert, select

from tests.conftest import (
    IN_CI,
    SMTPServer,
    app_settings,
    free_port,
    registration_input,
    start_worker,
    starting_at,
    stop_worker,
    worker_env,
)
from tests.functional.helpers import register
from webapp import create_app
from webapp.extensions import db
from webapp.models import Email, Registration
from webapp.services.audit import Actor
from webapp.services.registrations import new_token, register_participant

pytestmark = pytest.mark.worker


@dataclass
class PrivateRedis:
    """A redis-server of the test's own, on its own port, that the test may stop."""

    port: int
    workdir: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("private redis did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    if shutil.which("redis-server") is None:
        if IN_CI:
            pytest.fail("redis-server is required in CI", pytrace=False)
        pytest.skip("redis-server is not installed")
    server = PrivateRedis(free_port(), tmp_path)
    server.start()
    yield server
    server.stop()


def _wait_until(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


def _recipients(smtp: SMTPServer) -> Counter[str]:
    with smtp.handler.lock:
        return Counter(m.rcpt_tos[0] for m in smtp.handler.messages)


def test_redis_stopped_while_20_people_register(
    app: Flask,
    pg_url: str,
    smtp: SMTPServer,
    private_redis: PrivateRedis,
    make_program: Callable[..., int],
    tmp_path: Path,
) -> None:
    make_program()
    web = create_app("testing", **app_settings(pg_url, private_redis.url, smtp, tmp_path))
    worker = start_worker(worker_env(pg_url, private_redis.url, smtp), tmp_path / "worker.log")
    try:
        private_redis.stop()
        client = web.test_client()
        codes = [register(client, "li-ion-basics", email=f"p{i}@example.com").status_code for i in range(20)]
        assert codes == [303] * 20  # every registration succeeds with the broker down
        with app.app_context():
            assert db.session.scalar(select(func.count()).select_from(Registration)) == 20
        time.sleep(2)
        assert _recipients(smtp) == Counter()  # nothing could be sent yet
        private_redis.start()  # Redis returns (empty: it keeps nothing on disk)
        assert _wait_until(lambda: len(_recipients(smtp)) == 20, 90), _outbox_dump(app) + worker.log()[-3000:]
        time.sleep(3)  # anything sent twice would have arrived by now
        counts = _recipients(smtp)
        assert sorted(counts) == sorted(f"p{i}@example.com" for i in range(20))
        assert set(counts.values()) == {1}
    finally:
        stop_worker(worker)
        with web.app_context():
            db.engine.dispose()


def test_smtp_421_for_a_while_then_550_for_one_recipient(
    app: Flask,
    pg_url: str,
    redis_url: str,
    smtp: SMTPServer,
    make_program: Callable[..., int],
    tmp_path: Path,
    celery_worker: object,
) -> None:
    program_id = make_program()
    smtp.handler.data_reply = "421 4.3.2 Try again later"
    smtp.handler.rcpt_replies["nobody@example.com"] = "550 5.1.1 No such user here"
    with app.app_context():
        for address in ("a@example.com", "b@example.com", "nobody@example.com"):
            register_participant(program_id, registration_input(email=address), actor=Actor.participant())

    def attempted() -> bool:
        with app.app_context():
            rows = db.session.execute(select(Email.attempts, Email.last_error)).all()
        return all(attempts >= 1 for attempts, _ in rows) and any("421" in (error or "") for _, error in rows)

    assert _wait_until(attempted, 30)
    assert _recipients(smtp) == Counter()
    smtp.handler.data_reply = None  # the server recovers

    def settled() -> bool:
        with app.app_context():
            statuses = set(db.session.scalars(select(Email.status)))
        return statuses <= {"sent", "failed"}

    assert _wait_until(settled, 60)
    time.sleep(2)
    assert _recipients(smtp) == Counter({"a@example.com": 1, "b@example.com": 1})
    with app.app_context():
        failed = db.session.scalar(select(Email).where(Email.recipient == "nobody@example.com"))
        assert failed.status == "failed" and "550" in failed.last_error and "No such user" in failed.last_error


def _outbox_dump(app: Flask) -> str:
    with app.app_context():
        rows = db.session.execute(
            select(Email.id, Email.status, Email.attempts, Email.enqueued_at, Email.next_attempt_at, Email.last_error)
        ).all()
    return "\n".join(str(tuple(r)) for r in rows) + "\n"


def _bulk_confirmed(program_id: int, count: int) -> None:
    """`count` confirmed registrants, inserted in one statement (the fan-out is what is
    under test, not registration)."""
    now = datetime.now(UTC)
    rows = []
    for i in range(count):
        token = new_token()
        rows.append(
            {
                "program_id": program_id,
                "email": f"r{i}@example.com",
                "email_normalized": f"r{i}@example.com",
                "full_name": f"Registrant {i}",
                "country": "PK",
                "organisation": "",
                "job_title": "",
                "language": "en",
                "timezone": "Asia/Karachi",
                "answers": {},
                "status": "confirmed",
                "token": token,
                "token_selector": token[:16],
                "revision": 1,
                "created_at": now - timedelta(days=1),
                "updated_at": now - timedelta(days=1),
                "status_changed_at": now - timedelta(days=1),
                "confirmed_at": now - timedelta(days=1),
            }
        )
    db.session.execute(insert(Registration), rows)
    db.session.commit()


def _reminder_due_now(app: Flask, make_program: Callable[..., int], redis_url: str, recipients: int) -> int:
    """A program whose 1-hour reminder is due, with `recipients` confirmed long ago, and
    an empty broker."""
    from tests.conftest import flush_redis

    starts = datetime.now(UTC) + timedelta(minutes=40)
    program_id = make_program(reminders=["1h"], **starting_at(starts, deadline=starts - timedelta(minutes=5)))
    with app.app_context():
        _bulk_confirmed(program_id, recipients)
    flush_redis(redis_url)
    return program_id


def test_worker_sigkilled_during_a_2000_recipient_fan_out(
    app: Flask,
    pg_url: str,
    redis_url: str,
    smtp: SMTPServer,
    make_program: Callable[..., int],
    tmp_path: Path,
) -> None:
    _reminder_due_now(app, make_program, redis_url, 2000)
    env = worker_env(
        pg_url, redis_url, smtp, MAIL_MAX_PER_SECOND="300", MAIL_SENDING_TIMEOUT_SECONDS="4", REMINDER_SCAN_SECONDS="1"
    )
    first = start_worker(env, tmp_path / "first.log")
    try:
        assert _wait_until(lambda: sum(_recipients(smtp).values()) >= 500, 60), first.log()[-3000:]
    finally:
        stop_worker(first, signal.SIGKILL)
    with app.app_context():
        in_flight = db.session.scalar(select(func.count()).select_from(Email).where(Email.status == "sending"))
    received_at_kill = sum(_recipients(smtp).values())
    assert received_at_kill < 2000, "the fan-out finished before the kill; nothing was tested"

    second = start_worker(env, tmp_path / "second.log")
    try:
        assert _wait_until(lambda: len(_recipients(smtp)) == 2000, 120), second.log()[-3000:]
        time.sleep(2)
    finally:
        stop_worker(second)
    counts = _recipients(smtp)
    duplicates = sum(counts.values()) - len(counts)
    print(
        f"\nSIGKILL during fan-out: {received_at_kill} received before the kill, "
        f"{in_flight} rows in flight (sending), {duplicates} duplicate(s) after recovery"
    )
    assert len(counts) == 2000
    assert duplicates <= in_flight
    with app.app_context():
        assert set(db.session.scalars(select(Email.status))) == {"sent"}


def test_two_beats_and_a_task_enqueued_twice_send_one_email(
    app: Flask,
    pg_url: str,
    redis_url: str,
    smtp: SMTPServer,
    make_program: Callable[..., int],
    tmp_path: Path,
) -> None:
    from webapp.services.transactions import DELIVER_TASK

    program_id = _reminder_due_now(app, make_program, redis_url, 20)
    with app.app_context():
        register_participant(program_id, registration_input(email="late@example.com"), actor=Actor.participant())
        [confirmation] = db.session.scalars(select(Email.id).where(Email.kind == "confirmation"))
    env = worker_env(pg_url, redis_url, smtp, REMINDER_SCAN_SECONDS="0.5", OUTBOX_SWEEP_SECONDS="0.5")
    workers = [start_worker(env, tmp_path / f"w{i}.log") for i in range(2)]  # two workers, each with a beat
    try:
        with app.app_context():
            celery = app.extensions["celery"]
            celery.send_task(DELIVER_TASK, args=[[confirmation]])
            celery.send_task(DELIVER_TASK, args=[[confirmation]])
        assert _wait_until(lambda: len(_recipients(smtp)) == 21, 60)
        time.sleep(4)  # several more beat ticks on both schedulers
    finally:
        for worker in workers:
            stop_worker(worker)
    counts = _recipients(smtp)
    assert set(counts.values()) == {1}, counts
    assert counts["late@example.com"] == 1  # confirmed after the reminder fell due: no reminder
