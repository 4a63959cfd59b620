"""Helpers for driving forms through the test client."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import PARTICIPANT

_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def csrf_token(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def form_values(**overrides: Any) -> dict[str, Any]:
    """The form fields for `PARTICIPANT`; an override of None leaves a field out."""
    values = PARTICIPANT | {"consent": "y"} | overrides
    return {k: v for k, v in values.items() if v is not None}


def register(client: FlaskClient, slug: str, **overrides: Any) -> Any:
    page = client.get(f"/programs/{slug}/register")
    assert page.status_code == 200
    data = form_values(**overrides)
    data["csrf_token"] = csrf_token(page.get_data(as_text=True))
    return client.post(f"/programs/{slug}/register", data=data)


ORGANISER_PASSWORD = "a long enough password"


def sign_in(
    app: Flask, email: str = "boss@example.org", *, admin: bool = False, name: str | None = None
) -> FlaskClient:
    """Create an organiser account and return a client signed in as them."""
    from webapp.services.organisers import create_organiser

    with app.app_context():
        create_organiser(email, name or email.split("@")[0].title(), ORGANISER_PASSWORD, admin=admin)
    client = app.test_client()
    token = csrf_token(client.get("/organiser/login").get_data(as_text=True))
    response = client.post(
        "/organiser/login", data={"email": email, "password": ORGANISER_PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 303, "sign-in failed"
    return client
