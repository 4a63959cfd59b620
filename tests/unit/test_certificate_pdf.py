"""The certificate renderer (webapp/services/certificates/pdf.py): the PDF read back as a
person reads it, with poppler's pdftotext, pdfinfo and pdffonts. No server needed.

Needs WeasyPrint with Pango, the Noto fonts and poppler-utils (scripts/ensure_services.sh
installs Debian's). With CI=true a missing one fails the run; elsewhere these tests are
skipped.

How pdftotext writes what it reads, and so how the tests compare: it gives each line in
logical order (Arabic script as typed, first letter first) wrapped in bidi embedding
marks, drops zero-width joiners, and may give presentation forms; so both sides are
compared after NFKC and without format characters (`readable`). It writes the lam-alef
ligature's two letters the wrong way round ("سالم" for "سلام"), so names here avoid it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import unicodedata
import zlib
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from flask import Flask

from tests.conftest import IN_CI, ROOT
from webapp import create_app
from webapp.services.certificates import pdf as certificates
from webapp.services.certificates.pdf import (
    CertificateContent,
    CertificateRenderingUnavailable,
    render_certificate,
)

BASE = CertificateContent(
    name="Zoë Ångström-Müller",
    program_title="Powering Belt and Road: Lithium-ion batteries",
    organiser="Tianjin Training Centre",
    first_day=date(2026, 9, 28),
    last_day=date(2026, 10, 2),
    minutes=450,
    code="7KQ2-M9XD-4TWP-HC3R",
    verify_url="https://rollcall.example.org/verify/7KQ2-M9XD-4TWP-HC3R",
    locale="en",
)
PERSIAN_NAME = "زهرا نیک‌پور"  # with a zero-width non-joiner, as Persian is typed
ARABIC_NAME = "محمد رضا حسینی"


def readable(text: str) -> str:
    """Text as compared here: NFKC (undoes presentation forms), without format characters
    (bidi marks, zero-width joiners), runs of white space as one space."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(char for char in text if unicodedata.category(char) != "Cf")
    return re.sub(r"\s+", " ", text).strip()


def compact(text: str) -> str:
    """`readable` without any white space: a long name wraps where the page decides."""
    return re.sub(r"\s+", "", readable(text))


@pytest.fixture(scope="module")
def tools() -> None:
    """WeasyPrint, Pango, the fonts and poppler-utils are here, or the test is skipped
    (failed in CI)."""
    problems = []
    try:
        certificates.load_weasyprint()
    except CertificateRenderingUnavailable as error:
        problems.append(str(error))
    if certificates.missing_fonts():
        problems.append(f"fonts missing: {', '.join(certificates.missing_fonts())}")
    problems += [
        f"{tool} (poppler-utils) missing" for tool in ("pdftotext", "pdfinfo", "pdffonts") if not shutil.which(tool)
    ]
    if problems:
        message = "; ".join(problems) + " (scripts/ensure_services.sh installs Debian's)"
        if IN_CI:
            pytest.fail(f"required in CI: {message}", pytrace=False)
        pytest.skip(message)


@pytest.fixture(scope="module")
def cert_app() -> Flask:
    return create_app("testing", SQLALCHEMY_DATABASE_URI="sqlite://", CELERY_BROKER_URL="memory://")


@pytest.fixture
def render(tools: None, cert_app: Flask) -> Iterator[Callable[..., bytes]]:
    """render(**fields) -> the PDF of BASE with those fields changed."""

    def factory(**fields: object) -> bytes:
        with cert_app.app_context():
            return render_certificate(replace(BASE, **fields))

    yield factory


def pdftotext(pdf: bytes, *args: str) -> str:
    return subprocess.run(["pdftotext", *args, "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()


def pdfinfo(pdf: bytes, tmp_path: Path) -> dict[str, str]:
    path = tmp_path / "certificate.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdfinfo", str(path)], capture_output=True, check=True, text=True).stdout
    return {key.strip(): value.strip() for key, _, value in (line.partition(":") for line in out.splitlines())}


def streams(pdf: bytes) -> bytes:
    """Every stream of the PDF, inflated where it is compressed (the catalogue and the
    link annotations live in compressed object streams)."""
    found = []
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.DOTALL):
        try:
            found.append(zlib.decompress(match.group(1)))
        except zlib.error:
            found.append(match.group(1))
    return b"\n".join(found)


def word_boxes(pdf: bytes) -> list[tuple[float, str]]:
    """(left edge in points, word) for every word pdftotext finds."""
    html = pdftotext(pdf, "-bbox")
    return [(float(x), word) for x, word in re.findall(r'<word xMin="([\d.]+)"[^>]*>([^<]*)</word>', html)]


# --- names in every script -----------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["Zoë Ångström-Müller", ARABIC_NAME, PERSIAN_NAME, "王小明", "Александра Кузнецова", "Şükrü İnönü Çağlar"],
    ids=["latin", "arabic", "persian", "chinese", "cyrillic", "turkish"],
)
def test_a_name_in_any_script_prints_as_typed(render: Callable[..., bytes], name: str) -> None:
    text = readable(pdftotext(render(name=name)))
    # Arabic script in logical order: first letter first, as typed (see the module doc).
    assert readable(name) in text
    assert "This certifies that" in text and "Powering Belt and Road: Lithium-ion batteries" in text


def test_a_right_to_left_name_on_an_english_page_is_set_right_to_left(render: Callable[..., bytes]) -> None:
    boxes = {word: x for x, word in word_boxes(render(name=ARABIC_NAME))}
    # Laid out right to left, the first name stands right of the family name; pdftotext
    # gives each Arabic-script word in visual order ("محمد" reads "دمحم").
    assert boxes["دمحم"] > boxes["اضر"] > boxes["ینیسح"]


# --- what the page carries ------------------------------------------------------------


def test_one_a4_landscape_page_with_its_words_fonts_and_metadata(render: Callable[..., bytes], tmp_path: Path) -> None:
    pdf = render()
    info = pdfinfo(pdf, tmp_path)
    assert info["Pages"] == "1"
    width, height = (float(n) for n in re.findall(r"[\d.]+", info["Page size"])[:2])
    assert (round(width), round(height)) == (842, 595)  # A4 landscape, in points
    assert info["Title"] == "Powering Belt and Road: Lithium-ion batteries — Zoë Ångström-Müller"
    assert info["Author"] == "Tianjin Training Centre"
    assert info["Subject"] == "Certificate of attendance"
    assert b"/Lang (en)" in streams(pdf)
    assert b"/URI (https://rollcall.example.org/verify/7KQ2-M9XD-4TWP-HC3R)" in streams(pdf)

    text = readable(pdftotext(pdf))
    for words in (
        "Certificate of attendance",
        "This certifies that",
        "Zoë Ångström-Müller",
        "attended",
        "Powering Belt and Road: Lithium-ion batteries",
        "Sep 28 – Oct 2, 2026",
        "7 hours, 30 minutes",
        "Tianjin Training Centre",
        "Verification code 7KQ2-M9XD-4TWP-HC3R",
        "Verify this certificate at https://rollcall.example.org/verify/7KQ2-M9XD-4TWP-HC3R",
    ):
        assert words in text, words

    with tmp_path.joinpath("certificate.pdf").open("wb") as handle:
        handle.write(pdf)
    fonts = subprocess.run(["pdffonts", str(tmp_path / "certificate.pdf")], capture_output=True, text=True).stdout
    rows = [line.split() for line in fonts.splitlines()[2:]]
    assert rows and all(row[-5:-3] == ["yes", "yes"] for row in rows), fonts  # embedded, subset
    assert any("Noto-Serif" in row[0] for row in rows), fonts


def test_a_chinese_name_uses_the_cjk_font(render: Callable[..., bytes], tmp_path: Path) -> None:
    path = tmp_path / "zh.pdf"
    path.write_bytes(render(name="王小明"))
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True).stdout
    assert "Noto-Serif-CJK-SC" in fonts.replace(" ", "-") or "NotoSerifCJK" in fonts, fonts


# --- each language ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "words"),
    [
        (
            "en",
            [
                "Certificate of attendance",
                "This certifies that",
                "attended",
                "Sep 28 – Oct 2, 2026",
                "7 hours, 30 minutes",
            ],
        ),
        ("zh", ["出席证书", "兹证明", "参加了", "2026年9月28日至10月2日", "7小时30分钟", "验证码"]),
        (
            "ru",
            ["Сертификат об участии", "Настоящим подтверждается, что", "28 сент. – 2 окт. 2026 г.", "7 часов 30 минут"],
        ),
        ("tr", ["Katılım Sertifikası", "İşbu belge ile", "28 Eyl – 2 Eki 2026", "7 saat 30 dakika", "Doğrulama kodu"]),
        ("fa", ["گواهی حضور", "مدت حضور", "سپتامبر", "اکتبر", "۲۰۲۶", "۷", "ساعت", "۳۰", "دقیقه", "کد اعتبارسنجی"]),
    ],
)
def test_each_language_prints_its_own_words(render: Callable[..., bytes], locale: str, words: list[str]) -> None:
    pdf = render(locale=locale)
    # Compared without spaces, and Persian's number and word apart: in a line of both
    # directions pdftotext moves spaces and puts "۷ ساعت و ۳۰ دقیقه" in any order.
    text = compact(pdftotext(pdf))
    for word in words:
        assert compact(word) in text, word
    assert f"/Lang ({locale})".encode() in streams(pdf)
    assert "ZoëÅngström-Müller" in text and "7KQ2-M9XD-4TWP-HC3R" in text


def test_persian_is_laid_out_right_to_left_with_persian_digits(render: Callable[..., bytes]) -> None:
    english, persian = word_boxes(render(locale="en")), word_boxes(render(locale="fa", name=PERSIAN_NAME))
    middle = 842 / 2

    def left_of(boxes: list[tuple[float, str]], word: str) -> float:
        return next(x for x, w in boxes if w == word)

    # The verification code starts the footer: at the left in English, at the right in Persian.
    assert left_of(english, "7KQ2-M9XD-4TWP-HC3R") < middle < left_of(persian, "7KQ2-M9XD-4TWP-HC3R")
    # The dates come first among the details: left in English, right in Persian.
    assert left_of(english, "Sep") < middle < left_of(persian, "۲۰۲۶")
    text = readable(pdftotext(render(locale="fa", name=PERSIAN_NAME)))
    assert "۲۸" in text and "28" not in text.replace("7KQ2-M9XD-4TWP-HC3R", "")


@pytest.mark.parametrize(
    ("locale", "minutes", "time"),
    [
        ("en", 60, "1 hour"),
        ("en", 90, "1 hour, 30 minutes"),
        ("en", 10**9, "16666666 hours, 40 minutes"),
        ("ru", 1260, "21 час"),
        ("ru", 90, "1 час 30 минут"),
        ("fa", 600, "۱۰"),  # and "ساعت", in whichever order pdftotext puts them
    ],
)
def test_time_attended_is_written_as_the_email_writes_it(
    render: Callable[..., bytes], locale: str, minutes: int, time: str
) -> None:
    assert compact(time) in compact(pdftotext(render(locale=locale, minutes=minutes)))


@pytest.mark.parametrize("minutes", [0, -30])
def test_no_minutes_no_time_attended_line(render: Callable[..., bytes], minutes: int) -> None:
    """Someone marked attended by hand may have no minutes recorded: the certificate
    then says nothing of time rather than "0 hours"."""
    text = pdftotext(render(minutes=minutes))
    assert "Time attended" not in text and "hour" not in text
    assert "Dates" in text and "Organiser" in text


def test_one_day_and_an_unknown_locale(render: Callable[..., bytes]) -> None:
    text = readable(pdftotext(render(first_day=date(2026, 9, 28), last_day=date(2026, 9, 28), locale="xx")))
    assert "Sep 28, 2026" in text and "Certificate of attendance" in text


# --- hostile input ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "<script>alert(1)</script>",
        "</div></body><p>Mallory",
        "{{ c.code }} %(hours)s",
    ],
)
def test_markup_in_a_name_prints_literally(render: Callable[..., bytes], name: str, tmp_path: Path) -> None:
    pdf = render(name=name, program_title=name, organiser=name)
    assert pdfinfo(pdf, tmp_path)["Pages"] == "1"
    assert readable(pdftotext(pdf)).count(name) == 3


def test_control_characters_are_dropped_and_every_letter_kept(render: Callable[..., bytes]) -> None:
    text = readable(
        pdftotext(render(name="Ana\x00 Mar\x07ía\x1b\x7f\x85 Ló\u200bpez\tRuiz\n", program_title="T\x00itle"))
    )
    assert "Ana María López Ruiz" in text.replace("Mar ía", "María")
    assert "Title" in text.replace("T itle", "Title")


def test_a_name_of_only_white_space_renders(render: Callable[..., bytes], tmp_path: Path) -> None:
    pdf = render(name=" \t\u3000\u00a0\n ")
    assert pdfinfo(pdf, tmp_path)["Pages"] == "1"
    assert "This certifies that attended" in readable(pdftotext(pdf))


@pytest.mark.parametrize(
    "name",
    [
        "Wolfeschlegelsteinhausenbergerdorff " * 5 + "Xy" * 12,
        "W" * 200,
        "王" * 200,
        "محمد رضا حسینی " * 14,
    ],
    ids=["words", "one-word", "chinese", "arabic"],
)
def test_a_200_character_name_fits_on_the_page(render: Callable[..., bytes], name: str, tmp_path: Path) -> None:
    name = name[:200]
    pdf = render(name=name, program_title="Powering Belt and Road: Lithium-ion batteries " * 4)
    assert pdfinfo(pdf, tmp_path)["Pages"] == "1"
    text = compact(pdftotext(pdf))
    if name.startswith("محمد"):  # pdftotext splits a wrapped right-to-left name by lines
        assert text.count(compact("حسینی")) >= 13
    else:
        assert compact(name) in text
    # The footer is still there, below everything.
    assert "7KQ2-M9XD-4TWP-HC3R" in text


def test_text_past_any_form_limit_still_makes_one_page(render: Callable[..., bytes], tmp_path: Path) -> None:
    # Wider than a page holds at full size: the type shrinks (and the renderer cuts text
    # past 300 or 500 characters, which no form accepts), the footer stays.
    pdf = render(name="王" * 1000, program_title="锂" * 1000, organiser="Ö" * 1000, code="C" * 1000)
    assert pdfinfo(pdf, tmp_path)["Pages"] == "1"
    text = compact(pdftotext(pdf))
    assert "王" * 300 in text and "王" * 301 not in text
    assert "锂" * 500 in text and "https://rollcall.example.org/verify/" in text
    # Laid out, not clipped: the details stand above the footer, inside the page.
    bottoms = {word: float(y) for y, word in re.findall(r'yMax="([\d.]+)">([^<]*)</word>', pdftotext(pdf, "-bbox"))}
    assert bottoms["minutes"] < bottoms["Verification"] < 595


def test_a_verify_url_that_is_no_web_address_is_printed_but_not_linked(render: Callable[..., bytes]) -> None:
    pdf = render(verify_url="javascript:alert(1)")
    assert "javascript:alert(1)" in readable(pdftotext(pdf))
    assert b"/URI" not in streams(pdf)


# --- without the libraries ------------------------------------------------------------------


def test_without_weasyprint_rendering_says_what_to_install(cert_app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "weasyprint", None)  # `import weasyprint` raises ImportError
    with cert_app.app_context(), pytest.raises(CertificateRenderingUnavailable, match=r"libpango-1\.0-0"):
        render_certificate(BASE)


def test_without_the_fonts_rendering_says_what_to_install(
    tools: None, cert_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(certificates, "missing_fonts", lambda: ("Noto Serif CJK SC",))
    with (
        cert_app.app_context(),
        pytest.raises(CertificateRenderingUnavailable, match=r"Noto Serif CJK SC.*fonts-noto-cjk"),
    ):
        render_certificate(BASE)


def test_the_app_starts_without_importing_weasyprint() -> None:
    code = (
        "import sys; from webapp import create_app; import webapp.services.certificates.pdf; "
        "create_app('testing', SQLALCHEMY_DATABASE_URI='sqlite://', CELERY_BROKER_URL='memory://'); "
        "assert 'weasyprint' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
