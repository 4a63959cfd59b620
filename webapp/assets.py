"""Static files under names that carry their content's hash.

Templates name a static file through `static_url("app.css")`, which gives
``/static/app.<hash>.css``: the hash (of the file's bytes, computed once per process)
changes whenever the file does, so a browser may keep what it fetched for a year and
never ask again (``Cache-Control: public, max-age=31536000, immutable``). A deploy that
changes the file changes the name, and pages name the new one.

The plain name (``/static/app.css``) still works, cached briefly, for anything that
links to it directly. A hashed name whose hash is not the file's current one (a page
rendered before a deploy) gets the current file with the same short lifetime, never the
long one: the name does not promise that content.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from flask import Flask, request, send_from_directory, url_for
from flask.sessions import SecureCookieSessionInterface, SessionMixin
from werkzeug.security import safe_join
from werkzeug.wrappers import Response

# A year: the longest lifetime RFC 9111 caches are expected to honour.
IMMUTABLE_MAX_AGE = 31536000
# What an unhashed (or stale) name gets: short enough that a deploy shows within minutes.
SHORT_MAX_AGE = 300
HASH_LENGTH = 12
_HASHED_NAME = re.compile(rf"^(?P<stem>.+)\.(?P<hash>[0-9a-f]{{{HASH_LENGTH}}})(?P<suffix>\.[A-Za-z0-9]+)$")


class StaticFiles:
    """The content hashes of one static folder, computed on first use and kept for the
    life of the process (files under static/ change only with a deploy, which restarts it)."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self._hashes: dict[str, str | None] = {}

    def content_hash(self, filename: str) -> str | None:
        """The first HASH_LENGTH hex digits of the file's SHA-256, or None if there is no such file."""
        if filename not in self._hashes:
            path = safe_join(self.folder, filename)
            try:
                data = Path(path).read_bytes() if path else None
            except OSError:
                data = None
            self._hashes[filename] = hashlib.sha256(data).hexdigest()[:HASH_LENGTH] if data is not None else None
        return self._hashes[filename]

    def hashed_name(self, filename: str) -> str:
        """``app.css`` -> ``app.<hash>.css`` (the plain name if the file is missing)."""
        digest = self.content_hash(filename)
        if digest is None:
            return filename
        stem, dot, suffix = filename.rpartition(".")
        return f"{stem}.{digest}.{suffix}" if dot else f"{filename}.{digest}"

    def resolve(self, requested: str) -> tuple[str, bool]:
        """The file a requested name means, and whether the name's hash is that file's
        current one (only then may it be cached for good)."""
        match = _HASHED_NAME.match(requested)
        if match:
            plain = match["stem"] + match["suffix"]
            digest = self.content_hash(plain)
            if digest is not None:
                return plain, digest == match["hash"]
        return requested, False


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, left alone for static files. Flask adds
    ``Vary: Cookie`` to any response whose request looked at the session (Flask-Login
    looks on every request), and a browser would then fetch a file named for good
    again whenever a cookie changed. A static file never changes the session."""

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if request.endpoint == "static":
            return
        super().save_session(app, session, response)


def register_static(app: Flask) -> None:
    """`static_url()` for templates, and the static route that understands hashed names
    (it replaces Flask's own view for the ``static`` endpoint, at the same URL, so it
    works wherever Flask's did: under gunicorn, behind the proxy, under a SCRIPT_NAME)."""
    folder = app.static_folder
    if folder is None:
        return
    files = StaticFiles(folder)
    app.extensions["static_files"] = files

    def static_url(filename: str) -> str:
        return url_for("static", filename=files.hashed_name(filename))

    def serve(filename: str) -> Any:
        real, immutable = files.resolve(filename)
        response = send_from_directory(folder, real, max_age=IMMUTABLE_MAX_AGE if immutable else SHORT_MAX_AGE)
        response.cache_control.public = True
        if immutable:
            response.cache_control.immutable = True
        return response

    app.jinja_env.globals["static_url"] = static_url
    app.view_functions["static"] = serve
    app.session_interface = SessionInterface()
