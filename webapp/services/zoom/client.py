"""A small client for Zoom's REST API (v2) with Server-to-Server OAuth.

The access token comes from ``POST {token URL}`` with
``grant_type=account_credentials&account_id=...`` and HTTP Basic ``client_id:secret``;
it lasts an hour and has no refresh token. It is kept in a `TokenStore` that every
process shares (`tokens.DatabaseTokenStore`), renewed a few minutes before it expires,
and once more if Zoom answers 401 anyway (revoked, or the app's scopes changed).

Errors are typed for the caller, which decides when to try again: `ZoomRetryable`
(429, honouring Retry-After; 5xx; timeouts and connection failures) and `ZoomRejected`
(any other refusal: retrying would get the same answer). The client itself never sleeps
beyond its pacing (`ZOOM_MAX_PER_SECOND`), so a worker is never held by Zoom's backoff.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Literal, Protocol

import httpx

from webapp.services.pacing import Pacer

log = logging.getLogger(__name__)

ZoomType = Literal["webinar", "meeting"]
ZOOM_TYPES: tuple[ZoomType, ...] = ("webinar", "meeting")
# Renew a token this long before Zoom says it expires: a call made with it must still
# reach Zoom in time, and clocks differ.
RENEW_BEFORE = timedelta(minutes=5)


class ZoomError(Exception):
    """Zoom did not do what was asked. `status` is the HTTP status (0: no answer)."""

    def __init__(self, message: str, *, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class ZoomRetryable(ZoomError):
    """Worth trying again later: at `retry_after` seconds if Zoom said (429), else
    with the caller's backoff."""

    def __init__(self, message: str, *, status: int = 0, retry_after: float | None = None) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class ZoomRejected(ZoomError):
    """Zoom refused the request itself (bad credentials, unknown webinar, invalid
    email ...): trying again would get the same answer."""


@dataclass(frozen=True)
class ZoomSettings:
    account_id: str
    client_id: str
    client_secret: str
    api_base_url: str = "https://api.zoom.us/v2"
    token_url: str = "https://zoom.us/oauth/token"
    timeout: float = 10.0
    max_per_second: float = 10.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ZoomSettings | None:
        """The settings in an app's config, or None when Zoom is not configured."""
        if not (config.get("ZOOM_ACCOUNT_ID") and config.get("ZOOM_CLIENT_ID") and config.get("ZOOM_CLIENT_SECRET")):
            return None
        return cls(
            account_id=config["ZOOM_ACCOUNT_ID"],
            client_id=config["ZOOM_CLIENT_ID"],
            client_secret=config["ZOOM_CLIENT_SECRET"],
            api_base_url=str(config.get("ZOOM_API_BASE_URL") or cls.api_base_url).rstrip("/"),
            token_url=str(config.get("ZOOM_OAUTH_TOKEN_URL") or cls.token_url),
            timeout=float(config.get("ZOOM_TIMEOUT") or cls.timeout),
            max_per_second=float(config.get("ZOOM_MAX_PER_SECOND") or 0),
        )


@dataclass(frozen=True)
class CachedToken:
    access_token: str
    expires_at: datetime


class TokenStore(Protocol):
    """Where the account's token is shared between processes."""

    def get(self, account_id: str) -> CachedToken | None: ...

    def put(self, account_id: str, token: CachedToken) -> None: ...

    def discard(self, account_id: str, access_token: str) -> None:
        """Forget the token if it is still this one (another process may have renewed it)."""
        ...


@dataclass(frozen=True)
class Registrant:
    """A person registered in a Zoom webinar or meeting, with their personal link."""

    registrant_id: str
    join_url: str


@dataclass(frozen=True)
class ZoomObject:
    """A webinar or meeting as Zoom describes it: its id, topic, start (UTC, when it has
    one), and the links Zoom gives (a registration link only when registration is on)."""

    id: str
    topic: str = ""
    start_time: datetime | None = None
    join_url: str = ""
    registration_url: str = ""

    @classmethod
    def from_json(cls, body: Any) -> ZoomObject:
        """Zoom's JSON for one object; raises ValueError when it has no id."""
        if not isinstance(body, dict) or not isinstance(body.get("id"), int | str) or isinstance(body["id"], bool):
            raise ValueError("no id")
        start = body.get("start_time")
        try:
            start_time = datetime.fromisoformat(start.replace("Z", "+00:00")) if isinstance(start, str) else None
        except ValueError:
            start_time = None
        if start_time is not None and start_time.tzinfo is None:
            start_time = start_time.replace(tzinfo=UTC)

        def text(key: str) -> str:
            value = body.get(key)
            return value if isinstance(value, str) else ""

        return cls(
            id=str(body["id"]),
            topic=text("topic"),
            start_time=start_time,
            join_url=text("join_url"),
            registration_url=text("registration_url"),
        )


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds from a Retry-After header (a number, or an HTTP date), if any."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


def _reason(response: httpx.Response) -> str:
    """Zoom's own words for a refusal (its JSON carries code and message)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("message"):
        code = f" (code {body['code']})" if body.get("code") is not None else ""
        return f"HTTP {response.status_code}{code}: {str(body['message'])[:300]}"
    return f"HTTP {response.status_code}"


def _raise_for(response: httpx.Response, what: str) -> None:
    status = response.status_code
    if status < 400:
        return
    if status == 429:
        raise ZoomRetryable(f"{what}: {_reason(response)}", status=status, retry_after=_retry_after(response))
    if status >= 500:
        raise ZoomRetryable(f"{what}: {_reason(response)}", status=status)
    raise ZoomRejected(f"{what}: {_reason(response)}", status=status)


class ZoomClient:
    """Calls to one Zoom account. Cheap to create; not shared between threads."""

    def __init__(
        self,
        settings: ZoomSettings,
        store: TokenStore,
        *,
        http: httpx.Client | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.http = http or httpx.Client(timeout=settings.timeout)
        self.pacer = pacer or Pacer(settings.max_per_second)
        self._token: CachedToken | None = None

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> ZoomClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the token ----------------------------------------------------------------

    def _fresh(self, token: CachedToken | None) -> bool:
        return token is not None and token.expires_at - RENEW_BEFORE > datetime.now(UTC)

    def access_token(self) -> str:
        """A token valid for a few more minutes at least: this client's, else the shared
        one, else a new one from Zoom (then shared)."""
        if not self._fresh(self._token):
            self._token = self.store.get(self.settings.account_id)
        if not self._fresh(self._token):
            self._token = self._request_token()
            self.store.put(self.settings.account_id, self._token)
        assert self._token is not None
        return self._token.access_token

    def _request_token(self) -> CachedToken:
        try:
            response = self.http.post(
                self.settings.token_url,
                data={"grant_type": "account_credentials", "account_id": self.settings.account_id},
                auth=(self.settings.client_id, self.settings.client_secret),
            )
        except httpx.TransportError as exc:  # timeouts included
            raise ZoomRetryable(f"Zoom's token service did not answer: {type(exc).__name__}") from exc
        _raise_for(response, "Zoom refused an access token")
        try:
            body = response.json()
            token = str(body["access_token"])
            lifetime = float(body.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError) as exc:
            raise ZoomRetryable("Zoom's token service answered without a token") from exc
        return CachedToken(token, datetime.now(UTC) + timedelta(seconds=lifetime))

    def _forget(self, access_token: str) -> None:
        self._token = None
        self.store.discard(self.settings.account_id, access_token)

    # --- requests -----------------------------------------------------------------

    def request(self, method: str, path: str, what: str, **kwargs: Any) -> httpx.Response:
        """One API call (`path` below the API base URL), paced; renews the token and
        tries once more on a 401. Raises `ZoomRetryable` or `ZoomRejected`."""
        url = f"{self.settings.api_base_url}/{path.lstrip('/')}"
        response = self._send(method, url, what, **kwargs)
        if response.status_code == 401:
            response = self._send(method, url, what, **kwargs)
        _raise_for(response, what)
        return response

    def _send(self, method: str, url: str, what: str, **kwargs: Any) -> httpx.Response:
        token = self.access_token()
        self.pacer.wait()
        try:
            response = self.http.request(method, url, headers={"Authorization": f"Bearer {token}"}, **kwargs)
        except httpx.TransportError as exc:  # timeouts included
            raise ZoomRetryable(f"{what}: Zoom did not answer ({type(exc).__name__})") from exc
        if response.status_code == 401:
            self._forget(token)
        return response

    def add_registrant(
        self, zoom_type: ZoomType, object_id: str, *, email: str, first_name: str, last_name: str
    ) -> Registrant:
        """Register a person for a webinar or meeting (``POST /{type}s/{id}/registrants``).
        Zoom answers a second add of the same email with the existing registrant, but
        allows only 3 adds per registrant per day: callers keep what this returns."""
        response = self.request(
            "POST",
            f"/{_plural(zoom_type)}/{object_id}/registrants",
            f"Zoom did not add the registrant to {zoom_type} {object_id}",
            json={"email": email, "first_name": first_name, "last_name": last_name},
        )
        try:
            body = response.json()
            return Registrant(registrant_id=str(body["registrant_id"]), join_url=str(body["join_url"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise ZoomRetryable(f"Zoom's answer for {zoom_type} {object_id} had no registrant") from exc

    def cancel_registrant(self, zoom_type: ZoomType, object_id: str, *, registrant_id: str, email: str) -> None:
        """Cancel a registration (``PUT /{type}s/{id}/registrants/status``, action cancel):
        their personal link stops working."""
        self.request(
            "PUT",
            f"/{_plural(zoom_type)}/{object_id}/registrants/status",
            f"Zoom did not cancel the registrant of {zoom_type} {object_id}",
            json={"action": "cancel", "registrants": [{"id": registrant_id, "email": email}]},
        )

    def create_object(self, zoom_type: ZoomType, fields: dict[str, Any]) -> ZoomObject:
        """Schedule a webinar or meeting for the app's user (``POST /users/me/{type}s``,
        201 with the new object). Not idempotent: the caller keeps what it is doing so
        that an unknown outcome is looked for (`upcoming_objects`) before trying again."""
        response = self.request(
            "POST", f"/users/me/{_plural(zoom_type)}", f"Zoom did not create the {zoom_type}", json=fields
        )
        try:
            return ZoomObject.from_json(response.json())
        except ValueError as exc:
            # Zoom answered 2xx, so it may well exist: the caller looks before creating again.
            raise ZoomRetryable(f"Zoom's answer to creating a {zoom_type} had no id") from exc

    def update_object(self, zoom_type: ZoomType, object_id: str, fields: dict[str, Any]) -> None:
        """Change a webinar or meeting (``PATCH /{type}s/{id}``, 204): only the fields given."""
        self.request(
            "PATCH", f"/{_plural(zoom_type)}/{object_id}", f"Zoom did not update {zoom_type} {object_id}", json=fields
        )

    def delete_object(self, zoom_type: ZoomType, object_id: str) -> None:
        """Delete a webinar or meeting (``DELETE /{type}s/{id}``, 204) without Zoom emailing
        anyone: ``cancel_webinar_reminder=false`` for a webinar's panelists and
        registrants; ``cancel_meeting_reminder=false`` (registrants) and
        ``schedule_for_reminder=false`` (host) for a meeting. Rollcall tells its
        registrants itself."""
        params = (
            {"cancel_webinar_reminder": "false"}
            if zoom_type == "webinar"
            else {"schedule_for_reminder": "false", "cancel_meeting_reminder": "false"}
        )
        self.request(
            "DELETE",
            f"/{_plural(zoom_type)}/{object_id}",
            f"Zoom did not delete {zoom_type} {object_id}",
            params=params,
        )

    def upcoming_objects(self, zoom_type: ZoomType) -> list[ZoomObject]:
        """The app user's webinars or meetings still to come (``GET /users/me/{type}s``,
        ``type=scheduled`` for webinars, ``type=upcoming`` for meetings, every page)."""
        objects: list[ZoomObject] = []
        kind = "scheduled" if zoom_type == "webinar" else "upcoming"
        params: dict[str, Any] = {"type": kind, "page_size": 300}
        for _page in range(100):  # Zoom's pages are finite; a looping token is not
            response = self.request(
                "GET", f"/users/me/{_plural(zoom_type)}", f"Zoom did not list the {zoom_type}s", params=params
            )
            body = response.json()
            for item in body.get(_plural(zoom_type)) or []:
                try:
                    objects.append(ZoomObject.from_json(item))
                except ValueError:
                    continue
            next_page = body.get("next_page_token")
            if not next_page:
                break
            params = {"type": kind, "page_size": 300, "next_page_token": next_page}
        return objects

    def participants_report(self, zoom_type: ZoomType, object_id: str) -> list[dict[str, Any]]:
        """Every row of the participants report of a past webinar or meeting
        (``GET /report/{type}s/{id}/participants``), following ``next_page_token``. A
        person who rejoined has one row per stay."""
        rows: list[dict[str, Any]] = []
        params: dict[str, Any] = {"page_size": 300}
        while True:
            response = self.request(
                "GET",
                f"/report/{_plural(zoom_type)}/{object_id}/participants",
                f"Zoom did not give the participants of {zoom_type} {object_id}",
                params=params,
            )
            body = response.json()
            rows += list(body.get("participants") or [])
            next_page = body.get("next_page_token")
            if not next_page:
                return rows
            params = {"page_size": 300, "next_page_token": next_page}


def _plural(zoom_type: ZoomType) -> str:
    if zoom_type not in ZOOM_TYPES:
        raise ValueError(f"unknown Zoom type {zoom_type!r}")
    return f"{zoom_type}s"
