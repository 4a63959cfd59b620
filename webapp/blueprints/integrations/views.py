"""Zoom's webhook. CSRF-exempt (Zoom cannot send our token): its HMAC signature over
the raw body and timestamp is what proves the sender, and is checked first."""

from __future__ import annotations

import json

from flask import abort, current_app, jsonify, request
from werkzeug.wrappers import Response

from webapp.blueprints.integrations import bp
from webapp.extensions import csrf
from webapp.services.zoom import webhooks


@bp.post("/zoom/webhook")
@csrf.exempt
def zoom_webhook() -> Response | tuple[Response, int]:
    secret = current_app.config.get("ZOOM_WEBHOOK_SECRET_TOKEN") or ""
    if not secret:
        abort(404)  # Zoom is not connected: there is no webhook
    body = request.get_data(cache=False)
    try:
        webhooks.verify(
            secret, request.headers.get("x-zm-request-timestamp"), request.headers.get("x-zm-signature"), body
        )
    except webhooks.WebhookRefused:
        return jsonify({"error": "unauthorized"}), 401
    try:
        event = json.loads(body)
    except ValueError:
        abort(400)
    if not isinstance(event, dict):
        abort(400)
    if event.get("event") == "endpoint.url_validation":
        plain = (event.get("payload") or {}).get("plainToken") if isinstance(event.get("payload"), dict) else None
        if not isinstance(plain, str) or not plain:
            abort(400)
        return jsonify(webhooks.url_validation(secret, plain))
    webhooks.accept_event(event)
    return jsonify({"status": "accepted"})
