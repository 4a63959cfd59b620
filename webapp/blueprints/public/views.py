"""Public pages: programs (never a join link here, Rule 5) and the verification of a
certificate by its code."""

from __future__ import annotations

from flask import abort, current_app, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from webapp.blueprints.public import bp
from webapp.extensions import limiter
from webapp.services.certificates.codes import MAX_TYPED_LENGTH, format_code, normalize_code
from webapp.services.certificates.operations import find_by_code
from webapp.services.errors import ProgramNotFound
from webapp.services.programs import availability, get_public_program, list_public_programs


@bp.get("/")
def index() -> str:
    programs = list_public_programs()
    return render_template(
        "public/index.html", programs=programs, availability={p.id: availability(p) for p in programs}
    )


@bp.get("/programs/<slug>")
def program(slug: str) -> str:
    try:
        program = get_public_program(slug)
    except ProgramNotFound:
        abort(404)
    return render_template("public/program.html", program=program, availability=availability(program))


def _verify_limit() -> str:
    """One budget per client for the form and the code pages together."""
    return current_app.config["VERIFY_RATE_LIMIT"]


def _no_certificate() -> tuple[str, int, dict[str, str]]:
    """The one answer for every code that is not a certificate's (unknown, malformed,
    hostile): the same page, word for word, whatever was typed."""
    return render_template("public/verify_unknown.html"), 404, {"X-Robots-Tag": "noindex"}


@bp.get("/verify")
@limiter.shared_limit(_verify_limit, scope="verify")
def verify() -> str | BaseResponse | tuple[str, int, dict[str, str]]:
    """The form to type a code (a GET form: it changes nothing). A code typed in any
    accepted form goes to its page; anything else is answered like an unknown code."""
    typed = request.args.get("code", "")
    if not typed.strip():
        return render_template("public/verify.html"), 200, {"X-Robots-Tag": "noindex"}
    code = normalize_code(typed)
    if code is None:
        return _no_certificate()
    return redirect(url_for(".verify_code", code=format_code(code)), code=303)


@bp.get("/verify/<path:code>")
@limiter.shared_limit(_verify_limit, scope="verify")
def verify_code(code: str) -> str | tuple[str, int, dict[str, str]]:
    """What a certificate certifies (name, program, days, organiser, time attended) and
    nothing else about the person."""
    certificate = find_by_code(code) if len(code) <= MAX_TYPED_LENGTH else None
    if certificate is None:
        return _no_certificate()
    return render_template("public/certificate.html", certificate=certificate), 200, {"X-Robots-Tag": "noindex"}
