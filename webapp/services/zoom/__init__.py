"""Zoom: the API client (`client`), its shared token (`tokens`)."""

from __future__ import annotations

from flask import current_app

from webapp.services.zoom.client import (
    Registrant,
    ZoomClient,
    ZoomError,
    ZoomObject,
    ZoomRejected,
    ZoomRetryable,
    ZoomSettings,
)
from webapp.services.zoom.tokens import DatabaseTokenStore


def zoom_settings() -> ZoomSettings | None:
    """This app's Zoom account, or None when Zoom is not configured."""
    return ZoomSettings.from_config(current_app.config)


def is_configured() -> bool:
    return zoom_settings() is not None


def zoom_client() -> ZoomClient:
    """A client for the configured account, sharing its token through the database.
    Raises ZoomRejected when Zoom is not configured."""
    settings = zoom_settings()
    if settings is None:
        raise ZoomRejected("Zoom is not configured (ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID, ZOOM_CLIENT_SECRET)")
    return ZoomClient(settings, DatabaseTokenStore())


__all__ = [
    "DatabaseTokenStore",
    "Registrant",
    "ZoomClient",
    "ZoomError",
    "ZoomObject",
    "ZoomRejected",
    "ZoomRetryable",
    "ZoomSettings",
    "is_configured",
    "zoom_client",
    "zoom_settings",
]
