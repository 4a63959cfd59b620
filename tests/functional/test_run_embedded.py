"""`make run` (scripts/run_embedded.py) with a port already taken: one line naming the
port and how to choose another, before anything starts, and no "is running" banner."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, free_port


@pytest.fixture
def occupied() -> Iterator[int]:
    """A loopback port something is listening on for the length of the test."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def _run(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "MAIL_SERVER"}}
    return subprocess.run(
        [sys.executable, "scripts/run_embedded.py"],
        cwd=ROOT,
        env=clean | {"ROLLCALL_ENV": "embedded", "ROLLCALL_INSTANCE": str(tmp_path / "instance")} | env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_busy_web_port_is_named_with_how_to_choose_another(tmp_path: Path, occupied: int) -> None:
    result = _run(tmp_path, PORT=str(occupied), MAIL_PORT=str(free_port()))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"Port {occupied} (the web app's port) is already in use on 127.0.0.1" in lines[0]
    assert "or choose another: PORT=" in lines[0] and lines[0].endswith(" make run")
    assert "is running" not in result.stdout and "Traceback" not in result.stderr


def test_a_busy_mailbox_port_is_named_with_how_to_choose_another(tmp_path: Path, occupied: int) -> None:
    result = _run(tmp_path, PORT=str(free_port()), MAIL_PORT=str(occupied))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"Port {occupied} (the local mailbox's SMTP port) is already in use" in lines[0]
    assert "or choose another: MAIL_PORT=" in lines[0]
    assert "is running" not in result.stdout and "Traceback" not in result.stderr
