"""A certificate as the PDF people receive and download: the snapshot of a
`Certificate` (or a preview's sample) handed to the renderer in `pdf`.

The renderer is imported when a PDF is made, not when this module is: its fonts and
layout engine load only in the processes that render (the worker, a download), never
in every web process for every page.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from flask_babel import force_locale, gettext

from webapp.models import Certificate, Program
from webapp.services.certificates.codes import format_code
from webapp.services.certificates.operations import first_eligible, minutes_of, session_days
from webapp.services.errors import CertificateNotRendered
from webapp.services.links import external_url
from webapp.services.programs.localized import program_text

if TYPE_CHECKING:
    from webapp.services.certificates.pdf import CertificateContent

# What a preview prints where a code would be, in the shape of one: the verify page
# answers that no certificate has it.
PREVIEW_CODE = "0000-0000-0000-0000"


def verify_url(code: str) -> str:
    """The absolute address of the page that verifies a (normalised) code."""
    return external_url("public.verify_code", code=format_code(code))


def pdf_filename(certificate: Certificate) -> str:
    """A filename safe in any header and file system: ASCII letters, digits and dashes."""
    return f"certificate-{format_code(certificate.code)}.pdf"


def certificate_content(certificate: Certificate) -> CertificateContent:
    """What the PDF of an issued certificate says: its snapshot, in its language."""
    from webapp.services.certificates.pdf import CertificateContent

    return CertificateContent(
        name=certificate.full_name,
        program_title=certificate.program_title,
        organiser=certificate.organiser_name,
        first_day=certificate.first_day,
        last_day=certificate.last_day,
        minutes=certificate.minutes,
        code=format_code(certificate.code),
        verify_url=verify_url(certificate.code),
        locale=certificate.language or "en",
    )


def preview_content(program: Program, locale: str) -> CertificateContent:
    """The preview: the certificate the first eligible registrant would receive (their
    name, minutes and language), else a sample name with every session's length in
    `locale`; with a code no certificate has. Reads only: issues nothing."""
    from webapp.services.certificates.pdf import CertificateContent

    registration = first_eligible(program)
    if registration is not None:
        locale = registration.language or "en"
        name, minutes = registration.full_name, minutes_of(program, registration.id)
    else:
        with force_locale(locale):
            name = gettext("Sample Name")
        minutes = sum(
            (s.ends_at - s.starts_at for s in program.sessions if s.cancelled_at is None), timedelta()
        ) // timedelta(minutes=1)
    first_day, last_day = session_days(program)
    return CertificateContent(
        name=name,
        program_title=program_text(program, locale).title.text,
        organiser=program.organiser_name or "",
        first_day=first_day,
        last_day=last_day,
        minutes=minutes,
        code=PREVIEW_CODE,
        verify_url=external_url("public.verify"),
        locale=locale,
    )


def render(content: CertificateContent) -> bytes:
    """The one-page PDF. Raises CertificateNotRendered when the renderer cannot make it
    (its `CertificateRenderingUnavailable`), so callers need not import the renderer."""
    from webapp.services.certificates.pdf import CertificateRenderingUnavailable, render_certificate

    try:
        return render_certificate(content)
    except CertificateRenderingUnavailable as exc:
        raise CertificateNotRendered(str(exc) or type(exc).__name__) from exc


def certificate_pdf(certificate: Certificate) -> bytes:
    """An issued certificate's PDF. Raises CertificateNotRendered."""
    return render(certificate_content(certificate))
