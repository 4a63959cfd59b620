"""Who may see what: admins see every program, organisers the ones assigned to them.

Every organiser page and export loads its program through `program_for`, so a program
the organiser may not see answers exactly like one that does not exist (404).
"""

from __future__ import annotations

from sqlalchemy import Select, select

from webapp.extensions import db
from webapp.models import Organiser, Program, Registration
from webapp.models.organisers import program_organisers
from webapp.services.errors import ProgramNotFound
from webapp.services.transactions import unit_of_work


def visible_programs(organiser: Organiser) -> Select[tuple[Program]]:
    query = select(Program)
    if not organiser.is_admin:
        query = query.join(program_organisers, program_organisers.c.program_id == Program.id).where(
            program_organisers.c.organiser_id == organiser.id
        )
    return query


def program_for(organiser: Organiser, program_id: int) -> Program:
    """The program, if this organiser may manage it. Raises ProgramNotFound otherwise."""
    program = db.session.scalar(visible_programs(organiser).where(Program.id == program_id))
    if program is None:
        raise ProgramNotFound(str(program_id))
    return program


def registration_for(organiser: Organiser, program_id: int, registration_id: int) -> Registration:
    program = program_for(organiser, program_id)
    registration = db.session.scalar(
        select(Registration).where(Registration.id == registration_id, Registration.program_id == program.id)
    )
    if registration is None:
        raise ProgramNotFound(f"{program_id}/{registration_id}")
    return registration


def assign_program(organiser: Organiser, program: Program) -> None:
    """Let an organiser manage a program. Commits."""
    with unit_of_work():
        if program not in organiser.programs:
            organiser.programs.append(program)
