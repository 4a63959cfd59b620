"""The rules people rely on (deadline, capacity and waiting list, approval), each
decided in one pure function of the program's settings, the seats taken and the time.

They know no database session, request or clock of their own: every caller (the public
form, the pages' availability, approving, adding by hand, promotion) reads the seats
taken (`programs.count_confirmed`, or the locked program row) and the time, and asks
here. `NEWCOMER_DECISION_SQL` is the same decision for the one-statement registration
on PostgreSQL; `tests/unit/test_rules.py` proves the two equal on every combination.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

# Registration is "closing soon" within this long of the deadline.
CLOSING_SOON = timedelta(hours=48)


class ProgramRules(Protocol):
    """What the rules read of a program: a `Program`, or a row with these columns."""

    @property
    def status(self) -> str: ...

    @property
    def registration_opens_at(self) -> datetime | None: ...

    @property
    def registration_deadline(self) -> datetime: ...

    @property
    def capacity(self) -> int | None: ...

    @property
    def waitlist_enabled(self) -> bool: ...

    @property
    def approval_required(self) -> bool: ...


def window(program: ProgramRules, now: datetime) -> str:
    """Rule 1: "open" iff the program is published and opens_at <= now < deadline;
    else "closed" or "not_open"."""
    if program.status != "published" or now >= program.registration_deadline:
        return "closed"
    if program.registration_opens_at is not None and now < program.registration_opens_at:
        return "not_open"
    return "open"


def free_seats(program: ProgramRules, seats_taken: int) -> int | None:
    """Seats left (None: unlimited)."""
    return None if program.capacity is None else max(program.capacity - seats_taken, 0)


def has_seat(program: ProgramRules, seats_taken: int) -> bool:
    return free_seats(program, seats_taken) != 0


def seat(program: ProgramRules, seats_taken: int) -> str:
    """Rule 2: "confirmed" while a seat remains, else "waitlisted" if the waiting list
    is on, else "full"."""
    if has_seat(program, seats_taken):
        return "confirmed"
    return "waitlisted" if program.waitlist_enabled else "full"


def decide_newcomer(program: ProgramRules, seats_taken: int, now: datetime) -> str:
    """Rules 1, 2 and 4 for someone registering through the form: "closed",
    "not_open", "pending" (approval required), or what `seat` says."""
    state = window(program, now)
    if state != "open":
        return state
    if program.approval_required:
        return "pending"
    return seat(program, seats_taken)


def decide_approval(program: ProgramRules, seats_taken: int) -> str:
    """Rule 4: approving confirms while seats remain, else waitlists (the organiser
    chose this person, so they wait even where the form has no waiting list)."""
    return "confirmed" if has_seat(program, seats_taken) else "waitlisted"


def decide_added_by_hand(program: ProgramRules, seats_taken: int, *, beyond_capacity: bool) -> str:
    """An organiser adds someone: no deadline and no approval; capacity holds unless
    they say explicitly to exceed it."""
    return "confirmed" if beyond_capacity else seat(program, seats_taken)


def availability_state(program: ProgramRules, seats_taken: int, now: datetime) -> str:
    """What pages say: "open", "closing_soon", "waitlist" (full, waiting list open),
    "full", "not_yet_open", "closed" or "cancelled"."""
    if program.status == "cancelled":
        return "cancelled"
    state = window(program, now)
    if state == "closed":
        return "closed"
    if state == "not_open":
        return "not_yet_open"
    if not has_seat(program, seats_taken):
        return "waitlist" if program.waitlist_enabled else "full"
    if program.registration_deadline - now <= CLOSING_SOON:
        return "closing_soon"
    return "open"


# `decide_newcomer` as SQL over the program row (`program`, with `confirmed_count` as
# the seats taken) and the time (`clock.now`), for the one statement that registers a
# newcomer on PostgreSQL (`registrations._register_newcomer_statement`).
NEWCOMER_DECISION_SQL = """
    CASE
        WHEN program.status <> 'published' OR clock.now >= program.registration_deadline THEN 'closed'
        WHEN program.registration_opens_at IS NOT NULL AND clock.now < program.registration_opens_at THEN 'not_open'
        WHEN program.approval_required THEN 'pending'
        WHEN program.capacity IS NULL OR program.confirmed_count < program.capacity THEN 'confirmed'
        WHEN program.waitlist_enabled THEN 'waitlisted'
        ELSE 'full'
    END"""
