"""The organiser console, behind sign-in: programs (`programs`), their attendees
(`attendees`), messages to them (`messages`) and certificates of attendance
(`certificates`). Every view loads its program through `common.program_for`; a program
the organiser may not see answers 404, like one that does not exist, from the one
handler below."""

from flask import Blueprint, render_template
from werkzeug.wrappers import Response

from webapp.services.errors import ProgramNotFound

bp = Blueprint("organiser", __name__, url_prefix="/organiser")


@bp.errorhandler(ProgramNotFound)
def program_not_found(error: ProgramNotFound) -> tuple[str, int] | Response:
    return render_template("errors/404.html", error=error), 404


from webapp.blueprints.organiser import attendees, certificates, messages, programs  # noqa: E402,F401
