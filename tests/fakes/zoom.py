"""A fake Zoom on loopback, following the documented contract of the calls Rollcall
makes: the Server-to-Server OAuth token, adding a webinar or meeting registrant, the
registrant status change (cancel), the participants report, and scheduling webinars
and meetings (create ``POST /users/me/{type}s``, get, ``PATCH``, ``DELETE`` with its
reminder flags, and the user's list with ``type`` and ``next_page_token``).

Like Zoom it checks HTTP Basic credentials and the grant, refuses unknown or revoked
tokens with 401, answers a second add of the same email with the existing registrant,
allows 3 adds per registrant per day (then 429), and paginates the report with
``next_page_token``. Tests can make it answer 429 with Retry-After, or 5xx, on demand.
"""

from __future__ import annotations

import base64
import itertools
import json
import secrets
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

ACCOUNT_ID = "fake-account"
CLIENT_ID = "fake-client-id"
CLIENT_SECRET = "fake-client-secret"
DAILY_ADDS_PER_REGISTRANT = 3


@dataclass
class FakeRegistrant:
    id: str
    email: str
    first_name: str
    last_name: str
    join_url: str
    status: str = "approved"


@dataclass
class FakeObject:
    """A scheduled webinar or meeting, as Zoom keeps it."""

    id: str
    zoom_type: str
    body: dict[str, Any]
    deleted_with: dict[str, str] | None = None


# Zoom's type numbers: webinars 5 (webinar), 6 (recurring, no fixed time), 9 (recurring,
# fixed time); meetings 1 (instant), 2 (scheduled), 3 (recurring, no fixed time), 8.
OBJECT_TYPES = {"webinar": (5, 6, 9), "meeting": (1, 2, 3, 8)}
PATCHABLE = {"topic", "start_time", "duration", "timezone", "agenda", "settings", "type", "password"}


@dataclass
class Failure:
    status: int
    retry_after: str | None = None


@dataclass
class FakeZoomState:
    tokens: set[str] = field(default_factory=set)
    token_requests: int = 0
    # (type, object id) -> normalised email -> registrant
    registrants: dict[tuple[str, str], dict[str, FakeRegistrant]] = field(default_factory=dict)
    # (type, object id, email) -> adds today
    adds_today: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    add_calls: list[tuple[str, str, str]] = field(default_factory=list)
    cancels: list[tuple[str, str, str, str]] = field(default_factory=list)
    # (type, object id) -> participants report rows
    participants: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    # Answers given to the next API calls instead of doing them (not the token service).
    failures: list[Failure] = field(default_factory=list)
    # Every API call fails with this status while set.
    down_status: int | None = None
    requests: list[tuple[str, str]] = field(default_factory=list)
    # (type, object id) -> webinar or meeting scheduled through the API
    objects: dict[tuple[str, str], FakeObject] = field(default_factory=dict)
    # The next create is done, but its answer never reaches the caller (a lost reply).
    lose_next_create_answer: bool = False


class FakeZoom:
    """The server and its state. `api_base_url` and `token_url` go in the app's config."""

    def __init__(self) -> None:
        self.state = FakeZoomState()
        self.lock = threading.Lock()
        self._ids = itertools.count(1)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                fake._handle(self, "POST")

            def do_PUT(self) -> None:
                fake._handle(self, "PUT")

            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_PATCH(self) -> None:
                fake._handle(self, "PATCH")

            def do_DELETE(self) -> None:
                fake._handle(self, "DELETE")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # --- lifecycle and settings ------------------------------------------------------

    def start(self) -> FakeZoom:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def reset(self) -> None:
        with self.lock:
            self.state = FakeZoomState()

    @property
    def api_base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v2"

    @property
    def token_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/oauth/token"

    def config(self) -> dict[str, Any]:
        """App settings pointing at this server."""
        return {
            "ZOOM_ACCOUNT_ID": ACCOUNT_ID,
            "ZOOM_CLIENT_ID": CLIENT_ID,
            "ZOOM_CLIENT_SECRET": CLIENT_SECRET,
            "ZOOM_API_BASE_URL": self.api_base_url,
            "ZOOM_OAUTH_TOKEN_URL": self.token_url,
            "ZOOM_TIMEOUT": 5.0,
        }

    def env(self) -> dict[str, str]:
        """The same, as a worker process's environment."""
        return {key: str(value) for key, value in self.config().items()}

    # --- what tests arrange and read -------------------------------------------------

    def fail_next(self, status: int, times: int = 1, retry_after: str | None = None) -> None:
        with self.lock:
            self.state.failures += [Failure(status, retry_after) for _ in range(times)]

    def set_down(self, status: int | None) -> None:
        with self.lock:
            self.state.down_status = status

    def revoke_tokens(self) -> None:
        with self.lock:
            self.state.tokens.clear()

    def add_participants(self, zoom_type: str, object_id: str, rows: list[dict[str, Any]]) -> None:
        with self.lock:
            self.state.participants.setdefault((zoom_type, object_id), []).extend(rows)

    def registrants_of(self, zoom_type: str, object_id: str) -> list[FakeRegistrant]:
        with self.lock:
            return list(self.state.registrants.get((zoom_type, object_id), {}).values())

    def add_calls(self) -> list[tuple[str, str, str]]:
        with self.lock:
            return list(self.state.add_calls)

    def cancels(self) -> list[tuple[str, str, str, str]]:
        with self.lock:
            return list(self.state.cancels)

    def objects(self, zoom_type: str | None = None, *, deleted: bool = False) -> list[FakeObject]:
        """Webinars and meetings created through the API (deleted ones when `deleted`)."""
        with self.lock:
            return [
                o
                for o in self.state.objects.values()
                if (zoom_type is None or o.zoom_type == zoom_type) and (o.deleted_with is not None) == deleted
            ]

    def calls(self, method: str | None = None, prefix: str = "") -> list[tuple[str, str]]:
        """API requests received (method, path), optionally of one method and path prefix."""
        with self.lock:
            return [
                (m, path)
                for m, path in self.state.requests
                if (method is None or m == method) and path.startswith(prefix) and path.startswith("/v2/")
            ]

    def lose_next_create_answer(self) -> None:
        with self.lock:
            self.state.lose_next_create_answer = True

    def token_requests(self) -> int:
        with self.lock:
            return self.state.token_requests

    # --- the HTTP side ---------------------------------------------------------------

    def _handle(self, request: BaseHTTPRequestHandler, method: str) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length) if length else b""
        url = urlsplit(request.path)
        with self.lock:
            self.state.requests.append((method, url.path))
            status, body, headers = self._answer(method, url.path, parse_qs(url.query), raw, request.headers)
            lose = status == 201 and url.path.startswith("/v2/users/") and self.state.lose_next_create_answer
            if lose:
                self.state.lose_next_create_answer = False
        if lose:  # done in Zoom, but the caller hears nothing: it times out or sees a reset
            request.close_connection = True
            request.connection.close()
            return
        data = json.dumps(body).encode() if body is not None else b""
        request.send_response(status)
        for name, value in headers.items():
            request.send_header(name, value)
        if data:
            request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)

    def _answer(
        self, method: str, path: str, query: dict[str, list[str]], raw: bytes, headers: Any
    ) -> tuple[int, Any, dict[str, str]]:
        if path == "/oauth/token":
            return self._token(method, query, raw, headers)
        if not path.startswith("/v2/"):
            return 404, {"code": 404, "message": "Not found"}, {}
        auth = headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[len("Bearer ") :] not in self.state.tokens:
            return 401, {"code": 124, "message": "Invalid access token."}, {}
        if self.state.down_status is not None:
            return self.state.down_status, {"code": self.state.down_status, "message": "Zoom is down"}, {}
        if self.state.failures:
            failure = self.state.failures.pop(0)
            extra = {"Retry-After": failure.retry_after} if failure.retry_after is not None else {}
            return failure.status, {"code": failure.status, "message": "Too many requests"}, extra
        parts = path[len("/v2/") :].strip("/").split("/")
        try:
            payload = json.loads(raw) if raw else {}
        except ValueError:
            return 400, {"code": 300, "message": "Request Body should be a valid JSON object."}, {}
        if method == "POST" and len(parts) == 3 and parts[0] in ("webinars", "meetings") and parts[2] == "registrants":
            return self._add(parts[0][:-1], parts[1], payload)
        if method == "PUT" and parts[2:] == ["registrants", "status"] and parts[0] in ("webinars", "meetings"):
            return self._status(parts[0][:-1], parts[1], payload)
        if method == "GET" and len(parts) == 4 and parts[0] == "report" and parts[3] == "participants":
            return self._report(parts[1][:-1], parts[2], query)
        if len(parts) == 3 and parts[0] == "users" and parts[2] in ("webinars", "meetings"):
            if parts[1] != "me":
                return 404, {"code": 1001, "message": "User does not exist: " + parts[1]}, {}
            if method == "POST":
                return self._create(parts[2][:-1], payload)
            if method == "GET":
                return self._list(parts[2][:-1], query)
        if len(parts) == 2 and parts[0] in ("webinars", "meetings"):
            zoom_type = parts[0][:-1]
            known = self.state.objects.get((zoom_type, parts[1]))
            if known is None or known.deleted_with is not None:
                return 404, {"code": 3001, "message": f"{zoom_type.title()} does not exist: {parts[1]}."}, {}
            if method == "GET":
                return 200, known.body, {}
            if method == "PATCH":
                return self._patch(known, payload)
            if method == "DELETE":
                known.deleted_with = {k: v[0] for k, v in query.items()}
                return 204, None, {}
        return 404, {"code": 404, "message": "Not found"}, {}

    def _token(
        self, method: str, query: dict[str, list[str]], raw: bytes, headers: Any
    ) -> tuple[int, Any, dict[str, str]]:
        expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        form = {k: v[0] for k, v in (query | parse_qs(raw.decode())).items()}
        if method != "POST" or headers.get("Authorization") != expected:
            return 401, {"reason": "Invalid client_id or client_secret", "error": "invalid_client"}, {}
        if form.get("grant_type") != "account_credentials":
            return 400, {"reason": "Unsupported grant type", "error": "unsupported_grant_type"}, {}
        if form.get("account_id") != ACCOUNT_ID:
            return 400, {"reason": "Invalid account_id", "error": "invalid_request"}, {}
        token = secrets.token_urlsafe(24)
        self.state.tokens.add(token)
        self.state.token_requests += 1
        return 200, {"access_token": token, "token_type": "bearer", "expires_in": 3599, "scope": "webinar:write"}, {}

    def _add(self, zoom_type: str, object_id: str, payload: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        email = str(payload.get("email") or "").strip()
        if "@" not in email or not payload.get("first_name"):
            return 400, {"code": 300, "message": "Validation Failed."}, {}
        key = (zoom_type, object_id, email.lower())
        self.state.add_calls.append(key)
        if self.state.adds_today[key] >= DAILY_ADDS_PER_REGISTRANT:
            midnight = (datetime.now(UTC) + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
            wait = int((midnight - datetime.now(UTC)).total_seconds()) + 1
            message = (
                f"You have exceeded the daily rate limit ({DAILY_ADDS_PER_REGISTRANT}) of Add {zoom_type.title()} "
                "Registrant API requests permitted for this particular registrant."
            )
            return 429, {"code": 429, "message": message}, {"Retry-After": str(wait)}
        self.state.adds_today[key] += 1
        people = self.state.registrants.setdefault((zoom_type, object_id), {})
        registrant = people.get(email.lower())
        if registrant is None:
            registrant_id = f"r{next(self._ids)}{secrets.token_hex(4)}"
            registrant = FakeRegistrant(
                id=registrant_id,
                email=email,
                first_name=str(payload.get("first_name")),
                last_name=str(payload.get("last_name") or ""),
                join_url=f"https://fake.zoom.test/w/{object_id}?tk={secrets.token_urlsafe(16)}",
            )
            people[email.lower()] = registrant
        registrant.status = "approved"
        body = {
            "id": int(object_id) if object_id.isdigit() else object_id,
            "join_url": registrant.join_url,
            "registrant_id": registrant.id,
            "start_time": "2026-12-13T10:00:00Z",
            "topic": "Fake",
        }
        return 201, body, {}

    def _status(self, zoom_type: str, object_id: str, payload: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        action = payload.get("action")
        if action not in ("approve", "cancel", "deny"):
            return 400, {"code": 300, "message": "Invalid action."}, {}
        people = self.state.registrants.get((zoom_type, object_id), {})
        for item in payload.get("registrants") or []:
            match = [
                r
                for r in people.values()
                if r.id == item.get("id") or r.email.lower() == str(item.get("email", "")).lower()
            ]
            for registrant in match:
                registrant.status = {"cancel": "cancelled", "deny": "denied", "approve": "approved"}[action]
                self.state.cancels.append((zoom_type, object_id, registrant.id, action))
        return 204, None, {}

    def _report(self, zoom_type: str, object_id: str, query: dict[str, list[str]]) -> tuple[int, Any, dict[str, str]]:
        rows = self.state.participants.get((zoom_type, object_id))
        if rows is None:
            return 404, {"code": 3001, "message": f"{zoom_type.title()} does not exist: {object_id}."}, {}
        size = min(int((query.get("page_size") or ["30"])[0]), 300)
        start = int((query.get("next_page_token") or ["0"])[0] or 0)
        page = rows[start : start + size]
        following = start + size
        return (
            200,
            {
                "page_count": (len(rows) + size - 1) // size,
                "page_size": size,
                "total_records": len(rows),
                "next_page_token": str(following) if following < len(rows) else "",
                "participants": page,
            },
            {},
        )

    def _create(self, zoom_type: str, payload: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        invalid = self._invalid(zoom_type, payload, creating=True)
        if invalid:
            return 400, {"code": 300, "message": invalid}, {}
        object_id = str(89_000_000_000 + next(self._ids))
        settings = dict(payload.get("settings") or {})
        settings.setdefault("approval_type", 2)
        body = {
            "id": int(object_id),
            "uuid": secrets.token_urlsafe(16) + "==",
            "host_id": "fake-host",
            "topic": payload["topic"],
            "type": payload["type"],
            "start_time": payload["start_time"],
            "duration": payload["duration"],
            "timezone": payload.get("timezone") or "UTC",
            "agenda": payload.get("agenda") or "",
            "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "start_url": f"https://fake.zoom.test/s/{object_id}?zak=host",
            "join_url": f"https://fake.zoom.test/{zoom_type[0]}/{object_id}",
            "settings": settings,
        }
        if settings["approval_type"] in (0, 1):  # registration required
            body["registration_url"] = f"https://fake.zoom.test/{zoom_type[0]}/register/{object_id}"
        self.state.objects[(zoom_type, object_id)] = FakeObject(object_id, zoom_type, body)
        return 201, body, {}

    def _patch(self, known: FakeObject, payload: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        unknown = set(payload) - PATCHABLE
        invalid = f"Unknown field(s): {', '.join(sorted(unknown))}" if unknown else None
        invalid = invalid or self._invalid(known.zoom_type, known.body | payload, creating=False)
        if invalid:
            return 400, {"code": 300, "message": invalid}, {}
        settings = known.body["settings"] | dict(payload.get("settings") or {})
        known.body.update(payload)
        known.body["settings"] = settings
        return 204, None, {}

    @staticmethod
    def _invalid(zoom_type: str, payload: dict[str, Any], *, creating: bool) -> str | None:
        """Zoom's checks of a webinar or meeting: a topic of at most 200 characters, a
        known type, a start in ``yyyy-MM-ddTHH:mm:ssZ`` (UTC) and whole minutes."""
        topic = payload.get("topic")
        if not isinstance(topic, str) or not topic or len(topic) > 200:
            return "Invalid field: topic."
        if payload.get("type") not in OBJECT_TYPES[zoom_type]:
            return "Invalid field: type."
        start = payload.get("start_time")
        try:
            datetime.strptime(str(start), "%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            return "Invalid field: start_time."
        duration = payload.get("duration")
        if not isinstance(duration, int) or isinstance(duration, bool) or duration <= 0:
            return "Invalid field: duration."
        if len(str(payload.get("agenda") or "")) > 2000:
            return "Invalid field: agenda."
        return None

    def _list(self, zoom_type: str, query: dict[str, list[str]]) -> tuple[int, Any, dict[str, str]]:
        kind = (query.get("type") or ["scheduled"])[0]
        allowed = ("scheduled", "available") if zoom_type == "webinar" else ("scheduled", "live", "upcoming")
        if kind not in allowed + (("upcoming_meetings", "previous_meetings") if zoom_type == "meeting" else ()):
            return 400, {"code": 300, "message": "Invalid field: type."}, {}
        now = datetime.now(UTC)
        items = [
            o.body
            for o in self.state.objects.values()
            if o.zoom_type == zoom_type
            and o.deleted_with is None
            and (kind != "upcoming" or _utc(o.body["start_time"]) >= now)
        ]
        size = min(int((query.get("page_size") or ["30"])[0]), 300)
        start = int((query.get("next_page_token") or ["0"])[0] or 0)
        following = start + size
        return (
            200,
            {
                "page_size": size,
                "total_records": len(items),
                "next_page_token": str(following) if following < len(items) else "",
                f"{zoom_type}s": items[start:following],
            },
            {},
        )


def _utc(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def running_fake_zoom() -> Iterator[FakeZoom]:
    """A started fake, stopped afterwards (for fixtures)."""
    fake = FakeZoom().start()
    try:
        yield fake
    finally:
        fake.stop()
