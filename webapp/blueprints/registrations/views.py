"""Registration form, the "check your inbox" page, and the self-service pages reached
by the secret link in every email."""

from __future__ import annotations

from flask import (
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from webapp.blueprints.registrations import bp
from webapp.blueprints.registrations.forms import CancelForm, registration_form_for
from webapp.extensions import csrf, limiter
from webapp.i18n import reader_timezone
from webapp.models import Registration
from webapp.services.audit import Actor
from webapp.services.certificates.documents import certificate_pdf, pdf_filename
from webapp.services.certificates.operations import certificate_of
from webapp.services.composer import session_views
from webapp.services.errors import (
    CertificateNotRendered,
    ProgramFull,
    ProgramNotFound,
    RegistrationClosed,
    RegistrationNotOpen,
)
from webapp.services.ics import build_calendar
from webapp.services.programs import availability, get_form_program, get_public_program
from webapp.services.registrations import (
    ACTIVE_STATUSES,
    cancel_registration,
    find_by_token,
    register_participant,
)
from webapp.services.times import format_in_zone
from webapp.services.zoom.registrants import personal_links


def _registration_limit() -> str:
    return current_app.config["REGISTRATION_RATE_LIMIT"]


@bp.route("/programs/<slug>/register", methods=["GET", "POST"])
@csrf.exempt  # the form checks its own token, so an expired one keeps what was typed
@limiter.limit(_registration_limit, methods=["POST"])
def create(slug: str) -> str | BaseResponse:
    try:
        # A submission needs only a few columns (and is what a rush is made of); the
        # page needs the whole program.
        program = get_form_program(slug) if request.method == "POST" else get_public_program(slug)
    except ProgramNotFound:
        abort(404)
    locale = str(get_locale())
    form = registration_form_for(program.questions or [], locale)(
        locale=locale,
        program_timezone=program.timezone,
        reader_timezone=reader_timezone(),
        every_zone=request.args.get("all_zones") == "1",
    )
    form_error = None
    if request.method == "POST":
        if form.validate():
            data = form.to_input(program.timezone)
            try:
                outcome = register_participant(program.id, data, actor=Actor.participant())
            except RegistrationClosed as exc:
                if exc.deadline is None:
                    form_error = _("Registration for this program is closed. We could not register you.")
                else:
                    form_error = _(
                        "Registration closed on %(when)s. We could not register you.",
                        when=format_in_zone(exc.deadline, program.timezone, locale, "long"),
                    )
            except RegistrationNotOpen as exc:
                form_error = _(
                    "Registration opens on %(when)s. Please come back then.",
                    when=format_in_zone(exc.opens_at, program.timezone, locale, "long"),
                )
            except ProgramFull:
                form_error = _full_message()
            except ProgramNotFound:  # deleted since the form's copy was read
                abort(404)
            else:
                if outcome.program_full:  # registered already: emailed, but shown what a newcomer sees
                    form_error = _full_message()
                else:
                    return _to_done_page(program.slug, data.email)
        elif form.csrf_token.errors:
            # The page was open too long (or cookies were cleared): keep every value,
            # issue a fresh token, and ask for one more click.
            form.csrf_token.errors = []
            form_error = _(
                "This page was open for a long time, so for your security please check your details "
                "and press Register again. Nothing you typed has been lost."
            )
        else:
            form_error = _("Please correct the highlighted fields below.")
    if request.method == "POST":
        try:
            program = get_public_program(slug)
        except ProgramNotFound:
            abort(404)
    return render_template(
        "registrations/create.html",
        program=program,
        availability=availability(program),
        form=form,
        form_error=form_error,
    )


def _full_message() -> str:
    """What anyone who submits the form of a full program reads, registered or not
    (Rule 3: the page never tells who registered)."""
    return _(
        "Sorry, this program is fully booked and has no waiting list. "
        "If this address was registered already, we have emailed its registration details to it again."
    )


# The address just registered, for the "check your inbox" page to show (so a typo can
# be seen), in a cookie of its own: only that page's path receives it, and only for a
# few minutes. Not in the session: re-signing the session cookie on every registration
# was a measurable part of the request (docs/performance.md), and a signed session
# hides its contents no better than this does (both are readable, neither is sent
# elsewhere). The page only ever displays it, escaped, to the browser that sent it.
DONE_COOKIE = "rollcall_registered"
DONE_COOKIE_SECONDS = 600


def _to_done_page(slug: str, email: str) -> BaseResponse:
    target = url_for(".done", slug=slug)
    response = redirect(target, code=303)
    response.set_cookie(
        DONE_COOKIE,
        email,
        max_age=DONE_COOKIE_SECONDS,
        path=target,
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        httponly=True,
        samesite="Lax",
    )
    return response


@bp.get("/programs/<slug>/registered")
def done(slug: str) -> str:
    """The same page whether the address was new or already registered (Rule 3).
    Every registration ends here and it shows only the title: the light row the
    submission just read (often from this process's cache) serves it."""
    try:
        program = get_form_program(slug)
    except ProgramNotFound:
        abort(404)
    email = request.cookies.get(DONE_COOKIE, "")[:254] or None
    return render_template("registrations/done.html", program=program, email=email)


def _registration_or_404(token: str) -> Registration:
    registration = find_by_token(token)
    if registration is None:
        abort(404)
    g.private_page = True  # no caching, and a Referer only to us (setup.py): the URL is a secret
    return registration


@bp.get("/r/<token>")
def manage(token: str) -> str:
    registration = _registration_or_404(token)
    program = registration.program
    confirmed = registration.status == "confirmed"
    # Where the reader is now, as their browser says, else where they said at registration;
    # in the language this page is read in.
    zone = reader_timezone() or registration.timezone or program.timezone
    views = session_views(program, registration, with_links=confirmed, zone=zone, locale=str(get_locale()))
    return render_template(
        "registrations/manage.html",
        registration=registration,
        program=program,
        token=token,
        zone=zone,
        confirmed=confirmed,
        can_cancel=registration.status in ACTIVE_STATUSES,
        sessions=list(zip(program.sessions, views, strict=True)),
        cancel_form=CancelForm(),
        certificate=certificate_of(registration.id),
    )


@bp.route("/r/<token>/cancel", methods=["GET", "POST"])
def cancel(token: str) -> str | BaseResponse:
    registration = _registration_or_404(token)
    form = CancelForm()
    if registration.status not in ACTIVE_STATUSES:
        flash(_("This registration is already cancelled."), "info")
        return redirect(url_for(".manage", token=token), code=303)
    if form.validate_on_submit():
        cancel_registration(registration.id, actor=Actor.participant())
        flash(_("Your registration is cancelled. We have sent you an email to confirm it."), "success")
        return redirect(url_for(".manage", token=token), code=303)
    return render_template(
        "registrations/cancel.html", registration=registration, program=registration.program, form=form, token=token
    )


@bp.get("/r/<token>/sessions/<int:session_id>.ics")
def calendar(token: str, session_id: int) -> Response:
    registration = _registration_or_404(token)
    program_session = next((s for s in registration.program.sessions if s.id == session_id), None)
    if program_session is None:
        abort(404)
    cancelled = registration.status in ("cancelled", "rejected") or registration.program.status == "cancelled"
    body = build_calendar(
        [program_session],
        method="CANCEL" if cancelled else "PUBLISH",
        include_link=registration.status == "confirmed",
        links=personal_links(registration.id, [program_session]),
        locale=registration.language or "en",  # as the calendar files their emails carry
    )
    return Response(
        body,
        mimetype="text/calendar",
        headers={"Content-Disposition": f'attachment; filename="session-{session_id}.ics"'},
    )


@bp.get("/r/<token>/certificate.pdf")
def certificate(token: str) -> BaseResponse:
    """The registrant's certificate of attendance, once issued, as a PDF in their
    language, to download. Never kept by a cache (the URL is a secret)."""
    registration = _registration_or_404(token)
    issued = certificate_of(registration.id)
    if issued is None:
        abort(404)
    try:
        body = certificate_pdf(issued)
    except CertificateNotRendered:
        flash(_("Your certificate could not be made just now. Please try again in a few minutes."), "error")
        return redirect(url_for(".manage", token=token), code=303)
    return Response(
        body,
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{pdf_filename(issued)}"',
            "Cache-Control": "private, no-store",
        },
    )
