"""What every organiser view shares: the program the signed-in organiser may manage,
and who is acting. A program they may not see raises ProgramNotFound, which the
blueprint answers with 404 (see `__init__`), exactly as for one that does not exist."""

from __future__ import annotations

from flask_login import current_user

from webapp.models import Program
from webapp.services import access
from webapp.services.audit import Actor


def program_for(program_id: int) -> Program:
    return access.program_for(current_user, program_id)


def actor() -> Actor:
    return Actor.organiser(current_user.id)
