"""A small closed-loop HTTP load generator (standard library only).

`run_round` starts one thread per client. Each client first fetches the form once
(keeping its cookies and the hidden ``csrf_token``, as a browser would), then all
clients start together and POST form submissions with unique email addresses until the
round's request count is used up. Every request is timed from send to the last byte of
the response, including the TCP connect when the server closed the previous connection
(gunicorn's sync workers close after every response).

A submission succeeds only with ``303 See Other`` to the expected location; any other
status, a wrong location, or a network error counts as an error. Only 127.0.0.1 is
ever contacted.
"""

from __future__ import annotations

import html
import http.client
import math
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

HOST = "127.0.0.1"
_CSRF_INPUT = re.compile(r"<input[^>]*\bname=\"csrf_token\"[^>]*>", re.IGNORECASE)
_VALUE = re.compile(r"\bvalue=\"([^\"]*)\"", re.IGNORECASE)


@dataclass(frozen=True)
class Target:
    """One endpoint under test: where to get the form, where to post, what success looks like."""

    name: str
    port: int
    form_path: str
    post_path: str
    success_path: str


@dataclass
class RoundResult:
    """What one round measured."""

    target: str
    requests: int
    ok: int = 0
    errors: int = 0
    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list)
    error_kinds: Counter[str] = field(default_factory=Counter)

    @property
    def throughput(self) -> float:
        """Successful submissions per second of wall time."""
        return self.ok / self.elapsed if self.elapsed > 0 else 0.0

    def percentile_ms(self, p: float) -> float:
        """Nearest-rank percentile of the request latencies, in milliseconds."""
        if not self.latencies:
            return math.nan
        ordered = sorted(self.latencies)
        rank = max(math.ceil(p / 100 * len(ordered)), 1)
        return ordered[rank - 1] * 1000


class PrepareError(RuntimeError):
    """A client could not fetch the form (the server is not serving it)."""


def form_body(index: int, email_prefix: str, csrf_token: str) -> bytes:
    """The registration form as a browser submits it, with a unique email per index."""
    return urlencode(
        {
            "csrf_token": csrf_token,
            "full_name": f"Rush Participant {index}",
            "email": f"{email_prefix}{index}@example.com",
            "country": "PK",
            "organisation": "Lahore Battery Works",
            "job_title": "Engineer",
            "language": "en",
            "timezone": "Asia/Karachi",
            "consent": "y",
        }
    ).encode()


def _update_cookies(jar: dict[str, str], response: http.client.HTTPResponse) -> None:
    for header in response.headers.get_all("Set-Cookie") or []:
        name, _, rest = header.partition("=")
        jar[name.strip()] = rest.split(";", 1)[0].strip()


def _cookie_header(jar: dict[str, str]) -> str:
    return "; ".join(f"{name}={value}" for name, value in jar.items())


def _extract_csrf_token(page: str) -> str:
    tag = _CSRF_INPUT.search(page)
    value = _VALUE.search(tag.group(0)) if tag else None
    if value is None:
        raise PrepareError("the form has no csrf_token input")
    return html.unescape(value.group(1))


def _prepare(conn: http.client.HTTPConnection, target: Target, jar: dict[str, str]) -> str:
    conn.request("GET", target.form_path, headers={"Accept": "text/html"})
    response = conn.getresponse()
    body = response.read().decode("utf-8", "replace")
    if response.status != 200:
        raise PrepareError(f"GET {target.form_path} answered {response.status}")
    _update_cookies(jar, response)
    return _extract_csrf_token(body)


class _Round:
    """Shared state of one round: the next request index, results, and a deadline."""

    def __init__(self, target: Target, requests: int, clients: int, email_prefix: str, deadline: float) -> None:
        self.target = target
        self.requests = requests
        self.email_prefix = email_prefix
        self.deadline = deadline
        self.next_index = 0
        self.lock = threading.Lock()
        self.start = threading.Barrier(clients + 1)
        self.result = RoundResult(target.name, requests)
        self.prepare_failures: list[str] = []

    def take(self) -> int | None:
        with self.lock:
            if self.next_index >= self.requests or time.monotonic() > self.deadline:
                return None
            self.next_index += 1
            return self.next_index - 1

    def record(self, latency: float, error: str | None) -> None:
        with self.lock:
            self.result.latencies.append(latency)
            if error is None:
                self.result.ok += 1
            else:
                self.result.errors += 1
                self.result.error_kinds[error] += 1


def _client(state: _Round, timeout: float) -> None:
    target = state.target
    conn = http.client.HTTPConnection(HOST, target.port, timeout=timeout)
    jar: dict[str, str] = {}
    try:
        try:
            token = _prepare(conn, target, jar)
        except Exception as exc:
            with state.lock:
                state.prepare_failures.append(f"{type(exc).__name__}: {exc}")
            state.start.abort()
            return
        try:
            state.start.wait()
        except threading.BrokenBarrierError:
            return
        while (index := state.take()) is not None:
            body = form_body(index, state.email_prefix, token)
            headers = {
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "text/html",
                "Cookie": _cookie_header(jar),
            }
            error: str | None = None
            started = time.perf_counter()
            try:
                conn.request("POST", target.post_path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                location = urlsplit(response.getheader("Location") or "").path
                if response.status != 303:
                    error = f"HTTP {response.status}"
                elif location != target.success_path:
                    error = f"303 to {location or '(none)'}"
                else:
                    _update_cookies(jar, response)
            except (OSError, http.client.HTTPException) as exc:
                error = type(exc).__name__
                conn.close()
            state.record(time.perf_counter() - started, error)
    finally:
        conn.close()


def run_round(
    target: Target,
    *,
    requests: int,
    clients: int,
    email_prefix: str,
    timeout: float = 30.0,
    round_timeout: float = 600.0,
) -> RoundResult:
    """Submit `requests` registrations to `target` from `clients` concurrent clients.

    Requests not sent before `round_timeout` seconds have passed count as errors.
    Raises PrepareError if any client could not fetch the form.
    """
    state = _Round(target, requests, clients, email_prefix, deadline=math.inf)
    threads = [
        threading.Thread(target=_client, args=(state, timeout), name=f"client-{i}", daemon=True) for i in range(clients)
    ]
    for thread in threads:
        thread.start()
    try:
        state.start.wait(timeout=timeout + 30)
    except threading.BrokenBarrierError:
        for thread in threads:
            thread.join(timeout=timeout)
        detail = state.prepare_failures[0] if state.prepare_failures else "clients did not get ready in time"
        raise PrepareError(f"{target.name}: {detail}") from None
    started = time.monotonic()
    state.deadline = started + round_timeout
    for thread in threads:
        thread.join(timeout=max(state.deadline - time.monotonic(), 0) + timeout + 5)
    state.result.elapsed = time.monotonic() - started
    with state.lock:
        unsent = requests - state.next_index
        state.next_index = requests  # stop any client still running
        if unsent > 0:
            state.result.errors += unsent
            state.result.error_kinds["not sent (round timeout)"] += unsent
    return state.result
