"""Absolute links for emails and calendars, which are built where there is no request."""

from __future__ import annotations

from typing import Any

from flask import current_app, url_for


def public_base_url() -> str:
    base = current_app.config.get("PUBLIC_BASE_URL") or ""
    if base:
        return base.rstrip("/")
    server_name = current_app.config.get("SERVER_NAME")
    if server_name:
        return f"{current_app.config.get('PREFERRED_URL_SCHEME', 'https')}://{server_name}"
    return f"http://127.0.0.1:{current_app.config.get('PORT', 5000)}"


def external_url(endpoint: str, **values: Any) -> str:
    """`url_for(endpoint, **values)` as an absolute URL on the public base URL."""
    with current_app.test_request_context("/", base_url=public_base_url()):
        return url_for(endpoint, _external=True, **values)


def manage_url(token: str) -> str:
    return external_url("registrations.manage", token=token)
