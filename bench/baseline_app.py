"""The registration rush's baseline: a bare Flask app whose POST does one INSERT.

Served by gunicorn exactly like the real application (same worker count and class),
driven by the same load generator with the same form body, so the ratio between the two
measures what Rollcall does per registration beyond "parse a form, insert one row,
redirect". It mirrors the real app's request shape on purpose:

* ``GET /form`` sets a session-like cookie and returns a hidden ``csrf_token`` input,
  so each client's one-off preparation is the same as against the real form;
* ``POST /register`` parses the form, inserts the email into ``bench_baseline`` in its
  own transaction, and answers ``303 See Other`` to ``/registered``;
* ``GET /registered`` is a tiny done page (`bench.journey` reads it, as it reads the
  form: a visible form with an action and a few fields, so its client does the same
  parsing and filling against both).

The database comes from ``BENCH_DATABASE_URL``; the engine uses the same driver
(psycopg 3) and pool options (``pool_pre_ping``) as the real app. The table is created
by the benchmark (`bench.rush`), not here.
"""

from __future__ import annotations

import os
import secrets
from datetime import UTC, datetime

from flask import Flask, Response, abort, make_response, redirect, request
from sqlalchemy import Column, DateTime, Integer, MetaData, Table, Text, create_engine
from werkzeug.wrappers import Response as BaseResponse

TABLE = Table(
    "bench_baseline",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("email", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


def create_app() -> Flask:
    """The gunicorn entry point: ``gunicorn "bench.baseline_app:create_app()"``."""
    url = os.environ["BENCH_DATABASE_URL"]
    engine = create_engine(url, pool_pre_ping=True)
    app = Flask(__name__)

    @app.get("/form")
    def form() -> Response:
        token = secrets.token_urlsafe(32)
        body = (
            "<!doctype html><title>Register</title><h1>Register</h1>"
            '<form method="post" action="/register">'
            f'<input id="csrf_token" name="csrf_token" type="hidden" value="{token}">'
            '<input name="full_name"><input name="email" type="email">'
            '<select name="country"><option value="">Choose</option><option value="PK">Pakistan</option></select>'
            '<input name="consent" type="checkbox" value="y"><button type="submit">Register</button></form>'
        )
        response = make_response(body)
        response.set_cookie("session", secrets.token_urlsafe(64), httponly=True, samesite="Lax")
        return response

    @app.post("/register")
    def register() -> BaseResponse:
        email = request.form.get("email", "")
        if not email:
            abort(400)
        with engine.begin() as conn:
            conn.execute(TABLE.insert().values(email=email, created_at=datetime.now(UTC)))
        return redirect("/registered", code=303)

    @app.get("/registered")
    def registered() -> str:
        return "<!doctype html><title>Registered</title><h1>Check your inbox</h1><p>Thank you.</p>"

    @app.get("/healthz")
    def healthz() -> str:
        return "ok"

    return app
