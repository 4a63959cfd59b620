"""Email tasks: deliver one outbox row; sweep the outbox."""

from __future__ import annotations

from celery import shared_task

from webapp.services import mailer, outbox


@shared_task(name="worker.tasks.emails.deliver_email", acks_late=True)
def deliver_email(email_id: int) -> str:
    """Deliver outbox row `email_id` (claims it first, so running twice sends once).
    Retries are not Celery retries: a transient failure sets the row's next attempt
    time and the sweep enqueues it then (no ETA tasks)."""
    return mailer.deliver_email(email_id)


@shared_task(name="worker.tasks.emails.sweep_outbox")
def sweep_outbox() -> dict[str, int]:
    """Re-enqueue due outbox rows nobody has claimed; recover rows of dead workers."""
    return outbox.sweep_outbox()
