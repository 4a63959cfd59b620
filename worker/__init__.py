"""The Celery entry point: `celery -A worker worker` and `celery -A worker beat`.

Builds the Flask app (configured from the environment) and exposes its Celery app as
`worker.app`, with the task modules and the beat schedule added.
"""

from __future__ import annotations

from webapp import create_app
from worker.schedule import beat_schedule

flask_app = create_app()
# Tasks publish their follow-up tasks themselves, in the task, before it is acknowledged.
flask_app.config["OUTBOX_DOORBELL"] = "inline"
app = flask_app.extensions["celery"]
app.conf.update(
    include=["worker.tasks.emails", "worker.tasks.zoom"],
    beat_schedule=beat_schedule(flask_app.config),
)
