"""The attendee list of one program, each registrant's details, actions on one or many,
adding someone by hand, and exports. Every view loads the program through
`access.program_for`, so another organiser's program answers 404 everywhere."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qsl, urlencode

from flask import Response, abort, flash, jsonify, redirect, render_template, request, stream_with_context, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response as BaseResponse

from webapp.blueprints.guards import parse_id
from webapp.blueprints.manage import bp
from webapp.blueprints.manage.forms import ACTION_LABELS, ActionForm, AddRegistrantForm, AttendeeFilterForm, MessageForm
from webapp.blueprints.manage.program_forms import DuplicateForm, ProgramForm
from webapp.extensions import db
from webapp.models import AuditEntry, Email, Program, Registration
from webapp.models import Message as OrganiserMessage
from webapp.services import access, exports, messages, programs
from webapp.services.attendees import AttendeeQuery, conditions, list_attendees
from webapp.services.audit import Actor
from webapp.services.dashboard import program_stats
from webapp.services.errors import ProgramFull, ProgramImportError, ProgramNotFound, RegistrationExists
from webapp.services.locales import country_choices, language_name
from webapp.services.programs import availability
from webapp.services.registrations import ORGANISER_ACTIONS, action_applies, add_registrant, apply_action

# What each audit entry of a registration's history means, in words.
HISTORY_LABELS = {
    "registration.created": _l("Registered"),
    "registration.added": _l("Added by an organiser"),
    "registration.repeated": _l("Registered again with the same address (their details were emailed)"),
    "registration.reactivated": _l("Registered again after cancelling"),
    "registration.promoted": _l("Moved up from the waiting list"),
    "registration.approve": _l("Approved"),
    "registration.reject": _l("Rejected"),
    "registration.cancel": _l("Cancelled"),
    "registration.promote": _l("Moved up from the waiting list"),
    "registration.resend": _l("Their email was sent again"),
    "registration.mark_attended": _l("Marked as attended"),
    "registration.mark_not_attended": _l("Marked as not attended"),
}

# Each kind and state of a registrant's emails, in words.
EMAIL_LABELS = {
    "confirmation": _l("Confirmation with the link"),
    "waitlisted": _l("On the waiting list"),
    "pending": _l("Awaiting approval"),
    "already_registered": _l("Already registered: their details again"),
    "cancelled": _l("Registration cancelled"),
    "rejected": _l("Registration not approved"),
    "reminder": _l("Reminder"),
    "session_updated": _l("New time or link"),
    "session_cancelled": _l("Session cancelled"),
    "program_cancelled": _l("Program cancelled"),
    "message": _l("Message from the organisers"),
}
EMAIL_STATUS_LABELS = {
    "pending": _l("waiting"),
    "sending": _l("sending"),
    "sent": _l("sent"),
    "failed": _l("failed"),
    "expired": _l("not sent (no longer relevant)"),
}


def _program(program_id: int) -> Program:
    try:
        return access.program_for(current_user, program_id)
    except ProgramNotFound:
        abort(404)


def _actor() -> Actor:
    return Actor.organiser(current_user.id)


def _filter_from(args: MultiDict[str, str]) -> tuple[AttendeeFilterForm, AttendeeQuery]:
    form = AttendeeFilterForm(formdata=args)
    form.validate()
    return form, form.to_query()


@bp.get("/<int:program_id>/")
@login_required
def overview(program_id: int) -> str:
    program = _program(program_id)
    stats = program_stats(program)
    peak = max((d.count for d in stats.per_day), default=0)
    return render_template(
        "manage/overview.html",
        program=program,
        stats=stats,
        peak=peak,
    )


@bp.get("/<int:program_id>/attendees")
@login_required
def attendees(program_id: int) -> str:
    program = _program(program_id)
    form, query = _filter_from(request.args)
    page = list_attendees(program, query)
    args = {k: v for k, v in request.args.items() if v and k != "page"}
    return render_template(
        "manage/attendees.html",
        program=program,
        availability=availability(program),
        form=form,
        query=query,
        page=page,
        args=args,
        args_without_status={k: v for k, v in args.items() if k != "status"},
        filter_string=urlencode(args),
        action_form=_action_form(_list_actions(program, page.counts)),
        action_labels=ACTION_LABELS,
        countries=country_choices(str(get_locale())),
    )


def _action_form(actions: list[str]) -> ActionForm:
    """The action picker offering only `actions` (posting any action stays valid)."""
    form = ActionForm()
    form.action.choices = [(a, ACTION_LABELS[a]) for a in actions]
    return form


def _list_actions(program: Program, counts: dict[str, int]) -> list[str]:
    """Approve and reject where someone awaits approval (or the program asks for it),
    moving up where someone waits; the rest always."""
    offered = []
    for action in ORGANISER_ACTIONS:
        if action == "approve" and not counts.get("pending"):
            continue
        if action == "reject" and not (counts.get("pending") or program.approval_required):
            continue
        if action == "promote" and not counts.get("waitlisted"):
            continue
        offered.append(action)
    return offered


def _registration_actions(program: Program, registration: Registration) -> list[str]:
    """The actions that would change this registration (rejecting only where approval
    is the question)."""
    attended = registration.attended_at is not None
    return [
        a
        for a in ORGANISER_ACTIONS
        if action_applies(a, registration.status, attended)
        and (a != "reject" or registration.status == "pending" or program.approval_required)
    ]


@bp.post("/<int:program_id>/attendees/actions")
@login_required
def actions(program_id: int) -> BaseResponse:
    program = _program(program_id)
    form = ActionForm()
    # Re-encoded: the hidden field comes back as typed, and a raw line break in a
    # Location header is refused.
    back = url_for(".attendees", program_id=program.id) + "?" + urlencode(parse_qsl(form.filter.data or ""))
    if not form.validate_on_submit():
        flash(_("That action could not be applied. Please try again."), "error")
        return redirect(back, code=303)
    if form.scope.data == "matching":
        query = _filter_from(MultiDict(parse_qsl(form.filter.data or "")))[1]
        ids = list(db.session.scalars(select(Registration.id).where(*conditions(program, query))))
    else:
        ids = [i for i in map(parse_id, request.form.getlist("ids")) if i is not None]
    if not ids:
        flash(_("Select at least one registrant first."), "error")
        return redirect(back, code=303)
    result = apply_action(program.id, ids, form.action.data, actor=_actor())
    message = _(
        "%(action)s: %(changed)d changed, %(skipped)d left as they were.",
        action=ACTION_LABELS[form.action.data],
        changed=result.changed,
        skipped=result.skipped,
    )
    if result.no_seat:
        message += " " + _("%(count)d could not move up: no seats left.", count=result.no_seat)
    if result.promoted:
        message += " " + _("%(count)d moved up from the waiting list.", count=result.promoted)
    flash(message, "success" if result.changed else "info")
    return redirect(back, code=303)


@bp.get("/<int:program_id>/attendees/<int:registration_id>")
@login_required
def detail(program_id: int, registration_id: int) -> str:
    try:
        registration = access.registration_for(current_user, program_id, registration_id)
    except ProgramNotFound:
        abort(404)
    history = list(
        db.session.scalars(
            select(AuditEntry).where(AuditEntry.registration_id == registration.id).order_by(AuditEntry.id)
        )
    )
    emails = list(db.session.scalars(select(Email).where(Email.registration_id == registration.id).order_by(Email.id)))
    return render_template(
        "manage/detail.html",
        program=registration.program,
        registration=registration,
        history=history,
        history_labels=HISTORY_LABELS,
        email_labels=EMAIL_LABELS,
        email_status_labels=EMAIL_STATUS_LABELS,
        language=language_name(registration.language, str(get_locale())),
        emails=emails,
        action_form=_action_form(_registration_actions(registration.program, registration)),
        action_labels=ACTION_LABELS,
    )


@bp.route("/<int:program_id>/attendees/new", methods=["GET", "POST"])
@login_required
def add(program_id: int) -> str | BaseResponse:
    program = _program(program_id)
    form = AddRegistrantForm(locale=str(get_locale()), program_timezone=program.timezone)
    error = None
    if form.validate_on_submit():
        data = form.to_input(program.timezone, consent=True)  # the organiser records consent
        try:
            outcome = add_registrant(program.id, data, actor=_actor(), beyond_capacity=form.beyond_capacity.data)
        except RegistrationExists as exc:
            form.email.errors = [_("This email address is registered already.")]
            existing = url_for(".detail", program_id=program.id, registration_id=exc.registration_id)
            error = _("See their registration: %(url)s", url=existing)
        except ProgramFull:
            error = _(
                "The program is full and has no waiting list. Tick the box below to confirm them beyond capacity."
            )
        else:
            flash(_("Added %(name)s (%(status)s).", name=data.full_name, status=outcome.status), "success")
            return redirect(url_for(".detail", program_id=program.id, registration_id=outcome.registration_id), 303)
    return render_template("manage/add.html", program=program, form=form, error=error)


def _export_name(program: Program, extension: str) -> str:
    return f"{program.slug}-attendees.{extension}"


@bp.get("/<int:program_id>/attendees.csv")
@login_required
def export_csv(program_id: int) -> Response:
    program = _program(program_id)
    query = _filter_from(request.args)[1]
    return Response(
        stream_with_context(exports.csv_chunks(program, query)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{_export_name(program, "csv")}"'},
    )


@bp.get("/<int:program_id>/attendees.xlsx")
@login_required
def export_xlsx(program_id: int) -> Response:
    program = _program(program_id)
    query = _filter_from(request.args)[1]
    handle = exports.xlsx_file(program, query)
    return Response(
        exports.file_chunks(handle),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{_export_name(program, "xlsx")}"'},
    )


def _message(program: Program, message_id: int) -> OrganiserMessage:
    message = db.session.get(OrganiserMessage, message_id)
    if message is None or message.program_id != program.id:
        abort(404)
    return message


@bp.get("/<int:program_id>/messages")
@login_required
def message_list(program_id: int) -> str:
    program = _program(program_id)
    sent = [(m, messages.progress(m)) for m in messages.messages_of(program)]
    return render_template("manage/messages.html", program=program, sent=sent, segments=messages.SEGMENTS)


@bp.route("/<int:program_id>/messages/new", methods=["GET", "POST"])
@login_required
def compose(program_id: int) -> str | BaseResponse:
    program = _program(program_id)
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
    return render_template("manage/compose.html", program=program, form=form, preview=preview, counts=counts)


@bp.get("/<int:program_id>/messages/<int:message_id>")
@login_required
def message_detail(program_id: int, message_id: int) -> str:
    program = _program(program_id)
    message = _message(program, message_id)
    return render_template(
        "manage/message.html",
        program=program,
        message=message,
        progress=messages.progress(message),
        segments=messages.SEGMENTS,
    )


@bp.get("/<int:program_id>/messages/<int:message_id>/progress.json")
@login_required
def message_progress(program_id: int, message_id: int) -> Response:
    program = _program(program_id)
    return jsonify(messages.progress(_message(program, message_id)))


# --- programs ----------------------------------------------------------------------------


def _save_program(form: ProgramForm, status: str, program: Program | None) -> Program | None:
    """Create (`program` None) or update through the program file's rules; on problems,
    put them next to their fields and return None. Times left as they were keep their
    saved value."""
    try:
        if program is None:
            saved = programs.create_program(form.to_file(status, None), actor=_actor())
        else:
            current = programs.program_file(program)
            saved = programs.update_program(program.id, form.to_file(status, current), actor=_actor())
    except ProgramImportError as exc:
        for problem in form.show_problems(exc.problems):
            flash(problem, "error")
        return None
    return saved


def _grow(form: ProgramForm) -> bool:
    """The "Add a session", "Add a question" and "Move up" buttons: change the form,
    save nothing (works without JavaScript)."""
    if request.form.get("add_session"):
        form.sessions.append_entry()
        return True
    if request.form.get("add_question"):
        form.questions.append_entry()
        return True
    move = parse_id(request.form.get("move_question_up", ""))
    if move is not None and move < len(form.questions.entries):
        form.swap_questions(move - 1, move)
        return True
    return False


@bp.route("/new", methods=["GET", "POST"])
@login_required
def create_program() -> str | BaseResponse:
    form = ProgramForm()
    if request.method == "GET":
        form.timezone.data = "UTC"
        form.reminders.data = "24h, 1h"
        form.waitlist.data = True
    elif _grow(form):
        pass
    elif form.validate_on_submit():
        program = _save_program(form, "draft", None)
        if program is not None:
            flash(_("Saved as a draft. Preview it, then publish it when it is ready."), "success")
            return redirect(url_for(".overview", program_id=program.id), 303)
    return render_template("manage/program_form.html", form=form, program=None)


@bp.route("/<int:program_id>/edit", methods=["GET", "POST"])
@login_required
def edit_program(program_id: int) -> str | BaseResponse:
    program = _program(program_id)
    form = ProgramForm()
    if request.method == "GET":
        form.load(programs.program_file(program))
    elif _grow(form):
        pass
    elif form.validate_on_submit():
        saved = _save_program(form, program.status, program)
        if saved is not None:
            flash(_("Saved. Registrants were emailed about any changed session."), "success")
            return redirect(url_for(".overview", program_id=saved.id), 303)
    return render_template("manage/program_form.html", form=form, program=program)


STATUS_CHANGES = ("published", "closed", "cancelled", "archived", "draft")


@bp.post("/<int:program_id>/status")
@login_required
def change_status(program_id: int) -> BaseResponse:
    program = _program(program_id)
    status = request.form.get("status", "")
    form = FlaskForm()
    if not form.validate_on_submit() or status not in STATUS_CHANGES:
        flash(_("That change could not be made. Please try again."), "error")
    elif status == "cancelled" and not request.form.get("confirm"):
        flash(_("Tick the box to confirm: everyone registered will be emailed that the program is cancelled."), "error")
    else:
        try:
            programs.set_program_status(program.id, status, actor=_actor())
        except ProgramImportError as exc:
            flash(_("It cannot be published yet: %(problems)s", problems="; ".join(exc.problems)), "error")
        else:
            flash(_("The program is now %(status)s.", status=status), "success")
    return redirect(url_for(".overview", program_id=program.id), 303)


@bp.route("/<int:program_id>/duplicate", methods=["GET", "POST"])
@login_required
def duplicate(program_id: int) -> str | BaseResponse:
    program = _program(program_id)
    form = DuplicateForm()
    if request.method == "GET":
        form.slug.data = f"{program.slug}-again"[:120]
        if program.first_start:
            form.first_start.data = (
                (program.first_start + timedelta(days=90)).astimezone(program.zone).replace(tzinfo=None)
            )
    elif form.validate_on_submit() and form.first_start.data:
        try:
            copy = programs.duplicate_program(
                program.id,
                slug=form.slug.data or "",
                first_start=form.first_start.data.replace(tzinfo=program.zone),
                actor=_actor(),
            )
        except ProgramImportError as exc:
            form.slug.errors = [p.partition(": ")[2] for p in exc.problems]
        else:
            flash(_("A draft copy was made with every date moved. Check it, then publish it."), "success")
            return redirect(url_for(".edit_program", program_id=copy.id), 303)
    return render_template("manage/duplicate.html", form=form, program=program)


@bp.get("/<int:program_id>/preview")
@login_required
def preview_program(program_id: int) -> str:
    program = _program(program_id)
    return render_template("public/program.html", program=program, availability=availability(program), preview=True)
