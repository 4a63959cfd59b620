"""The one transaction seam.

Every service that changes state does so inside `unit_of_work()`: the block's changes
commit together at its end, or roll back together on any exception, and only after the
commit are the emails the block promised (`outbox.queue_email`, `outbox.queue_bulk`)
handed to the worker. No commit, no email; a commit, then the email, even if the broker
is down (the outbox sweep sends what the hand-over missed). Views, tasks and commands
never commit or roll back themselves.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from webapp.extensions import db
from webapp.services.outbox import dispatch, take_promised


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
    try:
        yield
        db.session.commit()
    except BaseException:
        db.session.rollback()
        take_promised()
        raise
    finally:
        db.session.info.pop("in_unit_of_work", None)
    dispatch(take_promised())
