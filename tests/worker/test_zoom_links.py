"""Personal Zoom links through a real `celery -A worker worker --beat` process and the
fake Zoom server: every confirmed registrant's email carries their own link, Zoom is
called once per registrant and session, waits and failures never lose an email."""

from __future__ import annotations

import email
import re
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from tests.conftest import SMTPServer, WorkerProcess, flush_redis, start_worker, stop_worker, worker_env
from tests.fakes.zoom import FakeZoom
from tests.functional.helpers import csrf_token, register, sign_in
from webapp.extensions import db
from webapp.models import Email, Program, Registration, ZoomRegistrant
from webapp.services.audit import Actor
from webapp.services.registrations import apply_action, cancel_registration

pytestmark = pytest.mark.worker

ZOOM_ID = "81234567890"
STATIC_LINK = "https://zoom.us/j/81234567890"
PERSONAL = re.compile(r"https://fake\.zoom\.test/w/81234567890\?tk=[\w-]+")


def _zoom_program(make_program: Callable[..., int], **overrides: object) -> int:
    from tests.conftest import program_data

    data = program_data(**overrides)
    data["sessions"][0]["zoom_meeting_id"] = ZOOM_ID
    return make_program(**{**overrides, "sessions": data["sessions"]})


def _text(raw: bytes) -> str:
    message = email.message_from_bytes(raw, policy=default)
    assert isinstance(message, EmailMessage)
    part = message.get_body(("plain",))
    assert part is not None
    return part.get_content()


def wait_until(condition: Callable[[], object], timeout: float = 60, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what or condition}")


@pytest.fixture
def zoom_worker(
    app: Flask, fake_zoom: FakeZoom, pg_url: str, redis_url: str, smtp: SMTPServer, tmp_path: Path
) -> Iterator[Callable[..., WorkerProcess]]:
    """Start a worker with beat, configured for the fake Zoom (and `extra` settings)."""
    workers: list[WorkerProcess] = []

    def start(zoom: bool = True, **extra: str) -> WorkerProcess:
        flush_redis(redis_url)
        env = worker_env(pg_url, redis_url, smtp, ZOOM_SWEEP_SECONDS="1", ZOOM_RETRY_BASE_SECONDS="1", **extra)
        if zoom:
            env.update(fake_zoom.env())
        worker = start_worker(env, tmp_path / f"worker-{len(workers)}.log")
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        stop_worker(worker)
    flush_redis(redis_url)


def _places(app: Flask) -> list[ZoomRegistrant]:
    with app.app_context():
        rows = list(db.session.scalars(select(ZoomRegistrant).order_by(ZoomRegistrant.id)))
        db.session.expunge_all()
    return rows


def test_a_rush_gives_every_confirmed_registrant_their_own_link_calling_zoom_once_each(
    app: Flask,
    smtp: SMTPServer,
    fake_zoom: FakeZoom,
    make_program: Callable[..., int],
    zoom_worker: Callable[..., WorkerProcess],
) -> None:
    program_id = _zoom_program(make_program)
    worker = zoom_worker()
    # The web app knows nothing of Zoom: registering cannot call it, only the worker does.
    client = app.test_client()
    people = [f"p{i}@example.com" for i in range(12)]
    for address in people:
        assert register(client, "li-ion-basics", email=address, full_name=f"Person {address[:3]}").status_code == 303
    messages = smtp.handler.wait_for(len(people), timeout=90)
    assert len(messages) == len(people), worker.log()
    links = {}
    for message in messages:
        text = _text(message.content)
        found = PERSONAL.findall(text)
        assert found, text
        assert STATIC_LINK not in text
        links[message.rcpt_tos[0]] = found[0]
    assert sorted(links) == sorted(people)
    assert len(set(links.values())) == len(people)  # distinct links
    assert sorted(email for _, _, email in fake_zoom.add_calls()) == sorted(people)  # once each
    by_email = {r.email: r.join_url for r in fake_zoom.registrants_of("webinar", ZOOM_ID)}
    assert by_email == links

    # A resend carries the stored link: Zoom is not asked again.
    with app.app_context():
        first = db.session.scalar(select(Registration.id).where(Registration.email == people[0]))
        apply_action(program_id, [first], "resend", actor=Actor.system())
    again = smtp.handler.wait_for(len(people) + 1, timeout=60)
    assert links[people[0]] in _text(again[-1].content)
    assert len(fake_zoom.add_calls()) == len(people)


def test_zoom_asking_to_wait_delays_the_confirmation_which_then_carries_the_link(
    app: Flask,
    smtp: SMTPServer,
    fake_zoom: FakeZoom,
    make_program: Callable[..., int],
    zoom_worker: Callable[..., WorkerProcess],
) -> None:
    _zoom_program(make_program)
    fake_zoom.fail_next(429, retry_after="1")
    worker = zoom_worker()
    assert register(app.test_client(), "li-ion-basics").status_code == 303
    messages = smtp.handler.wait_for(1, timeout=60)
    assert len(messages) == 1, worker.log()
    assert PERSONAL.search(_text(messages[0].content))
    posts = [p for m, p in fake_zoom.state.requests if m == "POST" and p.endswith("/registrants")]
    assert len(posts) == 2  # the refused call, then the one that worked
    with app.app_context():
        row = db.session.scalar(select(Email))
        assert row is not None and row.status == "sent" and row.attempts == 1


def test_zoom_down_past_the_fallback_sends_the_static_link_and_the_organiser_can_retry(
    app: Flask,
    smtp: SMTPServer,
    fake_zoom: FakeZoom,
    make_program: Callable[..., int],
    zoom_worker: Callable[..., WorkerProcess],
) -> None:
    program_id = _zoom_program(make_program)
    fake_zoom.set_down(503)
    worker = zoom_worker(ZOOM_FALLBACK_MINUTES="0.05")  # three seconds
    assert register(app.test_client(), "li-ion-basics", full_name="Ayesha Khan").status_code == 303
    messages = smtp.handler.wait_for(1, timeout=60)
    assert len(messages) == 1, worker.log()
    text = _text(messages[0].content)
    assert STATIC_LINK in text and not PERSONAL.search(text)
    [place] = _places(app)
    assert place.status == "failed" and "503" in (place.last_error or "")

    organiser = sign_in(app, admin=True)
    page = organiser.get(f"/organiser/programs/{program_id}/attendees").get_data(as_text=True)
    assert "1 confirmed registrant has no personal Zoom link" in page
    assert "Ayesha Khan" in page and "Ask Zoom again" in page

    fake_zoom.set_down(None)
    response = organiser.post(
        f"/organiser/programs/{program_id}/attendees/zoom-retry", data={"csrf_token": csrf_token(page)}
    )
    assert response.status_code == 303
    messages = smtp.handler.wait_for(2, timeout=60)
    assert len(messages) == 2, worker.log()
    assert PERSONAL.search(_text(messages[1].content))
    wait_until(lambda: _places(app)[0].status == "added", what="the place added")
    page = organiser.get(f"/organiser/programs/{program_id}/attendees").get_data(as_text=True)
    assert "no personal Zoom link" not in page


def test_cancelling_reaches_zoom(
    app: Flask,
    smtp: SMTPServer,
    fake_zoom: FakeZoom,
    make_program: Callable[..., int],
    zoom_worker: Callable[..., WorkerProcess],
) -> None:
    _zoom_program(make_program)
    worker = zoom_worker()
    assert register(app.test_client(), "li-ion-basics").status_code == 303
    assert len(smtp.handler.wait_for(1, timeout=60)) == 1, worker.log()
    with app.app_context():
        registration_id = db.session.scalar(select(Registration.id))
        assert cancel_registration(registration_id, actor=Actor.participant())
    wait_until(lambda: fake_zoom.cancels(), what="Zoom to hear of the cancellation")
    [(zoom_type, object_id, _registrant, action)] = fake_zoom.cancels()
    assert (zoom_type, object_id, action) == ("webinar", ZOOM_ID, "cancel")
    assert fake_zoom.registrants_of("webinar", ZOOM_ID)[0].status == "cancelled"
    wait_until(lambda: _places(app)[0].status == "cancelled", what="the place marked cancelled")


def test_without_zoom_configured_everyone_gets_the_static_link_as_before(
    app: Flask,
    smtp: SMTPServer,
    fake_zoom: FakeZoom,
    make_program: Callable[..., int],
    zoom_worker: Callable[..., WorkerProcess],
) -> None:
    _zoom_program(make_program)
    worker = zoom_worker(zoom=False)
    assert register(app.test_client(), "li-ion-basics").status_code == 303
    messages = smtp.handler.wait_for(1, timeout=60)
    assert len(messages) == 1, worker.log()
    assert STATIC_LINK in _text(messages[0].content)
    assert fake_zoom.state.requests == [] and _places(app) == []
    with app.app_context():
        assert db.session.scalar(select(Program.id)) is not None
