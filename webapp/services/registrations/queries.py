"""Reading registrations: by self-service token, and the seats a program has taken."""

from __future__ import annotations

import hmac

from sqlalchemy import bindparam, select

from webapp.extensions import db
from webapp.models import Program, Registration
from webapp.services.registrations.core import TOKEN_SELECTOR_LENGTH


def find_by_token(token: str) -> Registration | None:
    """The registration a self-service token belongs to, or None.

    The selector (a prefix) finds the row by index; the full token is then compared
    with `hmac.compare_digest`, so response time does not depend on how much of a
    guessed token is right.
    """
    if not isinstance(token, str) or len(token) < 32 or len(token) > 64:
        return None
    registration = db.session.scalar(
        select(Registration).where(Registration.token_selector == token[:TOKEN_SELECTOR_LENGTH])
    )
    if registration is None or not hmac.compare_digest(registration.token.encode(), token.encode()):
        return None
    return registration


def count_confirmed(program_id: int) -> int:
    """Seats taken: the counter triggers keep on the program (migration 0005), read fresh
    from the database after flushing pending changes, since a `Program` loaded earlier
    in the transaction may hold an older value. The one way seats are read."""
    return db.session.scalar(_CONFIRMED_COUNT, {"program_id": program_id}) or 0


_CONFIRMED_COUNT = select(Program.confirmed_count).where(Program.id == bindparam("program_id"))
