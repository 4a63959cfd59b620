"""Security by default: CSRF on every form, rate-limited sign-in with one answer (per
client, behind TRUSTED_PROXY_HOPS proxies), production refusing weak configuration,
the headers private pages carry, and logs without tokens or personal data."""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, request
from sqlalchemy import select

import config
from config import ConfigError
from tests.conftest import ROOT, SECRET, SMTPServer, app_settings, flush_redis
from tests.functional.helpers import csrf_token, register, sign_in
from webapp import create_app
from webapp.extensions import db
from webapp.models import Registration


def test_every_organiser_form_refuses_a_post_without_its_token(app: Flask, make_program: Callable[..., int]) -> None:
    program_id = make_program()
    client = sign_in(app, admin=True)
    base = f"/organiser/programs/{program_id}"
    posts = [
        "/organiser/logout",
        "/organiser/programs/new",
        f"{base}/edit",
        f"{base}/status",
        f"{base}/duplicate",
        f"{base}/attendees/actions",
        f"{base}/attendees/new",
        f"{base}/messages/new",
        f"{base}/certificates/send",
        "/dev/mailbox/clear",
    ]
    for url in posts:
        response = client.post(url, data={"status": "cancelled", "confirm": "1", "action": "cancel", "save": "1"})
        assert response.status_code == 400, url
        assert "This page had expired" in response.get_data(as_text=True), url
    # Nothing changed, and the organiser is still signed in.
    assert client.get(f"{base}/").status_code == 200
    assert "published" in client.get(f"{base}/").get_data(as_text=True)


def test_sign_in_is_rate_limited_with_the_same_answer(
    pg_url: str, redis_url: str, smtp: SMTPServer, tmp_path: Path
) -> None:
    app = create_app(
        "testing",
        **app_settings(pg_url, redis_url, smtp, tmp_path)
        | {"RATELIMIT_ENABLED": True, "LOGIN_RATE_LIMIT": "3 per minute"},
    )
    try:
        client = app.test_client()
        token = csrf_token(client.get("/organiser/login").get_data(as_text=True))
        codes = [
            client.post(
                "/organiser/login", data={"email": f"guess{i}@example.org", "password": "wrong", "csrf_token": token}
            ).status_code
            for i in range(4)
        ]
        assert codes == [200, 200, 200, 429]
    finally:
        with app.app_context():
            db.engine.dispose()


# --- behind a proxy: TRUSTED_PROXY_HOPS ----------------------------------------------------


def _limited_app(pg_url: str, redis_url: str, smtp: SMTPServer, tmp_path: Path, hops: int) -> Flask:
    return create_app(
        "testing",
        **app_settings(pg_url, redis_url, smtp, tmp_path)
        | {"RATELIMIT_ENABLED": True, "LOGIN_RATE_LIMIT": "3 per minute", "TRUSTED_PROXY_HOPS": hops},
    )


def _bad_sign_in(app: Flask, proxy_sees: str) -> int:
    """A wrong password from the client the proxy saw at `proxy_sees` (the proxy itself
    is 10.0.0.1, and appends that client to whatever X-Forwarded-For it was sent)."""
    client = app.test_client()
    headers = {"X-Forwarded-For": proxy_sees, "X-Forwarded-Proto": "http"}
    environ = {"REMOTE_ADDR": "10.0.0.1"}
    page = client.get("/organiser/login", headers=headers, environ_base=environ)
    data = {"email": "someone@example.org", "password": "wrong", "csrf_token": csrf_token(page.get_data(as_text=True))}
    return client.post("/organiser/login", data=data, headers=headers, environ_base=environ).status_code


def test_behind_one_trusted_proxy_each_client_has_its_own_sign_in_limit(
    pg_url: str, redis_url: str, smtp: SMTPServer, tmp_path: Path
) -> None:
    flush_redis(redis_url)
    app = _limited_app(pg_url, redis_url, smtp, tmp_path, hops=1)
    try:
        assert [_bad_sign_in(app, "198.51.100.2") for _ in range(4)] == [200, 200, 200, 429]
        # A client cannot forge its way out: the proxy's own entry (the last) counts.
        assert _bad_sign_in(app, "203.0.113.9, 198.51.100.2") == 429
        # Someone else behind the same proxy is not locked out.
        assert _bad_sign_in(app, "198.51.100.3") == 200
    finally:
        flush_redis(redis_url)
        with app.app_context():
            db.engine.dispose()


def test_trusting_no_proxy_makes_every_client_behind_it_one_client(
    pg_url: str, redis_url: str, smtp: SMTPServer, tmp_path: Path
) -> None:
    flush_redis(redis_url)
    app = _limited_app(pg_url, redis_url, smtp, tmp_path, hops=0)
    try:
        assert [_bad_sign_in(app, "198.51.100.2") for _ in range(3)] == [200, 200, 200]
        assert _bad_sign_in(app, "198.51.100.3") == 429
    finally:
        flush_redis(redis_url)
        with app.app_context():
            db.engine.dispose()


@pytest.mark.parametrize("value", ["-1", "one", "1.5", " 2x"])
def test_trusted_proxy_hops_must_be_a_whole_number(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("TRUSTED_PROXY_HOPS", value)
    with pytest.raises(ConfigError, match=r"TRUSTED_PROXY_HOPS must be a whole number of proxies, 0 or more"):
        config.load("testing")


def test_trusted_proxy_hops_defaults_to_trusting_no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRUSTED_PROXY_HOPS", raising=False)
    assert config.load("testing")["TRUSTED_PROXY_HOPS"] == 0
    monkeypatch.setenv("TRUSTED_PROXY_HOPS", "2")
    assert config.load("testing")["TRUSTED_PROXY_HOPS"] == 2


# --- production refuses weak configuration --------------------------------------------------


def _production(secret: str) -> dict[str, Any]:
    return config.load(
        "production",
        SECRET_KEY=secret,
        SQLALCHEMY_DATABASE_URI="postgresql+psycopg://db/rollcall",
        CELERY_BROKER_URL="redis://redis:6379/0",
    )


def _env_example() -> dict[str, str]:
    """Every setting .env.example shows, as if each line were uncommented."""
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = re.fullmatch(r"#\s*([A-Z_]+)=(.*)", line.strip())
        if match:
            values[match.group(1)] = match.group(2)
    return values


@pytest.mark.parametrize(
    "secret",
    [
        "a" * 36,
        "ab" * 20,
        "0123" * 12,
        "change-me-to-48-random-characters",  # what .env.example used to suggest
        config.DEFAULT_SECRET_KEY,
        "too-short-but-random-Zq8",
        "",
    ],
    ids=["one-character", "two-characters", "four-characters", "old-example", "default", "short", "empty"],
)
def test_production_refuses_a_weak_secret_key(secret: str) -> None:
    with pytest.raises(ConfigError, match=r"Refusing to start in production: SECRET_KEY .*secrets.token_urlsafe"):
        _production(secret)


def test_production_refuses_the_env_example_as_it_stands(monkeypatch: pytest.MonkeyPatch) -> None:
    example = _env_example()
    assert "SECRET_KEY" in example
    for name, value in example.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        config.load()


def test_production_accepts_random_keys() -> None:
    for secret in (secrets.token_urlsafe(48), secrets.token_hex(16), secrets.token_urlsafe(24), SECRET):
        assert _production(secret)["SECRET_KEY"] == secret


def test_unset_rollcall_env_with_a_database_server_refuses_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """Not the embedded default (and its open mailbox) on what looks like a deployment."""
    monkeypatch.delenv("ROLLCALL_ENV", raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql://rollcall@db/rollcall")
    with pytest.raises(ConfigError, match="ROLLCALL_ENV is not set but DATABASE_URL names a database server"):
        create_app()
    # Said out loud, the embedded default may use PostgreSQL; SQLite needs nothing said.
    monkeypatch.setenv("ROLLCALL_ENV", "embedded")
    assert config.load()["ROLLCALL_ENV"] == "embedded"
    monkeypatch.delenv("ROLLCALL_ENV")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{config.INSTANCE / 'rollcall.sqlite'}")
    assert config.load()["ROLLCALL_ENV"] == "embedded"


# --- headers ---------------------------------------------------------------------------------


def test_headers_keep_private_pages_out_of_caches_and_third_party_referers(
    app: Flask, make_program: Callable[..., int]
) -> None:
    program_id = make_program()
    participant = app.test_client()
    register(participant, "li-ion-basics")
    with app.app_context():
        token = db.session.scalars(select(Registration.token)).one()

    public = participant.get("/programs/li-ion-basics")
    assert public.status_code == 200
    assert public.headers["Permissions-Policy"].startswith("accelerometer=()")
    assert "camera=()" in public.headers["Permissions-Policy"]
    assert "no-store" not in public.headers.get("Cache-Control", "")

    for path in (f"/r/{token}", f"/r/{token}/cancel"):
        response = participant.get(path)
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"] == "no-store", path
        # A Referer naming the secret URL goes only to this site, never to another.
        assert response.headers["Referrer-Policy"] == "same-origin", path
        assert "Permissions-Policy" in response.headers

    organiser = sign_in(app, admin=True)
    base = f"/organiser/programs/{program_id}"
    for path in ("/organiser/", f"{base}/", f"{base}/attendees", f"{base}/attendees.csv", f"{base}/attendees.xlsx"):
        response = organiser.get(path)
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"] == "no-store", path
    assert app.test_client().get("/organiser/login").headers["Cache-Control"] == "no-store"


# --- logs --------------------------------------------------------------------------------------


def test_an_unexpected_error_logs_no_token_email_or_bound_values(app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    """A database error on a self-service URL: the log says what failed and where, but
    not the token, nor the values bound to the statement, nor an email address that the
    database's own message repeats."""
    from sqlalchemy import text

    # Values come from the request, as a participant's data would (a traceback quotes
    # source lines, so none is written in this test's code).
    name, address = "Ayesha Khan", "ayesha.khan@example.com"

    def divide(token: str) -> str:
        db.session.execute(text("SELECT 1 / 0 WHERE :name <> :email"), dict(request.args))
        return "unreachable"

    def cast(token: str) -> str:
        db.session.execute(text("SELECT CAST(:email AS integer)"), {"email": request.args["email"]})
        return "unreachable"

    app.add_url_rule("/r/<token>/divide", "divide", divide)
    app.add_url_rule("/r/<token>/cast", "cast", cast)
    client = app.test_client()
    secret = "Zq8-secret-token-value_ABC123"
    with caplog.at_level(logging.ERROR):
        first = client.get(f"/r/{secret}/divide", query_string={"name": name, "email": address})
        second = client.get(f"/r/{secret}/cast", query_string={"email": address})
    assert first.status_code == second.status_code == 500
    assert "Something went wrong on our side" in first.get_data(as_text=True)
    logged = caplog.text
    assert "unhandled error on GET '/r/<token>/divide'" in logged
    assert "unhandled error on GET '/r/<token>/cast'" in logged
    assert "division by zero" in logged  # the cause is still there
    assert secret not in logged
    assert name not in logged
    assert address not in logged


def test_the_direct_statement_path_hides_bound_values_too(app: Flask) -> None:
    """`run_alone` (the registration fast path) raises SQLAlchemy's IntegrityError
    itself: its message names the statement, not the values (the person's data)."""
    from sqlalchemy.exc import IntegrityError

    from webapp.database import run_alone

    name = "Ayesha Khan"
    with app.app_context(), pytest.raises(IntegrityError) as raised:
        run_alone(db.engine, "INSERT INTO organisers (email) SELECT NULL WHERE %(name)s::text <> ''", {"name": name})
    assert "organisers" in str(raised.value)
    assert name not in str(raised.value)


def test_the_development_server_request_log_shows_no_token(app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    """`make run` serves with werkzeug, which logs each request line."""
    import http.client
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    secret = "Zq8-secret-token-value_ABC123"
    try:
        with caplog.at_level(logging.INFO, logger="werkzeug"):
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            conn.request("GET", f"/r/{secret}/cancel?email=ayesha%40example.com")
            assert conn.getresponse().status == 404
            conn.close()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    assert "GET /r/<token>/cancel?email=<email>" in caplog.text
    assert secret not in caplog.text and "ayesha" not in caplog.text


def test_an_unexpected_error_on_a_path_with_a_line_break_logs_one_line(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    """A path is typed by the client: its control characters must not forge log lines."""

    def fail(rest: str) -> str:
        raise RuntimeError("boom")

    app.add_url_rule("/fail/<rest>", "fail", fail)
    with caplog.at_level(logging.ERROR):
        response = app.test_client().get("/fail/x%0d%0aFORGED%20log%20line")
    assert response.status_code == 500
    [record] = [r for r in caplog.records if "unhandled error" in r.getMessage()]
    assert "\n" not in record.getMessage() and "\r" not in record.getMessage()
    assert "\\r\\nFORGED" in record.getMessage()
