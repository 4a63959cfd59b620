"""One program's attendee list, each registrant's details, actions on one or many,
adding someone by hand, and exports."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from flask import Response, flash, redirect, render_template, request, stream_with_context, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import select
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response as BaseResponse

from webapp.blueprints.guards import parse_id
from webapp.blueprints.organiser import bp
from webapp.blueprints.organiser.common import actor, program_for
from webapp.blueprints.organiser.forms import (
    ACTION_LABELS,
    REPORT_PROBLEMS,
    ActionForm,
    AddRegistrantForm,
    AttendanceUploadForm,
    AttendeeFilterForm,
)
from webapp.extensions import db
from webapp.i18n import plural
from webapp.models import AuditEntry, Email, Program, Registration
from webapp.services import access, exports
from webapp.services.attendance import (
    MAX_REPORT_BYTES,
    attendance_summary,
    request_fetch,
    upload_participant_report,
)
from webapp.services.attendees import AttendeeQuery, conditions, list_attendees
from webapp.services.errors import ParticipantReportError, ProgramFull, RegistrationExists
from webapp.services.locales import country_choices, language_name
from webapp.services.programs import availability
from webapp.services.registrations import ORGANISER_ACTIONS, action_applies, add_registrant, apply_action
from webapp.services.times import format_in_zone
from webapp.services.zoom import is_configured, presence
from webapp.services.zoom.registrants import missing_links, request_retry, zoom_sessions

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
    "certificate": _l("Certificate of attendance"),
}
EMAIL_STATUS_LABELS = {
    "pending": _l("waiting"),
    "sending": _l("sending"),
    "sent": _l("sent"),
    "failed": _l("failed"),
    "expired": _l("not sent (no longer relevant)"),
}
# Where a session's minutes came from (`models.ATTENDANCE_SOURCES`).
ATTENDANCE_SOURCE_LABELS = {
    "zoom_report": _l("Zoom's report"),
    "webhook": _l("Zoom"),
    "csv": _l("uploaded report"),
    "manual": _l("entered by hand"),
}


def _filter_from(args: MultiDict[str, str]) -> tuple[AttendeeFilterForm, AttendeeQuery]:
    form = AttendeeFilterForm(formdata=args)
    form.validate()
    return form, form.to_query()


def _upload_form(program: Program) -> AttendanceUploadForm:
    """The participant report upload, offering the program's sessions by title and start."""
    locale = str(get_locale())
    sessions = [
        (s.id, f"{s.title} · {format_in_zone(s.starts_at, program.timezone, locale)}") for s in program.sessions
    ]
    return AttendanceUploadForm(sessions, prefix="attendance")


def _attendees_page(program: Program, upload_form: AttendanceUploadForm) -> str:
    form, query = _filter_from(request.args)
    page = list_attendees(program, query)
    args = {k: v for k, v in request.args.items() if v and k != "page"}
    return render_template(
        "organiser/attendees.html",
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
        missing_links=missing_links(program.id) if zoom_sessions(program) else [],
        upload_form=upload_form,
        can_fetch_zoom=bool(zoom_sessions(program)) and is_configured(),
        live=presence.live_counts(program),
    )


@bp.get("/programs/<int:program_id>/attendees")
@login_required
def attendees(program_id: int) -> str:
    program = program_for(program_id)
    return _attendees_page(program, _upload_form(program))


@bp.post("/programs/<int:program_id>/attendees/zoom-attendance")
@login_required
def fetch_zoom_attendance(program_id: int) -> BaseResponse:
    """Ask the worker to read Zoom's participants report of each Zoom session that has
    started. (CSRF: the app-wide check.)"""
    program = program_for(program_id)
    count = request_fetch(program)
    if count:
        flash(
            plural(
                "Fetching attendance from Zoom for %(num)d session. Reload this page in a minute.",
                "Fetching attendance from Zoom for %(num)d sessions. Reload this page in a minute.",
                count,
            ),
            "success",
        )
    else:
        flash(_("No Zoom session of this program has started yet."), "info")
    return redirect(url_for(".attendees", program_id=program.id), code=303)


@bp.post("/programs/<int:program_id>/attendees/attendance")
@login_required
def upload_attendance(program_id: int) -> str | BaseResponse:
    """Zoom's participant report for one session: minutes for each registrant in it.
    A file that cannot be read is refused next to the field, and nothing is written."""
    program = program_for(program_id)
    form = _upload_form(program)
    if form.validate_on_submit():
        try:
            result = upload_participant_report(form.session.data, form.report.data.stream.read(MAX_REPORT_BYTES + 1))
        except ParticipantReportError as exc:
            problem = REPORT_PROBLEMS[exc.reason]
            form.report.errors = [
                _("%(problem)s (line %(line)d)", problem=problem, line=exc.line) if exc.line else str(problem)
            ]
        else:
            flash(
                plural(
                    "Attendance recorded for %(num)d registrant.",
                    "Attendance recorded for %(num)d registrants.",
                    result.matched,
                )
                + (
                    " "
                    + plural(
                        "%(num)d person in the report matched no registration.",
                        "%(num)d people in the report matched no registration.",
                        result.unmatched,
                    )
                    if result.unmatched
                    else ""
                ),
                "success",
            )
            return redirect(url_for(".attendees", program_id=program.id), code=303)
    return _attendees_page(program, form)


@bp.post("/programs/<int:program_id>/attendees/zoom-retry")
@login_required
def zoom_retry(program_id: int) -> BaseResponse:
    """Ask Zoom again for the personal links it did not give (the worker does it)."""
    program = program_for(program_id)
    count = request_retry(program.id)
    if count:
        flash(
            plural(
                "Asking Zoom again for %(num)d personal link. The registrant is emailed it when Zoom gives it.",
                "Asking Zoom again for %(num)d personal links. Each registrant is emailed theirs when Zoom gives it.",
                count,
            ),
            "success",
        )
    else:
        flash(_("Every confirmed registrant has a personal Zoom link."), "info")
    return redirect(url_for(".attendees", program_id=program.id), code=303)


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


@bp.post("/programs/<int:program_id>/attendees/actions")
@login_required
def actions(program_id: int) -> BaseResponse:
    program = program_for(program_id)
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
    result = apply_action(program.id, ids, form.action.data, actor=actor())
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


@bp.get("/programs/<int:program_id>/attendees/<int:registration_id>")
@login_required
def detail(program_id: int, registration_id: int) -> str:
    registration = access.registration_for(current_user, program_id, registration_id)
    history = list(
        db.session.scalars(
            select(AuditEntry).where(AuditEntry.registration_id == registration.id).order_by(AuditEntry.id)
        )
    )
    emails = list(db.session.scalars(select(Email).where(Email.registration_id == registration.id).order_by(Email.id)))
    return render_template(
        "organiser/detail.html",
        program=registration.program,
        registration=registration,
        history=history,
        history_labels=HISTORY_LABELS,
        email_labels=EMAIL_LABELS,
        email_status_labels=EMAIL_STATUS_LABELS,
        language=language_name(registration.language, str(get_locale())),
        emails=emails,
        attendance=attendance_summary(registration),
        attendance_sources=ATTENDANCE_SOURCE_LABELS,
        action_form=_action_form(_registration_actions(registration.program, registration)),
        action_labels=ACTION_LABELS,
    )


@bp.route("/programs/<int:program_id>/attendees/new", methods=["GET", "POST"])
@login_required
def add(program_id: int) -> str | BaseResponse:
    program = program_for(program_id)
    form = AddRegistrantForm(locale=str(get_locale()), program_timezone=program.timezone)
    error = None
    if form.validate_on_submit():
        data = form.to_input(program.timezone, consent=True)  # the organiser records consent
        try:
            outcome = add_registrant(program.id, data, actor=actor(), beyond_capacity=form.beyond_capacity.data)
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
    return render_template("organiser/add.html", program=program, form=form, error=error)


def _export_name(program: Program, extension: str) -> str:
    return f"{program.slug}-attendees.{extension}"


@bp.get("/programs/<int:program_id>/attendees.csv")
@login_required
def export_csv(program_id: int) -> Response:
    program = program_for(program_id)
    query = _filter_from(request.args)[1]
    return Response(
        stream_with_context(exports.csv_chunks(program, query)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{_export_name(program, "csv")}"'},
    )


@bp.get("/programs/<int:program_id>/attendees.xlsx")
@login_required
def export_xlsx(program_id: int) -> Response:
    program = program_for(program_id)
    query = _filter_from(request.args)[1]
    handle = exports.xlsx_file(program, query)
    return Response(
        exports.file_chunks(handle),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{_export_name(program, "xlsx")}"'},
    )
