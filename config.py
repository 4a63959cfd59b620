"""Configuration, read once from the environment (and an optional `.env` file).

Three modes, chosen by `ROLLCALL_ENV`:

* ``embedded`` (the default): SQLite under ``instance/``, a file-system Celery broker
  that needs no server, and the local SMTP mailbox that ``make run`` starts. Nothing to
  install beyond Python.
* ``production``: everything comes from the environment; refuses to start with a
  missing, short, low-entropy or placeholder ``SECRET_KEY``.
* ``testing``: used by the test-suite; databases and brokers come from the test fixtures.

Every setting that names a server (``DATABASE_URL``, ``CELERY_BROKER_URL``,
``MAIL_SERVER`` ...) can be set in any mode, so the embedded default can be pointed at
PostgreSQL and Redis without changing code. That takes ``ROLLCALL_ENV=embedded`` said
out loud: with ``ROLLCALL_ENV`` unset and ``DATABASE_URL`` naming a server, the machine
looks like a deployment that forgot ``ROLLCALL_ENV=production``, and running the
embedded default there would serve the unauthenticated dev mailbox, so `load` refuses.
"""

from __future__ import annotations

import math
import os
import secrets
from collections import Counter
from pathlib import Path
from typing import Any

from dotenv import load_dotenv

ROOT = Path(__file__).resolve().parent
INSTANCE = Path(os.environ.get("ROLLCALL_INSTANCE", ROOT / "instance"))
DEFAULT_SECRET_KEY = "dev-insecure-change-me"
# Keys that were published as examples (.env.example, older docs): never a real secret.
PLACEHOLDER_SECRET_KEYS = frozenset({DEFAULT_SECRET_KEY, "change-me-to-48-random-characters"})
# A production key: at least this long, this many different characters, and this many
# bits by the estimate below. A random 32-character hex key (secrets.token_hex(16))
# scores 90 bits at worst in 100,000 draws; a key of one repeated character scores 0.
SECRET_KEY_MIN_LENGTH = 32
SECRET_KEY_MIN_DISTINCT = 10
SECRET_KEY_MIN_BITS = 80.0


class ConfigError(RuntimeError):
    """The environment describes a configuration that must not run."""


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def _float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value not in (None, "") else default


def _hops(name: str) -> int:
    """A count of proxies: a non-negative integer, or a ConfigError that says so."""
    value = os.environ.get(name, "").strip()
    if value == "":
        return 0
    try:
        hops = int(value)
    except ValueError:
        hops = -1
    if hops < 0:
        raise ConfigError(f"{name} must be a whole number of proxies, 0 or more, not {value!r}")
    return hops


def estimated_entropy_bits(key: str) -> float:
    """Bits in `key` judged by how evenly it uses its characters (length times Shannon
    entropy per character). Only an estimate: it catches repeats and tiny alphabets,
    not keys made of words."""
    counts = Counter(key)
    return -sum(n * math.log2(n / len(key)) for n in counts.values()) if key else 0.0


def secret_key_problem(key: str) -> str | None:
    """Why `key` must not sign production sessions, or None when it may."""
    advice = "generate one with: python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
    if not key or key in PLACEHOLDER_SECRET_KEYS or "change-me" in key.lower():
        return f"SECRET_KEY must be set to a random value, not a placeholder; {advice}"
    if len(key) < SECRET_KEY_MIN_LENGTH:
        return f"SECRET_KEY must be at least {SECRET_KEY_MIN_LENGTH} random characters; {advice}"
    if len(set(key)) < SECRET_KEY_MIN_DISTINCT or estimated_entropy_bits(key) < SECRET_KEY_MIN_BITS:
        return f"SECRET_KEY is too predictable (too few different characters); {advice}"
    return None


def _embedded_secret_key() -> str:
    """A per-checkout secret kept in instance/, so sessions survive restarts."""
    path = INSTANCE / "secret_key"
    if path.exists():
        return path.read_text().strip()
    INSTANCE.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


def load(mode: str | None = None, **overrides: Any) -> dict[str, Any]:
    """Return the settings for `mode` (default: ``ROLLCALL_ENV`` or ``embedded``).

    `overrides` win over the environment; tests use them.
    """
    load_dotenv(ROOT / ".env", override=False)
    if not mode and not os.environ.get("ROLLCALL_ENV"):
        database = os.environ.get("DATABASE_URL", "")
        if database and not database.startswith("sqlite"):
            raise ConfigError(
                "ROLLCALL_ENV is not set but DATABASE_URL names a database server: set "
                "ROLLCALL_ENV=production to deploy, or ROLLCALL_ENV=embedded to run the embedded "
                "default (with its unauthenticated local mailbox) against that database"
            )
    mode = mode or os.environ.get("ROLLCALL_ENV") or "embedded"
    if mode not in {"embedded", "production", "testing"}:
        raise ConfigError(f"ROLLCALL_ENV must be embedded, production or testing, not {mode!r}")
    embedded = mode == "embedded"

    if embedded:
        INSTANCE.mkdir(parents=True, exist_ok=True)
        default_db = f"sqlite:///{INSTANCE / 'rollcall.sqlite'}"
        default_broker = "filesystem://"
        secret = os.environ.get("SECRET_KEY") or _embedded_secret_key()
    else:
        default_db = ""
        default_broker = ""
        secret = os.environ.get("SECRET_KEY", DEFAULT_SECRET_KEY)

    database_url = os.environ.get("DATABASE_URL", default_db)
    # Heroku-style URLs name the old driver; we ship psycopg 3.
    if database_url.startswith("postgres://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgres://") :]
    elif database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://") :]

    broker_dir = INSTANCE / "broker"
    settings: dict[str, Any] = {
        "ROLLCALL_ENV": mode,
        "EMBEDDED": embedded,
        "TESTING": mode == "testing",
        "SECRET_KEY": secret,
        "SERVER_NAME": os.environ.get("SERVER_NAME") or None,
        "PREFERRED_URL_SCHEME": os.environ.get("PREFERRED_URL_SCHEME", "https" if mode == "production" else "http"),
        # Used to build absolute links in emails, which have no request to borrow a host from.
        "PUBLIC_BASE_URL": os.environ.get("PUBLIC_BASE_URL", ""),
        "PORT": _int("PORT", 5000),
        # How many reverse proxies (TLS terminators, load balancers) stand in front of web
        # and append to X-Forwarded-For/-Proto/-Host. 0: trust none, use the socket peer.
        # Too high, and a client can forge its address; too low, and every client is
        # the proxy (one rate limit for everyone).
        "TRUSTED_PROXY_HOPS": _hops("TRUSTED_PROXY_HOPS"),
        "SQLALCHEMY_DATABASE_URI": database_url,
        # hide_parameters: a database error's message names the statement but not the
        # values bound to it (emails, names, tokens), so logs carry no personal data.
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "hide_parameters": True},
        "CELERY_BROKER_URL": os.environ.get("CELERY_BROKER_URL", default_broker),
        "CELERY_BROKER_DIR": str(broker_dir),
        "MAIL_SERVER": os.environ.get("MAIL_SERVER", "127.0.0.1" if embedded else "localhost"),
        "MAIL_PORT": _int("MAIL_PORT", 8025 if embedded else 25),
        "MAIL_USERNAME": os.environ.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": os.environ.get("MAIL_PASSWORD") or None,
        "MAIL_USE_TLS": _bool("MAIL_USE_TLS", False),
        "MAIL_USE_SSL": _bool("MAIL_USE_SSL", False),
        "MAIL_DEFAULT_SENDER": os.environ.get("MAIL_DEFAULT_SENDER", "Rollcall <noreply@rollcall.localhost>"),
        "MAIL_TIMEOUT": _float("MAIL_TIMEOUT", 30.0),
        # Flask-Mail would silently drop every email when TESTING is on; our tests use a
        # real SMTP server, so sending is never suppressed.
        "MAIL_SUPPRESS_SEND": False,
        # The right-hand side of every Message-ID we generate.
        "MAIL_MESSAGE_ID_DOMAIN": os.environ.get("MAIL_MESSAGE_ID_DOMAIN", ""),
        # Emails handed to one task, sent over one SMTP connection.
        "MAIL_BATCH_SIZE": _int("MAIL_BATCH_SIZE", 100),
        # At most this many emails per second per worker process (0: no limit).
        "MAIL_MAX_PER_SECOND": _float("MAIL_MAX_PER_SECOND", 0.0),
        # Attempts before a transiently failing email is marked failed.
        "MAIL_MAX_ATTEMPTS": _int("MAIL_MAX_ATTEMPTS", 8),
        # First retry delay in seconds; doubles on each attempt, with jitter.
        "MAIL_RETRY_BASE_SECONDS": _float("MAIL_RETRY_BASE_SECONDS", 30.0),
        # A row claimed ("sending") for longer than this is presumed orphaned by a dead worker.
        "MAIL_SENDING_TIMEOUT_SECONDS": _int("MAIL_SENDING_TIMEOUT_SECONDS", 300),
        # How often beat sweeps the outbox, and how long an enqueued row may wait before
        # it is enqueued again (a lost task only delays an email).
        "OUTBOX_SWEEP_SECONDS": _float("OUTBOX_SWEEP_SECONDS", 15.0),
        "OUTBOX_REQUEUE_AFTER_SECONDS": _int("OUTBOX_REQUEUE_AFTER_SECONDS", 120),
        # How a web process hands committed emails to the broker: "thread" (a background
        # thread per process publishes what arrives within the window, many emails per
        # task; requests never wait for the broker) or "inline" (each request publishes
        # its own; what the worker and beat do, and the tests unless they ask).
        "OUTBOX_DOORBELL": os.environ.get("OUTBOX_DOORBELL") or ("inline" if mode == "testing" else "thread"),
        # The window: an email waits at most this long before it is handed over. A
        # hand-over costs the web process the same however many emails it carries, so
        # in a rush a short window gathers many per task (docs/performance.md).
        "OUTBOX_DOORBELL_WINDOW_SECONDS": _float("OUTBOX_DOORBELL_WINDOW_SECONDS", 0.25),
        # How long a web process reuses the program row a submitted registration form
        # needs (`programs.get_form_program`); the rules are judged afresh regardless.
        # 0 in the tests, which change programs between requests.
        "FORM_PROGRAM_CACHE_SECONDS": _float("FORM_PROGRAM_CACHE_SECONDS", 0.0 if mode == "testing" else 5.0),
        # How often beat looks for reminders that have fallen due.
        "REMINDER_SCAN_SECONDS": _float("REMINDER_SCAN_SECONDS", 30.0),
        # A (session, offset) keeps being scanned this long after it fell due, so that a
        # registration confirmed just before that moment but committed just after it
        # still gets its reminder. (Anyone confirmed later got the link in their
        # confirmation instead.)
        "REMINDER_SETTLE_SECONDS": _int("REMINDER_SETTLE_SECONDS", 120),
        # /readyz reports not ready when the oldest due email has waited longer than this.
        "READY_BACKLOG_SECONDS": _int("READY_BACKLOG_SECONDS", 600),
        # The dev mailbox: where the local SMTP server stores what it receives.
        "DEV_MAILBOX_DIR": os.environ.get("DEV_MAILBOX_DIR", str(INSTANCE / "mailbox") if embedded else ""),
        "WTF_CSRF_TIME_LIMIT": _int("WTF_CSRF_TIME_LIMIT", 3600),
        # Rate-limit counters must be shared by every web process: Redis in production.
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        "RATELIMIT_ENABLED": _bool("RATELIMIT_ENABLED", mode != "testing"),
        "REGISTRATION_RATE_LIMIT": os.environ.get("REGISTRATION_RATE_LIMIT", "20 per minute;200 per hour"),
        "LOGIN_RATE_LIMIT": os.environ.get("LOGIN_RATE_LIMIT", "10 per minute;50 per hour"),
        # Looking up certificate codes, per client: plenty for people checking
        # certificates, far too few to guess 80-bit codes.
        "VERIFY_RATE_LIMIT": os.environ.get("VERIFY_RATE_LIMIT", "30 per minute;300 per hour"),
        "MAX_CONTENT_LENGTH": _int("MAX_CONTENT_LENGTH", 1024 * 1024),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": mode == "production",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SECURE": mode == "production",
        # Zoom (Server-to-Server OAuth app). Without the account, client id and secret,
        # Zoom is never called and every registrant gets the session's static link.
        "ZOOM_ACCOUNT_ID": os.environ.get("ZOOM_ACCOUNT_ID", ""),
        "ZOOM_CLIENT_ID": os.environ.get("ZOOM_CLIENT_ID", ""),
        "ZOOM_CLIENT_SECRET": os.environ.get("ZOOM_CLIENT_SECRET", ""),
        "ZOOM_WEBHOOK_SECRET_TOKEN": os.environ.get("ZOOM_WEBHOOK_SECRET_TOKEN", ""),
        # Other values for tests (a fake server) or regional accounts.
        "ZOOM_API_BASE_URL": os.environ.get("ZOOM_API_BASE_URL") or "https://api.zoom.us/v2",
        "ZOOM_OAUTH_TOKEN_URL": os.environ.get("ZOOM_OAUTH_TOKEN_URL") or "https://zoom.us/oauth/token",
        # Seconds a Zoom request may take before it counts as a (retryable) timeout.
        "ZOOM_TIMEOUT": _float("ZOOM_TIMEOUT", 10.0),
        # Zoom calls per second per worker process (Zoom's "light" APIs allow far more
        # per account; this keeps a rush of confirmations well inside them).
        "ZOOM_MAX_PER_SECOND": _float("ZOOM_MAX_PER_SECOND", 10.0),
        # First retry delay after a 5xx or a timeout; doubles on each attempt.
        "ZOOM_RETRY_BASE_SECONDS": _float("ZOOM_RETRY_BASE_SECONDS", 10.0),
        # A confirmation waits at most this long for Zoom's personal links, then goes out
        # with the session's static link.
        "ZOOM_FALLBACK_MINUTES": _float("ZOOM_FALLBACK_MINUTES", 15.0),
        # How often beat looks for Zoom cancellations still to be made.
        "ZOOM_SWEEP_SECONDS": _float("ZOOM_SWEEP_SECONDS", 60.0),
        "BABEL_DEFAULT_LOCALE": "en",
        "BABEL_DEFAULT_TIMEZONE": "UTC",
        "BABEL_TRANSLATION_DIRECTORIES": str(ROOT / "translations"),
    }
    settings.update(overrides)

    if settings["OUTBOX_DOORBELL"] not in ("thread", "inline"):
        raise ConfigError(f"OUTBOX_DOORBELL must be thread or inline, not {settings['OUTBOX_DOORBELL']!r}")
    hops = settings["TRUSTED_PROXY_HOPS"]
    if not isinstance(hops, int) or isinstance(hops, bool) or hops < 0:
        raise ConfigError(f"TRUSTED_PROXY_HOPS must be a whole number of proxies, 0 or more, not {hops!r}")
    if settings["ROLLCALL_ENV"] == "production":
        problems = []
        key_problem = secret_key_problem(settings["SECRET_KEY"])
        if key_problem:
            problems.append(key_problem)
        if not settings["SQLALCHEMY_DATABASE_URI"]:
            problems.append("DATABASE_URL must be set")
        if not settings["CELERY_BROKER_URL"]:
            problems.append("CELERY_BROKER_URL must be set")
        if problems:
            raise ConfigError("Refusing to start in production: " + "; ".join(problems))
    return settings
