"""The form's time zones: a short list (the program's zone, the reader's, the common
ones) and "Other time zone", which reaches every zone with or without script."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.functional.helpers import csrf_token, form_values
from webapp.extensions import db
from webapp.models import Registration
from webapp.services.times import all_timezones

FORM = "/programs/li-ion-basics/register"
_SELECT = re.compile(r'<select[^>]*name="timezone"[^>]*>(.*?)</select>', re.DOTALL)
_OPTION = re.compile(r'<option(?P<selected> selected)? value="(?P<value>[^"]*)"[^>]*>(?P<label>[^<]*)</option>')


def _zones(page: str) -> tuple[list[tuple[str, str]], str | None]:
    """(value, label) of each time-zone option, and the chosen value."""
    match = _SELECT.search(page)
    assert match, "no time-zone list on the page"
    options = list(_OPTION.finditer(match.group(1)))
    chosen = [m["value"] for m in options if m["selected"]]
    return [(m["value"], html.unescape(m["label"])) for m in options], (chosen[0] if chosen else None)


def test_the_form_offers_a_short_list_with_the_programs_zone_chosen(
    client: FlaskClient, make_program: Callable[..., int]
) -> None:
    make_program(timezone="Asia/Karachi")
    options, chosen = _zones(client.get(FORM).get_data(as_text=True))
    values = [value for value, _ in options]
    assert chosen == "Asia/Karachi"
    assert options[0] == ("Asia/Karachi", "Pakistan Time (Asia/Karachi)")
    assert ("Europe/Istanbul", "GMT+3 (Europe/Istanbul)") in options  # CLDR names no zone for it
    assert ("UTC", "UTC") in options
    assert "Asia/Shanghai" in values and "Asia/Tehran" in values
    assert options[-1] == ("other", "Other time zone…")
    assert len(options) < 40 and "America/Sao_Paulo" not in values
    # In the reader's language too.
    options, _ = _zones(client.get(f"{FORM}?lang=ru").get_data(as_text=True))
    assert options[-1] == ("other", "Другой часовой пояс…")


def test_the_readers_zone_from_the_scripts_cookie_is_listed_and_chosen(
    client: FlaskClient, make_program: Callable[..., int]
) -> None:
    make_program(timezone="Asia/Karachi")
    client.set_cookie("rollcall_tz", "America/Sao_Paulo")
    options, chosen = _zones(client.get(FORM).get_data(as_text=True))
    assert chosen == "America/Sao_Paulo"
    assert [value for value, _ in options][:2] == ["Asia/Karachi", "America/Sao_Paulo"]
    # Anything that is not a zone is ignored.
    client.set_cookie("rollcall_tz", "Mars/Olympus_Mons<script>")
    options, chosen = _zones(client.get(FORM).get_data(as_text=True))
    assert chosen == "Asia/Karachi" and "Mars" not in str(options)


def test_every_zone_is_one_link_away_and_any_of_them_registers(
    app: Flask, client: FlaskClient, make_program: Callable[..., int]
) -> None:
    make_program(timezone="Asia/Karachi")
    page = client.get(f"{FORM}?all_zones=1").get_data(as_text=True)
    options, chosen = _zones(page)
    assert [value for value, _ in options] == list(all_timezones())
    assert chosen == "Asia/Karachi"
    data = form_values(timezone="America/Argentina/Ushuaia", csrf_token=csrf_token(page))
    assert client.post(FORM, data=data).status_code == 303
    with app.app_context():
        assert db.session.scalars(select(Registration.timezone)).one() == "America/Argentina/Ushuaia"


def test_other_without_script_shows_every_zone_and_keeps_what_was_typed(
    app: Flask, client: FlaskClient, make_program: Callable[..., int]
) -> None:
    make_program(timezone="Asia/Karachi")
    token = csrf_token(client.get(FORM).get_data(as_text=True))
    data = form_values(timezone="other", full_name="Beatriz Souza", email="beatriz@example.com", csrf_token=token)
    response = client.post(FORM, data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Please choose your time zone from the full list." in page
    options, chosen = _zones(page)
    assert len(options) == len(all_timezones()) and ("other", "Other time zone…") not in options
    assert chosen == "Asia/Karachi"  # the program's, not the list's first
    assert 'value="Beatriz Souza"' in page and 'value="beatriz@example.com"' in page
    with app.app_context():
        assert db.session.scalars(select(Registration)).first() is None
    # Choosing from that list registers.
    data |= {"timezone": "America/Sao_Paulo", "csrf_token": csrf_token(page)}
    assert client.post(FORM, data=data).status_code == 303
