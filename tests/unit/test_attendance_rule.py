"""The attendance rule: minutes against the program's threshold percent of a session."""

from __future__ import annotations

from datetime import timedelta

import pytest

from webapp.services.attendance import attended

HOUR = timedelta(hours=1)


@pytest.mark.parametrize(
    ("minutes", "length", "percent", "expected"),
    [
        (45, HOUR, 75, True),  # exactly the threshold counts
        (44, HOUR, 75, False),  # one minute short does not
        (60, HOUR, 100, True),
        (59, HOUR, 100, False),
        (1, HOUR, 1, True),  # 0.6 minutes needed: one whole minute is enough
        (0, HOUR, 1, False),  # nobody attends with no minutes
        (0, timedelta(0), 75, False),
        (1, timedelta(0), 75, True),
        (-5, HOUR, 1, False),
        (500, HOUR, 75, True),  # rejoins summed past the length still count
        (68, timedelta(minutes=90), 75, True),  # 67.5 needed
        (67, timedelta(minutes=90), 75, False),
        # A length with seconds: 75% of 61 min 20 s is 46 min exactly.
        (46, timedelta(minutes=61, seconds=20), 75, True),
        (45, timedelta(minutes=61, seconds=20), 75, False),
    ],
)
def test_attended_at_the_edges(minutes: int, length: timedelta, percent: int, expected: bool) -> None:
    assert attended(minutes, length, percent) is expected


def test_default_threshold_is_75_percent() -> None:
    assert attended(45, HOUR) is True
    assert attended(44, HOUR) is False
