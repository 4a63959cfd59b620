"""Programs: the program file (`spec`), changes to programs (`operations`) and the
queries pages need (`queries`)."""

from webapp.services.programs.operations import (
    DEMO_PROGRAM,
    create_program,
    duplicate_program,
    import_program,
    seed_demo,
    set_program_status,
    update_program,
)
from webapp.services.programs.queries import (
    Availability,
    availability,
    get_form_program,
    get_program,
    get_public_program,
    list_public_programs,
)
from webapp.services.programs.spec import (
    QUESTION_TYPES,
    ProgramSpec,
    SessionSpec,
    parse_reminder_offset,
    program_file,
    validate_program_data,
)

__all__ = [
    "DEMO_PROGRAM",
    "QUESTION_TYPES",
    "Availability",
    "ProgramSpec",
    "SessionSpec",
    "availability",
    "create_program",
    "duplicate_program",
    "get_form_program",
    "get_program",
    "get_public_program",
    "import_program",
    "list_public_programs",
    "parse_reminder_offset",
    "program_file",
    "seed_demo",
    "set_program_status",
    "update_program",
    "validate_program_data",
]
