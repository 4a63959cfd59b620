"""A certificate of attendance as a one-page A4 landscape PDF: data in, bytes out.

The page is an HTML/CSS template (templates/certificates/certificate.html) laid out by
WeasyPrint, which shapes text with Pango and HarfBuzz (joined Arabic-script letters, right
to left) and finds glyphs through fontconfig: the template names Noto Serif, Noto Naskh
Arabic and Noto Serif CJK, Debian's fonts-noto-core and fonts-noto-cjk. WeasyPrint is
imported on first use, so the application starts on a machine without Pango; rendering
there raises `CertificateRenderingUnavailable` saying what to install.

Pure: no database, no request, no clock. It needs an application context (the template
and the catalogues are the application's), as views and worker tasks have.
"""

from __future__ import annotations

import shutil
import subprocess
import unicodedata
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from types import ModuleType
from typing import Any

from babel import Locale
from babel.dates import format_interval
from flask import render_template
from flask_babel import force_locale, gettext

from webapp.services.locales import LANGUAGES, native_digits, text_direction
from webapp.services.text import single_line
from webapp.services.times import format_duration

# What a machine needs (Debian's names; scripts/ensure_services.sh and the Dockerfile
# install them), said in every CertificateRenderingUnavailable.
SYSTEM_PACKAGES = "libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fontconfig fonts-noto-core fonts-noto-cjk"
# The families the template's font lists name, as fontconfig lists them: Latin, Greek and
# Cyrillic; Arabic script (Persian included); Chinese (and Japanese and Korean).
FONT_FAMILIES = ("Noto Serif", "Noto Naskh Arabic", "Noto Serif CJK SC")

# A name or title past any length the forms accept (200) is a caller's bug, not a
# person's name: it is cut so the page can still hold it.
_MAX_NAME = 300
_MAX_TITLE = 500
# Each try shrinks the type by this factor when the text did not fit on one page.
_SCALES = (1.0, 0.85, 0.7, 0.55, 0.4)


@dataclass(frozen=True)
class CertificateContent:
    """Everything a certificate prints. Text is printed as given (controls removed)."""

    name: str  # the registrant's name exactly as typed: any script
    program_title: str  # already in the registrant's language
    organiser: str  # the program's organiser name
    first_day: date  # first and last session day, in the program's time zone
    last_day: date
    minutes: int  # minutes attended in all; printed "7 hours, 30 minutes"
    code: str  # verification code as it should be printed ("7KQ2-M9XD-4TWP-HC3R")
    verify_url: str  # absolute URL of the public verification page for this code
    locale: str  # 'en' 'zh' 'ru' 'tr' 'fa': the certificate's own words and direction


class CertificateRenderingUnavailable(Exception):
    """This machine cannot render certificates: WeasyPrint, its system libraries (Pango,
    HarfBuzz, fontconfig) or the fonts are missing. The message says what to install."""


def load_weasyprint() -> ModuleType:
    """WeasyPrint, imported now (it loads Pango's shared libraries as it is imported).

    Raises CertificateRenderingUnavailable when the package or a library is missing."""
    try:
        import weasyprint
    except ImportError as error:  # the Python package
        raise CertificateRenderingUnavailable(
            f"Certificates need WeasyPrint ({error}): install requirements.txt, and the system packages "
            f"{SYSTEM_PACKAGES} (Debian)"
        ) from error
    except OSError as error:  # cffi could not open libpango, libharfbuzz, libfontconfig...
        raise CertificateRenderingUnavailable(
            f"Certificates need Pango, HarfBuzz and fontconfig ({error}): install {SYSTEM_PACKAGES} (Debian)"
        ) from error
    return weasyprint


@lru_cache(maxsize=1)
def missing_fonts() -> tuple[str, ...]:
    """The families of FONT_FAMILIES fontconfig does not know (all of them without
    fontconfig's fc-list). Asked once per process: fonts are installed with a restart."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return FONT_FAMILIES
    try:
        listed = subprocess.run(
            [fc_list, "--format", "%{family}\n"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return FONT_FAMILIES
    # A font lists all its family names on one line: "Noto Serif CJK SC,Noto Serif CJK".
    known = {family.strip() for line in listed.splitlines() for family in line.split(",")}
    return tuple(family for family in FONT_FAMILIES if family not in known)


def render_certificate(content: CertificateContent) -> bytes:
    """The certificate as a one-page A4 landscape PDF with its fonts embedded (subsets),
    its title (program and name), author (organiser) and language set.

    Type shrinks until the page holds everything, so a 200-character name fits.
    Raises CertificateRenderingUnavailable when WeasyPrint, Pango or a font is missing."""
    weasyprint = load_weasyprint()
    missing = missing_fonts()
    if missing:
        raise CertificateRenderingUnavailable(
            f"Certificates need the fonts {', '.join(missing)}: install {SYSTEM_PACKAGES} (Debian)"
        )
    locale = content.locale if content.locale in LANGUAGES else "en"
    # No resource of the page comes from outside: nothing is fetched, whatever the text says.
    fetcher = weasyprint.URLFetcher(allowed_protocols=())
    with force_locale(locale):
        view = _view(content, locale)
        for scale in _SCALES:
            html = render_template("certificates/certificate.html", c=view, scale=scale)
            document = weasyprint.HTML(string=html, url_fetcher=fetcher).render()
            if len(document.pages) == 1:
                break
    if len(document.pages) > 1:  # not reached with the cut lengths above; a promise kept anyway
        document = document.copy(document.pages[:1])
    return document.write_pdf()


# --- what the page prints -----------------------------------------------------------


def _view(content: CertificateContent, locale: str) -> dict[str, Any]:
    """The template's values: cleaned text, its direction, words and numbers in `locale`."""
    loc = Locale.parse(locale)
    name = single_line(content.name, _MAX_NAME)
    title = single_line(content.program_title, _MAX_TITLE)
    organiser = single_line(content.organiser, _MAX_NAME)
    heading = gettext("Certificate of attendance")
    verify_url = single_line(content.verify_url, 2000)
    return {
        "lang": locale,
        "dir": text_direction(locale),
        "heading": heading,
        "certifies": gettext("This certifies that"),
        "attended": gettext("attended"),
        "name": name,
        "name_dir": _direction(name, locale),
        "name_size": _size(name, ((22, 36), (34, 30), (48, 25), (70, 21), (110, 18), (160, 16), (240, 14))),
        "title": title,
        "title_dir": _direction(title, locale),
        "title_size": _size(title, ((48, 22), (80, 19), (130, 16), (200, 13.5), (320, 11.5))),
        "organiser": organiser,
        "organiser_dir": _direction(organiser, locale),
        "organiser_size": _size(organiser, ((40, 12), (80, 10.5), (140, 9))),
        "dates": _dates(content.first_day, content.last_day, loc),
        "dates_label": gettext("Dates"),
        # Someone an organiser marked attended by hand may have no minutes: no line then.
        # Written as the email and the verification page write it (times.format_duration).
        "hours": format_duration(content.minutes, locale) if content.minutes > 0 else "",
        "hours_label": gettext("Time attended"),
        "organiser_label": gettext("Organiser"),
        "verify_label": gettext("Verify this certificate at"),
        "code_label": gettext("Verification code"),
        "code": single_line(content.code, 100),
        "verify_url": verify_url,
        # A link only to a web page: the URL is ours, but a PDF is no place to find out.
        "verify_href": verify_url if verify_url.lower().startswith(("https://", "http://")) else "",
        "pdf_title": f"{title} — {name}" if name else title,
        "pdf_subject": heading,
    }


def _dates(first: date, last: date, loc: Locale) -> str:
    """The days from `first` to `last` as CLDR writes a range in `loc`, in its digits:
    "Sep 28 – Oct 2, 2026", "2026年9月28日至10月2日", "۲۸ تا ۳۰ سپتامبر ۲۰۲۶"; one day alone."""
    first, last = min(first, last), max(first, last)
    return native_digits(format_interval(first, last, "yMMMd", locale=loc), loc)


def _direction(text: str, locale: str) -> str:
    """The direction of a text of its own (HTML's dir="auto"): that of its first strong
    letter, else the page's. Set on the element so Pango orders and aligns it rightly."""
    for char in text:
        kind = unicodedata.bidirectional(char)
        if kind in ("R", "AL"):
            return "rtl"
        if kind == "L":
            return "ltr"
    return text_direction(locale)


def _width(text: str) -> float:
    """Roughly how many Latin letters wide `text` is: a Chinese character is two, a
    combining mark or an invisible joiner none."""
    width = 0.0
    for char in text:
        if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
            continue
        width += 2.0 if unicodedata.east_asian_width(char) in ("W", "F") else 1.0
    return width


def _size(text: str, steps: tuple[tuple[int, float], ...]) -> float:
    """The type size in points for `text`: the first step whose width it does not pass."""
    width = _width(text)
    for limit, size in steps:
        if width <= limit:
            return size
    return steps[-1][1] * 0.85
