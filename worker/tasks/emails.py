"""Email tasks: deliver outbox rows; sweep the outbox; turn due reminders into rows."""

from __future__ import annotations

from celery import shared_task

from webapp.services import mailer, outbox, reminders


@shared_task(name="worker.tasks.emails.deliver_emails")
def deliver_emails(email_ids: list[int]) -> dict[str, int]:
    """Deliver outbox rows over one SMTP connection (claims them first, so running twice
    sends once). Retries are not Celery retries: a transient failure sets the row's next
    attempt time and the sweep enqueues it then (no ETA tasks)."""
    outcomes = mailer.deliver_emails(email_ids)
    counts: dict[str, int] = {}
    for outcome in outcomes.values():
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


@shared_task(name="worker.tasks.emails.sweep_outbox")
def sweep_outbox() -> dict[str, int]:
    """Re-enqueue due outbox rows nobody has claimed; recover rows of dead workers."""
    return outbox.sweep_outbox()


@shared_task(name="worker.tasks.emails.schedule_reminders")
def schedule_reminders() -> dict[str, int]:
    """Write the outbox rows of reminders that have fallen due, then enqueue them."""
    return reminders.schedule_due_reminders()
