"""The organiser's landing page (every program with its registrations and email
health), and creating, editing, publishing, previewing and copying programs."""

from __future__ import annotations

from datetime import timedelta

from flask import Response, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response as BaseResponse

from webapp.blueprints.guards import parse_id
from webapp.blueprints.organiser import bp
from webapp.blueprints.organiser.common import actor, program_for
from webapp.blueprints.organiser.program_forms import DuplicateForm, ProgramForm
from webapp.i18n import plural
from webapp.models import Program, utcnow
from webapp.services import attendance, programs
from webapp.services.certificates.operations import certificate_panel
from webapp.services.dashboard import program_overview, program_stats
from webapp.services.errors import ProgramImportError
from webapp.services.programs import availability
from webapp.services.zoom import is_configured as zoom_is_configured
from webapp.services.zoom import presence
from webapp.services.zoom import sessions as zoom_objects


def _zoom_states(program: Program | None) -> dict[str, zoom_objects.SyncState]:
    """Each session's Zoom state by its title, for the editor (display only)."""
    return {s.title: zoom_objects.sync_state(s) for s in program.sessions} if program else {}


@bp.get("/")
@login_required
def dashboard() -> str:
    return render_template("organiser/dashboard.html", rows=program_overview(current_user))


@bp.get("/programs/<int:program_id>/")
@login_required
def overview(program_id: int) -> str:
    program = program_for(program_id)
    stats = program_stats(program)
    peak = max((d.count for d in stats.per_day), default=0)
    now = utcnow()
    return render_template(
        "organiser/overview.html",
        program=program,
        stats=stats,
        peak=peak,
        certificates=certificate_panel(program) if program.certificates else None,
        live=presence.live_counts(program, now),
        zoom_rows=[
            (s, zoom_objects.sync_state(s), attendance.fetch_state(s, now))
            for s in program.sessions
            if s.zoom_meeting_id or s.zoom_sync
        ],
    )


def live_text(count: int) -> str:
    """ "3 in the session now", in the reader's language and digits: the words of
    organiser/_live.html, which app.js puts in their place."""
    return plural("%(num)d in the session now", "%(num)d in the session now", count)


@bp.get("/programs/<int:program_id>/live")
@login_required
def live(program_id: int) -> Response:
    """How many are in each running Zoom session of the program now (polled by app.js;
    the pages show the same on load without it)."""
    program = program_for(program_id)
    counts = presence.live_counts(program)
    return jsonify({"sessions": [{"id": c.session_id, "count": c.count, "text": live_text(c.count)} for c in counts]})


@bp.post("/programs/<int:program_id>/sessions/<int:session_id>/zoom-retry")
@login_required
def zoom_session_retry(program_id: int, session_id: int) -> BaseResponse:
    """Try a session's pending Zoom action again now (the worker does it). The session
    must be this program's: another's id does nothing. (CSRF: the app-wide check.)"""
    program = program_for(program_id)
    if zoom_objects.request_retry(program.id, session_id):
        flash(_("Asking Zoom again. Reload this page in a minute."), "success")
    else:
        flash(_("Zoom is already in step with this session."), "info")
    return redirect(url_for(".overview", program_id=program.id), 303)


def _save_program(form: ProgramForm, status: str, program: Program | None) -> Program | None:
    """Create (`program` None) or update through the program file's rules; on problems,
    put them next to their fields and return None. Times left as they were keep their
    saved value."""
    try:
        if program is None:
            saved = programs.create_program(form.to_file(status, None), actor=actor())
        else:
            current = programs.program_file(program)
            saved = programs.update_program(program.id, form.to_file(status, current), actor=actor())
    except ProgramImportError as exc:
        for problem in form.show_problems(exc.problems):
            flash(problem, "error")
        return None
    return saved


def _grow(form: ProgramForm) -> bool:
    """The "Add a session", "Add a question" and "Move up" buttons: change the form,
    save nothing (works without JavaScript)."""
    if request.form.get("add_session"):
        form.add_session()
        return True
    if request.form.get("add_question"):
        form.questions.append_entry()
        return True
    move = parse_id(request.form.get("move_question_up", ""))
    if move is not None and move < len(form.questions.entries):
        form.swap_questions(move - 1, move)
        return True
    return False


@bp.route("/programs/new", methods=["GET", "POST"])
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
    return render_template(
        "organiser/program_form.html", form=form, program=None, zoom_states={}, zoom_connected=zoom_is_configured()
    )


@bp.route("/programs/<int:program_id>/edit", methods=["GET", "POST"])
@login_required
def edit_program(program_id: int) -> str | BaseResponse:
    program = program_for(program_id)
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
    return render_template(
        "organiser/program_form.html",
        form=form,
        program=program,
        zoom_states=_zoom_states(program),
        zoom_connected=zoom_is_configured(),
    )


STATUS_CHANGES = ("published", "closed", "cancelled", "archived", "draft")


@bp.post("/programs/<int:program_id>/status")
@login_required
def change_status(program_id: int) -> BaseResponse:
    program = program_for(program_id)
    status = request.form.get("status", "")
    form = FlaskForm()
    if not form.validate_on_submit() or status not in STATUS_CHANGES:
        flash(_("That change could not be made. Please try again."), "error")
    elif status == "cancelled" and not request.form.get("confirm"):
        flash(_("Tick the box to confirm: everyone registered will be emailed that the program is cancelled."), "error")
    else:
        try:
            programs.set_program_status(program.id, status, actor=actor())
        except ProgramImportError as exc:
            flash(_("It cannot be published yet: %(problems)s", problems="; ".join(exc.problems)), "error")
        else:
            flash(_("The program is now %(status)s.", status=status), "success")
    return redirect(url_for(".overview", program_id=program.id), 303)


@bp.route("/programs/<int:program_id>/duplicate", methods=["GET", "POST"])
@login_required
def duplicate(program_id: int) -> str | BaseResponse:
    program = program_for(program_id)
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
                actor=actor(),
            )
        except ProgramImportError as exc:
            form.slug.errors = [p.partition(": ")[2] for p in exc.problems]
        else:
            flash(_("A draft copy was made with every date moved. Check it, then publish it."), "success")
            return redirect(url_for(".edit_program", program_id=copy.id), 303)
    return render_template("organiser/duplicate.html", form=form, program=program)


@bp.get("/programs/<int:program_id>/preview")
@login_required
def preview_program(program_id: int) -> str:
    program = program_for(program_id)
    return render_template("public/program.html", program=program, availability=availability(program), preview=True)
