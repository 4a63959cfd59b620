"""Absolute links for emails and calendars, which are built where there is no request."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from werkzeug.routing import MapAdapter


def public_base_url() -> str:
    base = current_app.config.get("PUBLIC_BASE_URL") or ""
    if base:
        return base.rstrip("/")
    server_name = current_app.config.get("SERVER_NAME")
    if server_name:
        return f"{current_app.config.get('PREFERRED_URL_SCHEME', 'https')}://{server_name}"
    return f"http://127.0.0.1:{current_app.config.get('PORT', 5000)}"


def _adapter() -> MapAdapter:
    """The URL map bound to the public base URL, built once per app and base URL
    (emails build thousands of links; a request context per link is too slow)."""
    cache: dict[str, MapAdapter] = current_app.extensions.setdefault("public_url_adapters", {})
    base = public_base_url()
    adapter = cache.get(base)
    if adapter is None:
        parts = urlsplit(base)
        adapter = current_app.url_map.bind(parts.netloc, script_name=parts.path or "/", url_scheme=parts.scheme)
        cache[base] = adapter
    return adapter


def external_url(endpoint: str, **values: Any) -> str:
    """`url_for(endpoint, **values)` as an absolute URL on the public base URL."""
    return _adapter().build(endpoint, values, force_external=True)


def manage_url(token: str) -> str:
    return external_url("registrations.manage", token=token)
