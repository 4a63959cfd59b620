"""Fixtures: real PostgreSQL, Redis, an SMTP server on loopback, a Celery worker.

PostgreSQL and Redis come from TEST_DATABASE_URL / TEST_REDIS_URL (default: the local
servers on 127.0.0.1). With CI=true a missing service fails the run; elsewhere the
tests that need it are skipped with a reason.
"""

from __future__ import annotations

import mailbox
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() == "true"
PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/rollcall_test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
SECRET = "test-secret-key-that-is-long-enough-0123456789"


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url.replace("postgresql+psycopg", "postgresql"))
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=2):
            return True
    except OSError:
        return False


def require(name: str, available: bool) -> None:
    if available:
        return
    if IN_CI:
        pytest.fail(f"{name} is required in CI but is not reachable", pytrace=False)
    pytest.skip(f"{name} is not reachable")


# The fixtures that reach a server: PostgreSQL, Redis, the SMTP server. A test that
# needs one of them, directly or through another fixture (`app`, `ctx`, `client`, ...),
# or a browser, a worker process or the production stack, is marked `services`; every
# other test runs with no server at all (`make check` runs only those).
SERVER_FIXTURES = frozenset({"pg_url", "redis_url", "smtp_session"})
SERVER_MARKERS = ("browser", "worker", "production")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & SERVER_FIXTURES or any(item.get_closest_marker(name) for name in SERVER_MARKERS):
            item.add_marker(pytest.mark.services)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- SMTP --------------------------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes


@dataclass
class RecordingHandler:
    """An aiosmtpd handler that keeps every message, can refuse chosen recipients or
    every message with a given reply, and can also file messages in a Maildir."""

    messages: list[Received] = field(default_factory=list)
    rcpt_replies: dict[str, str] = field(default_factory=dict)
    data_reply: str | None = None
    maildir: str | None = None
    connections: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        with self.lock:
            self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        reply = self.rcpt_replies.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_reply:
            return self.data_reply
        with self.lock:
            self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
            if self.maildir:
                mailbox.Maildir(self.maildir, create=True).add(envelope.content)
        return "250 Message accepted for delivery"

    def reset(self) -> None:
        with self.lock:
            self.messages.clear()
            self.connections = 0
        self.rcpt_replies.clear()
        self.data_reply = None
        self.maildir = None

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.05)
        with self.lock:
            return list(self.messages)


@dataclass
class SMTPServer:
    host: str
    port: int
    handler: RecordingHandler


@pytest.fixture(scope="session")
def smtp_session() -> Iterator[SMTPServer]:
    handler = RecordingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield SMTPServer("127.0.0.1", port, handler)
    controller.stop()


@pytest.fixture
def smtp(smtp_session: SMTPServer) -> Iterator[SMTPServer]:
    smtp_session.handler.reset()
    yield smtp_session
    smtp_session.handler.reset()


# --- Zoom ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def fake_zoom_session() -> Iterator[Any]:
    """A fake Zoom HTTP server on loopback (`tests/fakes/zoom.py`), for the whole run."""
    from tests.fakes.zoom import running_fake_zoom

    yield from running_fake_zoom()


@pytest.fixture
def fake_zoom(fake_zoom_session: Any) -> Iterator[Any]:
    """The fake Zoom, emptied before and after the test."""
    fake_zoom_session.reset()
    yield fake_zoom_session
    fake_zoom_session.reset()


# --- databases ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_url() -> str:
    require("PostgreSQL", _reachable(PG_URL, 5432))
    url = make_url(PG_URL)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": url.database})
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{url.database}"'))
    admin.dispose()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    _upgrade(PG_URL)
    return PG_URL


@pytest.fixture(scope="session")
def redis_url() -> str:
    require("Redis", _reachable(REDIS_URL, 6379))
    return REDIS_URL


def _upgrade(database_url: str) -> None:
    """Build the schema the way production does: from the Alembic revisions."""
    from flask_migrate import upgrade

    from webapp import create_app

    app = create_app("testing", SQLALCHEMY_DATABASE_URI=database_url, CELERY_BROKER_URL="memory://")
    with app.app_context():
        upgrade()
        from webapp.extensions import db

        db.engine.dispose()


def truncate_all(app: Flask) -> None:
    from webapp.extensions import db

    with app.app_context():
        tables = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
        with db.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


def app_settings(database_url: str, broker_url: str, smtp: SMTPServer | None, tmp: Path) -> dict[str, Any]:
    return {
        "SQLALCHEMY_DATABASE_URI": database_url,
        "CELERY_BROKER_URL": broker_url,
        "SECRET_KEY": SECRET,
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": smtp.port if smtp else 1,
        "MAIL_TIMEOUT": 5.0,
        "MAIL_MESSAGE_ID_DOMAIN": "rollcall.test",
        "PUBLIC_BASE_URL": "http://rollcall.test",
        "DEV_MAILBOX_DIR": str(tmp / "mailbox"),
        "RATELIMIT_ENABLED": False,
    }


@pytest.fixture
def app(pg_url: str, redis_url: str, smtp: SMTPServer, tmp_path: Path) -> Iterator[Flask]:
    """The application on PostgreSQL + Redis, emptied after each test."""
    from webapp import create_app
    from webapp.extensions import db

    app = create_app("testing", **app_settings(pg_url, redis_url, smtp, tmp_path))
    yield app
    truncate_all(app)
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def make_sqlite_app(tmp_path: Path, smtp: SMTPServer) -> Iterator[Callable[..., Flask]]:
    """Factory: an application on a fresh SQLite file, schema from the migrations."""
    from flask_migrate import upgrade

    from webapp import create_app
    from webapp.extensions import db

    apps: list[Flask] = []

    def factory(**overrides: Any) -> Flask:
        url = f"sqlite:///{tmp_path / f'rollcall-{len(apps)}.sqlite'}"
        settings = app_settings(url, "memory://", smtp, tmp_path) | overrides
        app = create_app("testing", **settings)
        with app.app_context():
            upgrade()
        apps.append(app)
        return app

    yield factory
    for app in apps:
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def ctx(app: Flask) -> Iterator[Flask]:
    """An application context for tests that call services directly."""
    with app.app_context():
        yield app


# --- domain factories ----------------------------------------------------------------


def program_data(**overrides: Any) -> dict[str, Any]:
    """A valid program file: registration open now, one session in ten days."""
    now = datetime.now(UTC).replace(microsecond=0)
    starts = now + timedelta(days=10)
    data: dict[str, Any] = {
        "slug": "li-ion-basics",
        "title": "Lithium-ion basics",
        "summary": "A short training.",
        "description": "## Topics\n- cells\n- packs",
        "organiser": "BTBU-ECOSF Joint Training Center",
        "timezone": "Asia/Karachi",
        "capacity": None,
        "waitlist": False,
        "approval_required": False,
        "status": "published",
        **starting_at(starts, deadline=now + timedelta(days=8)),
    }
    data.update(overrides)
    return data


def starting_at(starts: datetime, *, deadline: datetime | None = None, hours: float = 2) -> dict[str, Any]:
    """Program-file overrides for one session at `starts` (registration closing at
    `deadline`, by default an hour before)."""
    return {
        "registration_deadline": (deadline or starts - timedelta(hours=1)).isoformat(),
        "sessions": [
            {
                "title": "Webinar",
                "starts_at": starts.isoformat(),
                "ends_at": (starts + timedelta(hours=hours)).isoformat(),
                "join_url": "https://zoom.us/j/81234567890",
                "passcode": "liion6",
            }
        ],
    }


@pytest.fixture
def make_program(app: Flask) -> Callable[..., int]:
    """Factory: import a program (see `program_data`) and return its id."""

    def factory(**overrides: Any) -> int:
        from webapp.services.audit import Actor
        from webapp.services.programs import import_program

        with app.app_context():
            program, _ = import_program(program_data(**overrides), actor=Actor.system())
            return program.id

    return factory


# A typical participant, as the form and the service take them.
PARTICIPANT: dict[str, Any] = {
    "full_name": "Ayesha Khan",
    "email": "ayesha@example.com",
    "country": "PK",
    "organisation": "Lahore Battery Works",
    "job_title": "Founder",
    "language": "en",
    "timezone": "Asia/Karachi",
}


def registration_input(**overrides: Any) -> Any:
    from webapp.services.registrations import RegistrationInput

    return RegistrationInput(**(PARTICIPANT | {"consent": True} | overrides))


# --- a real Celery worker --------------------------------------------------------------


@dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def worker_env(database_url: str, broker_url: str, smtp: SMTPServer, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "ROLLCALL_ENV": "testing",
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker_url,
        "SECRET_KEY": SECRET,
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp.port),
        "MAIL_TIMEOUT": "5",
        "MAIL_MESSAGE_ID_DOMAIN": "rollcall.test",
        "PUBLIC_BASE_URL": "http://rollcall.test",
        "OUTBOX_SWEEP_SECONDS": "1",
        "OUTBOX_REQUEUE_AFTER_SECONDS": "3",
        "MAIL_RETRY_BASE_SECONDS": "1",
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": str(ROOT),
    }
    env.update(extra)
    return env


def start_worker(env: dict[str, str], log_path: Path, *, beat: bool = True, timeout: float = 60) -> WorkerProcess:
    command = [
        sys.executable, "-m", "celery", "-A", "worker", "worker", "--loglevel", "INFO",
        "--pool", "solo", "--without-gossip", "--without-mingle",
        "--hostname", f"test-{os.getpid()}-{time.monotonic_ns()}@%h",
    ]  # fmt: skip
    if beat:
        command += ["--beat", "--schedule", str(log_path.with_suffix(".schedule"))]
    with log_path.open("wb") as log:  # the child keeps its own descriptor
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + timeout
    worker = WorkerProcess(process, log_path)
    while time.monotonic() < deadline:
        if " ready." in worker.log():
            return worker
        if process.poll() is not None:
            raise RuntimeError(f"worker exited early:\n{worker.log()}")
        time.sleep(0.1)
    stop_worker(worker)
    raise RuntimeError(f"worker did not become ready:\n{worker.log()}")


def stop_worker(worker: WorkerProcess, sig: int = signal.SIGTERM) -> None:
    if worker.process.poll() is None:
        os.killpg(worker.process.pid, sig)
        try:
            worker.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(worker.process.pid, signal.SIGKILL)
            worker.process.wait()


def flush_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()


@pytest.fixture
def celery_worker(app: Flask, pg_url: str, redis_url: str, smtp: SMTPServer, tmp_path: Path) -> Iterator[WorkerProcess]:
    """A real `celery -A worker worker --beat` process on the test database and broker."""
    flush_redis(redis_url)
    worker = start_worker(worker_env(pg_url, redis_url, smtp), tmp_path / "worker.log")
    yield worker
    stop_worker(worker)
    flush_redis(redis_url)
