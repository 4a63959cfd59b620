"""Run the embedded default: web, one Celery worker with beat, and the local mailbox.

Started by `make run` after the database is upgraded and the demo seeded. Prints the
URLs and the demo organiser's login once the web app answers; Ctrl-C stops every process
it started. A port already taken (the web port, PORT; the mailbox's SMTP port, MAIL_PORT)
is named in one line, with how to choose another, before anything starts.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import config  # noqa: E402
from webapp.services.devmailbox import ensure_maildir  # noqa: E402

HOST = "127.0.0.1"
READY_TIMEOUT_S = 60.0


def port_is_free(port: int) -> bool:
    """Whether a server could listen on HOST:`port` now (as werkzeug and aiosmtpd do)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def next_free_port(after: int, taken: set[int]) -> int:
    for candidate in range(after + 1, min(after + 200, 65536)):
        if candidate not in taken and port_is_free(candidate):
            return candidate
    return after + 1


def busy_port_message(port: int, mail_port: int) -> str | None:
    """One line naming the first busy port and the variable that moves it, or None."""
    checks = [(port, "the web app's port", "PORT"), (mail_port, "the local mailbox's SMTP port", "MAIL_PORT")]
    if port == mail_port:
        return f"PORT and MAIL_PORT are both {port}; choose two different ports, e.g. MAIL_PORT={port + 1} make run"
    for number, role, variable in checks:
        if not port_is_free(number):
            other = next_free_port(number, {port, mail_port})
            return (
                f"Port {number} ({role}) is already in use on {HOST}; stop what uses it, "
                f"or choose another: {variable}={other} make run"
            )
    return None


def web_answers(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1):
            return True
    except OSError:
        return False


def main() -> int:
    settings = config.load()
    port = int(os.environ.get("PORT", settings["PORT"]))
    mail_port = int(settings["MAIL_PORT"])
    problem = busy_port_message(port, mail_port)
    if problem:
        print(problem, file=sys.stderr, flush=True)
        return 2
    mailbox_dir = Path(settings["DEV_MAILBOX_DIR"] or config.INSTANCE / "mailbox")
    ensure_maildir(mailbox_dir)
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PORT": str(port), "PYTHONUNBUFFERED": "1"}
    env.setdefault("PUBLIC_BASE_URL", f"http://127.0.0.1:{port}")

    commands = {
        "mailbox": [
            str(bin_dir / "python"), "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{mail_port}",
            "-c", "aiosmtpd.handlers.Mailbox", str(mailbox_dir),
        ],
        "worker": [
            str(bin_dir / "celery"), "-A", "worker", "worker", "--beat", "--loglevel", "INFO",
            "--pool", "threads", "--concurrency", "2",
            "--schedule", str(config.INSTANCE / "celerybeat-schedule"),
        ],
        "web": [str(bin_dir / "flask"), "--app", "webapp", "run", "--host", "127.0.0.1", "--port", str(port)],
    }  # fmt: skip
    processes: dict[str, subprocess.Popen[bytes]] = {}
    for name, command in commands.items():
        processes[name] = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)

    stopping = False

    def stop(*_args: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exit_code = 0

    def exited() -> str | None:
        for name, process in processes.items():
            if process.poll() is not None:
                return name
        return None

    # The banner only once the web app answers, and never if a process died first.
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not stopping and exited() is None and not web_answers(port) and time.monotonic() < deadline:
        time.sleep(0.2)
    ready = not stopping and exited() is None and web_answers(port)
    if not ready and not stopping:
        failed = exited()
        if failed:
            print(f"{failed} exited with code {processes[failed].returncode}; stopping the others.", flush=True)
            exit_code = processes[failed].returncode or 1
        else:
            print(f"The web app did not answer on {HOST}:{port} within {READY_TIMEOUT_S:.0f}s; stopping.", flush=True)
            exit_code = 1
        stopping = True

    login_file = config.INSTANCE / "demo-organiser.txt"
    password = login_file.read_text().strip() if login_file.exists() else "(run `flask --app webapp seed-demo`)"
    if ready:
        print(
            "\n"
            "  Rollcall is running (embedded default: SQLite, local broker, local mailbox)\n"
            f"    Programs         http://127.0.0.1:{port}/\n"
            f"    Demo program     http://127.0.0.1:{port}/programs/lithium-ion-batteries-demo\n"
            f"    Local mailbox    http://127.0.0.1:{port}/dev/mailbox\n"
            f"    Organiser login  http://127.0.0.1:{port}/organiser/login\n"
            f"                     organiser@example.org / {password}\n"
            "  Press Ctrl-C to stop everything.\n",
            flush=True,
        )

    while not stopping:
        for name, process in processes.items():
            if process.poll() is not None:
                print(f"{name} exited with code {process.returncode}; stopping the others.", flush=True)
                exit_code = process.returncode or 1
                stopping = True
                break
        time.sleep(0.3)

    for process in processes.values():
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    for process in processes.values():
        try:
            process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    print("Stopped.", flush=True)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
