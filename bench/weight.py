"""Page weight (DESIGN.md, "Performance budgets"): the public program page and the
registration form each under 50 KB transferred on a cold load, in every language, with
nothing from another host.

A page's weight is its document plus every same-origin subresource it makes a browser
fetch (stylesheets, scripts, icons, images, frames, and what the stylesheets import),
each counted once, as served by the app (it does not compress; the proxy must not, see
deploy/Caddyfile). Sizes, not times: `tests/functional/test_page_weight.py` asserts the
budget, and ``python -m bench weight`` prints the table.
"""

from __future__ import annotations

import re
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from flask.testing import FlaskClient

BUDGET_BYTES = 50_000  # "50 KB", read strictly
LANGUAGES = ("en", "zh", "ru", "tr", "fa")

# Attributes that name a URL, by element ("*": any element).
_URL_ATTRIBUTES = {"href", "src", "action", "formaction", "poster", "data", "srcset", "cite", "background"}
# <link rel> values whose href a browser fetches while loading the page.
_FETCHED_LINKS = {"stylesheet", "icon", "shortcut", "apple-touch-icon", "preload", "modulepreload", "manifest"}
_FETCHED_TAGS = {"script", "img", "iframe", "frame", "source", "video", "audio", "embed", "object", "track", "input"}
_CSS_URL = re.compile(r"""url\(\s*['"]?([^'")\s]+)['"]?\s*\)|@import\s+['"]([^'"]+)['"]""", re.IGNORECASE)


class _References(HTMLParser):
    """Every URL an element names, and which of them the browser fetches with the page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.all: list[tuple[str, str]] = []  # (tag, url)
        self.fetched: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        for name, value in values.items():
            if name not in _URL_ATTRIBUTES or not value.strip():
                continue
            urls = [part.split()[0] for part in value.split(",") if part.split()] if name == "srcset" else [value]
            self.all.extend((tag, url.strip()) for url in urls)
            if tag == "link" and name == "href":
                if _FETCHED_LINKS & set(values.get("rel", "").lower().split()):
                    self.fetched.append(value.strip())
            elif (
                tag in _FETCHED_TAGS
                and name in {"src", "srcset", "poster", "data"}
                and (tag != "input" or values.get("type", "").lower() == "image")
            ):
                self.fetched.extend(url.strip() for url in urls)


def _is_inline(url: str) -> bool:
    return url.lower().startswith(("data:", "#", "javascript:", "mailto:", "tel:", "about:"))


def is_external(url: str) -> bool:
    """Whether `url` points at another host (an absolute or scheme-relative URL)."""
    if _is_inline(url):
        return False
    parts = urlsplit(url)
    return bool(parts.netloc) or bool(parts.scheme and parts.scheme not in ("http", "https"))


@dataclass
class PageWeight:
    """One page on a cold load: the document, each subresource once, and anything external."""

    path: str
    document: int
    subresources: dict[str, int] = field(default_factory=dict)
    external: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.document + sum(self.subresources.values())


# fetch(path) -> (HTTP status, body bytes)
Fetch = Callable[[str], tuple[int, bytes]]


def measure(fetch: Fetch, path: str) -> PageWeight:
    """Fetch `path` and everything it makes a browser fetch from this origin.
    Raises AssertionError when any of them does not answer 200."""
    status, body = fetch(path)
    assert status == 200, f"GET {path} answered {status}"
    parser = _References()
    parser.feed(body.decode("utf-8", "replace"))
    parser.close()
    weight = PageWeight(path, len(body))
    weight.external = [url for _tag, url in parser.all if is_external(url)]
    queue = [urljoin(path, url) for url in parser.fetched if not _is_inline(url) and not is_external(url)]
    while queue:
        url = queue.pop(0)
        key = urlsplit(url)._replace(fragment="").geturl()
        if key in weight.subresources:
            continue
        status, data = fetch(key)
        assert status == 200, f"GET {key} (from {path}) answered {status}"
        weight.subresources[key] = len(data)
        if key.split("?", 1)[0].endswith(".css"):
            for match in _CSS_URL.finditer(data.decode("utf-8", "replace")):
                ref = match.group(1) or match.group(2)
                if is_external(ref):
                    weight.external.append(ref)
                elif not _is_inline(ref):
                    queue.append(urljoin(key, ref))
    return weight


def client_fetch(client: FlaskClient) -> Fetch:
    """A `Fetch` over a Flask test client (a fresh cookie jar is the caller's business)."""

    def fetch(path: str) -> tuple[int, bytes]:
        response = client.get(path)
        try:
            return response.status_code, response.get_data()
        finally:
            response.close()

    return fetch


def page_paths(slug: str) -> tuple[str, str]:
    return f"/programs/{slug}", f"/programs/{slug}/register"


# --- `python -m bench weight` -----------------------------------------------------------


def main() -> int:
    """Print each page's weight in each language against the budget (a miss prints MISS;
    the test-suite is what fails on it)."""
    from flask_migrate import upgrade

    from bench.rush import SECRET_KEY, SLUG, program_data
    from webapp import create_app
    from webapp.extensions import db
    from webapp.services.audit import Actor
    from webapp.services.programs import import_program

    rows: list[tuple[str, str, PageWeight]] = []
    with tempfile.TemporaryDirectory(prefix="rollcall-weight-") as tmp:
        app = create_app(
            "testing",
            SQLALCHEMY_DATABASE_URI=f"sqlite:///{Path(tmp) / 'weight.sqlite'}",
            CELERY_BROKER_URL="memory://",
            SECRET_KEY=SECRET_KEY,
            RATELIMIT_ENABLED=False,
            DEV_MAILBOX_DIR="",
        )
        with app.app_context():
            upgrade()
            import_program(program_data(1000), actor=Actor.system())
        for language in LANGUAGES:
            for path in page_paths(SLUG):
                client = app.test_client()  # a cold load: no cookies, nothing cached
                rows.append((language, path, measure(client_fetch(client), f"{path}?lang={language}")))
        with app.app_context():
            db.engine.dispose()

    print("\nPage weight (cold load, uncompressed, document + same-origin subresources)\n")
    print(f"{'lang':4}  {'page':34}  {'document':>8}  {'static':>8}  {'total':>8}  external  budget")
    for language, path, weight in rows:
        passed = weight.total < BUDGET_BYTES and not weight.external
        print(
            f"{language:4}  {path:34}  {weight.document:8,}  {weight.total - weight.document:8,}  "
            f"{weight.total:8,}  {len(weight.external):8}  {'PASS' if passed else 'MISS'}"
        )
    print(f"\nbudget: under {BUDGET_BYTES:,} bytes per page and language, no external host")
    return 0


if __name__ == "__main__":
    sys.exit(main())
