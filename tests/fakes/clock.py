"""A clock that only moves when something sleeps on it, for pacing and backoff tests
that assert intervals rather than time a run (timed assertions are forbidden here)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass
class FakeClock:
    """`now()` is a monotonic clock; `sleep(s)` records `s` and moves it on at once."""

    now_s: float = 1000.0
    slept: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> float:
        with self.lock:
            return self.now_s

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.slept.append(seconds)
            self.now_s += seconds

    def advance(self, seconds: float) -> None:
        """Time passing while the code under test works (no sleep recorded)."""
        with self.lock:
            self.now_s += seconds
