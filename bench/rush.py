"""Registration rush (DESIGN.md, "Performance budgets").

    2,000 registrations, 50 concurrent clients, one program, PostgreSQL: no error, no
    overbooking; throughput at least 0.5x a bare Flask endpoint doing one INSERT under
    the same load.

The real application and the baseline (`bench.baseline_app`) both run under gunicorn
with the same worker count and class, on the same dedicated database, and are driven by
the same load generator (`bench.loadgen`) with the same form body. Rounds alternate
baseline, real, baseline, real ... so both see the same machine at the same moment;
the summary reports medians across rounds and the ratio of the median throughputs.

The real endpoint is the public form, ``POST /programs/<slug>/register``, with a CSRF
token and session cookie obtained by one GET per client. The program has fewer seats
than the round has registrations and its waitlist on, so both the confirmed and the
waitlisted paths run and any overbooking would show. Before each real round the
registrations, their outbox rows and audit entries are emptied, so every round is the
same workload; after it the database is checked: confirmed never above capacity, seats
filled before anyone is waitlisted, one registration and one outbox row per successful
submission.

Exit status: 0 if every check passed, 1 if any request failed or a database check
failed, 2 if the benchmark could not run. Missing the throughput budget only prints
MISS. Settings come from the environment (see `Settings.from_env`); for a quick run::

    BENCH_ROUNDS=1 BENCH_REQUESTS=200 BENCH_CLIENTS=10 .venv/bin/python -m bench
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from bench.loadgen import HOST, PrepareError, RoundResult, Target, run_round
from bench.servers import ROOT, GunicornServer, ServerError, free_port

DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/rollcall_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"
DEFAULT_REAL_APP = "webapp:create_app()"
SECRET_KEY = "bench-secret-key-not-for-production-0123456789abcdef"
SLUG = "bench-rush"
BUDGET = 0.5
REAL_TABLES = ("registrations", "emails", "audit_entries")


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name, "")
    return float(value) if value.strip() else default


@dataclass(frozen=True)
class Settings:
    """What to run; every field has a ``BENCH_*`` environment variable."""

    database_url: str
    redis_url: str
    rounds: int
    requests: int
    clients: int
    workers: int
    worker_class: str
    capacity: int
    warmup: int
    timeout: float
    round_timeout: float
    real_app: str

    @classmethod
    def from_env(cls) -> Settings:
        """BENCH_DATABASE_URL, BENCH_REDIS_URL, BENCH_ROUNDS (3), BENCH_REQUESTS (2000),
        BENCH_CLIENTS (50), BENCH_WORKERS (4, as in the Dockerfile), BENCH_WORKER_CLASS
        (sync), BENCH_CAPACITY (3/4 of the requests), BENCH_WARMUP (200 requests per
        server before the first round), BENCH_TIMEOUT (seconds per request, 30) and
        BENCH_ROUND_TIMEOUT (seconds per round, 300)."""
        requests = _env_int("BENCH_REQUESTS", 2000)
        return cls(
            database_url=os.environ.get("BENCH_DATABASE_URL") or DEFAULT_DATABASE_URL,
            redis_url=os.environ.get("BENCH_REDIS_URL") or DEFAULT_REDIS_URL,
            rounds=max(_env_int("BENCH_ROUNDS", 3), 1),
            requests=max(requests, 1),
            clients=max(_env_int("BENCH_CLIENTS", 50), 1),
            workers=max(_env_int("BENCH_WORKERS", 4), 1),
            worker_class=os.environ.get("BENCH_WORKER_CLASS") or "sync",
            capacity=max(_env_int("BENCH_CAPACITY", requests * 3 // 4), 1),
            warmup=max(_env_int("BENCH_WARMUP", 200), 0),
            timeout=_env_float("BENCH_TIMEOUT", 30.0),
            round_timeout=_env_float("BENCH_ROUND_TIMEOUT", 300.0),
            real_app=os.environ.get("BENCH_REAL_APP") or DEFAULT_REAL_APP,
        )


@dataclass
class RealCheck:
    """The database after one real round."""

    rows: int
    confirmed: int
    waitlisted: int
    emails: int
    problems: list[str]


# --- database -------------------------------------------------------------------------


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def ensure_database(url: str) -> None:
    """Create the benchmark database if missing. Refuses any database whose name does
    not contain "bench", because the benchmark drops its schema."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise SystemExit(f"BENCH_DATABASE_URL must be PostgreSQL, not {parsed.get_backend_name()}")
    if "bench" not in (parsed.database or ""):
        raise SystemExit(f"refusing to use database {parsed.database!r}: its name must contain 'bench'")
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": parsed.database})
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    finally:
        admin.dispose()


def program_data(capacity: int) -> dict[str, Any]:
    """One published program, registration open for days, `capacity` seats, waitlist on."""
    now = datetime.now(UTC).replace(microsecond=0)
    starts = now + timedelta(days=10)
    return {
        "slug": SLUG,
        "title": "Registration rush",
        "summary": "The benchmark's program.",
        "description": "## Topics\n- cells\n- packs",
        "organiser": "BTBU-ECOSF Joint Training Center",
        "timezone": "Asia/Karachi",
        "registration_deadline": (now + timedelta(days=8)).isoformat(),
        "capacity": capacity,
        "waitlist": True,
        "approval_required": False,
        "status": "published",
        "sessions": [
            {
                "title": "Webinar",
                "starts_at": starts.isoformat(),
                "ends_at": (starts + timedelta(hours=2)).isoformat(),
                "join_url": "https://zoom.us/j/81234567890",
                "passcode": "liion6",
            }
        ],
    }


def build_schema(settings: Settings) -> int:
    """A fresh schema from the app's Alembic migrations, the program, and the baseline's
    table. Returns the program id."""
    engine = create_engine(settings.database_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()

    from flask_migrate import upgrade

    from webapp import create_app
    from webapp.extensions import db
    from webapp.services.audit import Actor
    from webapp.services.programs import import_program

    app = create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        CELERY_BROKER_URL="memory://",
        SECRET_KEY=SECRET_KEY,
        RATELIMIT_ENABLED=False,
        PUBLIC_BASE_URL=f"http://{HOST}",
    )
    with app.app_context():
        upgrade()
        program, _ = import_program(program_data(settings.capacity), actor=Actor.system())
        program_id = program.id
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "CREATE TABLE bench_baseline ("
                    " id serial PRIMARY KEY, email text NOT NULL, created_at timestamptz NOT NULL)"
                )
            )
        db.session.remove()
        db.engine.dispose()
    return program_id


def reset_real(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(REAL_TABLES)} RESTART IDENTITY CASCADE"))


def reset_baseline(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE bench_baseline RESTART IDENTITY"))


def flush_redis(url: str) -> None:
    """Empty the broker database the real app enqueues delivery tasks into (no worker runs)."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


def check_real(engine: Engine, program_id: int, capacity: int, result: RoundResult) -> RealCheck:
    """Capacity, seat order and completeness after a real round."""
    with engine.connect() as conn:
        counts = dict(
            conn.execute(
                text("SELECT status, count(*) FROM registrations WHERE program_id = :p GROUP BY status"),
                {"p": program_id},
            ).all()
        )
        emails = conn.scalar(text("SELECT count(*) FROM emails")) or 0
    rows = sum(counts.values())
    confirmed = counts.get("confirmed", 0)
    waitlisted = counts.get("waitlisted", 0)
    problems = []
    if confirmed > capacity:
        problems.append(f"OVERBOOKED: {confirmed} confirmed for {capacity} seats")
    if confirmed != min(capacity, rows):
        problems.append(f"seat order: {confirmed} confirmed of {rows} with {capacity} seats")
    if confirmed + waitlisted != rows:
        problems.append(f"unexpected statuses: {counts}")
    if rows != result.ok:
        problems.append(f"{rows} registrations for {result.ok} successful submissions")
    if emails != rows:
        problems.append(f"{emails} outbox rows for {rows} registrations")
    return RealCheck(rows, confirmed, waitlisted, emails, problems)


def count_baseline(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(text("SELECT count(*) FROM bench_baseline")) or 0


# --- servers ----------------------------------------------------------------------------


def server_env(settings: Settings, port: int) -> dict[str, str]:
    """The environment both gunicorn processes get (config.py reads the real app's)."""
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p),
        "PYTHONUNBUFFERED": "1",
        "ROLLCALL_ENV": "testing",
        "DATABASE_URL": settings.database_url,
        "BENCH_DATABASE_URL": settings.database_url,
        "CELERY_BROKER_URL": settings.redis_url,
        "SECRET_KEY": SECRET_KEY,
        "RATELIMIT_ENABLED": "false",
        # The web process's production defaults (testing mode turns these off).
        "OUTBOX_DOORBELL": "thread",
        "FORM_PROGRAM_CACHE_SECONDS": "5",
        "PUBLIC_BASE_URL": f"http://{HOST}:{port}",
        "MAIL_SERVER": HOST,
        "MAIL_PORT": "1",
    }


# --- report -----------------------------------------------------------------------------


def _fmt(value: float, digits: int = 1) -> str:
    return f"{value:,.{digits}f}"


def _table(headers: list[str], rows: list[list[str]], left: int = 1) -> str:
    """A plain-text table; the first `left` columns are text (left-aligned), the rest numbers."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        padded = [c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))]
        return "  ".join(padded).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def report(
    settings: Settings,
    baseline: list[RoundResult],
    real: list[RoundResult],
    checks: list[RealCheck],
    baseline_rows: list[int],
    pg_version: str,
) -> tuple[str, bool]:
    """The printed table, and whether every correctness check passed."""
    rows: list[list[str]] = []
    for i, (base, got, check, base_count) in enumerate(zip(baseline, real, checks, baseline_rows, strict=True), 1):
        rows.append(
            [
                str(i),
                "baseline (1 INSERT)",
                _fmt(base.throughput),
                _fmt(base.percentile_ms(50)),
                _fmt(base.percentile_ms(99)),
                str(base.errors),
                "",
                "",
                str(base_count),
                "",
            ]
        )
        ratio = got.throughput / base.throughput if base.throughput else 0.0
        rows.append(
            [
                str(i),
                "real form",
                _fmt(got.throughput),
                _fmt(got.percentile_ms(50)),
                _fmt(got.percentile_ms(99)),
                str(got.errors),
                str(check.confirmed),
                str(check.waitlisted),
                str(check.rows),
                f"{ratio:.2f}",
            ]
        )
    headers = ["round", "endpoint", "req/s", "p50 ms", "p99 ms", "errors", "confirmed", "waitlisted", "rows", "ratio"]

    def median(results: list[RoundResult], key: str) -> float:
        values = [
            r.throughput if key == "rps" else r.percentile_ms(50 if key == "p50" else 99)
            for r in results
            if r.latencies
        ]
        return statistics.median(values) if values else 0.0

    base_rps, real_rps = median(baseline, "rps"), median(real, "rps")
    ratio = real_rps / base_rps if base_rps else 0.0
    summary = [
        [
            "baseline (1 INSERT)",
            _fmt(base_rps),
            _fmt(median(baseline, "p50")),
            _fmt(median(baseline, "p99")),
            str(sum(r.errors for r in baseline)),
        ],
        [
            "real form",
            _fmt(real_rps),
            _fmt(median(real, "p50")),
            _fmt(median(real, "p99")),
            str(sum(r.errors for r in real)),
        ],
    ]
    errors = sum(r.errors for r in baseline + real)
    overbooked = [c for c in checks if c.confirmed > settings.capacity]
    problems = [p for c in checks for p in c.problems]
    problems += [f"baseline round {i}: {n} rows for {r.ok} successes" for i, (r, n) in
                 enumerate(zip(baseline, baseline_rows, strict=True), 1) if n != r.ok]  # fmt: skip
    error_kinds = sorted({f"{r.target}: {kind} x{n}" for r in baseline + real for kind, n in r.error_kinds.items()})
    max_confirmed = max((c.confirmed for c in checks), default=0)

    out = [
        "Registration rush (DESIGN.md): "
        f"{settings.requests:,} registrations x {settings.rounds} rounds per endpoint, "
        f"{settings.clients} concurrent clients, one program",
        f"gunicorn {settings.workers} {settings.worker_class} workers per server, PostgreSQL {pg_version}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}; "
        f"capacity {settings.capacity:,} seats, waitlist on; rounds alternate baseline/real",
        *([f"real server: {settings.real_app} (BENCH_REAL_APP)"] if settings.real_app != DEFAULT_REAL_APP else []),
        "",
        _table(headers, rows, left=2),
        "",
        f"Median of {settings.rounds} round(s):",
        _table(["endpoint", "req/s", "p50 ms", "p99 ms", "errors"], summary),
        "",
        f"throughput ratio real/baseline  {ratio:.2f}  (budget >= {BUDGET})  {'PASS' if ratio >= BUDGET else 'MISS'}",
        f"errors                          {errors}  (must be 0)  {'PASS' if errors == 0 else 'FAIL'}",
        f"confirmed (max over rounds)     {max_confirmed:,} of {settings.capacity:,} seats  "
        f"{'FAIL (overbooked)' if overbooked else 'PASS'}",
        f"database checks                 {'PASS' if not problems else 'FAIL'}",
    ]
    out += [f"  - {p}" for p in problems]
    out += [f"  error: {kind}" for kind in error_kinds]
    return "\n".join(out), errors == 0 and not problems


# --- main -------------------------------------------------------------------------------


def main() -> int:
    """Run the rush; print the table to stdout (progress goes to stderr)."""
    settings = Settings.from_env()
    started = time.monotonic()
    try:
        flush_redis(settings.redis_url)
    except Exception as exc:
        _log(f"rush: Redis at {settings.redis_url} is not usable: {type(exc).__name__}: {exc}")
        return 2
    try:
        ensure_database(settings.database_url)
        _log(f"rush: building schema in {make_url(settings.database_url).database} ...")
        program_id = build_schema(settings)
    except SystemExit:
        raise
    except Exception as exc:
        _log(f"rush: could not prepare the database: {type(exc).__name__}: {exc}")
        return 2

    engine = create_engine(settings.database_url)
    with engine.connect() as conn:
        pg_version = str(conn.scalar(text("SHOW server_version"))).split()[0]
    baseline_results: list[RoundResult] = []
    real_results: list[RoundResult] = []
    checks: list[RealCheck] = []
    baseline_rows: list[int] = []
    try:
        with tempfile.TemporaryDirectory(prefix="rollcall-bench-") as tmp:
            base_port, real_port = free_port(), free_port()
            common = {"log_dir": Path(tmp), "workers": settings.workers, "worker_class": settings.worker_class}
            baseline_server = GunicornServer(
                "baseline",
                "bench.baseline_app:create_app()",
                env=server_env(settings, base_port),
                port=base_port,
                **common,
            )
            real_server = GunicornServer(
                "real", settings.real_app, env=server_env(settings, real_port), port=real_port, **common
            )
            baseline_target = Target("baseline", base_port, "/form", "/register", "/registered")
            real_target = Target(
                "real",
                real_port,
                f"/programs/{SLUG}/register",
                f"/programs/{SLUG}/register",
                f"/programs/{SLUG}/registered",
            )
            flush_redis(settings.redis_url)
            _log(f"rush: starting gunicorn x2 ({settings.workers} {settings.worker_class} workers each) ...")
            with baseline_server, real_server:

                def one_round(target: Target, tag: str, requests: int) -> RoundResult:
                    return run_round(
                        target,
                        requests=requests,
                        clients=settings.clients,
                        email_prefix=f"rush-{tag}-",
                        timeout=settings.timeout,
                        round_timeout=settings.round_timeout,
                    )

                if settings.warmup:
                    _log(f"rush: warm-up, {settings.warmup} requests per server ...")
                    for target in (baseline_target, real_target):
                        warm = one_round(target, "warmup", settings.warmup)
                        if warm.errors:
                            _log(f"rush: warm-up on {target.name}: {warm.errors} errors {dict(warm.error_kinds)}")
                    reset_baseline(engine)
                    reset_real(engine)
                    flush_redis(settings.redis_url)

                for i in range(1, settings.rounds + 1):
                    reset_baseline(engine)
                    result = one_round(baseline_target, f"b{i}", settings.requests)
                    baseline_results.append(result)
                    baseline_rows.append(count_baseline(engine))
                    _log(
                        f"rush: round {i}/{settings.rounds} baseline {result.throughput:,.1f} req/s, "
                        f"{result.errors} errors"
                    )

                    reset_real(engine)
                    flush_redis(settings.redis_url)
                    result = one_round(real_target, f"r{i}", settings.requests)
                    real_results.append(result)
                    check = check_real(engine, program_id, settings.capacity, result)
                    checks.append(check)
                    _log(
                        f"rush: round {i}/{settings.rounds} real     {result.throughput:,.1f} req/s, "
                        f"{result.errors} errors, {check.confirmed} confirmed"
                    )
    except (ServerError, PrepareError) as exc:
        _log(f"rush: {exc}")
        return 2
    finally:
        try:
            flush_redis(settings.redis_url)
        except Exception as exc:
            _log(f"rush: could not flush {settings.redis_url}: {exc}")
        engine.dispose()

    text_out, ok = report(settings, baseline_results, real_results, checks, baseline_rows, pg_version)
    print(text_out)
    print(f"\n(wall time {time.monotonic() - started:.0f}s; `BENCH_ROUNDS=1 BENCH_REQUESTS=200` for a quick run)")
    return 0 if ok else 1
