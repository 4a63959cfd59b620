"""Certificates of attendance in the console: the panel on the program page (in
`programs.overview`), a preview PDF that issues nothing, and sending them after a
confirmation step that states how many."""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response as BaseResponse

from webapp.blueprints.organiser import bp
from webapp.blueprints.organiser.common import actor, program_for
from webapp.i18n import plural
from webapp.models import Program, utcnow
from webapp.services.certificates.documents import preview_content, render
from webapp.services.certificates.operations import certificate_panel, check_sendable, issue_certificates
from webapp.services.errors import CertificateNotRendered, CertificatesUnavailable, ProgramNotFound
from webapp.services.times import format_in_zone


def _with_certificates(program_id: int) -> Program:
    """The program, if this organiser may manage it and it offers certificates; a program
    without the option has no certificate pages (404, as for one they may not see)."""
    program = program_for(program_id)
    if not program.certificates:
        raise ProgramNotFound(str(program_id))
    return program


def _refusal(program: Program, exc: CertificatesUnavailable) -> str:
    if exc.reason == "cancelled":
        return _("The program is cancelled: no certificates can be sent.")
    if exc.reason == "not_yet" and exc.ends_at is not None:
        return _(
            "Certificates can be sent once the last session has ended, on %(when)s.",
            when=format_in_zone(exc.ends_at, program.timezone, str(get_locale()), "long"),
        )
    if exc.reason == "not_yet":
        return _("The program has no session, so nobody can have attended it.")
    return _("This program does not offer certificates. Turn them on in its settings first.")


def _back(program: Program) -> BaseResponse:
    return redirect(url_for(".overview", program_id=program.id, _anchor="certificates"), code=303)


@bp.get("/programs/<int:program_id>/certificates/preview.pdf")
@login_required
def certificate_preview(program_id: int) -> BaseResponse:
    """One certificate as a PDF, shown in the browser: the first eligible registrant's,
    or a sample. Issues nothing and emails nobody."""
    program = _with_certificates(program_id)
    if program.status == "cancelled":
        flash(_refusal(program, CertificatesUnavailable("cancelled")), "error")
        return _back(program)
    try:
        body = render(preview_content(program, str(get_locale())))
    except CertificateNotRendered:
        flash(_("The certificate could not be made just now. Please try again in a few minutes."), "error")
        return _back(program)
    return Response(
        body,
        mimetype="application/pdf",
        headers={"Content-Disposition": 'inline; filename="certificate-preview.pdf"'},
    )


@bp.route("/programs/<int:program_id>/certificates/send", methods=["GET", "POST"])
@login_required
def send_certificates(program_id: int) -> str | BaseResponse:
    """GET: the confirmation step, stating how many certificates would go out. POST
    (CSRF): issue them and queue their emails."""
    program = _with_certificates(program_id)
    form = FlaskForm()
    try:
        check_sendable(program, utcnow())
    except CertificatesUnavailable as exc:
        flash(_refusal(program, exc), "error")
        return _back(program)
    if form.validate_on_submit():
        try:
            count = issue_certificates(program.id, actor=actor())
        except CertificatesUnavailable as exc:
            flash(_refusal(program, exc), "error")
            return _back(program)
        if count:
            flash(
                plural(
                    "%(num)d certificate issued. Its email is on its way.",
                    "%(num)d certificates issued. Their emails are on their way.",
                    count,
                ),
                "success",
            )
        else:
            flash(_("Everyone who attended has a certificate already: nothing was sent."), "info")
        return _back(program)
    return render_template(
        "organiser/certificates_send.html", program=program, panel=certificate_panel(program), form=form
    )
