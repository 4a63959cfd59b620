"""Attendance: the one rule deciding whether a registrant attended a session.

Minutes come from Zoom's participants report, the webhook, an uploaded participant
report or an organiser (`models.Attendance`); whether those minutes count as attending is
decided here only, from the program's `attendance_threshold_percent`, so that changing
the threshold changes every reader's answer at once (nothing derived is stored).
"""

from __future__ import annotations

from datetime import timedelta

from webapp.models.programs import DEFAULT_ATTENDANCE_THRESHOLD_PERCENT

MIN_THRESHOLD_PERCENT, MAX_THRESHOLD_PERCENT = 1, 100


def attended(
    minutes: int, session_length: timedelta, threshold_percent: int = DEFAULT_ATTENDANCE_THRESHOLD_PERCENT
) -> bool:
    """Whether `minutes` in a session lasting `session_length` reach `threshold_percent`
    of it. Pure: no database, no clock.

    Compared in whole seconds with integers (minutes * 60 * 100 against percent *
    seconds), so 45 of 60 minutes at 75% is exactly enough, with no float rounding at
    the edge. A session of no length (never stored: sessions end after they start) is
    attended by anyone with a minute in it."""
    if minutes <= 0:
        return False
    seconds = max(int(session_length.total_seconds()), 0)
    return minutes * 60 * 100 >= threshold_percent * seconds
