"""Run a WSGI app under gunicorn on 127.0.0.1 for the length of a benchmark.

Each server is its own process group, started with the interpreter running the
benchmark (so the virtualenv's gunicorn), logging to a file that is shown if it fails
to start. `GunicornServer` is a context manager: leaving it always stops the group.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

from bench.loadgen import HOST

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class ServerError(RuntimeError):
    """gunicorn did not start, or did not answer its health check."""


class GunicornServer:
    """``gunicorn <app_spec>`` with `workers` workers of `worker_class`, on a free port."""

    def __init__(
        self,
        name: str,
        app_spec: str,
        *,
        env: dict[str, str],
        log_dir: Path,
        workers: int,
        worker_class: str = "sync",
        health_path: str = "/healthz",
        port: int | None = None,
    ) -> None:
        self.name = name
        self.app_spec = app_spec
        self.env = env
        self.log_path = log_dir / f"gunicorn-{name}.log"
        self.workers = workers
        self.worker_class = worker_class
        self.health_path = health_path
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "gunicorn",
            "--bind", f"{HOST}:{self.port}",
            "--workers", str(self.workers),
            "--worker-class", self.worker_class,
            "--timeout", "60",
            "--graceful-timeout", "5",
            "--log-level", "warning",
            self.app_spec,
        ]  # fmt: skip

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def start(self, timeout: float = 60.0) -> None:
        """Start gunicorn and wait until every worker could have booted and it answers."""
        with self.log_path.open("wb") as log:  # the child keeps its own descriptor
            self.process = subprocess.Popen(
                self.command(),
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerError(f"{self.name}: gunicorn exited with {self.process.returncode}:\n{self.log()}")
            if self._healthy():
                return
            time.sleep(0.2)
        self.stop()
        raise ServerError(f"{self.name}: no answer on {self.health_path} within {timeout:.0f}s:\n{self.log()}")

    def _healthy(self) -> bool:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=5)
        try:
            conn.request("GET", self.health_path)
            return conn.getresponse().status == 200
        except (OSError, http.client.HTTPException):
            return False
        finally:
            conn.close()

    def stop(self) -> None:
        """Stop the whole process group: SIGTERM, then SIGKILL if it lingers."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=15)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)

    def __enter__(self) -> GunicornServer:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
