"""The organiser console, behind sign-in: programs (`programs`), their attendees
(`attendees`), messages to them (`messages`) and certificates of attendance
(`certificates`). Every view loads its program through `common.program_for`; a program
the organiser may not see answers 404, like one that does not exist, from the one
handler below."""

from typing import Any

from flask import Blueprint, render_template
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response

from webapp.services.errors import ProgramNotFound

bp = Blueprint("organiser", __name__, url_prefix="/organiser")


# A program's status (`models.PROGRAM_STATUSES`) in words, wherever the console shows it.
PROGRAM_STATUS_LABELS = {
    "draft": _l("draft"),
    "published": _l("published"),
    "closed": _l("registration closed"),
    "cancelled": _l("cancelled"),
    "archived": _l("archived"),
}


@bp.context_processor
def status_labels() -> dict[str, Any]:
    return {"program_status_labels": PROGRAM_STATUS_LABELS}


@bp.errorhandler(ProgramNotFound)
def program_not_found(error: ProgramNotFound) -> tuple[str, int] | Response:
    return render_template("errors/404.html", error=error), 404


from webapp.blueprints.organiser import attendees, certificates, messages, programs  # noqa: E402,F401
