"""Reminder fan-out (DESIGN.md, "Performance budgets").

    10,000 confirmed registrants, one reminder due: every email accepted by the local
    SMTP server; wall time at most 1.5x a plain smtplib loop sending the same messages
    over one connection.

The system under test: `schedule_due_reminders` (what beat runs) writes the 10,000
outbox rows and enqueues them in batches on Redis; two real Celery worker processes
claim the batches, build each message and send it over one SMTP connection per batch,
recording each delivery. The clock runs from the scheduler call to the sink's last
accepted message.

The baseline, in the same run and alternating with it: one loop in this process that
builds the same messages with the same builder (templates, MIME, .ics) and sends them
with `smtplib` over one connection, recording nothing. The ratio is what the outbox,
the broker and the state transitions cost on top of building and sending.

A third line profiles the build step alone (messages built per second, no sending).
Settings: BENCH_FANOUT_RECIPIENTS (10000), BENCH_FANOUT_ROUNDS (2), BENCH_DATABASE_URL,
BENCH_REDIS_URL. Exit status 1 if any message is missing or a row is not sent.
"""

from __future__ import annotations

import os
import signal
import smtplib
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, text

from bench.rush import DEFAULT_DATABASE_URL, DEFAULT_REDIS_URL, SECRET_KEY, _fmt, _log, _table, ensure_database
from bench.rush import flush_redis as flush_broker
from bench.servers import ROOT, free_port

BUDGET = 1.5


@dataclass
class Settings:
    recipients: int
    rounds: int
    database_url: str
    redis_url: str

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            recipients=int(os.environ.get("BENCH_FANOUT_RECIPIENTS", "10000")),
            rounds=int(os.environ.get("BENCH_FANOUT_ROUNDS", "2")),
            database_url=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL),
            redis_url=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL),
        )


class Sink:
    """The SMTP sink subprocess and its status file."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.status = workdir / "sink-status"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.smtp_sink", str(self.port), str(self.status)],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        deadline = time.monotonic() + 15
        while not self.status.exists():
            if time.monotonic() > deadline:
                raise RuntimeError("the SMTP sink did not start")
            time.sleep(0.05)

    def read(self) -> tuple[int, float]:
        try:
            count, last = self.status.read_text().split()
        except (OSError, ValueError):
            return (0, 0.0)
        return int(count), float(last)

    def wait_for(self, total: int, timeout: float) -> float:
        """Monotonic time of the `total`-th accepted message."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            count, last = self.read()
            if count >= total:
                return last
            time.sleep(0.05)
        raise RuntimeError(f"only {self.read()[0]} of {total} messages arrived")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def _app(settings: Settings, sink: Sink, broker: str | None = None) -> Any:
    from webapp import create_app

    return create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        CELERY_BROKER_URL=broker or settings.redis_url,
        SECRET_KEY=SECRET_KEY,
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=sink.port,
        PUBLIC_BASE_URL="http://127.0.0.1:5000",
        MAIL_MESSAGE_ID_DOMAIN="bench.rollcall",
    )


def build(settings: Settings, app: Any) -> int:
    """Fresh schema, a program whose session starts in 30 minutes with a 1-hour
    reminder (so it is due now), and the confirmed registrants. Returns the program id."""
    from sqlalchemy import create_engine

    engine = create_engine(settings.database_url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()

    from flask_migrate import upgrade

    from webapp.extensions import db
    from webapp.models import Registration
    from webapp.services.audit import Actor
    from webapp.services.programs import import_program
    from webapp.services.registrations import new_token

    now = datetime.now(UTC).replace(microsecond=0)
    starts = now + timedelta(minutes=30)
    with app.app_context():
        upgrade()
        program, _ = import_program(
            {
                "slug": "fan-out",
                "title": "Powering Belt and Road: Lithium-ion batteries",
                "summary": "A free online training.",
                "organiser": "BTBU-ECOSF Joint Training Center",
                "timezone": "Asia/Karachi",
                "registration_deadline": (starts - timedelta(minutes=10)).isoformat(),
                "status": "published",
                "reminders": ["1h"],
                "sessions": [
                    {
                        "title": "Live webinar",
                        "starts_at": starts.isoformat(),
                        "ends_at": (starts + timedelta(hours=2)).isoformat(),
                        "join_url": "https://zoom.us/j/81234567890",
                        "passcode": "liion6",
                    }
                ],
            },
            actor=Actor.system(),
        )
        zones = ["Asia/Karachi", "Europe/Istanbul", "Asia/Shanghai", "Africa/Nairobi", "America/Sao_Paulo"]
        rows = []
        yesterday = now - timedelta(days=1)
        for i in range(settings.recipients):
            token = new_token()
            rows.append(
                {
                    "program_id": program.id,
                    "email": f"participant{i}@example.com",
                    "email_normalized": f"participant{i}@example.com",
                    "full_name": f"Participant {i}",
                    "country": "PK",
                    "organisation": "",
                    "job_title": "",
                    "language": "en",
                    "timezone": zones[i % len(zones)],
                    "answers": {},
                    "status": "confirmed",
                    "token": token,
                    "token_selector": token[:16],
                    "revision": 1,
                    "created_at": yesterday,
                    "updated_at": yesterday,
                    "status_changed_at": yesterday,
                    "confirmed_at": yesterday,
                }
            )
        db.session.execute(insert(Registration), rows)
        db.session.commit()
        return program.id


def reset(app: Any) -> None:
    from webapp.extensions import db

    with app.app_context():
        db.session.execute(text("TRUNCATE emails, reminder_runs RESTART IDENTITY"))
        db.session.commit()


def start_workers(settings: Settings, sink: Sink, workdir: Path, count: int = 2) -> list[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "ROLLCALL_ENV": "testing",
        "DATABASE_URL": settings.database_url,
        "CELERY_BROKER_URL": settings.redis_url,
        "SECRET_KEY": SECRET_KEY,
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(sink.port),
        "PUBLIC_BASE_URL": "http://127.0.0.1:5000",
        "MAIL_MESSAGE_ID_DOMAIN": "bench.rollcall",
        "PYTHONPATH": str(ROOT),
    }
    workers = []
    command = [sys.executable, "-m", "celery", "-A", "worker", "worker", "--pool", "solo"]
    command += ["--without-gossip", "--without-mingle", "--loglevel", "WARNING"]
    for index in range(count):
        log = workdir / f"worker{index}.log"
        with log.open("wb") as handle:
            workers.append(
                subprocess.Popen(
                    [*command, "--hostname", f"bench{index}@%h"],
                    cwd=ROOT,
                    env=env,
                    stdout=handle,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
    time.sleep(4)  # both workers connected and waiting
    for worker in workers:
        if worker.poll() is not None:
            raise RuntimeError((workdir / "worker0.log").read_text())
    return workers


def stop_workers(workers: list[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
    for worker in workers:
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)


def run_system(app: Any, sink: Sink, total: int) -> float:
    """Seconds from the scheduler call to the last accepted message."""
    from webapp.services.reminders import schedule_due_reminders

    before, _ = sink.read()
    started = time.monotonic()
    with app.app_context():
        created = schedule_due_reminders()["emails"]
    if created != total:
        raise RuntimeError(f"the scheduler wrote {created} reminders, expected {total}")
    last = sink.wait_for(before + total, timeout=600)
    return last - started


def _emails(app: Any) -> list[Any]:
    from sqlalchemy.orm import selectinload

    from webapp.extensions import db
    from webapp.models import Email, Program, Registration

    return list(
        db.session.scalars(
            select(Email)
            .order_by(Email.id)
            .options(
                selectinload(Email.registration).selectinload(Registration.program).selectinload(Program.all_sessions)
            )
        )
    )


def run_baseline(app: Any, sink: Sink) -> float:
    """Build the same messages with the same builder; send them with smtplib over one
    connection. Seconds to the last accepted message. The rows are written first,
    untimed, by an app whose broker is in memory, so no worker sees them."""
    from webapp.services.composer import build_message
    from webapp.services.reminders import schedule_due_reminders

    with app.app_context():
        schedule_due_reminders()
        emails = _emails(app)
        sender = app.config["MAIL_DEFAULT_SENDER"]
        started = time.monotonic()
        calendars: dict[Any, bytes] = {}
        with smtplib.SMTP("127.0.0.1", sink.port) as smtp:
            for email in emails:
                message = build_message(email, calendars)
                smtp.sendmail(sender, [email.recipient], message.as_bytes())
        return time.monotonic() - started


def profile_build(app: Any, count: int = 1000) -> float:
    """Messages built per second (render, MIME, .ics), nothing sent."""
    from webapp.services.composer import build_message

    with app.app_context():
        emails = _emails(app)[:count]
        calendars: dict[Any, bytes] = {}
        started = time.perf_counter()
        for email in emails:
            build_message(email, calendars).as_bytes()
        return len(emails) / (time.perf_counter() - started)


def main() -> int:
    settings = Settings.from_env()
    ensure_database(settings.database_url)
    workdir = Path(tempfile.mkdtemp(prefix="rollcall-fanout-"))
    sink = Sink(workdir)
    workers: list[subprocess.Popen[bytes]] = []
    try:
        app = _app(settings, sink)
        _log(f"fanout: building {settings.recipients:,} confirmed registrants")
        build(settings, app)
        flush_broker(settings.redis_url)
        workers = start_workers(settings, sink, workdir)
        system: list[float] = []
        baseline: list[float] = []
        builds: list[float] = []
        quiet = _app(settings, sink, broker="memory://")
        for round_number in range(1, settings.rounds + 1):
            reset(app)
            baseline.append(run_baseline(quiet, sink))
            _log(f"fanout: round {round_number} baseline {baseline[-1]:.1f} s")
            builds.append(profile_build(quiet))
            reset(app)
            system.append(run_system(app, sink, settings.recipients))
            _log(f"fanout: round {round_number} workers  {system[-1]:.1f} s")
        from webapp.extensions import db
        from webapp.models import Email

        with app.app_context():
            unsent = db.session.scalar(select(func.count()).select_from(Email).where(Email.status != "sent"))
    finally:
        stop_workers(workers)
        sink.stop()
        flush_broker(settings.redis_url)

    n = settings.recipients
    rows = [
        [f"{i + 1}", _fmt(b, 2), _fmt(n / b, 0), _fmt(s, 2), _fmt(n / s, 0), _fmt(s / b, 2)]
        for i, (b, s) in enumerate(zip(baseline, system, strict=True))
    ]
    print(f"\nReminder fan-out (DESIGN.md): {n:,} confirmed registrants, one reminder due, 2 workers, local SMTP sink")
    print(
        _table(
            ["round", "smtplib loop s", "msg/s", "Rollcall s", "msg/s", "ratio"],
            rows,
        )
    )
    loop, ours = statistics.median(baseline), statistics.median(system)
    ratio = ours / loop
    print(f"\nmedian wall time: smtplib loop {loop:.2f} s, Rollcall {ours:.2f} s")
    print(f"ratio Rollcall/loop             {ratio:.2f}  (budget <= {BUDGET})  {'PASS' if ratio <= BUDGET else 'MISS'}")
    print(f"build step alone                {_fmt(statistics.median(builds), 0)} messages/s (render, MIME, .ics)")
    print(f"rows not sent after the run     {unsent}  {'PASS' if unsent == 0 else 'FAIL'}")
    return 0 if unsent == 0 else 1
