"""How Rollcall waits for Zoom: when to call again after a failure, and walking a batch
of rows until Zoom asks to wait. One rule for registrants, sessions' webinars and
meetings, and attendance reports."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from datetime import timedelta

from flask import current_app

from webapp.services.zoom.client import ZoomClient, ZoomRetryable


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff with jitter for 5xx and timeouts: base * 2^(n-1), capped at
    an hour, randomised in [50%, 100%]."""
    base = float(current_app.config["ZOOM_RETRY_BASE_SECONDS"])
    ceiling = min(base * (2 ** max(attempts - 1, 0)), 3600.0)
    return timedelta(seconds=random.uniform(ceiling / 2, ceiling))


def wait_after(exc: ZoomRetryable, attempts: int) -> timedelta:
    """How long to wait before calling Zoom again after `exc` on the `attempts`-th try:
    Zoom's Retry-After when it gave one (429), else `retry_delay`."""
    return timedelta(seconds=exc.retry_after) if exc.retry_after is not None else retry_delay(attempts)


def each_until_told_to_wait(
    client: ZoomClient, ids: Iterable[int], one: Callable[[ZoomClient, int], str | None], counts: dict[str, int]
) -> dict[str, int]:
    """Do `one` for each id in turn with one client, counting its outcomes in `counts`
    (None: nothing to do). After a "retry" (Zoom asked to wait, or failed) the rest
    are left for beat's sweep, which comes back when the row's wait is over: calling
    on would only hear the same."""
    for row_id in ids:
        outcome = one(client, row_id)
        if outcome:
            counts[outcome] += 1
        if outcome == "retry":
            break
    return counts
