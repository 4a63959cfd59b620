"""The web process's doorbell (`webapp.services.doorbell`): committed outbox ids are
published from a background thread, many per task, never lost, and a request never
waits for the broker. All but the last test need no server: the doorbell only reads
its settings from the application."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

from flask import Flask
from sqlalchemy import select

from tests.conftest import registration_input
from webapp.extensions import db
from webapp.models import Email
from webapp.services.audit import Actor
from webapp.services.doorbell import Doorbell
from webapp.services.registrations import register_participant


class Recorder:
    """A publish function that remembers what it was given; it can fail, or hold each
    call until the test opens `gate` (`started` says a call is under way)."""

    def __init__(self, fail: bool = False, hold: bool = False) -> None:
        self.calls: list[list[int]] = []
        self.threads: set[str] = set()
        self.fail = fail
        self.started = threading.Event()
        self.gate = threading.Event()
        if not hold:
            self.gate.set()

    def __call__(self, ids: list[int]) -> None:
        self.threads.add(threading.current_thread().name)
        self.started.set()
        assert self.gate.wait(timeout=10), "the test never opened the gate"
        if self.fail:
            raise RuntimeError("broker on fire")
        self.calls.append(list(ids))

    @property
    def ids(self) -> list[int]:
        return sorted(i for call in self.calls for i in call)


def _doorbell(recorder: Recorder, window: float = 0.05, batch: int = 100) -> Doorbell:
    """A doorbell on a bare application (no database, no broker) holding its settings."""
    app = Flask(__name__)
    app.config.update(OUTBOX_DOORBELL_WINDOW_SECONDS=window, MAIL_BATCH_SIZE=batch)
    return Doorbell(app, recorder)


def test_ids_rung_together_are_published_together_from_another_thread() -> None:
    recorder = Recorder(hold=True)
    doorbell = _doorbell(recorder)
    doorbell.ring([0])
    assert recorder.started.wait(timeout=10)  # while the thread publishes this one ...
    for i in range(1, 51):
        doorbell.ring([i])  # ... fifty more arrive, one by one
    recorder.gate.set()
    assert doorbell.wait_idle(timeout=10)
    assert recorder.calls == [[0], list(range(1, 51))]  # 51 rings, two tasks
    assert recorder.threads == {"rollcall-doorbell"}


def test_ring_returns_while_a_publish_is_still_under_way() -> None:
    recorder = Recorder(hold=True)
    doorbell = _doorbell(recorder)
    doorbell.ring([0])
    assert recorder.started.wait(timeout=10)  # the thread is publishing, held at the gate ...
    for i in range(1, 20):
        doorbell.ring([i])  # ... and ringing does not wait for it
    assert not recorder.calls
    recorder.gate.set()
    assert doorbell.wait_idle(timeout=10)
    assert recorder.ids == list(range(20))


def test_a_lone_ring_is_published_without_waiting_for_more() -> None:
    recorder = Recorder()
    doorbell = _doorbell(recorder, window=0.05)
    doorbell.ring([7])
    assert doorbell.wait_idle(timeout=5)
    assert recorder.calls == [[7]]


def test_a_failing_publish_does_not_stop_the_thread() -> None:
    recorder = Recorder(fail=True)
    doorbell = _doorbell(recorder)
    doorbell.ring([1])
    assert doorbell.wait_idle(timeout=5)
    recorder.fail = False
    doorbell.ring([2])
    assert doorbell.wait_idle(timeout=5)
    assert recorder.calls == [[2]]


def test_close_publishes_what_is_still_queued() -> None:
    recorder = Recorder(hold=True)
    doorbell = _doorbell(recorder, window=0.0)
    doorbell.ring([1])
    assert recorder.started.wait(timeout=10)  # the thread took this one and is busy with it ...
    doorbell.ring([2])  # ... so this one is still queued when the process exits
    by_close: list[list[int]] = []

    def publish(ids: list[int]) -> None:  # what `close` publishes, in this thread
        by_close.append(list(ids))
        recorder.gate.set()  # now let the thread finish its own

    doorbell.publish = publish
    doorbell.close()
    assert by_close == [[2]]
    assert recorder.calls == [[1]]


def test_a_forked_child_publishes_with_its_own_thread() -> None:
    recorder = Recorder()
    doorbell = _doorbell(recorder)
    doorbell.ring([1])
    assert doorbell.wait_idle(timeout=5)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: the parent's thread does not exist here
        try:
            doorbell.ring([2, 3])
            ok = doorbell.wait_idle(timeout=5) and recorder.calls == [[1], [2, 3]]
            os.write(write_end, b"ok" if ok else repr(recorder.calls).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    assert os.read(read_end, 1000) == b"ok"
    os.close(read_end)


def test_registrations_ring_the_real_broker_in_batches(
    app: Flask, make_program: Callable[..., int], redis_url: str
) -> None:
    """Through the registration service and `outbox.publish` to Redis: every email's id
    is in a task, and there are fewer tasks than registrations."""
    import json

    import redis

    from tests.conftest import flush_redis

    flush_redis(redis_url)
    app.config.update(OUTBOX_DOORBELL="thread", OUTBOX_DOORBELL_WINDOW_SECONDS=0.5)
    program_id = make_program(capacity=None)
    with app.app_context():
        for i in range(20):
            register_participant(program_id, registration_input(email=f"p{i}@example.com"), actor=Actor.participant())
        email_ids = sorted(db.session.scalars(select(Email.id)))
    assert app.extensions["doorbell"].wait_idle(timeout=10)
    client = redis.Redis.from_url(redis_url)
    try:
        tasks = [json.loads(m) for m in client.lrange("celery", 0, -1)]
    finally:
        client.close()
    assert all(t["headers"]["task"] == "worker.tasks.emails.deliver_emails" for t in tasks)
    published = sorted(i for t in tasks for i in _task_args(t)[0][0])
    assert published == email_ids
    assert 1 <= len(tasks) < 20
    flush_redis(redis_url)


def _task_args(message: dict) -> tuple:
    import base64
    import json

    body = message["body"]
    if message.get("properties", {}).get("body_encoding") == "base64":
        body = base64.b64decode(body)
    return tuple(json.loads(body))
