"""Creating, editing, publishing, cancelling, previewing and duplicating programs in the
organiser console."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.conftest import registration_input
from tests.functional.helpers import csrf_token, sign_in
from webapp.extensions import db
from webapp.models import AuditEntry, Email, Organiser, Program, ProgramSession
from webapp.services.audit import Actor
from webapp.services.registrations import register_participant

KARACHI = ZoneInfo("Asia/Karachi")


def _sign_in(app: Flask, email: str = "staff@example.org", admin: bool = False) -> FlaskClient:
    return sign_in(app, email, admin=admin, name="Staff")


def _local(value: datetime) -> str:
    return value.astimezone(KARACHI).strftime("%Y-%m-%dT%H:%M")


def _form(token: str, starts: datetime, **overrides: str) -> dict[str, str]:
    data = {
        "csrf_token": token,
        "title": "Grid storage basics",
        "slug": "grid-storage",
        "summary": "Two evenings on storage.",
        "description": "## Topics\n- peak shaving",
        "organiser": "BTBU-ECOSF Joint Training Center",
        "timezone": "Asia/Karachi",
        "registration_deadline": _local(starts - timedelta(days=2)),
        "capacity": "100",
        "waitlist": "y",
        "reminders": "24h, 1h",
        "sessions-0-title": "Evening 1",
        "sessions-0-starts_at": _local(starts),
        "sessions-0-ends_at": _local(starts + timedelta(hours=2)),
        "sessions-0-join_url": "https://zoom.us/j/111",
        "sessions-0-passcode": "abc",
        "save": "1",
    }
    data.update(overrides)
    return data


def test_create_with_sessions_then_publish(app: Flask) -> None:
    client = _sign_in(app)
    starts = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=10)
    page = client.get("/organiser/programs/new").get_data(as_text=True)
    token = csrf_token(page)
    more = client.post("/organiser/programs/new", data=_form(token, starts, save="", add_session="1"))
    assert "Session 2" in more.get_data(as_text=True) and 'value="Grid storage basics"' in more.get_data(as_text=True)
    second = starts + timedelta(days=1)
    data = _form(
        token,
        starts,
        **{
            "sessions-1-title": "Evening 2",
            "sessions-1-starts_at": _local(second),
            "sessions-1-ends_at": _local(second + timedelta(hours=2)),
            "sessions-1-join_url": "https://zoom.us/j/222",
        },
    )
    response = client.post("/organiser/programs/new", data=data)
    assert response.status_code == 303
    with app.app_context():
        program = db.session.scalar(select(Program))
        assert program.status == "draft" and program.capacity == 100 and program.reminder_minutes == [1440, 60]
        assert [s.title for s in program.sessions] == ["Evening 1", "Evening 2"]
        assert program.sessions[0].starts_at == starts  # typed in Karachi time, stored in UTC
        assert [o.email for o in program.organisers] == ["staff@example.org"]  # the creator manages it
        program_id = program.id
    assert app.test_client().get("/programs/grid-storage").status_code == 404  # drafts are not public
    preview = client.get(f"/organiser/programs/{program_id}/preview").get_data(as_text=True)
    assert "Preview: this is how the public page looks" in preview and "Evening 2" in preview
    overview = client.get(f"/organiser/programs/{program_id}/").get_data(as_text=True)
    client.post(
        f"/organiser/programs/{program_id}/status", data={"csrf_token": csrf_token(overview), "status": "published"}
    )
    assert app.test_client().get("/programs/grid-storage").status_code == 200


def test_problems_appear_next_to_their_fields_and_values_stay(app: Flask) -> None:
    client = _sign_in(app)
    starts = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=10)
    token = csrf_token(client.get("/organiser/programs/new").get_data(as_text=True))
    data = _form(
        token,
        starts,
        registration_deadline=_local(starts + timedelta(days=1)),
        **{"sessions-0-ends_at": _local(starts - timedelta(hours=1)), "slug": "Bad Slug"},
    )
    page = client.post("/organiser/programs/new", data=data).get_data(as_text=True)
    assert 'id="registration_deadline-error">Must not be after the first session starts.' in page
    assert 'id="sessions-0-ends_at-error">Must be after starts_at.' in page
    assert 'id="slug-error">' in page
    assert 'value="Grid storage basics"' in page
    with app.app_context():
        assert db.session.scalar(select(Program.id)) is None


def test_editing_a_link_emails_confirmed_registrants(app: Flask, make_program: Callable[..., int]) -> None:
    program_id = make_program(capacity=5)
    with app.app_context():
        register_participant(program_id, registration_input(), actor=Actor.participant())
    client = _sign_in(app, admin=True)
    page = client.get(f"/organiser/programs/{program_id}/edit").get_data(as_text=True)
    assert 'value="https://zoom.us/j/81234567890"' in page
    import re

    fields = dict(re.findall(r'name="([^"]+)"[^>]*value="([^"]*)"', page))
    fields["sessions-0-join_url"] = "https://zoom.us/j/999"
    fields["save"] = "1"
    fields.pop("sessions-0-remove", None)
    for button in ("add_session", "add_question"):  # buttons that were not pressed
        fields.pop(button, None)
    fields["description"] = "## Topics"
    fields["waitlist"] = ""
    response = client.post(f"/organiser/programs/{program_id}/edit", data={k: v for k, v in fields.items() if v})
    assert response.status_code == 303, response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(ProgramSession.join_url)) == "https://zoom.us/j/999"
        kinds = list(db.session.scalars(select(Email.kind).order_by(Email.id)))
    assert kinds == ["confirmation", "session_updated"]


def test_cancelling_needs_confirmation_and_emails_everyone(app: Flask, make_program: Callable[..., int]) -> None:
    program_id = make_program()
    with app.app_context():
        register_participant(program_id, registration_input(), actor=Actor.participant())
    client = _sign_in(app, admin=True)
    token = csrf_token(client.get(f"/organiser/programs/{program_id}/").get_data(as_text=True))
    url = f"/organiser/programs/{program_id}/status"
    page = client.get(client.post(url, data={"csrf_token": token, "status": "cancelled"}).headers["Location"])
    assert "Tick the box to confirm" in page.get_data(as_text=True)
    client.post(url, data={"csrf_token": token, "status": "cancelled", "confirm": "1"})
    with app.app_context():
        assert db.session.scalar(select(Program.status)) == "cancelled"
        assert "program_cancelled" in set(db.session.scalars(select(Email.kind)))


def test_run_it_again_moves_every_date(app: Flask, make_program: Callable[..., int]) -> None:
    program_id = make_program()
    client = _sign_in(app, admin=True)
    page = client.get(f"/organiser/programs/{program_id}/duplicate").get_data(as_text=True)
    with app.app_context():
        original = db.session.get(Program, program_id)
        first, deadline = original.first_start, original.registration_deadline
    new_start = (first + timedelta(days=30)).replace(second=0, microsecond=0)
    response = client.post(
        f"/organiser/programs/{program_id}/duplicate",
        data={"csrf_token": csrf_token(page), "slug": "li-ion-basics-2", "first_start": _local(new_start)},
    )
    assert response.status_code == 303
    with app.app_context():
        copy = db.session.scalar(select(Program).where(Program.slug == "li-ion-basics-2"))
        assert copy.status == "draft" and copy.first_start == new_start
        assert copy.registration_deadline - deadline == new_start - first
        assert copy.sessions[0].join_url == "https://zoom.us/j/81234567890"
    taken = client.post(
        f"/organiser/programs/{program_id}/duplicate",
        data={"csrf_token": csrf_token(page), "slug": "li-ion-basics-2", "first_start": _local(new_start)},
    )
    assert "is used by another program" in taken.get_data(as_text=True)


def test_other_organisers_cannot_edit(app: Flask, make_program: Callable[..., int]) -> None:
    program_id = make_program()
    client = _sign_in(app, "other@example.org")
    token = csrf_token(client.get("/organiser/").get_data(as_text=True))
    for url in ("edit", "duplicate", "preview", ""):
        assert client.get(f"/organiser/programs/{program_id}/{url}").status_code == 404, url
    response = client.post(
        f"/organiser/programs/{program_id}/status", data={"csrf_token": token, "status": "cancelled", "confirm": "1"}
    )
    assert response.status_code == 404
    with app.app_context():
        assert db.session.scalar(select(Program.status)) == "published"
        assert db.session.scalar(select(Organiser.id).where(Organiser.email == "other@example.org"))


def test_creating_with_a_slug_in_use_is_refused_and_changes_nothing(
    app: Flask, make_program: Callable[..., int], smtp: object
) -> None:
    """Issue 9.1: "new program" with another organiser's slug once overwrote that program,
    made the creator its organiser and emailed its registrants a new join link."""
    victim_id = make_program(slug="li-ion-basics", title="Lithium-ion basics")
    with app.app_context():
        register_participant(victim_id, registration_input(), actor=Actor.participant())
        before = db.session.get(Program, victim_id)
        before_state = (before.title, [(s.starts_at, s.join_url) for s in before.sessions])
        emails_before = db.session.scalar(select(db.func.count(Email.id)))
    client = _sign_in(app)  # an organiser assigned to nothing
    token = csrf_token(client.get("/organiser/programs/new").get_data(as_text=True))
    starts = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=20)
    response = client.post(
        "/organiser/programs/new",
        data=_form(token, starts, slug="li-ion-basics", **{"sessions-0-join_url": "https://evil.example/j/1"}),
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "&#39;li-ion-basics&#39; is used by another program; choose another web address." in page
    with app.app_context():
        program = db.session.get(Program, victim_id)
        assert (program.title, [(s.starts_at, s.join_url) for s in program.sessions]) == before_state
        assert program.organisers == []
        assert db.session.scalar(select(db.func.count(Program.id))) == 1
        assert db.session.scalar(select(db.func.count(Email.id))) == emails_before
    assert client.get(f"/organiser/programs/{victim_id}/").status_code == 404


def test_the_editor_cannot_take_another_programs_slug(app: Flask, make_program: Callable[..., int]) -> None:
    make_program(slug="taken-slug", title="Someone else's")
    client = _sign_in(app, admin=True)
    token = csrf_token(client.get("/organiser/programs/new").get_data(as_text=True))
    starts = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=20)
    assert client.post("/organiser/programs/new", data=_form(token, starts)).status_code == 303
    with app.app_context():
        mine = db.session.scalar(select(Program).where(Program.slug == "grid-storage"))
        assert [o.email for o in mine.organisers] == ["staff@example.org"]  # assigned in the same commit
        mine_id = mine.id
    response = client.post(f"/organiser/programs/{mine_id}/edit", data=_form(token, starts, slug="taken-slug"))
    assert "is used by another program" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(Program.title).where(Program.slug == "taken-slug")) == "Someone else's"
        assert db.session.get(Program, mine_id).slug == "grid-storage"


def test_a_status_change_changes_only_the_status(app: Flask, make_program: Callable[..., int]) -> None:
    """Issue 10: publishing is an update of the status, not a rewrite of the program (a
    re-import once dropped every session's Zoom meeting id)."""
    from webapp.services.programs import set_program_status

    program_id = make_program(status="draft")
    with app.app_context():
        session = db.session.get(Program, program_id).sessions[0]
        session.zoom_meeting_id = "81234567890"
        db.session.commit()
        before = db.session.get(Program, program_id)
        sequence = before.sessions[0].ics_sequence
        set_program_status(program_id, "published", actor=Actor.system())
        db.session.expire_all()
        after = db.session.get(Program, program_id)
        assert after.status == "published" and after.sessions[0].zoom_meeting_id == "81234567890"
        assert after.sessions[0].ics_sequence == sequence
        actions = list(db.session.scalars(select(AuditEntry.action).where(AuditEntry.program_id == program_id)))
        assert actions[-1] == "program.status" and "program.updated" not in actions


def test_the_editor_names_a_sessions_zoom_meeting_and_keeps_it(app: Flask) -> None:
    """Issue 12: a session's Zoom id and type are editor fields, saved and shown again
    (editing once dropped the id, which the editor did not show)."""
    client = _sign_in(app)
    starts = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=10)
    token = csrf_token(client.get("/organiser/programs/new").get_data(as_text=True))
    data = _form(token, starts, **{"sessions-0-zoom_meeting_id": "81234567890", "sessions-0-zoom_type": "meeting"})
    assert client.post("/organiser/programs/new", data=data).status_code == 303
    with app.app_context():
        session = db.session.scalar(select(ProgramSession))
        assert (session.zoom_meeting_id, session.zoom_type) == ("81234567890", "meeting")
        program_id = session.program_id
    page = client.get(f"/organiser/programs/{program_id}/edit").get_data(as_text=True)
    assert "Zoom webinar or meeting ID" in page and 'value="81234567890"' in page
    assert '<option selected value="meeting">Meeting</option>' in page


def test_the_editor_sets_the_attendance_threshold_and_refuses_one_out_of_range(app: Flask) -> None:
    """Issue 12: the percent of a session that counts as attending it, 75 unless set."""
    client = _sign_in(app)
    starts = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=10)
    page = client.get("/organiser/programs/new").get_data(as_text=True)
    assert "Attendance threshold (percent of the sessions&#39; time)" in page and 'value="75"' in page
    token = csrf_token(page)
    refused = client.post("/organiser/programs/new", data=_form(token, starts, attendance_threshold_percent="150"))
    assert 'id="attendance_threshold_percent-error">Please enter a percentage from 1 to 100.' in refused.get_data(
        as_text=True
    )
    with app.app_context():
        assert db.session.scalar(select(Program.id)) is None
    saved = client.post("/organiser/programs/new", data=_form(token, starts, attendance_threshold_percent="60"))
    assert saved.status_code == 303
    with app.app_context():
        program = db.session.scalar(select(Program))
        assert program.attendance_threshold_percent == 60
        program_id = program.id
    page = client.get(f"/organiser/programs/{program_id}/edit").get_data(as_text=True)
    assert 'name="attendance_threshold_percent"' in page and 'value="60"' in page
