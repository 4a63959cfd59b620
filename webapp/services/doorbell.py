"""The web process's doorbell: hands committed outbox rows to the broker from a
background thread, many rows per task.

A registration's request used to publish its own Celery task before answering. That
made every participant wait for Redis (seconds when it is down, while kombu gives up)
and cost each request a task of its own. Here the request only puts the row ids on an
in-process queue; one thread per process collects what arrives within
``OUTBOX_DOORBELL_WINDOW_SECONDS`` and publishes it with `transactions.publish` (up to
``MAIL_BATCH_SIZE`` ids per task, which the worker sends over one SMTP connection).

Nothing can be lost that the database has: the rows are committed before they are
rung, a failed publish marks them "not enqueued", and if the process dies with ids
still queued (SIGKILL, a crash), beat's `sweep_outbox` enqueues them again after
``OUTBOX_REQUEUE_AFTER_SECONDS``. On a normal exit, `atexit` publishes what is left.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable

from flask import Flask

log = logging.getLogger(__name__)


class Doorbell:
    """One per application; safe to use from any thread, and across `fork` (a child
    process starts its own thread and queue on first use)."""

    def __init__(self, app: Flask, publish: Callable[[list[int]], None]) -> None:
        self.app = app
        self.publish = publish
        self.window = max(float(app.config["OUTBOX_DOORBELL_WINDOW_SECONDS"]), 0.0)
        self._guard = threading.Lock()
        self._pid = 0
        self._queue: queue.SimpleQueue[list[int]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._pending = 0  # ids queued or being published, for `wait_idle`
        self._idle = threading.Condition(self._guard)

    def ring(self, email_ids: Iterable[int]) -> None:
        """Queue committed rows for publishing; returns at once."""
        ids = list(email_ids)
        if not ids:
            return
        with self._guard:
            self._ensure_thread()
            self._pending += len(ids)
            self._queue.put(ids)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until every id rung so far has been published (or marked not
        enqueued). For tests and for shutting down; returns False on timeout."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    def close(self) -> None:
        """Publish whatever is still queued, in this thread (at exit)."""
        if self._pid != os.getpid():
            return  # a forked child never rang: nothing of ours is queued here
        ids: list[int] = []
        while True:
            try:
                ids += self._queue.get_nowait()
            except queue.Empty:
                break
        if ids:
            self._publish(ids)
        self.wait_idle(timeout=5.0)

    # --- the thread -------------------------------------------------------------------

    def _ensure_thread(self) -> None:
        """Called holding the guard."""
        pid = os.getpid()
        if pid != self._pid:  # first use, or a forked child: the parent's thread is not here
            self._pid = pid
            self._queue = queue.SimpleQueue()
            self._pending = 0
            self._thread = None
            atexit.register(self.close)  # only processes that rang have anything to flush
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="rollcall-doorbell", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            ids = self._queue.get()
            # Let the window fill, then take everything queued. Sleeping, rather than
            # waiting on the queue for each id, wakes this thread once per batch instead
            # of once per ring: in a sync web worker every wake takes the GIL from the
            # request being served. `publish` splits what it is given into tasks of
            # MAIL_BATCH_SIZE.
            if self.window:
                time.sleep(self.window)
            while True:
                try:
                    ids += self._queue.get_nowait()
                except queue.Empty:
                    break
            self._publish(ids)

    def _publish(self, ids: list[int]) -> None:
        try:
            with self.app.app_context():
                self.publish(ids)
        except Exception:  # never let the thread die; the sweep sends what was not enqueued
            log.exception("doorbell: could not publish %d email(s)", len(ids))
        finally:
            with self._idle:
                self._pending = max(self._pending - len(ids), 0)
                if not self._pending:
                    self._idle.notify_all()
