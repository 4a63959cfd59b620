"""Keeping one worker process under a rate: SMTP sends, Zoom calls."""

from __future__ import annotations

import time


class Pacer:
    """At most `per_second` calls of `wait()` return per second (0: no limit). One per
    process and purpose; processes do not share it."""

    def __init__(self, per_second: float) -> None:
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self.next_at = time.monotonic()

    def wait(self) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        if now < self.next_at:
            time.sleep(self.next_at - now)
        self.next_at = max(now, self.next_at) + self.interval
