"""Attendee list (DESIGN.md, "Performance budgets").

    50,000 registrants: filtered, sorted page p95 under 150 ms; CSV export streams all
    rows with flat memory (under 200 MB peak).

One program with BENCH_ATTENDEES (50,000) registrants on PostgreSQL. An admin signed in
through the real login asks for list pages the way an organiser would (search, status
tab, country, date range, each sort column, deep pages) through the WSGI app in this
process; each request's time is measured end to end (routing, queries, template). The
CSV and XLSX exports of all rows run in a child process whose peak resident memory is
reported, against an empty export as the baseline.

That peak is the child's own (VmHWM). ``ru_maxrss`` is not: Linux carries the peak of
the image a child was forked from across ``exec``, so it reported this benchmark's own
size (seen: 313 MB for a child whose own peak was 14 MB). It counts from the moment the
export is asked for, the counter being reset after signing in: checking the password
(argon2id, 64 MiB for a moment, by design) would otherwise be every export's peak,
empty or full. The child's peak with the sign-in is shown too.
"""

from __future__ import annotations

import os
import re
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text

from bench.rush import DEFAULT_DATABASE_URL, SECRET_KEY, _fmt, _log, _table, ensure_database
from bench.servers import ROOT

LIST_BUDGET_MS = 150.0
MEMORY_BUDGET_MB = 200.0
PASSWORD = "bench-password-0123456789"
COUNTRIES = ["PK", "CN", "TR", "KZ", "IR", "AF", "UZ", "AZ", "TJ", "KG", "TM", "NG", "KE", "BR", "ID"]


def _app(database_url: str) -> Any:
    from webapp import create_app

    return create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI=database_url,
        CELERY_BROKER_URL="memory://",
        SECRET_KEY=SECRET_KEY,
        RATELIMIT_ENABLED=False,
    )


def build(database_url: str, count: int) -> int:
    from sqlalchemy import create_engine

    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()

    from flask_migrate import upgrade

    from webapp.extensions import db
    from webapp.models import Registration
    from webapp.services.audit import Actor
    from webapp.services.organisers import create_organiser
    from webapp.services.programs import import_program

    app = _app(database_url)
    now = datetime.now(UTC).replace(microsecond=0)
    with app.app_context():
        upgrade()
        starts = now + timedelta(days=20)
        program, _ = import_program(
            {
                "slug": "big",
                "title": "A very popular program",
                "timezone": "Asia/Karachi",
                "registration_deadline": (starts - timedelta(days=1)).isoformat(),
                "capacity": count // 2,
                "waitlist": True,
                "status": "published",
                "sessions": [
                    {
                        "title": "Webinar",
                        "starts_at": starts.isoformat(),
                        "ends_at": (starts + timedelta(hours=2)).isoformat(),
                        "join_url": "https://zoom.us/j/1",
                    }
                ],
            },
            actor=Actor.system(),
        )
        create_organiser("bench@example.org", "Bench Admin", PASSWORD, admin=True)
        statuses = ["confirmed", "waitlisted", "cancelled", "pending"]
        batch: list[dict[str, Any]] = []
        for i in range(count):
            created = now - timedelta(days=30) + timedelta(seconds=i * 50)
            batch.append(
                {
                    "program_id": program.id,
                    "email": f"person{i}@example{i % 97}.org",
                    "email_normalized": f"person{i}@example{i % 97}.org",
                    "full_name": f"Person {i:05d} {['Khan', 'Wang', 'Yilmaz', 'Aliyev', 'Karimi'][i % 5]}",
                    "country": COUNTRIES[i % len(COUNTRIES)],
                    "organisation": f"Battery Works {i % 500}",
                    "job_title": "Engineer",
                    "language": "en",
                    "timezone": "Asia/Karachi",
                    "answers": {},
                    "status": statuses[i % 4] if i >= count // 2 else "confirmed",
                    "token": f"t{i:043d}",
                    "token_selector": f"s{i:015d}",
                    "revision": 1,
                    "created_at": created,
                    "updated_at": created,
                    "status_changed_at": created,
                    "confirmed_at": created,
                    "attended_at": created if i % 3 == 0 else None,
                }
            )
            if len(batch) == 5000:
                db.session.execute(insert(Registration), batch)
                batch = []
        if batch:
            db.session.execute(insert(Registration), batch)
        db.session.commit()
        db.session.execute(text("ANALYZE registrations"))
        db.session.commit()
        return program.id


def _signed_in(app: Any) -> Any:
    client = app.test_client()
    page = client.get("/organiser/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert token is not None
    response = client.post(
        "/organiser/login", data={"email": "bench@example.org", "password": PASSWORD, "csrf_token": token.group(1)}
    )
    assert response.status_code == 303, response.status_code
    return client


QUERIES = {
    "first page, newest first": "",
    "search 'khan'": "q=khan",
    "search an email domain": "q=example42.org",
    "tab: waiting list": "status=waitlisted",
    "country + attended": "country=TR&attended=yes",
    "registered in a week": "registered_from={d1}&registered_to={d2}",
    "sort by name": "sort=name&dir=asc",
    "sort by organisation": "sort=organisation&dir=desc",
    "sort by country, page 200": "sort=country&dir=asc&page=200",
    "last page": "page=1000",
}


def measure_list(app: Any, program_id: int, repeats: int) -> list[list[str]]:
    client = _signed_in(app)
    week = datetime.now(UTC).date() - timedelta(days=20)
    rows = []
    for label, query in QUERIES.items():
        url = f"/organiser/programs/{program_id}/attendees?" + query.format(d1=week, d2=week + timedelta(days=7))
        client.get(url)  # warm
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
        times.sort()
        p95 = times[max(int(len(times) * 0.95) - 1, 0)]
        rows.append([label, _fmt(statistics.median(times)), _fmt(p95), "PASS" if p95 < LIST_BUDGET_MS else "MISS"])
    return rows


def export_peak(database_url: str, program_id: int, kind: str, query: str) -> tuple[float, int, float, float]:
    """(peak RSS in MB from the export's start, bytes, seconds, peak RSS in MB of the
    whole process, sign-in included) of one export, in a fresh child process."""
    child = subprocess.run(
        [sys.executable, "-m", "bench.attendees", "--export", database_url, str(program_id), kind, query],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )
    peak, size, seconds, process_peak = child.stdout.strip().splitlines()[-1].split()
    return float(peak), int(size), float(seconds), float(process_peak)


def _peak_rss_mb() -> float:
    """VmHWM, the peak resident memory since the process started or the counter was reset."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _export_child(database_url: str, program_id: int, kind: str, query: str) -> None:
    import logging

    logging.disable(logging.WARNING)
    app = _app(database_url)
    client = _signed_in(app)
    process_peak = _peak_rss_mb()
    Path("/proc/self/clear_refs").write_text("5")  # the peak counter starts again here
    started = time.perf_counter()
    response = client.get(f"/organiser/programs/{program_id}/attendees.{kind}?{query}", buffered=False)
    size = 0
    for chunk in response.response:
        size += len(chunk)
    response.close()
    seconds = time.perf_counter() - started
    peak_mb = _peak_rss_mb()
    print(f"{peak_mb:.1f} {size} {seconds:.2f} {max(process_peak, peak_mb):.1f}")


def main() -> int:
    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    count = int(os.environ.get("BENCH_ATTENDEES", "50000"))
    repeats = int(os.environ.get("BENCH_LIST_REPEATS", "20"))
    ensure_database(database_url)
    _log(f"attendees: building {count:,} registrants")
    program_id = build(database_url, count)
    app = _app(database_url)
    list_rows = measure_list(app, program_id, repeats)
    exports = []
    empty_peak, _, _, _ = export_peak(database_url, program_id, "csv", "q=nobody-matches-this")
    for kind in ("csv", "xlsx"):
        peak, size, seconds, process_peak = export_peak(database_url, program_id, kind, "")
        exports.append(
            [
                kind.upper(),
                f"{count:,}",
                _fmt(size / 1e6),
                _fmt(seconds, 2),
                _fmt(peak),
                _fmt(peak - empty_peak),
                "PASS" if peak < MEMORY_BUDGET_MB else "MISS",
                _fmt(process_peak),
            ]
        )
    print(f"\nAttendee list (DESIGN.md): {count:,} registrants in one program, {repeats} requests per query")
    print(_table(["query", "p50 ms", "p95 ms", f"< {LIST_BUDGET_MS:.0f} ms"], list_rows))
    print(f"\nExports of every row, each in a fresh process (baseline: an empty export peaks at {empty_peak:.1f} MB)")
    headers = ["format", "rows", "MB", "seconds", "peak MB", "over empty", f"< {MEMORY_BUDGET_MB:.0f} MB"]
    print(_table([*headers, "with sign-in"], exports))
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--export":
        _export_child(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5])
    else:
        raise SystemExit(main())
