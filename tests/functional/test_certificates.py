"""Certificates of attendance: the program option, the console's panel, sending them
once through the outbox, the public verification page and the self-service link."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select, update

from tests.conftest import SMTPServer, app_settings, flush_redis
from tests.functional.helpers import attended_program, csrf_token, sign_in
from webapp import create_app
from webapp.extensions import db
from webapp.models import AuditEntry, Certificate, Email, Program, Registration
from webapp.services.audit import Actor
from webapp.services.certificates.codes import format_code
from webapp.services.certificates.operations import issue_certificates
from webapp.services.errors import CertificatesUnavailable
from webapp.services.programs import program_file, validate_program_data
from webapp.services.registrations import apply_action

PEOPLE = [
    ("Ayesha Khan", "ayesha@example.com", "en", 100),  # attended (75% of 120 is 90)
    ("علی رضایی", "ali@example.ir", "fa", 95),
    ("李伟", "li@example.cn", "zh", 20),  # too little
    ("Olga Petrova", "olga@example.ru", "ru", None),  # nothing recorded
]


def _program(app: Flask, make_program: Callable[..., int], **overrides: object) -> tuple[int, dict[str, str]]:
    program_id = make_program(certificates=True, organiser="ECOSF Training Centre", **overrides)
    return program_id, attended_program(app, program_id, PEOPLE)


def _certificates(app: Flask) -> dict[str, Certificate]:
    with app.app_context():
        rows = db.session.execute(select(Registration.email, Certificate).join(Certificate.registration)).all()
        return {row[0]: row[1] for row in rows}


def _certificate_emails(app: Flask) -> list[tuple[str, str]]:
    with app.app_context():
        return list(
            db.session.execute(
                select(Email.recipient, Email.dedupe_key).where(Email.kind == "certificate").order_by(Email.id)
            ).tuples()
        )


def _text(response: object) -> str:
    """The words a person reads: tags dropped, spaces collapsed."""
    page = response.get_data(as_text=True)  # type: ignore[attr-defined]
    page = re.sub(r"<(script|style)\b.*?</\1>|<[^>]+>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(page)).strip()


# --- the option -----------------------------------------------------------------------


def test_the_option_is_in_the_program_file_off_unless_set(app: Flask, make_program: Callable[..., int]) -> None:
    from tests.conftest import program_data

    assert validate_program_data(program_data()).certificates is False
    assert validate_program_data(program_data(certificates=True)).certificates is True
    with pytest.raises(Exception, match="certificates: must be true or false"):
        from webapp.services.programs import import_program

        with app.app_context():
            import_program(program_data(certificates="yes"), actor=Actor.system())
    program_id = make_program(certificates=True)
    with app.app_context():
        assert program_file(db.session.get(Program, program_id))["certificates"] is True


def test_the_editor_turns_certificates_on_and_a_copy_keeps_them(app: Flask, make_program: Callable[..., int]) -> None:
    program_id = make_program()
    client = sign_in(app, admin=True)
    page = client.get(f"/organiser/programs/{program_id}/edit").get_data(as_text=True)
    assert "Certificates of attendance" in page and 'name="certificates"' in page
    assert 'id="certificates" name="certificates" type="checkbox" value="y">' in page  # off
    with app.app_context():
        data = program_file(db.session.get(Program, program_id))
    form = {
        "csrf_token": csrf_token(page),
        "title": data["title"],
        "slug": data["slug"],
        "organiser": data["organiser"],
        "timezone": data["timezone"],
        "registration_deadline": re.search(r'name="registration_deadline"[^>]*value="([^"]+)"', page).group(1),
        "reminders": "24h",
        "certificates": "y",
        "attendance_threshold_percent": "75",
        "sessions-0-title": "Webinar",
        "sessions-0-starts_at": re.search(r'name="sessions-0-starts_at"[^>]*value="([^"]+)"', page).group(1),
        "sessions-0-ends_at": re.search(r'name="sessions-0-ends_at"[^>]*value="([^"]+)"', page).group(1),
        "sessions-0-join_url": "https://zoom.us/j/81234567890",
    }
    saved = client.post(f"/organiser/programs/{program_id}/edit", data=form)
    assert saved.status_code == 303, saved.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Program, program_id).certificates is True
    page = client.get(f"/organiser/programs/{program_id}/edit").get_data(as_text=True)
    assert (
        'checked id="certificates"' in page
        or 'id="certificates" name="certificates" type="checkbox" value="y" checked' in page
    )
    overview = _text(client.get(f"/organiser/programs/{program_id}/"))
    assert "Certificates of attendance" in overview


# --- the panel and sending ------------------------------------------------------------


def test_before_the_last_session_ends_the_panel_says_when_sending_becomes_possible(
    app: Flask, make_program: Callable[..., int]
) -> None:
    program_id = make_program(certificates=True)
    client = sign_in(app, admin=True)
    page = _text(client.get(f"/organiser/programs/{program_id}/"))
    assert "You can preview and send certificates once the last session has ended, on" in page
    assert "Pakistan" in page.split("once the last session has ended, on", 1)[1][:120]
    assert "Send certificates" not in page
    refused = client.get(f"/organiser/programs/{program_id}/certificates/send", follow_redirects=True)
    assert "Certificates can be sent once the last session has ended, on" in _text(refused)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Certificate)) == 0


def test_a_program_without_the_option_has_no_panel_and_no_certificate_pages(
    app: Flask, make_program: Callable[..., int]
) -> None:
    program_id = make_program()
    attended_program(app, program_id, PEOPLE[:1])
    client = sign_in(app, admin=True)
    assert "Certificates of attendance" not in _text(client.get(f"/organiser/programs/{program_id}/"))
    for url in ("certificates/send", "certificates/preview.pdf"):
        response = client.get(f"/organiser/programs/{program_id}/{url}")
        assert response.status_code == 404 and "Page not found" in _text(response)
    token = csrf_token(client.get(f"/organiser/programs/{program_id}/").get_data(as_text=True))
    assert (
        client.post(f"/organiser/programs/{program_id}/certificates/send", data={"csrf_token": token}).status_code
        == 404
    )
    with app.app_context():
        with pytest.raises(CertificatesUnavailable):
            issue_certificates(program_id, actor=Actor.system())
        assert db.session.scalar(select(func.count()).select_from(Certificate)) == 0


def test_send_issues_one_certificate_and_one_email_per_attendee_once(
    app: Flask, make_program: Callable[..., int]
) -> None:
    program_id, _tokens = _program(app, make_program)
    client = sign_in(app, admin=True)
    page = _text(client.get(f"/organiser/programs/{program_id}/"))
    assert "2 confirmed registrants attended." in page
    assert "0 certificates issued so far." in page
    assert "2 registrants who attended have no certificate yet." in page
    confirm = client.get(f"/organiser/programs/{program_id}/certificates/send")
    text = _text(confirm)
    assert "2 registrants who attended will each be issued a certificate and emailed it as a PDF" in text
    assert "Send 2 certificates" in text
    assert _certificates(app) == {}  # the confirmation step issues nothing
    # Without the form's token: refused, nothing issued.
    assert client.post(f"/organiser/programs/{program_id}/certificates/send").status_code == 400
    assert _certificates(app) == {}

    sent = client.post(
        f"/organiser/programs/{program_id}/certificates/send",
        data={"csrf_token": csrf_token(confirm.get_data(as_text=True))},
        follow_redirects=True,
    )
    text = _text(sent)
    assert "2 certificates issued. Their emails are on their way." in text
    assert "0 registrants" not in text and "Everyone who attended has a certificate." in text
    certificates = _certificates(app)
    assert set(certificates) == {"ayesha@example.com", "ali@example.ir"}
    ayesha, ali = certificates["ayesha@example.com"], certificates["ali@example.ir"]
    assert (ayesha.full_name, ayesha.minutes, ayesha.language) == ("Ayesha Khan", 100, "en")
    assert (ali.full_name, ali.minutes, ali.language) == ("علی رضایی", 95, "fa")
    assert ayesha.program_title == "Lithium-ion basics" and ayesha.organiser_name == "ECOSF Training Centre"
    assert ayesha.first_day == ayesha.last_day
    assert ayesha.code != ali.code and len(ayesha.code) == 16
    emails = _certificate_emails(app)
    assert sorted(r for r, _ in emails) == ["ali@example.ir", "ayesha@example.com"]
    assert {k for _, k in emails} == {f"certificate:{ayesha.id}", f"certificate:{ali.id}"}
    with app.app_context():
        audit = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "certificates.issued"))
        assert audit is not None and audit.details == {"count": 2} and audit.program_id == program_id

    # Sending again issues nothing new and changes no code.
    again = client.get(f"/organiser/programs/{program_id}/certificates/send", follow_redirects=True)
    assert "Everyone who attended has a certificate already: nothing was sent." in _text(again)
    with app.app_context():
        assert issue_certificates(program_id, actor=Actor.system()) == 0
    assert {e: c.code for e, c in _certificates(app).items()} == {e: c.code for e, c in certificates.items()}
    assert len(_certificate_emails(app)) == 2


def test_a_later_send_after_more_attendance_issues_only_the_new_ones(
    app: Flask, make_program: Callable[..., int]
) -> None:
    program_id, _tokens = _program(app, make_program)
    with app.app_context():
        assert issue_certificates(program_id, actor=Actor.system()) == 2
        before = {c.registration_id: c.code for c in db.session.scalars(select(Certificate))}
        # A participant report uploaded later gives Li Wei the minutes they lacked.
        li = db.session.scalar(select(Registration).where(Registration.email == "li@example.cn"))
        from webapp.models import Attendance

        db.session.execute(update(Attendance).where(Attendance.registration_id == li.id).values(minutes=110))
        db.session.commit()
    client = sign_in(app, admin=True)
    page = _text(client.get(f"/organiser/programs/{program_id}/"))
    assert "3 confirmed registrants attended." in page and "2 certificates issued so far." in page
    assert "1 registrant who attended has no certificate yet." in page
    confirm = client.get(f"/organiser/programs/{program_id}/certificates/send")
    assert "Send 1 certificate" in _text(confirm)
    sent = client.post(
        f"/organiser/programs/{program_id}/certificates/send",
        data={"csrf_token": csrf_token(confirm.get_data(as_text=True))},
        follow_redirects=True,
    )
    assert "1 certificate issued. Its email is on its way." in _text(sent)
    with app.app_context():
        after = {c.registration_id: c.code for c in db.session.scalars(select(Certificate))}
    assert len(after) == 3 and all(after[k] == v for k, v in before.items())
    assert sorted(r for r, _ in _certificate_emails(app)) == ["ali@example.ir", "ayesha@example.com", "li@example.cn"]


def test_cancelled_registrants_and_programs_get_none(app: Flask, make_program: Callable[..., int]) -> None:
    program_id, _tokens = _program(app, make_program)
    with app.app_context():
        ali = db.session.scalar(select(Registration.id).where(Registration.email == "ali@example.ir"))
        apply_action(program_id, [ali], "cancel", actor=Actor.system())
        assert issue_certificates(program_id, actor=Actor.system()) == 1  # Ayesha only
    other_id, _ = _program(app, make_program, slug="second-run")
    client = sign_in(app, admin=True)
    token = csrf_token(client.get(f"/organiser/programs/{other_id}/").get_data(as_text=True))
    client.post(
        f"/organiser/programs/{other_id}/status", data={"csrf_token": token, "status": "cancelled", "confirm": "1"}
    )
    page = _text(client.get(f"/organiser/programs/{other_id}/"))
    assert "The program is cancelled: no certificates can be sent." in page
    refused = client.post(
        f"/organiser/programs/{other_id}/certificates/send", data={"csrf_token": token}, follow_redirects=True
    )
    assert refused.status_code == 200 and "The program is cancelled: no certificates can be sent." in _text(refused)
    preview = client.get(f"/organiser/programs/{other_id}/certificates/preview.pdf", follow_redirects=True)
    assert preview.status_code == 200 and "The program is cancelled" in _text(preview)
    assert len(_certificates(app)) == 1


def test_another_organisers_program_answers_404(app: Flask, make_program: Callable[..., int]) -> None:
    from webapp.services.access import assign_program
    from webapp.services.organisers import create_organiser

    program_id, _tokens = _program(app, make_program)
    mine = make_program(slug="mine", certificates=True)
    client = sign_in(app, "someone@example.org")
    with app.app_context():
        from webapp.models import Organiser

        organiser = db.session.scalar(select(Organiser).where(Organiser.email == "someone@example.org"))
        assign_program(organiser, db.session.get(Program, mine))
    del create_organiser
    token = csrf_token(client.get(f"/organiser/programs/{mine}/").get_data(as_text=True))
    for response in (
        client.get(f"/organiser/programs/{program_id}/certificates/send"),
        client.post(f"/organiser/programs/{program_id}/certificates/send", data={"csrf_token": token}),
        client.get(f"/organiser/programs/{program_id}/certificates/preview.pdf"),
        client.get(f"/organiser/programs/{2**31 - 1}/certificates/send"),
        client.get(f"/organiser/programs/{2**40}/certificates/send"),
    ):
        assert response.status_code == 404 and "Page not found" in _text(response)
    assert _certificates(app) == {}
    # Signed out: to the sign-in page.
    anonymous = app.test_client().get(f"/organiser/programs/{program_id}/certificates/send")
    assert anonymous.status_code == 302 and "/organiser/login" in anonymous.headers["Location"]


# --- the verification page ------------------------------------------------------------


def test_verify_shows_what_the_certificate_says_and_nothing_else(app: Flask, make_program: Callable[..., int]) -> None:
    program_id, _tokens = _program(app, make_program)
    with app.app_context():
        issue_certificates(program_id, actor=Actor.system())
    ali = _certificates(app)["ali@example.ir"]
    client = app.test_client()
    response = client.get(f"/verify/{format_code(ali.code)}?lang=en")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    text = _text(response)
    assert '<meta name="robots" content="noindex">' in page and response.headers["X-Robots-Tag"] == "noindex"
    assert "Valid certificate" in text and "Certificate of attendance" in text
    assert "Name علی رضایی" in text and "<bdi>علی رضایی</bdi>" in page
    assert "Program Lithium-ion basics" in text
    assert "Organiser ECOSF Training Centre" in text
    assert "Time attended 1 hour, 35 minutes" in text
    assert f"Date {ali.first_day.strftime('%B')} {ali.first_day.day}, {ali.first_day.year}" in text
    for private in ("ali@example.ir", "Lahore Battery Works", "Founder", "Pakistan", "PK", "Asia/Karachi"):
        assert private not in page, private
    # In Persian, with Persian digits.
    fa = _text(client.get(f"/verify/{format_code(ali.code)}?lang=fa"))
    assert "گواهی معتبر" in fa and "۱ ساعت و ۳۵ دقیقه" in fa


@pytest.mark.parametrize(
    "variant",
    [
        lambda code: format_code(code).lower(),
        lambda code: " ".join(format_code(code).split("-")),
        lambda code: code.replace("0", "O").replace("1", "I"),
    ],
)
def test_the_form_takes_a_code_as_people_type_it(
    app: Flask, make_program: Callable[..., int], variant: Callable[[str], str]
) -> None:
    program_id, _tokens = _program(app, make_program)
    with app.app_context():
        issue_certificates(program_id, actor=Actor.system())
    code = _certificates(app)["ayesha@example.com"].code
    client = app.test_client()
    form = _text(client.get("/verify"))
    assert "Type the code printed on a certificate of attendance" in form
    response = client.get("/verify", query_string={"code": variant(code)})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/verify/{format_code(code)}")
    assert "Ayesha Khan" in _text(client.get(response.headers["Location"]))
    # Typed straight into the address, as it is: the same certificate.
    assert "Ayesha Khan" in _text(client.get(f"/verify/{variant(code)}"))


HOSTILE = [
    "/verify/7KQ2-M9XD-4TWP-HC3R",  # well formed, issued to nobody
    "/verify/0000-0000-0000-0000",  # the preview's code
    "/verify/abc",
    "/verify/%00",
    "/verify/7KQ2-M9XD-4TWP-HC3R%00",
    "/verify/" + "7" * 10_000,
    "/verify/%E2%80%AE%F0%9F%98%80%D8%B9%D9%84%DB%8C",
    "/verify/a/b/../c",
    "/verify/%27%3B%20DROP%20TABLE%20certificates%3B--",
    "/verify?code=abc",
    "/verify?code=%00",
    "/verify?code=" + "x" * 10_000,
    "/verify?code=%EF%BF%BF%ED%9F%BF",
]


def test_unknown_or_hostile_codes_get_the_same_neutral_404(app: Flask, make_program: Callable[..., int]) -> None:
    program_id, _tokens = _program(app, make_program)
    with app.app_context():
        issue_certificates(program_id, actor=Actor.system())
    client = app.test_client()
    bodies = set()
    for url in HOSTILE:
        response = client.get(url)
        assert response.status_code == 404, url
        bodies.add(response.get_data())
    assert len(bodies) == 1
    text = _text(client.get(HOSTILE[0]))
    assert "No certificate has this code" in text
    assert "7KQ2" not in text and "Ayesha" not in text and "Lithium" not in text


def test_verification_is_rate_limited(
    pg_url: str, redis_url: str, smtp: SMTPServer, tmp_path: Path, make_program: Callable[..., int]
) -> None:
    flush_redis(redis_url)
    app = create_app(
        "testing",
        **app_settings(pg_url, redis_url, smtp, tmp_path)
        | {"RATELIMIT_ENABLED": True, "VERIFY_RATE_LIMIT": "3 per minute"},
    )
    try:
        client = app.test_client()
        codes = [client.get(f"/verify/0000-0000-0000-000{i}").status_code for i in range(3)]
        codes.append(client.get("/verify?code=0000-0000-0000-0009").status_code)
        assert codes == [404, 404, 404, 429]
        assert client.get("/verify/0000-0000-0000-0000").status_code == 429
    finally:
        with app.app_context():
            db.engine.dispose()


# --- the self-service page ------------------------------------------------------------


def test_the_self_service_page_offers_the_certificate_only_once_issued(
    app: Flask, make_program: Callable[..., int]
) -> None:
    program_id, tokens = _program(app, make_program)
    client = app.test_client()
    ayesha = tokens["ayesha@example.com"]
    page = _text(client.get(f"/r/{ayesha}"))
    assert "Download your certificate (PDF)" not in page
    assert client.get(f"/r/{ayesha}/certificate.pdf").status_code == 404
    with app.app_context():
        issue_certificates(program_id, actor=Actor.system())
    page = client.get(f"/r/{ayesha}").get_data(as_text=True)
    code = format_code(_certificates(app)["ayesha@example.com"].code)
    assert "Download your certificate (PDF)" in page and f'href="/r/{ayesha}/certificate.pdf"' in page
    assert code in page
    # Li Wei did not attend enough: no link, and their token reaches no certificate.
    li = tokens["li@example.cn"]
    assert "Download your certificate" not in _text(client.get(f"/r/{li}"))
    assert client.get(f"/r/{li}/certificate.pdf").status_code == 404
    # A token that is not one, or someone's with a character changed.
    assert client.get(f"/r/{ayesha[:-1]}x/certificate.pdf").status_code == 404
    assert client.get("/r/nothing/certificate.pdf").status_code == 404
