"""Static files: hashed names cached for good, plain names briefly (webapp/assets.py)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from flask.testing import FlaskClient

from tests.conftest import ROOT
from webapp.assets import StaticFiles

HASHED = re.compile(r'(?:href|src)="(/static/app\.([0-9a-f]{12})\.(css|js))"')


def test_pages_name_static_files_by_content_hash_and_those_are_cached_for_a_year(
    client: FlaskClient, make_program: Callable[..., int]
) -> None:
    make_program()
    page = client.get("/programs/li-ion-basics").get_data(as_text=True)
    found = {suffix: (url, digest) for url, digest, suffix in HASHED.findall(page)}
    assert set(found) == {"css", "js"}, page[:600]
    for suffix, (url, _digest) in found.items():
        response = client.get(url)
        assert response.status_code == 200
        assert response.data == (ROOT / "static" / f"app.{suffix}").read_bytes()
        cache = response.headers["Cache-Control"]
        assert {part.strip() for part in cache.split(",")} == {"public", "max-age=31536000", "immutable"}
        # The same bytes for every reader: no Vary on language or cookies, which would
        # make a browser fetch the file again after a cookie changed.
        assert "Cookie" not in response.headers.get("Vary", "")
        response.close()
    # Every page names the same files (computed once per process).
    form = client.get("/programs/li-ion-basics/register").get_data(as_text=True)
    assert {url for url, _, _ in HASHED.findall(form)} == {url for url, _ in found.values()}


def test_plain_and_stale_names_still_work_with_a_short_cache(client: FlaskClient) -> None:
    for url in ("/static/app.css", "/static/app.000000000000.css"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.data == (ROOT / "static" / "app.css").read_bytes()
        cache = response.headers["Cache-Control"]
        assert "max-age=300" in cache and "immutable" not in cache
        response.close()
    for url in ("/static/missing.css", "/static/missing.0123456789ab.css", "/static/../config.py"):
        assert client.get(url).status_code == 404, url


def test_the_hash_follows_the_content(tmp_path: Path) -> None:
    (tmp_path / "app.css").write_text("body { color: black }")
    first = StaticFiles(str(tmp_path)).hashed_name("app.css")
    (tmp_path / "app.css").write_text("body { color: navy }")
    second = StaticFiles(str(tmp_path)).hashed_name("app.css")
    assert re.fullmatch(r"app\.[0-9a-f]{12}\.css", first) and re.fullmatch(r"app\.[0-9a-f]{12}\.css", second)
    assert first != second
    files = StaticFiles(str(tmp_path))
    assert files.resolve(second) == ("app.css", True)
    assert files.resolve(first) == ("app.css", False)
    assert files.resolve("app.css") == ("app.css", False)
    assert files.hashed_name("missing.css") == "missing.css"
    assert files.hashed_name("../outside.css") == "../outside.css"
