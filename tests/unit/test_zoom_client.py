"""The Zoom client against the fake Zoom server: the shared token, renewal, the typed
errors callers retry on, and the calls themselves."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import select, update

from tests.fakes.zoom import FakeZoom
from webapp.extensions import db
from webapp.models import ZoomToken
from webapp.services.zoom import (
    DatabaseTokenStore,
    ZoomClient,
    ZoomRejected,
    ZoomRetryable,
    ZoomSettings,
    zoom_client,
    zoom_settings,
)


@pytest.fixture
def zoom_app(app: Flask, fake_zoom: FakeZoom) -> Iterator[Flask]:
    app.config.update(fake_zoom.config())
    with app.app_context():
        yield app


_opened: list[ZoomClient] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _opened:
        _opened.pop().close()


def _client() -> ZoomClient:
    """A client for the configured account, closed after the test."""
    client = zoom_client()
    _opened.append(client)
    return client


def _track(client: ZoomClient) -> ZoomClient:
    _opened.append(client)
    return client


def _add(client: ZoomClient, email: str = "ayesha@example.com", object_id: str = "81234567890") -> str:
    return client.add_registrant("webinar", object_id, email=email, first_name="Ayesha", last_name="Khan").join_url


def test_without_zoom_settings_zoom_is_not_configured(app: Flask) -> None:
    with app.app_context():
        assert zoom_settings() is None
        with pytest.raises(ZoomRejected):
            zoom_client()


def test_one_token_is_shared_by_every_client_through_the_database(zoom_app: Flask, fake_zoom: FakeZoom) -> None:
    # Two clients stand for two worker processes: the second finds the first's token.
    with _client() as first, _client() as second:
        _add(first, "a@example.com")
        _add(second, "b@example.com")
        _add(first, "c@example.com")
    assert fake_zoom.token_requests() == 1
    stored = db.session.scalar(select(ZoomToken))
    assert stored is not None and stored.expires_at > datetime.now(UTC) + timedelta(minutes=55)


def test_a_token_near_its_expiry_is_renewed_before_use(zoom_app: Flask, fake_zoom: FakeZoom) -> None:
    with _client() as client:
        _add(client, "a@example.com")
    with zoom_app.app_context():
        db.session.execute(update(ZoomToken).values(expires_at=datetime.now(UTC) + timedelta(minutes=2)))
        db.session.commit()
    with _client() as client:
        _add(client, "b@example.com")
    assert fake_zoom.token_requests() == 2


def test_a_refused_token_is_renewed_once_and_the_call_succeeds(zoom_app: Flask, fake_zoom: FakeZoom) -> None:
    with _client() as client:
        _add(client, "a@example.com")
        fake_zoom.revoke_tokens()  # as when the app is reactivated: every old token answers 401
        assert _add(client, "b@example.com").startswith("https://fake.zoom.test/")
    assert fake_zoom.token_requests() == 2
    assert len(fake_zoom.registrants_of("webinar", "81234567890")) == 2


def test_429_is_a_retryable_error_carrying_retry_after(zoom_app: Flask, fake_zoom: FakeZoom) -> None:
    client = _client()
    fake_zoom.fail_next(429, retry_after="7")
    with pytest.raises(ZoomRetryable) as raised:
        _add(client)
    assert raised.value.status == 429 and raised.value.retry_after == 7.0
    assert _add(client)  # Zoom's limit lifted: the next call goes through
    fake_zoom.fail_next(429, retry_after="Wed, 21 Oct 2015 07:28:00 GMT")  # a date in the past
    with pytest.raises(ZoomRetryable) as raised:
        _add(client)
    assert raised.value.retry_after == 0.0


def test_server_errors_and_timeouts_are_retryable(zoom_app: Flask, fake_zoom: FakeZoom) -> None:
    client = _client()
    fake_zoom.fail_next(503)
    with pytest.raises(ZoomRetryable) as raised:
        _add(client)
    assert raised.value.status == 503 and raised.value.retry_after is None
    # A server that accepts the connection and never answers.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        host, port = silent.getsockname()
        settings = ZoomSettings.from_config(zoom_app.config | {"ZOOM_API_BASE_URL": f"http://{host}:{port}/v2"})
        assert settings is not None
        slow = _track(ZoomClient(settings.__class__(**{**settings.__dict__, "timeout": 0.5}), DatabaseTokenStore()))
        with pytest.raises(ZoomRetryable, match="did not answer"):
            _add(slow)


def test_refusals_are_not_retryable(zoom_app: Flask, fake_zoom: FakeZoom) -> None:
    zoom_app.config["ZOOM_CLIENT_SECRET"] = "wrong"
    with pytest.raises(ZoomRejected, match="access token"):
        _add(_client())
    zoom_app.config.update(fake_zoom.config())
    with pytest.raises(ZoomRejected, match="Validation Failed"):
        _client().add_registrant("webinar", "1", email="not-an-address", first_name="A", last_name="B")


def test_a_second_add_returns_the_same_registrant_and_the_fourth_in_a_day_is_refused(
    zoom_app: Flask, fake_zoom: FakeZoom
) -> None:
    client = _client()
    links = {_add(client, "Ayesha@Example.com") for _ in range(3)}
    assert len(links) == 1
    with pytest.raises(ZoomRetryable) as raised:
        _add(client, "ayesha@example.com")
    assert raised.value.status == 429 and raised.value.retry_after and raised.value.retry_after > 0
    assert "daily rate limit (3)" in str(raised.value)
    assert _add(client, "bilal@example.com") not in links  # everyone else has their own link


def test_cancel_reaches_zoom(zoom_app: Flask, fake_zoom: FakeZoom) -> None:
    client = _client()
    registrant = client.add_registrant("meeting", "555", email="a@example.com", first_name="A", last_name="B")
    client.cancel_registrant("meeting", "555", registrant_id=registrant.registrant_id, email="a@example.com")
    assert fake_zoom.registrants_of("meeting", "555")[0].status == "cancelled"
    assert fake_zoom.cancels() == [("meeting", "555", registrant.registrant_id, "cancel")]


def test_the_participants_report_follows_every_page(zoom_app: Flask, fake_zoom: FakeZoom) -> None:
    rows = [{"id": f"p{i}", "user_email": f"p{i}@example.com", "duration": 60} for i in range(650)]
    # A rejoin: the same person again, as Zoom reports it.
    rows.append({"id": "p0", "user_email": "p0@example.com", "duration": 30})
    fake_zoom.add_participants("webinar", "999", rows)
    assert _client().participants_report("webinar", "999") == rows
    pages = [path for method, path in fake_zoom.state.requests if path.startswith("/v2/report/")]
    assert len(pages) == 3


def test_the_token_is_shared_on_sqlite_too(make_sqlite_app: Callable[..., Flask], fake_zoom: FakeZoom) -> None:
    app = make_sqlite_app(**fake_zoom.config())
    with app.app_context():
        _add(_client(), "a@example.com")
        _add(_client(), "b@example.com")
        assert db.session.scalar(select(ZoomToken.account_id)) == "fake-account"
    assert fake_zoom.token_requests() == 1
