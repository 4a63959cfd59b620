"""Security by default: CSRF on every form, rate-limited sign-in with one answer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from flask import Flask

from tests.conftest import SMTPServer, app_settings
from tests.functional.helpers import csrf_token, sign_in
from webapp import create_app
from webapp.extensions import db


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
