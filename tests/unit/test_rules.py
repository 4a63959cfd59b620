"""The rules as pure functions (`webapp.services.registrations.rules`): no database, no server, so a
contributor gets answers in milliseconds. The last test proves the SQL form of the
newcomer decision (the PostgreSQL fast path) equal to the Python one."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from flask import Flask
from sqlalchemy import text

from webapp.services.registrations import rules

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def program(**overrides: object) -> SimpleNamespace:
    settings: dict[str, object] = {
        "status": "published",
        "registration_opens_at": None,
        "registration_deadline": NOW + timedelta(days=10),
        "capacity": 2,
        "waitlist_enabled": False,
        "approval_required": False,
    }
    return SimpleNamespace(**(settings | overrides))


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, "open"),
        ({"registration_deadline": NOW}, "closed"),  # the deadline itself is closed
        ({"registration_deadline": NOW + SECOND}, "open"),
        ({"registration_opens_at": NOW}, "open"),  # the opening itself is open
        ({"registration_opens_at": NOW + SECOND}, "not_open"),
        ({"status": "draft"}, "closed"),
        ({"status": "closed"}, "closed"),
        ({"status": "cancelled"}, "closed"),
    ],
)
def test_rule_1_the_window(overrides: dict[str, object], expected: str) -> None:
    assert rules.window(program(**overrides), NOW) == expected


@pytest.mark.parametrize(
    ("capacity", "taken", "waitlist", "expected"),
    [
        (None, 10_000, False, "confirmed"),
        (2, 1, False, "confirmed"),
        (2, 2, False, "full"),
        (2, 2, True, "waitlisted"),
        (2, 3, True, "waitlisted"),  # an organiser went beyond capacity
    ],
)
def test_rule_2_a_seat(capacity: int | None, taken: int, waitlist: bool, expected: str) -> None:
    settings = program(capacity=capacity, waitlist_enabled=waitlist)
    assert rules.seat(settings, taken) == expected
    assert rules.free_seats(settings, taken) == (None if capacity is None else max(capacity - taken, 0))


def test_rule_4_approval_keeps_newcomers_pending_and_approving_waitlists_when_full() -> None:
    settings = program(approval_required=True, capacity=1)
    assert rules.decide_newcomer(settings, 5, NOW) == "pending"
    assert rules.decide_approval(settings, 0) == "confirmed"
    assert rules.decide_approval(settings, 1) == "waitlisted"  # even without a waiting list


def test_adding_by_hand_ignores_the_deadline_but_not_capacity_unless_told() -> None:
    settings = program(status="closed", capacity=1)
    assert rules.decide_added_by_hand(settings, 0, beyond_capacity=False) == "confirmed"
    assert rules.decide_added_by_hand(settings, 1, beyond_capacity=False) == "full"
    assert rules.decide_added_by_hand(settings, 1, beyond_capacity=True) == "confirmed"


@pytest.mark.parametrize(
    ("overrides", "taken", "expected"),
    [
        ({}, 0, "open"),
        ({"registration_deadline": NOW + rules.CLOSING_SOON}, 0, "closing_soon"),
        ({}, 2, "full"),
        ({"waitlist_enabled": True}, 2, "waitlist"),
        ({"registration_opens_at": NOW + SECOND}, 2, "not_yet_open"),
        ({"status": "cancelled"}, 0, "cancelled"),
        ({"status": "closed"}, 0, "closed"),
        ({"registration_deadline": NOW - SECOND}, 2, "closed"),
    ],
)
def test_what_pages_say(overrides: dict[str, object], taken: int, expected: str) -> None:
    assert rules.availability_state(program(**overrides), taken, NOW) == expected


_COLUMNS = (
    "status",
    "registration_opens_at",
    "registration_deadline",
    "capacity",
    "confirmed_count",
    "waitlist_enabled",
    "approval_required",
)


def test_sql_decision_for_newcomers_is_the_python_rules(ctx: Flask) -> None:
    """`NEWCOMER_DECISION_SQL` (the one-statement path on PostgreSQL) and
    `decide_newcomer` (SQLite, repeat registrations) decide the same on every
    combination of status, opening time, deadline, seats, waitlist and approval, at the
    edges."""
    from webapp.extensions import db

    now = datetime.now(UTC).replace(microsecond=0)
    grid = list(
        itertools.product(
            ["published", "draft", "closed", "cancelled", "archived"],
            [None, now - SECOND, now, now + SECOND],  # opens
            [now - SECOND, now, now + SECOND],  # deadline
            [None, 0, 2],  # capacity
            [0, 1, 2, 3],  # confirmed
            [True, False],  # waitlist
            [True, False],  # approval
        )
    )

    def python(row: tuple[object, ...]) -> str:
        settings = SimpleNamespace(**dict(zip(_COLUMNS, row, strict=True)))
        return rules.decide_newcomer(settings, settings.confirmed_count, now)

    connection = db.session.connection()
    connection.execute(
        text(
            "CREATE TEMPORARY TABLE program (key integer, status text, registration_opens_at timestamptz, "
            "registration_deadline timestamptz, capacity integer, confirmed_count integer, "
            "waitlist_enabled boolean, approval_required boolean) ON COMMIT DROP"
        )
    )
    connection.execute(
        text(f"INSERT INTO program VALUES (:key, {', '.join(':' + c for c in _COLUMNS)})"),
        [{"key": key, **dict(zip(_COLUMNS, row, strict=True))} for key, row in enumerate(grid)],
    )
    decided = dict(
        connection.execute(
            text(
                f"SELECT key, {rules.NEWCOMER_DECISION_SQL} "
                "FROM program, (SELECT CAST(:now AS timestamptz) AS now) AS clock ORDER BY key"
            ),
            {"now": now},
        )
        .tuples()
        .all()
    )
    db.session.rollback()
    expected = {key: python(row) for key, row in enumerate(grid)}
    assert decided == expected
    assert set(expected.values()) == {"closed", "not_open", "pending", "confirmed", "waitlisted", "full"}
