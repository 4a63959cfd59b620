"""Registrations: the rules people rely on (Rules 1 to 6 in docs/architecture.md).

- `rules`: each rule as a pure function (deadline, seats and waiting list, approval),
  with the SQL form of the newcomer decision.
- `register`: registering through the public form.
- `actions`: organisers' changes, cancelling, promotion from the waiting list.
- `queries`: finding a registration by its self-service token; seats taken.
- `core`: what they share (input, outcome, token, the program lock, statuses).
"""

from webapp.services.registrations.actions import (
    ORGANISER_ACTIONS,
    ActionResult,
    action_applies,
    add_registrant,
    apply_action,
    cancel_registration,
    promote_from_waitlist,
)
from webapp.services.registrations.core import (
    ACTIVE_STATUSES,
    RegistrationInput,
    RegistrationOutcome,
    new_token,
)
from webapp.services.registrations.queries import count_confirmed, find_by_token
from webapp.services.registrations.register import register_participant

__all__ = [
    "ACTIVE_STATUSES",
    "ORGANISER_ACTIONS",
    "ActionResult",
    "RegistrationInput",
    "RegistrationOutcome",
    "action_applies",
    "add_registrant",
    "apply_action",
    "cancel_registration",
    "count_confirmed",
    "find_by_token",
    "new_token",
    "promote_from_waitlist",
    "register_participant",
]
