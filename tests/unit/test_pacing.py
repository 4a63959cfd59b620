"""The pacer keeps calls under a rate by sleeping only what is left of each interval."""

from __future__ import annotations

import pytest

from tests.fakes.clock import FakeClock
from webapp.services.pacing import Pacer


def test_calls_in_a_row_are_spaced_by_the_interval() -> None:
    clock = FakeClock()
    pacer = Pacer(20, clock=clock.now, sleep=clock.sleep)
    for _ in range(12):
        pacer.wait()
    # The first call goes at once; each of the other eleven waits 1/20 s.
    assert clock.slept == pytest.approx([0.05] * 11)


def test_work_between_calls_counts_towards_the_interval() -> None:
    clock = FakeClock()
    pacer = Pacer(10, clock=clock.now, sleep=clock.sleep)
    pacer.wait()
    clock.advance(0.04)  # sending took 40 ms: 60 ms of the 100 ms interval are left
    pacer.wait()
    clock.advance(0.5)  # slower than the rate: no wait at all
    pacer.wait()
    assert clock.slept == pytest.approx([0.06])


def test_no_limit_never_sleeps() -> None:
    clock = FakeClock()
    pacer = Pacer(0, clock=clock.now, sleep=clock.sleep)
    for _ in range(100):
        pacer.wait()
    assert clock.slept == []
