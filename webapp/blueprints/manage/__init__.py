"""Managing one program's registrations: the attendee list, details, actions, exports."""

from flask import Blueprint

bp = Blueprint("manage", __name__, url_prefix="/organiser/programs")

from webapp.blueprints.manage import views  # noqa: E402,F401
