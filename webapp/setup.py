"""The steps `create_app()` is made of, one `register_*` function each."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import markdown as markdown_lib
import nh3
from flask import Flask, g, render_template, request
from flask_babel import get_locale
from flask_wtf.csrf import CSRFError
from markupsafe import Markup, escape
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

import config
from webapp.celery_app import init_celery
from webapp.database import engine_options
from webapp.extensions import babel, csrf, db, limiter, login_manager, mail, migrate
from webapp.i18n import language_links, reader_timezone, register_i18n, select_locale
from webapp.redaction import redact, redact_loggers

log = logging.getLogger(__name__)


# --- database ---------------------------------------------------------------------


def register_database(app: Flask) -> None:
    """Engine options for the configured database (`webapp.database` also holds the
    SQLite connection settings, applied to every engine)."""
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(
        app.config["SQLALCHEMY_DATABASE_URI"], app.config["SQLALCHEMY_ENGINE_OPTIONS"]
    )


# --- the proxy in front -----------------------------------------------------------


def register_proxy(app: Flask) -> None:
    """Behind `TRUSTED_PROXY_HOPS` proxies, take the client's address, the scheme and the
    host from the X-Forwarded-* headers those proxies append, so rate limits key on the
    real client and CSRF's HTTPS Referer check sees the origin the browser used. Only
    that many hops are believed: a client cannot forge its way past the last proxy."""
    hops = app.config["TRUSTED_PROXY_HOPS"]
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)


# --- extensions -------------------------------------------------------------------


def register_extensions(app: Flask) -> None:
    import webapp.models  # noqa: F401  (so Alembic and create_all see every table)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(config.ROOT / "migrations"), compare_type=True, render_as_batch=True)
    mail.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    register_i18n(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "basic"

    from flask_babel import lazy_gettext

    login_manager.login_message = lazy_gettext("Please sign in to see that page.")

    @login_manager.user_loader
    def load_user(session_id: str) -> Any:
        from webapp.services.organisers import load_by_session_id

        return load_by_session_id(session_id)


def register_celery(app: Flask) -> None:
    """Celery, and the doorbell web processes ring it with (`webapp.services.doorbell`)."""
    from webapp.services.doorbell import Doorbell
    from webapp.services.transactions import publish

    init_celery(app)
    app.extensions["doorbell"] = Doorbell(app, publish)


# --- blueprints -------------------------------------------------------------------


def register_blueprints(app: Flask) -> None:
    from webapp.blueprints.auth import bp as auth_bp
    from webapp.blueprints.health import bp as health_bp
    from webapp.blueprints.integrations import bp as integrations_bp
    from webapp.blueprints.organiser import bp as organiser_bp
    from webapp.blueprints.public import bp as public_bp
    from webapp.blueprints.registrations import bp as registrations_bp

    app.register_blueprint(public_bp)
    app.register_blueprint(registrations_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(organiser_bp)
    app.register_blueprint(health_bp)
    app.register_blueprint(integrations_bp)
    # The mailbox exists only in the embedded default (and tests that ask for it).
    if app.config["DEV_MAILBOX_DIR"] and app.config["ROLLCALL_ENV"] != "production":
        from webapp.blueprints.devmailbox import bp as devmailbox_bp

        app.register_blueprint(devmailbox_bp)


# --- templates --------------------------------------------------------------------

_MARKDOWN_TAGS = {
    "a", "p", "br", "strong", "em", "b", "i", "ul", "ol", "li", "h2", "h3", "h4",
    "blockquote", "code", "pre", "hr",
}  # fmt: skip


def render_markdown(text: object) -> Markup:
    """Markdown to HTML, then sanitised: organisers' text can never inject markup. Takes
    a text, or a `Localized` one (a description in the reader's language)."""
    html = markdown_lib.markdown(str(text or ""), extensions=["sane_lists"], output_format="html")
    clean = nh3.clean(
        html,
        tags=_MARKDOWN_TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    # Organisers write "## Heading"; on the page the program title is the only h1
    # and sessions are h2, so shift headings down one level.
    return Markup(clean.replace("<h2", "<h3").replace("</h2", "</h3"))


def register_template_helpers(app: Flask) -> None:
    from webapp.services.certificates.codes import format_code
    from webapp.services.locales import country_name, format_count, text_direction
    from webapp.services.programs.localized import Localized, program_text, session_title
    from webapp.services.times import (
        format_days,
        format_duration,
        format_in_zone,
        format_remaining,
        format_span,
        zone_label,
    )

    app.jinja_env.filters["markdown"] = render_markdown
    app.jinja_env.filters["in_zone"] = lambda dt, zone, fmt="medium": format_in_zone(dt, zone, str(get_locale()), fmt)
    app.jinja_env.filters["span"] = lambda start, end, zone, fmt="long": format_span(
        start, end, zone, str(get_locale()), fmt
    )
    app.jinja_env.filters["remaining"] = lambda delta: format_remaining(delta, str(get_locale()))
    app.jinja_env.filters["certificate_code"] = format_code
    app.jinja_env.filters["duration"] = lambda minutes: format_duration(minutes, str(get_locale()))
    app.jinja_env.globals["days"] = lambda first, last: format_days(first, last, str(get_locale()))
    app.jinja_env.filters["zone_label"] = lambda zone: zone_label(zone, str(get_locale()))
    app.jinja_env.filters["count"] = lambda number: format_count(number, str(get_locale()))
    app.jinja_env.filters["country_name"] = lambda code: country_name(code, str(get_locale()))
    app.jinja_env.filters["isoformat"] = lambda dt: dt.isoformat() if isinstance(dt, datetime) else ""
    # A global, not context: the `when` macro is imported without the template's context.
    app.jinja_env.globals["reader_zone"] = reader_timezone
    # Program text in the reader's language (pages and emails alike: an email renders
    # under its registrant's locale), and the marks a fragment in another language needs.
    app.jinja_env.globals["program_text"] = lambda program: program_text(program, str(get_locale()))
    app.jinja_env.globals["session_title"] = lambda session: session_title(session, str(get_locale()))
    app.jinja_env.globals["text_direction"] = text_direction
    app.jinja_env.filters["lang_attrs"] = lambda text: (
        text.lang_attrs(str(get_locale())) if isinstance(text, Localized) else Markup("")
    )
    app.jinja_env.filters["marked"] = lambda text: (
        text.inline(str(get_locale())) if isinstance(text, Localized) else escape(text)
    )

    @app.context_processor
    def inject_locale() -> dict[str, Any]:
        locale = str(get_locale())
        return {
            "ui_locale": locale,
            "ui_dir": text_direction(locale),
            "language_links": language_links,
            "has_mailbox": "devmailbox" in app.blueprints,
        }


# --- security ---------------------------------------------------------------------

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "frame-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'self'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
)


# Nothing here needs a camera, a microphone, the location or payments; embedded content
# cannot ask for them either. (Only features Chromium knows, or it logs console errors.)
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer", "camera", "geolocation", "gyroscope", "magnetometer", "microphone", "payment", "usb",
    )
)  # fmt: skip

# Pages of people's data that no browser or shared cache should keep: the organiser
# console (programs, attendee lists, exports, messages), its sign-in, the dev mailbox.
NO_STORE_BLUEPRINTS = frozenset({"auth", "organiser", "devmailbox"})


def register_security_headers(app: Flask) -> None:
    @app.after_request
    def security_headers(response: Any) -> Any:
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        # Self-service URLs carry a secret: a Referer naming them reaches only this site
        # (never Zoom or any other), and reaching this site is what lets Flask-WTF's
        # HTTPS check accept the cancel form ("no-referrer" made it refuse every POST).
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if (g.get("private_page") or request.blueprint in NO_STORE_BLUEPRINTS) and "no-store" not in (
            response.headers.get("Cache-Control") or ""
        ):
            response.headers["Cache-Control"] = "no-store"
        if app.config["ROLLCALL_ENV"] == "production":
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response


# --- errors -----------------------------------------------------------------------


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError) -> Any:
        return render_template("errors/csrf.html"), 400

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Any:
        code = error.code or 500
        template = f"errors/{code}.html" if code in (400, 403, 404, 405, 413, 429) else "errors/generic.html"
        return render_template(template, error=error), code

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception) -> Any:
        # The path may hold a self-service token; the filter below masks it (and any
        # email address in the traceback) in whatever handler receives the record.
        log.exception("unhandled error on %s %r", request.method, redact(request.path))  # %r: no raw control characters
        db.session.rollback()
        return render_template("errors/500.html"), 500


def register_logging(app: Flask) -> None:
    """No tokens or email addresses in the logs this process writes: its error log,
    Flask's, and werkzeug's request log (`flask run`). gunicorn's access log gets the
    same filter from gunicorn.conf.py."""
    redact_loggers([log.name, app.logger.name, "werkzeug"])


def register_cli(app: Flask) -> None:
    from webapp.cli import register

    register(app)
