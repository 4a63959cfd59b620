"""The local mailbox: a list of messages, each with its text, HTML and attachments."""

from __future__ import annotations

import re

from flask import Response, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response as BaseResponse

from webapp.blueprints.devmailbox import bp
from webapp.services import devmailbox

_KEY = re.compile(r"^[A-Za-z0-9._,:=-]{1,200}$")


def _folder() -> str:
    return current_app.config["DEV_MAILBOX_DIR"]


def _key_or_404(key: str) -> str:
    if not _KEY.match(key):
        abort(404)
    return key


@bp.get("/")
def index() -> str:
    return render_template("devmailbox/index.html", messages=devmailbox.list_messages(_folder()), form=FlaskForm())


@bp.get("/<key>")
def message(key: str) -> str:
    msg = devmailbox.get_message(_folder(), _key_or_404(key))
    if msg is None:
        abort(404)
    return render_template("devmailbox/message.html", message=msg)


@bp.get("/<key>/html")
def html(key: str) -> Response:
    """The HTML part, shown in a sandboxed frame with scripts and remote loads off."""
    msg = devmailbox.get_message(_folder(), _key_or_404(key))
    if msg is None or not msg.html:
        abort(404)
    response = Response(msg.html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"
    )
    return response


@bp.get("/<key>/attachments/<int:index>")
def attachment(key: str, index: int) -> Response:
    found = devmailbox.get_attachment(_folder(), _key_or_404(key), index)
    if found is None:
        abort(404)
    filename, content_type, data = found
    safe_name = re.sub(r"[^A-Za-z0-9._-]", "_", filename)[:100] or "attachment"
    return Response(data, mimetype=content_type, headers={"Content-Disposition": f'attachment; filename="{safe_name}"'})


@bp.post("/clear")
def clear() -> BaseResponse:
    form = FlaskForm()
    if form.validate_on_submit():
        count = devmailbox.clear(_folder())
        flash(_("Deleted %(count)d messages.", count=count), "info")
    return redirect(url_for(".index"), code=303)
