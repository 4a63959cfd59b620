"""A person's whole registration, end to end (issue 11).

    Three requests and an email: GET the form, POST it, GET the "check your inbox"
    page, and the worker builds and sends the confirmation. Closed loop, 8 clients
    that read each page as a browser would; gunicorn with 2 sync workers on
    PostgreSQL; one Celery worker delivering to a local SMTP sink. Budget: at least
    0.15x the bare one-INSERT endpoint under the same client, in every language.

Each client repeats, as a new visitor each time (no cookies): GET the form (in the
round's language, ``?lang=xx``), parse it with `html.parser` as a browser would (the
form's action, its hidden CSRF token, every field with its default or chosen value),
fill in a person's details, POST it, follow the ``303`` to the done page and parse that.
A real registration counts when its confirmation email has been accepted by the SMTP
sink: a round's time runs from the start to the sink's last acceptance, and
registrations/s is emails delivered over that time.

The baseline (`bench.baseline_app`) serves a tiny form, inserts one row per POST and
answers a tiny done page; the same client drives it the same way (parsing its pages
too). Rounds alternate baseline, real, baseline, real ... within each language, so a
busy machine slows both; the summary gives medians per language and their ratio.
Alongside, CPU per registration: this process (the clients), the gunicorn process
group and the worker's (from /proc), so where the time goes is on the table.

Settings (environment): BENCH_DATABASE_URL, BENCH_REDIS_URL as for the rush;
BENCH_JOURNEY_ROUNDS (3 per language), BENCH_JOURNEY_REGISTRATIONS (300 per real
round), BENCH_JOURNEY_BASELINE_REGISTRATIONS (1500 per baseline round),
BENCH_JOURNEY_CLIENTS (8), BENCH_JOURNEY_WORKERS (2), BENCH_JOURNEY_LANGUAGES
(en,zh,ru,tr,fa). Exit status 1 if a registration failed or an email is missing, 2 if
the benchmark could not run; missing the budget prints MISS.
"""

from __future__ import annotations

import dataclasses
import http.client
import os
import resource
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode, urljoin, urlsplit

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from bench import rush
from bench.fanout import Settings as FanoutSettings
from bench.fanout import Sink, start_workers, stop_workers
from bench.loadgen import HOST
from bench.servers import GunicornServer, ServerError, free_port

BUDGET = 0.15
LANGUAGES = ("en", "zh", "ru", "tr", "fa")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


@dataclass(frozen=True)
class Settings:
    database_url: str
    redis_url: str
    rounds: int
    registrations: int
    baseline_registrations: int
    clients: int
    workers: int
    languages: tuple[str, ...]
    timeout: float = 30.0

    @classmethod
    def from_env(cls) -> Settings:
        languages = tuple(
            code for code in (os.environ.get("BENCH_JOURNEY_LANGUAGES") or ",".join(LANGUAGES)).split(",") if code
        )
        return cls(
            database_url=os.environ.get("BENCH_DATABASE_URL") or rush.DEFAULT_DATABASE_URL,
            redis_url=os.environ.get("BENCH_REDIS_URL") or rush.DEFAULT_REDIS_URL,
            rounds=max(_env_int("BENCH_JOURNEY_ROUNDS", 3), 1),
            registrations=max(_env_int("BENCH_JOURNEY_REGISTRATIONS", 300), 1),
            baseline_registrations=max(_env_int("BENCH_JOURNEY_BASELINE_REGISTRATIONS", 1500), 1),
            clients=max(_env_int("BENCH_JOURNEY_CLIENTS", 8), 1),
            workers=max(_env_int("BENCH_JOURNEY_WORKERS", 2), 1),
            languages=languages,
        )


# --- the browser-like client -------------------------------------------------------------


@dataclass
class FormField:
    kind: str  # "input" type, "select", "textarea"
    name: str
    value: str
    checked: bool = False


@dataclass
class Page:
    """What a browser takes from a page: its first POST form and its heading."""

    action: str | None = None
    fields: list[FormField] = field(default_factory=list)
    heading: str = ""


class PageReader(HTMLParser):
    """Reads a whole page as a browser's form handling would: the first POST form's
    action and fields (inputs with their type, value and checked state; each select's
    chosen option, else its first; textareas' text) and the first h1."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self._in_form = False
        self._form_seen = False
        self._select: tuple[str, list[tuple[str, bool]]] | None = None
        self._option: list[str] | None = None  # text of an option without a value
        self._option_attrs: dict[str, str | None] = {}
        self._textarea: tuple[str, list[str]] | None = None
        self._heading: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "form" and not self._form_seen and (values.get("method") or "").lower() == "post":
            self._in_form = self._form_seen = True
            self.page.action = values.get("action") or ""
        elif tag == "h1" and not self.page.heading:
            self._heading = []
        elif not self._in_form:
            return
        elif tag == "input" and values.get("name"):
            kind = (values.get("type") or "text").lower()
            default = "on" if kind in ("checkbox", "radio") else ""
            self.page.fields.append(
                FormField(kind, values["name"] or "", values.get("value") or default, "checked" in values)
            )
        elif tag == "select" and values.get("name"):
            self._select = (values["name"] or "", [])
        elif tag == "option" and self._select is not None:
            self._option_attrs = values
            self._option = []
        elif tag == "textarea" and values.get("name"):
            self._textarea = (values["name"] or "", [])

    def _end_option(self) -> None:
        if self._option is not None and self._select is not None:
            value = self._option_attrs.get("value")
            if value is None:
                value = "".join(self._option).strip()
            self._select[1].append((value, "selected" in self._option_attrs))
            self._option = None

    def handle_endtag(self, tag: str) -> None:
        if tag == "h1" and self._heading is not None:
            self.page.heading = "".join(self._heading).strip()
            self._heading = None
        elif tag == "form" and self._in_form:
            self._in_form = False
        elif tag == "option":
            self._end_option()
        elif tag == "select" and self._select is not None:
            self._end_option()
            name, options = self._select
            chosen = next((v for v, selected in options if selected), options[0][0] if options else "")
            self.page.fields.append(FormField("select", name, chosen))
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            name, parts = self._textarea
            self.page.fields.append(FormField("textarea", name, "".join(parts)))
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._option is not None:
            self._option.append(data)
        if self._textarea is not None:
            self._textarea[1].append(data)
        if self._heading is not None:
            self._heading.append(data)


def read_page(body: bytes) -> Page:
    reader = PageReader()
    reader.feed(body.decode("utf-8", "replace"))
    reader.close()
    return reader.page


def fill(page: Page, typed: dict[str, str]) -> list[tuple[str, str]]:
    """The body a browser submits after a person types `typed` (and ticks the boxes
    named there); every other field keeps what the page chose."""
    body = []
    for f in page.fields:
        if f.kind in ("submit", "button", "reset", "image", "file"):
            continue
        if f.kind in ("checkbox", "radio"):
            if f.name in typed or f.checked:
                body.append((f.name, f.value))
        else:
            body.append((f.name, typed.get(f.name, f.value)))
    return body


def person(index: int, prefix: str) -> dict[str, str]:
    return {
        "full_name": f"Journey Participant {index}",
        "email": f"{prefix}{index}@example.com",
        "country": "PK",
        "organisation": "Lahore Battery Works",
        "job_title": "Engineer",
        "consent": "y",
    }


@dataclass(frozen=True)
class Target:
    name: str
    port: int
    form_path: str


@dataclass
class RoundResult:
    target: str
    language: str
    requested: int
    ok: int = 0
    errors: int = 0
    elapsed: float = 0.0  # until the last email was accepted (real) or the last page read
    pages_elapsed: float = 0.0  # until the last page was read
    delivered: int = 0
    client_cpu: float = 0.0
    server_cpu: float = 0.0
    worker_cpu: float = 0.0
    error_kinds: Counter[str] = field(default_factory=Counter)

    @property
    def rate(self) -> float:
        done = self.delivered if self.target == "real" else self.ok
        return done / self.elapsed if self.elapsed > 0 else 0.0

    def per_registration_ms(self, seconds: float) -> float:
        return seconds * 1000 / self.ok if self.ok else 0.0


class _Round:
    def __init__(self, target: Target, language: str, requested: int, clients: int, prefix: str) -> None:
        self.target = target
        self.language = language
        self.prefix = prefix
        self.requested = requested
        self.next_index = 0
        self.lock = threading.Lock()
        self.start = threading.Barrier(clients + 1)
        self.result = RoundResult(target.name, language, requested)

    def take(self) -> int | None:
        with self.lock:
            if self.next_index >= self.requested:
                return None
            self.next_index += 1
            return self.next_index - 1

    def record(self, error: str | None) -> None:
        with self.lock:
            if error is None:
                self.result.ok += 1
            else:
                self.result.errors += 1
                self.result.error_kinds[error] += 1


def _get(conn: http.client.HTTPConnection, path: str, jar: dict[str, str], language: str) -> tuple[int, bytes]:
    headers = {"Accept": "text/html", "Accept-Language": language}
    if jar:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    body = response.read()
    _keep_cookies(jar, response)
    return response.status, body


def _keep_cookies(jar: dict[str, str], response: http.client.HTTPResponse) -> None:
    for header in response.headers.get_all("Set-Cookie") or []:
        name, _, rest = header.partition("=")
        jar[name.strip()] = rest.split(";", 1)[0].strip()


def register_once(conn: http.client.HTTPConnection, target: Target, language: str, typed: dict[str, str]) -> None:
    """One visitor's registration: form, submission, done page. Raises on anything a
    person would notice (an error page, no form, no done page)."""
    jar: dict[str, str] = {}
    form_url = f"{target.form_path}?lang={language}"
    status, body = _get(conn, form_url, jar, language)
    if status != 200:
        raise RuntimeError(f"form {status}")
    page = read_page(body)
    if page.action is None:
        raise RuntimeError("no form on the page")
    action = urljoin(form_url, page.action or form_url)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Accept": "text/html",
        "Accept-Language": language,
        "Cookie": "; ".join(f"{k}={v}" for k, v in jar.items()),
    }
    conn.request("POST", action, body=urlencode(fill(page, typed)).encode(), headers=headers)
    response = conn.getresponse()
    response.read()
    _keep_cookies(jar, response)
    if response.status != 303:
        raise RuntimeError(f"POST {response.status}")
    done = urlsplit(urljoin(action, response.getheader("Location") or "")).path
    status, body = _get(conn, done, jar, language)
    if status != 200 or not read_page(body).heading:
        raise RuntimeError(f"done page {status}")


def _client(state: _Round, timeout: float) -> None:
    conn = http.client.HTTPConnection(HOST, state.target.port, timeout=timeout)
    try:
        try:
            state.start.wait()
        except threading.BrokenBarrierError:
            return
        while (index := state.take()) is not None:
            error = None
            try:
                register_once(conn, state.target, state.language, person(index, state.prefix))
            except (OSError, http.client.HTTPException) as exc:
                error = type(exc).__name__
                conn.close()
            except RuntimeError as exc:
                error = str(exc)
            state.record(error)
    finally:
        conn.close()


def _group_cpu(pgid: int | None) -> float:
    """CPU seconds (user + system) used so far by the live processes of a process group."""
    if pgid is None:
        return 0.0
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields after "(comm)": state, ppid, pgrp, ...
            total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_round(
    target: Target,
    language: str,
    requested: int,
    settings: Settings,
    prefix: str,
    *,
    server_pgid: int | None,
    worker_pgid: int | None = None,
    sink: Sink | None = None,
) -> RoundResult:
    """One closed-loop round. With a sink, waits for an email per registration and
    times the round to the last one accepted."""
    state = _Round(target, language, requested, settings.clients, prefix)
    threads = [
        threading.Thread(target=_client, args=(state, settings.timeout), daemon=True) for _ in range(settings.clients)
    ]
    for thread in threads:
        thread.start()
    before_sent = sink.read()[0] if sink else 0
    cpu_before = (_own_cpu(), _group_cpu(server_pgid), _group_cpu(worker_pgid))
    state.start.wait(timeout=settings.timeout)
    started = time.monotonic()
    for thread in threads:
        thread.join()
    result = state.result
    result.elapsed = result.pages_elapsed = time.monotonic() - started
    if sink is not None:
        try:
            last = sink.wait_for(before_sent + result.ok, timeout=120)
            result.elapsed = max(last - started, 1e-9)
        except RuntimeError:
            result.error_kinds["email not delivered within 120 s"] += 1
            result.elapsed = time.monotonic() - started
        result.delivered = sink.read()[0] - before_sent
    result.client_cpu = _own_cpu() - cpu_before[0]
    result.server_cpu = _group_cpu(server_pgid) - cpu_before[1]
    result.worker_cpu = _group_cpu(worker_pgid) - cpu_before[2]
    return result


# --- report ----------------------------------------------------------------------------


def report(settings: Settings, results: list[RoundResult]) -> tuple[str, bool]:
    rows = []
    for r in results:
        rows.append(
            [
                r.language,
                r.target,
                str(r.ok),
                str(r.delivered) if r.target == "real" else "",
                str(r.errors),
                rush._fmt(r.rate),
                rush._fmt(r.pages_elapsed, 2),
                rush._fmt(r.elapsed - r.pages_elapsed, 2) if r.target == "real" else "",
                rush._fmt(r.per_registration_ms(r.client_cpu)),
                rush._fmt(r.per_registration_ms(r.server_cpu)),
                rush._fmt(r.per_registration_ms(r.worker_cpu)) if r.target == "real" else "",
            ]
        )
    headers = [
        "lang", "endpoint", "registered", "emails", "errors", "reg/s",
        "pages s", "email tail s", "client ms", "web ms", "worker ms",
    ]  # fmt: skip
    out = [
        "",
        "End-to-end registration: GET form, parse, POST, GET done page, parse; the confirmation email accepted",
        f"({settings.clients} clients, gunicorn {settings.workers} sync workers, PostgreSQL, 1 Celery worker; "
        f"{settings.rounds} alternating rounds per language; CPU ms per registration)",
        "",
        rush._table(headers, rows, left=2),
        "",
    ]
    summary = []
    worst = None
    for language in settings.languages:
        base = [r.rate for r in results if r.language == language and r.target == "baseline"]
        real = [r.rate for r in results if r.language == language and r.target == "real"]
        if not base or not real:
            continue
        base_rate, real_rate = statistics.median(base), statistics.median(real)
        ratio = real_rate / base_rate if base_rate else 0.0
        worst = ratio if worst is None else min(worst, ratio)
        summary.append(
            [
                language,
                rush._fmt(base_rate),
                rush._fmt(real_rate),
                f"{ratio:.3f}",
                f">= {BUDGET}",
                "PASS" if ratio >= BUDGET else "MISS",
            ]
        )
    out.append(rush._table(["lang", "baseline reg/s", "rollcall reg/s", "ratio", "budget", ""], summary))
    errors = sum(r.errors for r in results)
    missing = sum(r.ok - r.delivered for r in results if r.target == "real")
    kinds = Counter[str]()
    for r in results:
        kinds.update(r.error_kinds)
    out += [
        "",
        f"worst ratio                     {worst or 0:.3f}  (budget >= {BUDGET})  "
        f"{'PASS' if worst is not None and worst >= BUDGET else 'MISS'}",
        f"errors                          {errors}  (must be 0)  {'PASS' if errors == 0 else 'FAIL'}",
        f"emails missing                  {missing}  (must be 0)  {'PASS' if missing == 0 else 'FAIL'}",
    ]
    out += [f"  {kind}: {count}" for kind, count in kinds.items()]
    return "\n".join(out), errors == 0 and missing == 0 and not kinds


# --- main ------------------------------------------------------------------------------


def main() -> int:
    settings = Settings.from_env()
    started = time.monotonic()
    rush_settings = dataclasses.replace(
        rush.Settings.from_env(),
        database_url=settings.database_url,
        redis_url=settings.redis_url,
        capacity=1_000_000,  # everyone confirmed: the confirmation is the email with the most in it
    )
    try:
        rush.flush_redis(settings.redis_url)
        rush.ensure_database(settings.database_url)
        rush._log(f"journey: building schema in {make_url(settings.database_url).database} ...")
        rush.build_schema(rush_settings)
    except SystemExit:
        raise
    except Exception as exc:
        rush._log(f"journey: could not prepare: {type(exc).__name__}: {exc}")
        return 2
    engine = create_engine(settings.database_url)
    # Start from no registrations and no outbox: `rush` runs without a worker and leaves
    # its last round's emails pending, which this scenario's worker would deliver and count.
    rush.reset_real(engine)
    results: list[RoundResult] = []
    workers = []
    try:
        with tempfile.TemporaryDirectory(prefix="rollcall-journey-") as tmp:
            workdir = Path(tmp)
            sink = Sink(workdir)
            try:
                fanout_settings = FanoutSettings(0, 0, settings.database_url, settings.redis_url)
                workers = start_workers(fanout_settings, sink, workdir, count=1)
                common = {"log_dir": workdir, "workers": settings.workers, "worker_class": "sync"}
                base_port, real_port = free_port(), free_port()
                baseline_server = GunicornServer(
                    "baseline",
                    "bench.baseline_app:create_app()",
                    env=rush.server_env(rush_settings, base_port),
                    port=base_port,
                    **common,
                )
                real_env = rush.server_env(rush_settings, real_port) | {
                    "MAIL_SERVER": HOST,
                    "MAIL_PORT": str(sink.port),
                }
                real_server = GunicornServer("real", rush.DEFAULT_REAL_APP, env=real_env, port=real_port, **common)
                baseline = Target("baseline", base_port, "/form")
                real = Target("real", real_port, f"/programs/{rush.SLUG}/register")
                with baseline_server, real_server:
                    base_pgid = baseline_server.process.pid if baseline_server.process else None
                    real_pgid = real_server.process.pid if real_server.process else None
                    worker_pgid = workers[0].pid
                    rush._log("journey: warm-up ...")
                    for language in settings.languages:
                        run_round(baseline, language, 40, settings, f"warm-b-{language}-", server_pgid=base_pgid)
                        run_round(
                            real, language, 40, settings, f"warm-r-{language}-",
                            server_pgid=real_pgid, worker_pgid=worker_pgid, sink=sink,
                        )  # fmt: skip
                    for i in range(1, settings.rounds + 1):
                        for language in settings.languages:
                            rush.reset_baseline(engine)
                            b = run_round(
                                baseline,
                                language,
                                settings.baseline_registrations,
                                settings,
                                f"b{i}-{language}-",
                                server_pgid=base_pgid,
                            )
                            results.append(b)
                            rush.reset_real(engine)
                            r = run_round(
                                real, language, settings.registrations, settings, f"r{i}-{language}-",
                                server_pgid=real_pgid, worker_pgid=worker_pgid, sink=sink,
                            )  # fmt: skip
                            results.append(r)
                            rush._log(
                                f"journey: round {i} {language}: baseline {b.rate:,.1f}/s, "
                                f"rollcall {r.rate:,.1f}/s ({r.delivered} emails, {r.errors + b.errors} errors), "
                                f"ratio {r.rate / b.rate if b.rate else 0:.3f}"
                            )
            finally:
                stop_workers(workers)
                sink.stop()
    except (ServerError, RuntimeError) as exc:
        rush._log(f"journey: {exc}")
        return 2
    finally:
        engine.dispose()
        try:
            rush.flush_redis(settings.redis_url)
        except Exception as exc:
            rush._log(f"journey: could not flush {settings.redis_url}: {exc}")
    text_out, ok = report(settings, results)
    print(text_out)
    print(f"\n(wall time {time.monotonic() - started:.0f}s)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
