"""The production shape, end to end: ROLLCALL_ENV=production under gunicorn, behind a TLS
proxy (Debian's nginx, a certificate made at test time) on loopback, a real Celery
worker delivering to the SMTP fixture, and real Chromium speaking HTTPS.

What only this shape shows: Secure cookies and Flask-WTF's strict HTTPS Referer check
(the self-service cancel and the organiser sign-in work over HTTPS), the headers a
browser receives, the access log without tokens, and rate limits keyed on each client
behind the proxy (TRUSTED_PROXY_HOPS). Processes: tests/e2e/production.py.
"""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from flask import Flask
from sqlalchemy import select

from tests.conftest import (
    IN_CI,
    SECRET,
    SMTPServer,
    WorkerProcess,
    flush_redis,
    free_port,
    start_worker,
    stop_worker,
    worker_env,
)
from tests.e2e.conftest import DEMO_TITLE, PageProblems, _new_page
from tests.e2e.production import (
    Child,
    SourceClient,
    make_certificate,
    nginx_path,
    openssl_path,
    source_address_usable,
    start_gunicorn,
    start_nginx,
)
from webapp.extensions import db
from webapp.models import Registration

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Route

pytestmark = pytest.mark.production

# Three different zones: the program's (the demo: Asia/Karachi), the server's, the browser's.
SERVER_TZ = "Europe/Berlin"
BROWSER_TZ = "America/Sao_Paulo"
ORGANISER_EMAIL = "lead@example.org"
ORGANISER_PASSWORD = "correct horse battery staple"


def _require_proxy_tools() -> None:
    missing = [name for name, path in (("nginx", nginx_path()), ("openssl", openssl_path())) if not path]
    if not missing:
        return
    message = f"{' and '.join(missing)} not installed (scripts/ensure_services.sh installs Debian's)"
    if IN_CI:
        pytest.fail(f"{message}: required in CI", pytrace=False)
    pytest.skip(message)


@dataclass
class Stack:
    """gunicorn behind nginx: `url` is what a browser opens."""

    url: str
    port: int
    web: Child
    proxy: Child
    directory: Path

    def access_log(self) -> str:
        return (self.directory / "access.log").read_text(errors="replace")


def _production_env(pg_url: str, redis_url: str, smtp: SMTPServer, public_url: str, hops: int) -> dict[str, str]:
    return worker_env(
        pg_url,
        redis_url,
        smtp,
        ROLLCALL_ENV="production",
        SECRET_KEY=SECRET,
        RATELIMIT_STORAGE_URI=redis_url,
        PUBLIC_BASE_URL=public_url,
        TRUSTED_PROXY_HOPS=str(hops),
        TZ=SERVER_TZ,
    )


@pytest.fixture
def start_stack(
    app: Flask, pg_url: str, redis_url: str, smtp: SMTPServer, tmp_path: Path
) -> Iterator[Callable[..., Stack]]:
    """Factory: gunicorn (production) behind nginx with TLS, trusting `hops` proxies.
    Everything started is stopped, and the broker/limiter database emptied, afterwards."""
    _require_proxy_tools()
    flush_redis(redis_url)
    cert, key = make_certificate(tmp_path)
    children: list[Child] = []

    def factory(hops: int = 1, **extra: str) -> Stack:
        directory = tmp_path / f"stack-{len(children)}"
        directory.mkdir()
        proxy_port = free_port()
        url = f"https://localhost:{proxy_port}"
        env = _production_env(pg_url, redis_url, smtp, url, hops) | extra
        web, web_port = start_gunicorn(env, directory)
        children.append(web)
        proxy, _ = start_nginx(web_port, directory / "nginx", cert, key, port=proxy_port)
        children.append(proxy)
        return Stack(url, proxy_port, web, proxy, directory)

    yield factory
    for child in reversed(children):
        child.stop()
    flush_redis(redis_url)


@pytest.fixture
def production_worker(
    pg_url: str, redis_url: str, smtp: SMTPServer, tmp_path: Path
) -> Iterator[Callable[[str], WorkerProcess]]:
    """Factory: a real `celery -A worker worker --beat` in production mode whose emails
    link to `public_url`."""
    workers: list[WorkerProcess] = []

    def factory(public_url: str) -> WorkerProcess:
        env = _production_env(pg_url, redis_url, smtp, public_url, 0)
        worker = start_worker(env, tmp_path / "worker.log")
        workers.append(worker)
        return worker

    yield factory
    for worker in workers:
        stop_worker(worker)


def _seed(app: Flask) -> str:
    """The demo program and an organiser, made through the services."""
    from webapp.services.audit import Actor
    from webapp.services.organisers import create_organiser
    from webapp.services.programs import seed_demo

    with app.app_context():
        program = seed_demo(actor=Actor.system())
        create_organiser(ORGANISER_EMAIL, "Lead Organiser", ORGANISER_PASSWORD, admin=True)
        return program.slug


def _self_service_link(smtp: SMTPServer, base_url: str, worker: WorkerProcess) -> str:
    messages = smtp.handler.wait_for(1, timeout=30)
    assert messages, f"no confirmation email arrived; worker log:\n{worker.log()}"
    message = email.message_from_bytes(messages[0].content, policy=email.policy.default)
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    match = re.search(rf"{re.escape(base_url)}/r/[A-Za-z0-9_-]+", body.get_content())
    assert match, f"no self-service link to {base_url} in:\n{body.get_content()}"
    return match.group(0)


@pytest.mark.browser
@pytest.mark.worker
def test_register_cancel_and_sign_in_over_https_behind_the_proxy(
    browser: Browser,
    app: Flask,
    start_stack: Callable[..., Stack],
    production_worker: Callable[[str], WorkerProcess],
    smtp: SMTPServer,
) -> None:
    from playwright.sync_api import expect

    slug = _seed(app)
    stack = start_stack(hops=1)
    worker = production_worker(stack.url)
    problems = PageProblems()
    context, page = _new_page(browser, problems, ignore_https_errors=True, timezone_id=BROWSER_TZ)
    try:
        # Register through the public form, over HTTPS.
        response = page.goto(f"{stack.url}/programs/{slug}")
        assert response is not None and response.status == 200
        assert response.url.startswith("https://")
        expect(page.get_by_role("heading", level=1)).to_have_text(DEMO_TITLE)
        expect(page.locator(".local-time").first).to_contain_text(BROWSER_TZ)
        # Static files under hashed names, cached for a year, through the proxy.
        stylesheet = page.locator("link[rel=stylesheet]").get_attribute("href") or ""
        assert re.fullmatch(r"/static/app\.[0-9a-f]{12}\.css", stylesheet), stylesheet
        static = page.request.get(f"{stack.url}{stylesheet}")
        assert static.status == 200 and "body" in static.text()
        assert static.headers["cache-control"] == "public, max-age=31536000, immutable"
        page.get_by_role("link", name="Register now").click()
        # The browser's zone is not in the form's short list: the script loads every zone.
        expect(page.locator("#timezone")).to_have_value(BROWSER_TZ)
        page.get_by_label("Full name", exact=True).fill("Beatriz Souza")
        page.get_by_label("Email address", exact=True).fill("beatriz@example.com")
        page.get_by_label("Country", exact=True).select_option(value="BR")
        page.get_by_label("Organisation", exact=True).fill("Baterias do Sul")
        page.get_by_label("Job title", exact=True).fill("Engenheira")
        page.get_by_role("checkbox").check()
        with page.expect_response(lambda r: r.request.method == "POST") as posted:
            page.get_by_role("button", name="Register", exact=True).click()
        assert posted.value.status == 303
        expect(page.get_by_role("heading", level=1)).to_have_text("Check your inbox")

        # The worker's email carries the self-service link at the public HTTPS address.
        link = _self_service_link(smtp, stack.url, worker)
        token = link.rsplit("/", 1)[1]
        response = page.goto(link)
        assert response is not None and response.status == 200
        headers = response.headers
        assert headers["referrer-policy"] == "same-origin"
        assert headers["cache-control"] == "no-store"
        assert "camera=()" in headers["permissions-policy"]
        assert headers["strict-transport-security"].startswith("max-age=")
        expect(page.get_by_role("link", name="Join the webinar")).to_be_visible()

        # Leaving for another site from the page sends no Referer (the URL is a secret).
        seen: dict[str, str | None] = {}

        def elsewhere(route: Route) -> None:
            if route.request.url.endswith("/landing"):
                seen["referer"] = route.request.all_headers().get("referer")
            route.fulfill(status=200, content_type="text/plain", body="elsewhere")

        context.route("https://elsewhere.example/**", elsewhere)
        page.evaluate("() => { window.location.href = 'https://elsewhere.example/landing'; }")
        page.wait_for_url("https://elsewhere.example/landing")
        assert "referer" in seen and seen["referer"] is None

        # Cancel: the form posts over HTTPS with a same-origin Referer, and is accepted.
        page.goto(link)
        page.get_by_role("link", name="Cancel my registration").click()
        with page.expect_request(lambda r: r.method == "POST") as cancel_post:
            page.get_by_role("button", name="Yes, cancel my registration").click()
        page.wait_for_load_state()
        assert "This page had expired" not in page.content()
        expect(page.get_by_text("Your registration is cancelled.")).to_be_visible()
        assert cancel_post.value.all_headers().get("referer") == f"{link}/cancel"
        with app.app_context():
            registration = db.session.scalars(select(Registration)).one()
            assert registration.status == "cancelled"
            assert registration.timezone == BROWSER_TZ

        # Organiser sign-in over HTTPS: a Secure session cookie, pages not stored.
        response = page.goto(f"{stack.url}/organiser/login")
        assert response is not None and response.headers["cache-control"] == "no-store"
        page.get_by_label("Email address").fill(ORGANISER_EMAIL)
        page.get_by_label("Password").fill(ORGANISER_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(re.compile(r"/organiser/?$"))
        expect(page.get_by_text(DEMO_TITLE).first).to_be_visible()
        session_cookies = [c for c in context.cookies() if c["name"] == "session"]
        assert session_cookies and all(c["secure"] and c["httpOnly"] for c in session_cookies)
        problems.assert_none()
    finally:
        context.close()

    # The access log has every request, and neither the token nor the address.
    log = stack.access_log()
    assert "/r/<token>/cancel" in log
    assert token not in log
    assert "beatriz@example.com" not in log


@pytest.mark.parametrize(
    ("hops", "other_client_gets"),
    [(1, 303), (0, 429)],
    ids=["trusting-the-proxy", "trusting-nobody"],
)
def test_sign_in_limit_applies_to_each_client_behind_the_proxy(
    app: Flask,
    start_stack: Callable[..., Stack],
    hops: int,
    other_client_gets: int,
) -> None:
    """From 127.0.0.2, ten bad sign-ins a minute exhaust the limit; 127.0.0.3 still
    signs in. Without TRUSTED_PROXY_HOPS every client is the proxy, and one guesser
    locks every organiser out."""
    for source in ("127.0.0.2", "127.0.0.3"):
        if not source_address_usable(source):
            if IN_CI:
                pytest.fail(f"cannot bind the loopback source address {source}", pytrace=False)
            pytest.skip(f"cannot bind the loopback source address {source}")
    _seed(app)
    stack = start_stack(hops=hops)
    guesser = SourceClient("127.0.0.2", stack.port)
    answers = [guesser.sign_in(ORGANISER_EMAIL, f"guess {i}").status for i in range(11)]
    assert answers == [200] * 10 + [429]  # LOGIN_RATE_LIMIT's default: 10 per minute
    assert guesser.sign_in(ORGANISER_EMAIL, ORGANISER_PASSWORD).status == 429

    organiser = SourceClient("127.0.0.3", stack.port)
    assert organiser.sign_in(ORGANISER_EMAIL, ORGANISER_PASSWORD).status == other_client_gets


def test_zoom_s_webhook_through_the_proxy(app: Flask, start_stack: Callable[..., Stack]) -> None:
    """Zoom signs the raw body: through nginx and TLS the URL check is answered, a
    signed event is kept once however often it comes, and a forged one is refused."""
    import hashlib
    import hmac
    import json
    import time

    import httpx

    from webapp.models import ZoomWebhookEvent
    from webapp.services.zoom import webhooks

    secret = "production-webhook-secret"
    stack = start_stack(ZOOM_WEBHOOK_SECRET_TOKEN=secret)
    url = f"{stack.url}/integrations/zoom/webhook"

    def post(event: dict[str, object], key: str = secret) -> httpx.Response:
        body = json.dumps(event).encode()
        ts = str(int(time.time()))
        headers = {
            "x-zm-request-timestamp": ts,
            "x-zm-signature": webhooks.sign(key, ts, body),
            "content-type": "application/json",
        }
        return httpx.post(url, content=body, headers=headers, verify=False, timeout=10)

    check = post({"event": "endpoint.url_validation", "payload": {"plainToken": "qgg8vlvZRS6UYooatFL8Aw"}})
    assert check.status_code == 200
    expected = hmac.new(secret.encode(), b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256).hexdigest()
    assert check.json() == {"plainToken": "qgg8vlvZRS6UYooatFL8Aw", "encryptedToken": expected}
    ended = {
        "event": "webinar.ended",
        "event_ts": 1765620000000,
        "payload": {"account_id": "acc", "object": {"id": "81234567890", "uuid": "abc==", "topic": "Webinar"}},
    }
    assert [post(ended).status_code for _ in range(2)] == [200, 200]  # Zoom redelivers
    assert post(ended | {"event_ts": ended["event_ts"] + 1}, key="someone-else").status_code == 401
    with app.app_context():
        assert len(db.session.scalars(select(ZoomWebhookEvent)).all()) == 1
