"""Keeping one worker process under a rate: SMTP sends, Zoom calls."""

from __future__ import annotations

import time
from collections.abc import Callable


class Pacer:
    """At most `per_second` calls of `wait()` return per second (0: no limit). One per
    process and purpose; processes do not share it. `clock` and `sleep` are the
    monotonic clock and the sleep it paces by (the tests give it their own)."""

    def __init__(
        self,
        per_second: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self.clock = clock
        self.sleep = sleep
        self.next_at = clock()

    def wait(self) -> None:
        """Return when the next call is due; sleeps until then (never if it is)."""
        if not self.interval:
            return
        now = self.clock()
        if now < self.next_at:
            self.sleep(self.next_at - now)
        self.next_at = max(now, self.next_at) + self.interval
