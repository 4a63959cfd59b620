"""The organiser's attendee list: access, search and filters, actions, adding by hand,
exports."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import select

from tests.conftest import registration_input
from tests.functional.helpers import csrf_token, sign_in
from webapp.extensions import db
from webapp.models import AuditEntry, Email, Organiser, Program, Registration
from webapp.services.access import assign_program
from webapp.services.audit import Actor
from webapp.services.registrations import register_participant


def _assign(app: Flask, email: str, program_id: int) -> None:
    with app.app_context():
        organiser = db.session.scalar(select(Organiser).where(Organiser.email == email))
        assign_program(organiser, db.session.get(Program, program_id))


def _register(app: Flask, program_id: int, count: int, **overrides: object) -> list[int]:
    with app.app_context():
        return [
            register_participant(
                program_id,
                registration_input(email=f"p{i}@example.com", full_name=f"Person {i:02d}", **overrides),
                actor=Actor.participant(),
            ).registration_id
            for i in range(count)
        ]


def _statuses(app: Flask) -> dict[str, str]:
    with app.app_context():
        return dict(db.session.execute(select(Registration.email, Registration.status)).tuples().all())


@pytest.fixture
def program_id(make_program: Callable[..., int]) -> int:
    return make_program(capacity=2, waitlist=True)


def test_another_organisers_program_is_404_everywhere(app: Flask, program_id: int) -> None:
    [registration_id] = _register(app, program_id, 1)
    stranger = sign_in(app, "stranger@example.org")
    base = f"/organiser/programs/{program_id}"
    for url in (
        f"{base}/attendees",
        f"{base}/attendees/{registration_id}",
        f"{base}/attendees/new",
        f"{base}/attendees.csv",
        f"{base}/attendees.xlsx",
    ):
        assert stranger.get(url).status_code == 404, url
    page = stranger.get("/organiser/").get_data(as_text=True)
    assert "Lithium-ion basics" not in page
    token = csrf_token(page)
    response = stranger.post(
        f"{base}/attendees/actions", data={"csrf_token": token, "action": "cancel", "ids": [registration_id]}
    )
    assert response.status_code == 404
    assert _statuses(app)["p0@example.com"] == "confirmed"
    _assign(app, "stranger@example.org", program_id)
    assert stranger.get(f"{base}/attendees").status_code == 200


def test_admin_sees_every_program(app: Flask, program_id: int) -> None:
    admin = sign_in(app, "boss@example.org", admin=True)
    assert admin.get(f"/organiser/programs/{program_id}/attendees").status_code == 200
    assert "Lithium-ion basics" in admin.get("/organiser/").get_data(as_text=True)


def test_search_filter_sort_and_tabs(app: Flask, program_id: int) -> None:
    _register(app, program_id, 5)
    with app.app_context():
        register_participant(
            program_id,
            registration_input(email="zhang@example.cn", full_name="Zhang Wei", country="CN", organisation="CATL"),
            actor=Actor.participant(),
        )
    client = sign_in(app, "boss@example.org", admin=True)
    url = f"/organiser/programs/{program_id}/attendees"
    page = client.get(url).get_data(as_text=True)
    assert "Confirmed (2)" in page and "Waiting list (4)" in page and "All (6)" in page
    found = client.get(url, query_string={"q": "catl"}).get_data(as_text=True)
    assert "Zhang Wei" in found and "Person 00" not in found
    assert "Zhang Wei" in client.get(url, query_string={"country": "cn"}).get_data(as_text=True)
    waiting = client.get(url, query_string={"status": "waitlisted"}).get_data(as_text=True)
    assert "Person 00" not in waiting and "Zhang Wei" in waiting
    by_name = client.get(url, query_string={"sort": "name", "dir": "asc"}).get_data(as_text=True)
    assert by_name.index("Person 00") < by_name.index("Person 04") < by_name.index("Zhang Wei")
    # A malformed bookmark shows the list rather than an error.
    assert (
        client.get(url, query_string={"registered_from": "yesterday", "page": "x", "sort": "evil"}).status_code == 200
    )
    # LIKE wildcards typed in the search are matched literally, not as "anything".
    assert "Nobody matches this filter." in client.get(url, query_string={"q": "%_\\"}).get_data(as_text=True)


# (name, email, organisation) of the people `test_search_semantics` looks for.
SEARCHED_PEOPLE = [
    ("Amir Khan", "Amir.Khan@Example.ORG", "Lahore Battery Works"),
    ("Zhang Wei", "zhang.wei@example.cn", "CATL"),
    ("张伟明", "zwm@example.cn", "宁德时代新能源"),
    ("محمد رضایی", "m.rezaei@example.ir", "دانشگاه تهران"),
    ("Пётр ИВАНОВ", "petr@example.ru", "ООО Энергия"),
    ("Çağla Öztürk", "cagla@example.com.tr", "ASELSAN"),
    ("Ana 100% Pure_Energy", "under_score@example.org", "Back\\slash Labs"),
]


# What a search finds among `SEARCHED_PEOPLE`, by name.
SEARCHES: list[tuple[str, set[str]]] = [
    # Any part of the name, the address or the organisation, in any case.
    ("khan", {"Amir Khan"}),
    ("  KHAN ", {"Amir Khan"}),
    ("amir khan", {"Amir Khan"}),
    ("EXAMPLE.ORG", {"Amir Khan", "Ana 100% Pure_Energy"}),
    ("@example.cn", {"Zhang Wei", "张伟明"}),
    ("battery", {"Amir Khan"}),
    # Case folding beyond ASCII: Cyrillic, Turkish letters; typed decomposed (NFD).
    ("иванов", {"Пётр ИВАНОВ"}),
    ("ПЁТР", {"Пётр ИВАНОВ"}),
    ("энергия", {"Пётр ИВАНОВ"}),
    ("ÇAĞLA", {"Çağla Öztürk"}),
    ("o\u0308ztu\u0308rk", {"Çağla Öztürk"}),
    # Scripts without case: Persian, Chinese.
    ("رضایی", {"محمد رضایی"}),
    ("تهران", {"محمد رضایی"}),
    ("宁德时代", {"张伟明"}),
    # One or two characters have no trigram for PostgreSQL's index to look up: the same answers.
    ("张伟", {"张伟明"}),
    ("伟", {"张伟明"}),
    ("ha", {"Amir Khan", "Zhang Wei"}),
    ("zz", set()),
    # LIKE's wildcards and escape character are only themselves.
    ("%", {"Ana 100% Pure_Energy"}),
    ("0% P", {"Ana 100% Pure_Energy"}),
    ("_", {"Ana 100% Pure_Energy"}),
    ("under_", {"Ana 100% Pure_Energy"}),
    ("\\", {"Ana 100% Pure_Energy"}),
    ("k\\s", {"Ana 100% Pure_Energy"}),
    ("%_\\", set()),
    ("nobody", set()),
]


def test_search_semantics(app: Flask, make_program: Callable[..., int]) -> None:
    program_id = make_program()
    names: dict[int, str] = {}
    with app.app_context():
        for name, email, organisation in SEARCHED_PEOPLE:
            registration = register_participant(
                program_id,
                registration_input(full_name=name, email=email, organisation=organisation),
                actor=Actor.participant(),
            )
            names[registration.registration_id] = name
    client = sign_in(app, "boss@example.org", admin=True)
    for q, found in SEARCHES:
        page = client.get(f"/organiser/programs/{program_id}/attendees", query_string={"q": q}).get_data(as_text=True)
        shown = {names[int(i)] for i in re.findall(r'name="ids" value="(\d+)"', page)}
        assert shown == found, q
        if found:
            assert f"All ({len(found)})" in page, q
            assert all(name in page for name in found), q
        else:
            assert "Nobody matches this filter." in page, q


def test_pagination(app: Flask, make_program: Callable[..., int]) -> None:
    program_id = make_program()
    _register(app, program_id, 12)
    client = sign_in(app, "boss@example.org", admin=True)
    page = client.get(f"/organiser/programs/{program_id}/attendees?per_page=10&page=2").get_data(as_text=True)
    assert "Page 1 of 1" in page  # per_page is not taken from the URL; 50 per page
    assert page.count('name="ids"') == 12


def _act(
    client: FlaskClient, program_id: int, action: str, ids: list[int], scope: str = "selected", filter: str = ""
) -> str:
    url = f"/organiser/programs/{program_id}/attendees"
    token = csrf_token(client.get(url).get_data(as_text=True))
    response = client.post(
        f"{url}/actions", data={"csrf_token": token, "action": action, "ids": ids, "scope": scope, "filter": filter}
    )
    assert response.status_code == 303
    return client.get(response.headers["Location"]).get_data(as_text=True)


def test_cancel_promotes_from_the_waitlist_and_is_audited(app: Flask, program_id: int) -> None:
    ids = _register(app, program_id, 4)
    client = sign_in(app, "boss@example.org", admin=True)
    page = _act(client, program_id, "cancel", [ids[0]])
    assert "1 changed" in page and "1 moved up from the waiting list" in page
    assert _statuses(app) == {
        "p0@example.com": "cancelled",
        "p1@example.com": "confirmed",
        "p2@example.com": "confirmed",
        "p3@example.com": "waitlisted",
    }
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "registration.cancel"))
        assert entry.organiser.name == "Boss" and entry.registration_id == ids[0]
        kinds = [k for (k,) in db.session.execute(select(Email.kind).order_by(Email.id)).all()][-2:]
        assert kinds == ["cancelled", "confirmation"]
    detail = client.get(f"/organiser/programs/{program_id}/attendees/{ids[0]}").get_data(as_text=True)
    assert "Cancelled — Boss" in detail and "registration.cancel" not in detail


def test_approve_obeys_capacity(app: Flask, make_program: Callable[..., int]) -> None:
    program_id = make_program(capacity=1, approval_required=True)
    ids = _register(app, program_id, 3)
    client = sign_in(app, "boss@example.org", admin=True)
    _act(client, program_id, "approve", ids)
    assert sorted(_statuses(app).values()) == ["confirmed", "waitlisted", "waitlisted"]
    page = _act(client, program_id, "promote", ids)
    assert "2 could not move up: no seats left." in page


def test_bulk_action_on_everyone_matching_the_filter(app: Flask, make_program: Callable[..., int]) -> None:
    program_id = make_program()
    _register(app, program_id, 3)
    with app.app_context():
        register_participant(
            program_id, registration_input(email="keep@example.org", country="FR"), actor=Actor.participant()
        )
    client = sign_in(app, "boss@example.org", admin=True)
    page = _act(client, program_id, "mark_attended", [], scope="matching", filter="country=PK")
    assert "3 changed" in page
    with app.app_context():
        attended = set(db.session.scalars(select(Registration.email).where(Registration.attended_at.is_not(None))))
    assert attended == {"p0@example.com", "p1@example.com", "p2@example.com"}
    url = f"/organiser/programs/{program_id}/attendees"
    assert "keep@example.org" in client.get(url, query_string={"attended": "no"}).get_data(as_text=True)


def test_resend_writes_a_new_email(app: Flask, make_program: Callable[..., int]) -> None:
    program_id = make_program()
    ids = _register(app, program_id, 1)
    client = sign_in(app, "boss@example.org", admin=True)
    _act(client, program_id, "resend", ids)
    _act(client, program_id, "resend", ids)
    with app.app_context():
        assert list(db.session.scalars(select(Email.kind).order_by(Email.id))) == ["confirmation"] * 3


def test_actions_need_the_csrf_token(app: Flask, program_id: int) -> None:
    ids = _register(app, program_id, 1)
    client = sign_in(app, "boss@example.org", admin=True)
    response = client.post(f"/organiser/programs/{program_id}/attendees/actions", data={"action": "cancel", "ids": ids})
    assert response.status_code == 400
    assert _statuses(app)["p0@example.com"] == "confirmed"


def test_add_registrant_bypasses_deadline_not_capacity(app: Flask, make_program: Callable[..., int]) -> None:
    program_id = make_program(capacity=1, waitlist=False, status="closed")
    client = sign_in(app, "boss@example.org", admin=True)
    url = f"/organiser/programs/{program_id}/attendees/new"

    def add(email: str, **extra: str) -> FlaskClient:
        token = csrf_token(client.get(url).get_data(as_text=True))
        data = {
            "csrf_token": token,
            "full_name": "VIP Guest",
            "email": email,
            "country": "PK",
            "language": "en",
            "timezone": "Asia/Karachi",
        }
        return client.post(url, data=data | extra)

    assert add("vip1@example.org").status_code == 303  # closed for the public, open to organisers
    full = add("vip2@example.org")
    assert full.status_code == 200 and "The program is full" in full.get_data(as_text=True)
    assert add("vip2@example.org", beyond_capacity="y").status_code == 303
    again = add("VIP1@example.org").get_data(as_text=True)
    assert "This email address is registered already." in again
    assert _statuses(app) == {"vip1@example.org": "confirmed", "vip2@example.org": "confirmed"}


def test_exports_csv_and_xlsx_neutralise_formulas(app: Flask, make_program: Callable[..., int]) -> None:
    program_id = make_program()
    with app.app_context():
        for i, name in enumerate(['=HYPERLINK("http://evil")', "+1+1", "-2", "@SUM(A1)", "Zoë Ålström"]):
            register_participant(
                program_id, registration_input(email=f"x{i}@example.com", full_name=name), actor=Actor.participant()
            )
    client = sign_in(app, "boss@example.org", admin=True)
    response = client.get(f"/organiser/programs/{program_id}/attendees.csv?sort=email&dir=asc")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:3] == ["Name", "Email", "Country"]
    names = [r[0] for r in rows[1:]]
    assert names == ['\'=HYPERLINK("http://evil")', "'+1+1", "'-2", "'@SUM(A1)", "Zoë Ålström"]
    filtered = client.get(f"/organiser/programs/{program_id}/attendees.csv?q=zo")
    assert len(list(csv.reader(io.StringIO(filtered.get_data(as_text=True))))) == 2

    response = client.get(f"/organiser/programs/{program_id}/attendees.xlsx?sort=email&dir=asc")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data), read_only=True).active
    values = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert values[0][0] == "Name"
    assert [r[0] for r in values[1:]] == names


def test_program_overview_counts_chart_countries_and_email_health(app: Flask, program_id: int, smtp: object) -> None:
    _register(app, program_id, 3)
    with app.app_context():
        register_participant(
            program_id, registration_input(email="cn@example.cn", country="CN"), actor=Actor.participant()
        )
    client = sign_in(app, "boss@example.org", admin=True)
    page = client.get(f"/organiser/programs/{program_id}/").get_data(as_text=True)
    assert "<svg" in page and "<rect" in page  # registrations per day, drawn without script
    assert "Pakistan" in page and "China" in page
    assert "0 sent, 4 waiting, 0 failed" in page
    assert "The oldest waiting email was written" in page
    stranger = sign_in(app, "stranger@example.org")
    assert stranger.get(f"/organiser/programs/{program_id}/").status_code == 404
