"""Run the embedded default: web, one Celery worker with beat, and the local mailbox.

Started by `make run` after the database is upgraded and the demo seeded. Prints the
URLs and the demo organiser's login; Ctrl-C stops every process it started.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import config  # noqa: E402
from webapp.services.devmailbox import ensure_maildir  # noqa: E402


def main() -> int:
    settings = config.load()
    port = int(os.environ.get("PORT", settings["PORT"]))
    mail_port = int(settings["MAIL_PORT"])
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

    login_file = config.INSTANCE / "demo-organiser.txt"
    password = login_file.read_text().strip() if login_file.exists() else "(run `flask --app webapp seed-demo`)"
    time.sleep(1.5)
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

    stopping = False

    def stop(*_args: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
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
