"""/dev/mailbox: read what the local SMTP server received (embedded default only)."""

from flask import Blueprint

bp = Blueprint("devmailbox", __name__, url_prefix="/dev/mailbox")

from webapp.blueprints.devmailbox import views  # noqa: E402,F401
