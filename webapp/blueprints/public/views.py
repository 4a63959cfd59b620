"""Public program pages. Never show a join link here (Rule 5)."""

from __future__ import annotations

from flask import abort, render_template

from webapp.blueprints.public import bp
from webapp.services.errors import ProgramNotFound
from webapp.services.programs import availability, get_public_program, list_public_programs


@bp.get("/")
def index() -> str:
    programs = list_public_programs()
    return render_template(
        "public/index.html", programs=programs, availability={p.id: availability(p) for p in programs}
    )


@bp.get("/programs/<slug>")
def program(slug: str) -> str:
    try:
        program = get_public_program(slug)
    except ProgramNotFound:
        abort(404)
    return render_template("public/program.html", program=program, availability=availability(program))
