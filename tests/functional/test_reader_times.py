"""Every time a participant reads, in the program's zone and in theirs, named in their
language (DESIGN Rule 7): pages write the reader's time themselves once the browser has
told us its zone (the `rollcall_tz` cookie static/app.js sets), emails use the zone the
registrant stored, and calendar files hold UTC instants that stay right across a change
to or from daylight saving time."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest
from flask import Flask
from flask.testing import FlaskClient
from icalendar import Calendar
from sqlalchemy import select

from tests.conftest import SMTPServer, registration_input, starting_at
from webapp.extensions import db
from webapp.models import Email, Registration
from webapp.services.audit import Actor
from webapp.services.mailer import deliver_emails
from webapp.services.registrations import register_participant
from webapp.services.times import format_in_zone

SLUG = "li-ion-basics"
# 09:00-11:00 UTC: 14:00-16:00 in Karachi (GMT+5, the program's zone).
STARTS = datetime(2099, 2, 10, 9, 0, tzinfo=UTC)
# A session on the program page: start to end, the zone named once.
PROGRAM_SPAN = {
    "en": "Tuesday, February 10, 2099, 14:00 – 16:00 Pakistan Standard Time",
    "fa": "سه\u200cشنبه ۱۰ فوریهٔ ۲۰۹۹، ساعت ۱۴:۰۰ – ۱۶:۰۰ وقت عادی پاکستان",
    "zh": "2099年2月10日星期二 14:00 – 16:00 巴基斯坦标准时间",
}
PROGRAM_TIME = {
    "en": "Tuesday, February 10, 2099, 14:00 Pakistan Standard Time",
    "fa": "سه\u200cشنبه ۱۰ فوریهٔ ۲۰۹۹، ساعت ۱۴:۰۰ وقت عادی پاکستان",
    "zh": "2099年2月10日星期二 14:00 巴基斯坦标准时间",
}
# What a reader in each zone reads on the program page, after the program's time.
READER_LINES = {
    ("Asia/Tehran", "en"): "Your time: Tuesday, February 10, 2099, 12:30 – 14:30 Iran Standard Time",
    ("Asia/Tehran", "fa"): "زمان شما: سه\u200cشنبه ۱۰ فوریهٔ ۲۰۹۹، ساعت ۱۲:۳۰ – ۱۴:۳۰ وقت عادی ایران",
    ("Asia/Tehran", "zh"): "您的时间：2099年2月10日星期二 12:30 – 14:30 伊朗标准时间",
    ("Asia/Kathmandu", "en"): "Your time: Tuesday, February 10, 2099, 14:45 – 16:45 GMT+5:45",
    ("Asia/Kathmandu", "fa"): "زمان شما: سه\u200cشنبه ۱۰ فوریهٔ ۲۰۹۹، ساعت ۱۴:۴۵ – ۱۶:۴۵ \u200e+۵:۴۵ گرینویچ",
    ("Asia/Kathmandu", "zh"): "您的时间：2099年2月10日星期二 14:45 – 16:45 GMT+5:45",
    ("America/St_Johns", "en"): "Your time: Tuesday, February 10, 2099, 05:30 – 07:30 Newfoundland Standard Time",
    ("America/St_Johns", "fa"): "زمان شما: سه\u200cشنبه ۱۰ فوریهٔ ۲۰۹۹، ساعت ۵:۳۰ – ۷:۳۰ وقت عادی نیوفاندلند",
    ("America/St_Johns", "zh"): "您的时间：2099年2月10日星期二 05:30 – 07:30 纽芬兰标准时间",
}
YOUR_TIME = {"en": "Your time:", "fa": "زمان شما:", "zh": "您的时间："}
HOSTILE_ZONES = [
    "Not/AZone",
    "asia/tehran",
    "Asia/Tehran\x00",
    "Asia/Tehran\x01",
    "../../etc/passwd",
    "Asia/Tehran; Path=/",
    "Asia%2FTehran",
    '"Asia/Tehran"',
    "<script>alert(1)</script>",
    "Europe/" + "A" * 5000,
    "",
]


def _text(html: str) -> str:
    """The words a person reads: tags dropped, white space collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def _program(make_program: Callable[..., int], **overrides: object) -> int:
    return make_program(
        timezone="Asia/Karachi", **starting_at(STARTS, deadline=datetime.now(UTC) + timedelta(days=5)), **overrides
    )


def _client(app: Flask, zone: str | None) -> FlaskClient:
    client = app.test_client()
    if zone is not None:
        client.set_cookie("rollcall_tz", zone)
    return client


@pytest.mark.parametrize("locale", ["en", "fa", "zh"])
@pytest.mark.parametrize("zone", ["Asia/Tehran", "Asia/Kathmandu", "America/St_Johns"])
def test_the_program_page_writes_the_readers_time_when_the_browser_has_told_us_the_zone(
    app: Flask, make_program: Callable[..., int], zone: str, locale: str
) -> None:
    _program(make_program)
    response = _client(app, zone).get(f"/programs/{SLUG}?lang={locale}")
    assert response.status_code == 200
    assert "Cookie" in response.headers["Vary"]
    page = response.get_data(as_text=True)
    text = _text(page)
    assert PROGRAM_SPAN[locale] in text
    assert READER_LINES[(zone, locale)] in text
    assert "None" not in text
    # The server wrote the reader's time, so the script is not asked to add another.
    assert "data-local" not in page
    # Once for the session and once for the deadline, each right after its own time.
    assert text.count(YOUR_TIME[locale]) == 2


@pytest.mark.parametrize("locale", ["en", "fa", "zh"])
def test_without_the_cookie_the_page_leaves_the_readers_time_to_the_script(
    app: Flask, make_program: Callable[..., int], locale: str
) -> None:
    _program(make_program)
    page = _client(app, None).get(f"/programs/{SLUG}?lang={locale}").get_data(as_text=True)
    assert PROGRAM_SPAN[locale] in _text(page)
    assert YOUR_TIME[locale] not in _text(page)
    assert page.count("data-local") == 2  # the deadline and the session, for static/app.js
    assert 'data-until="2099-02-10T11:00:00+00:00"' in page


def test_a_reader_in_the_programs_own_zone_reads_each_time_once(app: Flask, make_program: Callable[..., int]) -> None:
    _program(make_program)
    page = _client(app, "Asia/Karachi").get(f"/programs/{SLUG}").get_data(as_text=True)
    assert PROGRAM_SPAN["en"] in _text(page)
    assert "Your time" not in _text(page) and "data-local" not in page


@pytest.mark.parametrize("value", HOSTILE_ZONES, ids=range(len(HOSTILE_ZONES)))
def test_a_zone_cookie_that_is_not_a_known_zone_is_ignored(
    app: Flask, make_program: Callable[..., int], value: str
) -> None:
    _program(make_program)
    client = app.test_client()
    # Raw, as any client may send it: no quoting by the test client.
    headers = {"Cookie": f"rollcall_tz={value}"}
    for path in ("/", f"/programs/{SLUG}", f"/programs/{SLUG}/register"):
        response = client.get(path, headers=headers)
        assert response.status_code == 200, path
        page = response.get_data(as_text=True)
        assert "Your time:" not in _text(page), path
        assert "<script>alert" not in page, path
    form = client.get(f"/programs/{SLUG}/register", headers=headers).get_data(as_text=True)
    assert '<option selected value="Asia/Karachi">' in form  # the program's zone, as without a cookie


def test_every_participant_page_writes_times_in_the_readers_zone(app: Flask, make_program: Callable[..., int]) -> None:
    program_id = _program(make_program)
    with app.app_context():
        register_participant(program_id, registration_input(timezone="Asia/Karachi"), actor=Actor.participant())
        token = db.session.scalars(select(Registration)).one().token
    client = _client(app, "Asia/Tehran")
    tehran = "12:30 Iran Standard Time"

    listing = _text(client.get("/").get_data(as_text=True))
    assert PROGRAM_TIME["en"] in listing and f"Your time: Tuesday, February 10, 2099, {tehran}" in listing

    form = client.get(f"/programs/{SLUG}/register").get_data(as_text=True)
    assert "Your time: " in _text(form) and "data-local" not in form  # the deadline, in Tehran too
    # The browser's zone is chosen for the reader before any script runs.
    assert '<option selected value="Asia/Tehran">' in form

    # The self-service page: the reader's zone now (not the Karachi they registered
    # with), the program's beside it, in the page's language.
    manage = _text(client.get(f"/r/{token}").get_data(as_text=True))
    assert "Tuesday, February 10, 2099, 12:30 – 14:30 Iran Standard Time" in manage
    assert f"Program time: {PROGRAM_TIME['en']}" in manage
    persian = _text(client.get(f"/r/{token}?lang=fa").get_data(as_text=True))
    assert "سه\u200cشنبه ۱۰ فوریهٔ ۲۰۹۹، ساعت ۱۲:۳۰ – ۱۴:۳۰ وقت عادی ایران" in persian
    assert PROGRAM_TIME["fa"] in persian

    for path in (f"/programs/{SLUG}/registered", f"/r/{token}/cancel"):
        response = client.get(path)
        assert response.status_code == 200 and "None" not in _text(response.get_data(as_text=True)), path


def _deliver_pending(app: Flask) -> list[EmailMessage]:
    with app.app_context():
        ids = list(db.session.scalars(select(Email.id).where(Email.status == "pending").order_by(Email.id)))
        deliver_emails(ids)


def _received(smtp: SMTPServer) -> list[EmailMessage]:
    return [
        email.message_from_bytes(m.content, policy=email.policy.default)  # type: ignore[misc]
        for m in smtp.handler.messages
    ]


def _parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    return text, _text(html)


def _session(title: str, starts: datetime) -> dict[str, str]:
    return {
        "title": title,
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=2)).isoformat(),
        "join_url": "https://zoom.us/j/81234567890",
    }


@pytest.mark.parametrize(
    ("zone", "language", "theirs", "program_time"),
    [
        ("Asia/Tehran", "fa", "سه\u200cشنبه ۱۰ فوریهٔ ۲۰۹۹، ساعت ۱۲:۳۰ وقت عادی ایران", PROGRAM_TIME["fa"]),
        ("Asia/Kathmandu", "zh", "2099年2月10日星期二 14:45 GMT+5:45", PROGRAM_TIME["zh"]),
        ("America/St_Johns", "en", "Tuesday, February 10, 2099, 05:30 Newfoundland Standard Time", PROGRAM_TIME["en"]),
    ],
)
def test_emails_name_the_registrants_zone_and_the_programs_in_their_language(
    app: Flask,
    make_program: Callable[..., int],
    smtp: SMTPServer,
    zone: str,
    language: str,
    theirs: str,
    program_time: str,
) -> None:
    """Confirmation, a session moved (when it was planned), a session cancelled."""
    from tests.conftest import program_data
    from webapp.services.programs import import_program

    deadline = (datetime.now(UTC) + timedelta(days=5)).isoformat()
    sessions = [_session("Cells", STARTS), _session("Packs", STARTS + timedelta(days=7))]
    program_id = make_program(timezone="Asia/Karachi", registration_deadline=deadline, sessions=sessions)
    with app.app_context():
        register_participant(
            program_id, registration_input(timezone=zone, language=language), actor=Actor.participant()
        )
    _deliver_pending(app)
    [confirmation] = _received(smtp)
    # A session is written from start to end with the zone named once, at the end.
    their_span = THEIR_SPANS[zone]
    for part in _parts(confirmation):
        assert their_span in part and program_time in part
        assert "None" not in part

    # The organiser moves the first session an hour later and drops the second.
    smtp.handler.reset()
    with app.app_context():
        moved = [_session("Cells", STARTS + timedelta(hours=1))]
        import_program(
            program_data(timezone="Asia/Karachi", registration_deadline=deadline, sessions=moved),
            actor=Actor.system(),
        )
    _deliver_pending(app)
    received = {"Packs" in m["Subject"]: m for m in _received(smtp)}
    assert len(received) == 2
    # Moved: it was planned for 10 February, as they and the program count time.
    for part in _parts(received[False]):
        assert theirs in part and program_time in part and "None" not in part
    # Cancelled: it was planned for a week later, the 17th (a Tuesday too).
    for part in _parts(received[True]):
        assert _a_week_later(theirs) in part and _a_week_later(program_time) in part and "None" not in part


THEIR_SPANS = {
    "Asia/Tehran": "سه\u200cشنبه ۱۰ فوریهٔ ۲۰۹۹، ساعت ۱۲:۳۰ – ۱۴:۳۰ وقت عادی ایران",
    "Asia/Kathmandu": "2099年2月10日星期二 14:45 – 16:45 GMT+5:45",
    "America/St_Johns": "Tuesday, February 10, 2099, 05:30 – 07:30 Newfoundland Standard Time",
}


def _a_week_later(written: str) -> str:
    """The same Tuesday a week later, as each language writes the 10th and the 17th."""
    return written.replace("February 10", "February 17").replace("2月10日", "2月17日").replace("۱۰ فوریه", "۱۷ فوریه")


# Berlin moves its clocks forward at 02:00 on Sunday 28 March 2027 (CET, UTC+1, becomes
# CEST, UTC+2). Two sessions at 10:00 Berlin time, the day before and the day after.
BEFORE_DST = datetime(2027, 3, 27, 9, 0, tzinfo=UTC)  # 10:00 CET
AFTER_DST = datetime(2027, 3, 29, 8, 0, tzinfo=UTC)  # 10:00 CEST


def _dst_program(make_program: Callable[..., int]) -> int:
    sessions = [
        {
            "title": title,
            "starts_at": f"{day}T10:00:00+{offset}",
            "ends_at": f"{day}T12:00:00+{offset}",
            "join_url": "https://zoom.us/j/81234567890",
        }
        for title, day, offset in (("Cells", "2027-03-27", "01:00"), ("Packs", "2027-03-29", "02:00"))
    ]
    return make_program(
        timezone="Europe/Berlin",
        registration_deadline=(datetime.now(UTC) + timedelta(days=5)).isoformat(),
        sessions=sessions,
    )


def test_a_program_across_the_change_to_summer_time(
    app: Flask, make_program: Callable[..., int], smtp: SMTPServer
) -> None:
    program_id = _dst_program(make_program)
    with app.app_context():
        register_participant(program_id, registration_input(timezone="Asia/Karachi"), actor=Actor.participant())
        token = db.session.scalars(select(Registration)).one().token
        session_ids = [s.id for s in db.session.scalars(select(Registration)).one().program.sessions]

    # The calendar files: the right UTC instants on each side of the change.
    client = _client(app, "Asia/Karachi")
    instants = []
    for session_id in session_ids:
        response = client.get(f"/r/{token}/sessions/{session_id}.ics")
        assert response.status_code == 200
        [event] = Calendar.from_ical(response.data).walk("VEVENT")
        instants.append((event.decoded("DTSTART"), event.decoded("DTEND")))
        assert re.search(rb"DTSTART(;VALUE=DATE-TIME)?:2027032[79]T0[89]0000Z", response.data)
    assert instants == [
        (BEFORE_DST, BEFORE_DST + timedelta(hours=2)),
        (AFTER_DST, AFTER_DST + timedelta(hours=2)),
    ]

    # The page: 10:00 Berlin time both days, named for the season; in Karachi (no
    # daylight saving) 14:00 the day before and 13:00 the day after.
    page = _text(client.get(f"/programs/{SLUG}").get_data(as_text=True))
    assert "Saturday, March 27, 2027, 10:00 – 12:00 Central European Standard Time" in page
    assert "Monday, March 29, 2027, 10:00 – 12:00 Central European Summer Time" in page
    assert "Your time: Saturday, March 27, 2027, 14:00 – 16:00 Pakistan Standard Time" in page
    assert "Your time: Monday, March 29, 2027, 13:00 – 15:00 Pakistan Standard Time" in page

    # The email: the registrant's hours and the program's, with its season.
    _deliver_pending(app)
    [confirmation] = _received(smtp)
    for part in _parts(confirmation):
        assert "Saturday, March 27, 2027, 14:00 – 16:00 Pakistan Standard Time" in part
        assert "Monday, March 29, 2027, 13:00 – 15:00 Pakistan Standard Time" in part
        assert "Program time: Saturday, March 27, 2027, 10:00 Central European Standard Time" in part
        assert "Program time: Monday, March 29, 2027, 10:00 Central European Summer Time" in part
    # And the attached invite carries the same instants as the page's calendar files.
    [invite] = [p for p in confirmation.iter_attachments() if p.get_filename() == "invite.ics"]
    events = Calendar.from_ical(invite.get_content()).walk("VEVENT")
    assert sorted(e.decoded("DTSTART") for e in events) == [BEFORE_DST, AFTER_DST]


@pytest.mark.parametrize(
    ("locale", "medium", "long"),
    [
        ("en", "Mon, Sep 28, 2026, 14:00 GMT+5", "Monday, September 28, 2026, 14:00 Pakistan Standard Time"),
        ("zh", "2026年9月28日周一 14:00 GMT+5", "2026年9月28日星期一 14:00 巴基斯坦标准时间"),
        (
            "ru",
            "пн, 28 сент. 2026\u202fг., 14:00 GMT+5",
            "понедельник, 28 сентября 2026\u202fг., 14:00 Пакистан, стандартное время",
        ),
        ("tr", "28 Eyl 2026 Pzt 14:00 GMT+5", "28 Eylül 2026 Pazartesi 14:00 Pakistan Standart Saati"),
        (
            "fa",
            "دوشنبه ۲۸ سپتامبر ۲۰۲۶،\u200f ۱۴:۰۰ \u200e+۵ گرینویچ",
            "دوشنبه ۲۸ سپتامبر ۲۰۲۶، ساعت ۱۴:۰۰ وقت عادی پاکستان",
        ),
    ],
)
def test_dates_are_written_in_each_languages_own_order(locale: str, medium: str, long: str) -> None:
    """CLDR's patterns for each language (Babel), its digits (Persian's own), 24-hour."""
    instant = datetime(2026, 9, 28, 9, 0, tzinfo=UTC)
    assert format_in_zone(instant, "Asia/Karachi", locale, "medium") == medium
    assert format_in_zone(instant, "Asia/Karachi", locale, "long") == long
