"""The Celery application bound to a Flask app (Flask docs, "Background Tasks with Celery").

The web process uses it only to *enqueue* by task name, so `webapp` never imports the
`worker` package; the worker entry point (`worker/__init__.py`) adds the task modules and
the beat schedule.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from celery import Celery, Task
from flask import Flask


def init_celery(app: Flask) -> Celery:
    """Create the Celery app for `app`, store it in ``app.extensions["celery"]``."""

    class FlaskTask(Task):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            with app.app_context():
                return self.run(*args, **kwargs)

    broker = app.config["CELERY_BROKER_URL"]
    transport_options: dict[str, Any] = {}
    if broker.startswith("filesystem://"):
        # kombu's file-system transport: a queue needing no server, for the embedded default.
        folder = Path(app.config["CELERY_BROKER_DIR"])
        for sub in ("queue", "processed"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        transport_options = {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"),
            "store_processed": False,
        }
    elif broker.startswith("redis"):
        # With late acks, an unacknowledged task is redelivered after this long.
        transport_options = {"visibility_timeout": 3600}

    celery = Celery(app.name, task_cls=FlaskTask)
    celery.conf.update(
        broker_url=broker,
        broker_transport_options=transport_options,
        # Enqueueing must never hang a web request when the broker is down: try
        # briefly, then give up; the outbox sweep enqueues the row later.
        broker_connection_timeout=2,
        broker_connection_retry_on_startup=True,
        task_publish_retry_policy={"max_retries": 1, "interval_start": 0, "interval_step": 0.2},
        # A task is acknowledged only once it has run, and requeued if the worker dies.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        # Results are never read: state lives in the outbox table.
        task_ignore_result=True,
        result_backend=None,
        task_serializer="json",
        accept_content=["json"],
        timezone="UTC",
        enable_utc=True,
        worker_hijack_root_logger=False,
    )
    celery.set_default()
    app.extensions["celery"] = celery
    return celery
