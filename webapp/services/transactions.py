"""The one transaction seam.

Every service that changes state does so inside `unit_of_work()`: the block's changes
commit together at its end, or roll back together on any exception, and only after the
commit are the emails the block promised (`outbox.queue_email`, `outbox.queue_bulk`)
handed to the worker. No commit, no email; a commit, then the email, even if the broker
is down (the outbox sweep sends what the hand-over missed). Views, tasks and commands
never commit or roll back themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from flask import current_app
from sqlalchemy import update

from webapp.extensions import db
from webapp.models import Email

log = logging.getLogger(__name__)

DELIVER_TASK = "worker.tasks.emails.deliver_emails"


@contextmanager
def unit_of_work() -> Iterator[None]:
    """Run the block as one transaction; after it commits, dispatch its emails.

    Nested use joins the outer unit: only the outermost commits and dispatches, so a
    service may call another that also uses the seam."""
    if db.session.info.get("in_unit_of_work"):
        yield
        return
    db.session.info["in_unit_of_work"] = True
    take_promised()  # nothing left over from work that never reached a seam
    take_promised_tasks()
    try:
        yield
        db.session.commit()
    except BaseException:
        db.session.rollback()
        take_promised()
        take_promised_tasks()
        raise
    finally:
        db.session.info.pop("in_unit_of_work", None)
    dispatch(take_promised())
    send_tasks(take_promised_tasks())


# --- the emails a unit of work promised, handed to the worker ------------------------


def promise(ids: list[int]) -> None:
    """Remember the rows this transaction wrote, for `unit_of_work` to dispatch after
    it commits."""
    db.session.info.setdefault("promised_emails", []).extend(ids)


def take_promised() -> list[int]:
    """The rows promised since the last call (see `_promise`), forgetting them."""
    return db.session.info.pop("promised_emails", [])


def dispatch(email_ids: Iterable[int]) -> None:
    """Ring the worker's doorbell for committed rows. Never raises.

    With ``OUTBOX_DOORBELL = "thread"`` (web processes) the ids are handed to this
    process's `Doorbell`, which publishes them from a background thread, many per task,
    so a request never waits for the broker; with ``"inline"`` (the worker, beat, the
    tests) they are published here and now."""
    ids = list(email_ids)
    if not ids:
        return
    if current_app.config["OUTBOX_DOORBELL"] == "thread":
        current_app.extensions["doorbell"].ring(ids)
    else:
        publish(ids)


def publish(ids: list[int]) -> None:
    """Enqueue delivery tasks for committed rows, in batches that share one SMTP
    connection. Never raises: with the broker down, the rows are marked as not
    enqueued so the next sweep sends them."""
    celery = current_app.extensions["celery"]
    size = max(int(current_app.config["MAIL_BATCH_SIZE"]), 1)
    failed: list[int] = []
    for start in range(0, len(ids), size):
        batch = ids[start : start + size]
        try:
            celery.send_task(DELIVER_TASK, args=[batch])
        except Exception as exc:  # the broker is down or unreachable; the sweep retries
            log.warning("could not enqueue %d email(s): %s", len(batch), exc)
            failed += batch
    if failed:
        try:
            with unit_of_work():
                db.session.execute(
                    update(Email)
                    .where(Email.id.in_(failed))
                    .values(enqueued_at=None)
                    .execution_options(synchronize_session=False)
                )
        except Exception:  # the database is the source of truth; the sweep will requeue
            log.exception("could not mark %d email(s) as not enqueued", len(failed))


# --- other work a unit of work promised the worker (Zoom) ----------------------------


def promise_task(name: str, args: list[object]) -> None:
    """Enqueue the task `name` with `args` once this transaction commits (never if it
    rolls back). The rows the task works on must say what is to be done, so that a beat
    sweep finds them if the broker loses the task."""
    db.session.info.setdefault("promised_tasks", []).append((name, args))


def take_promised_tasks() -> list[tuple[str, list[object]]]:
    return db.session.info.pop("promised_tasks", [])


def send_tasks(tasks: list[tuple[str, list[object]]]) -> None:
    """Enqueue committed tasks. Never raises: with the broker down, the sweep does the work."""
    if not tasks:
        return
    celery = current_app.extensions["celery"]
    for name, args in tasks:
        try:
            celery.send_task(name, args=args)
        except Exception as exc:  # the broker is down or unreachable; the sweep finds the rows
            log.warning("could not enqueue %s: %s", name, exc)
