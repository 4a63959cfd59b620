"""Messages to a segment of one program's registrants: writing, previewing, sending,
and their delivery progress."""

from __future__ import annotations

from flask import Response, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response as BaseResponse

from webapp.blueprints.organiser import bp
from webapp.blueprints.organiser.common import program_for
from webapp.blueprints.organiser.forms import (
    MessageForm,
)
from webapp.extensions import db
from webapp.models import Message as OrganiserMessage
from webapp.models import Program
from webapp.services import messages


def _message(program: Program, message_id: int) -> OrganiserMessage:
    message = db.session.get(OrganiserMessage, message_id)
    if message is None or message.program_id != program.id:
        abort(404)
    return message


@bp.get("/programs/<int:program_id>/messages")
@login_required
def message_list(program_id: int) -> str:
    program = program_for(program_id)
    sent = [(m, messages.progress(m)) for m in messages.messages_of(program)]
    return render_template("organiser/messages.html", program=program, sent=sent, segments=messages.SEGMENTS)


@bp.route("/programs/<int:program_id>/messages/new", methods=["GET", "POST"])
@login_required
def compose(program_id: int) -> str | BaseResponse:
    program = program_for(program_id)
    form = MessageForm()
    preview = None
    if request.method == "GET":
        form.body.data = form.body.data or _("Dear {name},\n\n\n\nYour registration: {manage_url}")
    if form.validate_on_submit():
        segment, subject, body = form.segment.data, form.subject.data or "", form.body.data or ""
        try:
            if request.form.get("send") and request.form.get("confirm_count"):
                message = messages.send_message(program, segment, subject, body, organiser=current_user)
                flash(_("Your message is on its way to %(count)d people.", count=message.recipients), "success")
                return redirect(url_for(".message_detail", program_id=program.id, message_id=message.id), 303)
            preview = messages.preview(program, segment, subject, body)
        except messages.UnknownPlaceholder as exc:
            form.body.errors = [
                _(
                    "Unknown placeholder %(names)s. You can use {name}, {program}, {manage_url} and {join_url}.",
                    names=", ".join("{" + n + "}" for n in exc.names),
                )
            ]
    counts = {key: messages.count_recipients(program, key) for key in messages.SEGMENTS}
    return render_template("organiser/compose.html", program=program, form=form, preview=preview, counts=counts)


@bp.get("/programs/<int:program_id>/messages/<int:message_id>")
@login_required
def message_detail(program_id: int, message_id: int) -> str:
    program = program_for(program_id)
    message = _message(program, message_id)
    return render_template(
        "organiser/message.html",
        program=program,
        message=message,
        progress=messages.progress(message),
        segments=messages.SEGMENTS,
    )


@bp.get("/programs/<int:program_id>/messages/<int:message_id>/progress.json")
@login_required
def message_progress(program_id: int, message_id: int) -> Response:
    program = program_for(program_id)
    return jsonify(messages.progress(_message(program, message_id)))
