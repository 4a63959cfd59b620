"""Guards in front of every view, so that no input, however odd, reaches the database in
a shape it refuses (a 5xx): ids that fit an INTEGER column, and no NUL character, which
PostgreSQL cannot store or compare in text.

Registered by `create_app()` before the blueprints, because the id converter must be in
place when their routes are added.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, abort, request
from werkzeug.routing import IntegerConverter, Map

# Every id column is a PostgreSQL INTEGER.
MAX_ID = 2**31 - 1


class IdConverter(IntegerConverter):
    """`<int:...>` in every route: a number no row can have (past 2^31 - 1) is a page
    that does not exist (404), not an overflow error from the database."""

    def __init__(
        self, map: Map, fixed_digits: int = 0, min: int | None = None, max: int | None = MAX_ID, signed: bool = False
    ) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def parse_id(value: str) -> int | None:
    """An id typed into a form or query string, or None if it cannot be one."""
    if not value.isascii() or not value.isdigit() or len(value) > 10:
        return None
    number = int(value)
    return number if 0 < number <= MAX_ID else None


def _carries_nul() -> bool:
    if "\x00" in request.path:
        return True
    for values in (request.args, request.form):
        for key, items in values.lists():
            if "\x00" in key or any("\x00" in item for item in items):
                return True
    return False


# Views that read every input as untrusted text and never pass one with a NUL to the
# database: a typed certificate code is answered "no certificate has this code" (404)
# whatever it holds, so that no input gets a different page from an unknown code.
NUL_SAFE_ENDPOINTS = frozenset({"public.verify", "public.verify_code"})


def refuse_nul() -> Any:
    """A NUL anywhere in the path, query string or form is refused with the plain 400
    page before any view (or sign-in, or lookup by token) passes it to the database
    (except in `NUL_SAFE_ENDPOINTS`)."""
    if request.endpoint not in NUL_SAFE_ENDPOINTS and _carries_nul():
        abort(400)
    return None


def register_guards(app: Flask) -> None:
    app.url_map.converters["int"] = IdConverter
    app.before_request(refuse_nul)
