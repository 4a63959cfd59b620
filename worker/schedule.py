"""Beat's schedule. Beat only enqueues; workers do the work."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def beat_schedule(config: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        "sweep-outbox": {
            "task": "worker.tasks.emails.sweep_outbox",
            "schedule": float(config["OUTBOX_SWEEP_SECONDS"]),
            # A sweep that waited longer than its interval is superseded by the next.
            "options": {"expires": float(config["OUTBOX_SWEEP_SECONDS"])},
        },
    }
