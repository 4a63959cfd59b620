"""Beat's schedule. Beat only enqueues; workers do the work."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def beat_schedule(config: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    sweep = float(config["OUTBOX_SWEEP_SECONDS"])
    reminders = float(config["REMINDER_SCAN_SECONDS"])
    zoom = float(config["ZOOM_SWEEP_SECONDS"])
    return {
        "sweep-outbox": {
            "task": "worker.tasks.emails.sweep_outbox",
            "schedule": sweep,
            # A sweep that waited longer than its interval is superseded by the next.
            "options": {"expires": sweep},
        },
        "schedule-reminders": {
            "task": "worker.tasks.emails.schedule_reminders",
            "schedule": reminders,
            "options": {"expires": reminders},
        },
        # Zoom cancellations whose task was lost or must be retried.
        "cancel-zoom-registrants": {
            "task": "worker.tasks.zoom.cancel_registrants",
            "schedule": zoom,
            "options": {"expires": zoom},
        },
        # Sessions' webinars and meetings still to create, change or delete in Zoom.
        "sync-zoom-sessions": {
            "task": "worker.tasks.zoom.sync_sessions",
            "schedule": zoom,
            "options": {"expires": zoom},
        },
        # Attendance of ended Zoom sessions whose report was never read.
        "sweep-zoom-attendance": {
            "task": "worker.tasks.zoom.sweep_attendance",
            "schedule": zoom,
            "options": {"expires": zoom},
        },
    }
