"""Which language a page is in, and how a reader changes it; and the reader's time zone.

Order: an explicit choice (``?lang=xx`` on any URL, remembered in a cookie), else the
browser's Accept-Language, else English. The languages offered are `locales.LANGUAGES`:
adding one is a catalogue under translations/ and one entry there.

The reader's zone is what static/app.js found in the browser (`Intl`) and remembered
in the `rollcall_tz` cookie; `reader_timezone` is the one place the server reads it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Flask, g, has_request_context, request
from flask_babel import get_locale, get_translations
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from webapp.services.locales import LANGUAGES, format_count, own_name, text_direction
from webapp.services.times import known_timezones

LANGUAGE_COOKIE = "rollcall_lang"
LANGUAGE_COOKIE_SECONDS = 365 * 24 * 3600
# Written by static/app.js (never by the server), so not HttpOnly; its name is there too.
TIMEZONE_COOKIE = "rollcall_tz"
_LONGEST_ZONE = 64  # IANA names are at most about 30 characters


def select_locale() -> str:
    """Flask-Babel's locale selector (see the module's docstring for the order).
    Without a request (a command, a task) there is no reader: English, unless the
    caller forces a language (an email is in its registrant's)."""
    if not has_request_context():
        return "en"
    chosen = request.args.get("lang", "")
    if chosen in LANGUAGES:
        return chosen
    remembered = request.cookies.get(LANGUAGE_COOKIE, "")
    if remembered in LANGUAGES:
        return remembered
    # By primary subtag, best quality first: "fa-IR, en;q=0.5" is Persian, "zh-Hans-CN" Chinese.
    for value, _quality in request.accept_languages:
        primary = value.replace("_", "-").split("-")[0].lower()
        if primary in LANGUAGES:
            return primary
    return "en"


def reader_timezone() -> str | None:
    """The reader's IANA zone, as their browser told us (the `rollcall_tz` cookie), or
    None when it has not or the value is not a zone we know: the cookie is whatever
    the client sends, so anything but a known name (NUL, a huge value, a path) is
    ignored, never an error. Read once per request; None outside one (an email)."""
    if not has_request_context():
        return None
    if "reader_timezone" not in g:
        value = request.cookies.get(TIMEZONE_COOKIE, "")
        g.reader_timezone = value if len(value) <= _LONGEST_ZONE and value in known_timezones() else None
    return g.reader_timezone


def language_links(path: str | None = None) -> list[dict[str, Any]]:
    """The language menu: each language in its own name, linking to this page in it, or
    to `path` (without this page's query) for a page that must not repeat its address."""
    current = str(get_locale())
    others = [] if path else [(k, v) for k, v in request.args.items(multi=True) if k != "lang"]
    return [
        {
            "code": code,
            "name": own_name(code),
            "dir": text_direction(code),
            "url": (path or request.path) + "?" + urlencode([*others, ("lang", code)]),
            "current": code == current,
        }
        for code in LANGUAGES
    ]


def _numbers_as_read(template: str, variables: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """`template` and `variables` with each whole number that fills a `%(name)d` written
    as the reader writes numbers (۱۲, 1 250, 1,250): `%d` alone prints ASCII digits on a
    Persian page."""
    locale = str(get_locale())
    shown = dict(variables)
    for name, value in variables.items():
        placeholder = f"%({name})d"
        if isinstance(value, int) and not isinstance(value, bool) and placeholder in template:
            template = template.replace(placeholder, f"%({name})s")
            shown[name] = format_count(value, locale)
    return template, shown


def plural(singular: str, plural_: str, num: int, **variables: Any) -> str:
    """`ngettext` for code (flash messages): the plural form for `num`, its numbers in
    the reader's digits. Templates' `_` and `ngettext` do the same (`register_i18n`)."""
    template, shown = _numbers_as_read(get_translations().ngettext(singular, plural_, num), {"num": num, **variables})
    return template % shown


@pass_context
def _template_gettext(context: Context, string: str, /, **variables: Any) -> str:
    # Jinja's "newstyle" gettext (the text is always a format string; with autoescape
    # the values are escaped), with numbers as the reader writes them. Positional-only,
    # so a template may pass `num=` or `string=` as a placeholder.
    template, shown = _numbers_as_read(get_translations().ugettext(string), variables)
    return (Markup(template) if context.eval_ctx.autoescape else template) % shown


@pass_context
def _template_ngettext(context: Context, singular: str, plural_: str, num: int, /, **variables: Any) -> str:
    variables.setdefault("num", num)
    template, shown = _numbers_as_read(get_translations().ungettext(singular, plural_, num), variables)
    return (Markup(template) if context.eval_ctx.autoescape else template) % shown


def register_i18n(app: Flask) -> None:
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: get_translations().ugettext(s),
        ngettext=lambda s, p, n: get_translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: get_translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: get_translations().unpgettext(c, s, p, n),
    )
    # `_`, `gettext` and `ngettext` in templates (and `{% trans %}`) write numbers the
    # reader's way; otherwise they are Jinja's own newstyle functions.
    app.jinja_env.globals.update(_=_template_gettext, gettext=_template_gettext, ngettext=_template_ngettext)

    @app.after_request
    def remember_language(response: Any) -> Any:
        # Pages differ by language: no shared cache may serve one reader's to another.
        # Static files do not (and a Vary on Cookie would make a browser fetch the
        # stylesheet again whenever a cookie changed).
        if request.endpoint != "static":
            response.vary.update(("Accept-Language", "Cookie"))
        chosen = request.args.get("lang", "")
        if chosen in LANGUAGES and request.cookies.get(LANGUAGE_COOKIE) != chosen:
            response.set_cookie(
                LANGUAGE_COOKIE,
                chosen,
                max_age=LANGUAGE_COOKIE_SECONDS,
                secure=app.config["SESSION_COOKIE_SECURE"],
                httponly=True,
                samesite="Lax",
            )
        return response
