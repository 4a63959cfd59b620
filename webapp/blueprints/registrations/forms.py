"""The public registration form and the cancel confirmation."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any, ClassVar

from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.csrf import generate_csrf, validate_csrf
from markupsafe import Markup, escape
from wtforms import (
    BooleanField,
    EmailField,
    Field,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.csrf.core import CSRF
from wtforms.fields.choices import Choice, SelectChoice
from wtforms.validators import DataRequired, Email, InputRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget, Select, html_params

from webapp.services.locales import LANGUAGES, country_choices, country_codes, language_choices
from webapp.services.registrations import RegistrationInput
from webapp.services.text import multi_line, single_line
from webapp.services.times import all_timezones, known_timezones, zone_label


def _one_line(value: Any) -> Any:
    return single_line(value) if isinstance(value, str) else value


def _several_lines(value: Any) -> Any:
    return multi_line(value) if isinstance(value, str) else value


def _email(value: Any) -> Any:
    return single_line(value) if isinstance(value, str) else value


def deliverable_address(form: Any, field: Field) -> None:
    """After the general check: an address our mail can reach. The part before the @
    must be ASCII (a server without SMTPUTF8, most of them, refuses anything else, and
    the email would fail forever); an internationalised domain is stored in its ASCII
    form (punycode), which every server accepts."""
    if field.errors or not field.data:
        return
    try:
        checked = validate_email(field.data, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise ValidationError(
            _l(
                "We cannot yet send email to an address with accented or non-Latin letters before "
                "the @. Please use another address."
            )
        ) from exc
    address = checked.ascii_email or field.data
    if len(address) > 254:
        raise ValidationError(_l("That email address is too long."))
    field.data = address


class MaxLength(Length):
    """A length limit checked on submission, with its message next to the field, and
    not written into the page as `maxlength`: a browser would cut a pasted name there
    without a word, and the registrant would never know."""

    def __init__(self, max: int, message: Any) -> None:
        super().__init__(max=max, message=message)
        self.field_flags = {}


class ListSelect(Select):
    """A ``<select>`` for a long list that does not change (every country, every time
    zone). WTForms renders each ``<option>`` through its escaping and formatting, and
    with some 850 of them that was most of the form page's time (every registrant loads
    it; see docs/performance.md). Here a list's options are rendered once, in both states, and
    each page only picks the chosen one. Lists must be tuples (immutable) to be reused;
    anything else is rendered the ordinary way."""

    _rendered: ClassVar[dict[int, tuple[tuple[SelectChoice, ...], dict[str, int], list[str], list[str]]]] = {}

    def __call__(self, field: Any, **kwargs: Any) -> Markup:
        choices = field.choices
        if self.multiple or not isinstance(choices, tuple) or not all(type(c) is SelectChoice for c in choices[:1]):
            return super().__call__(field, **kwargs)
        kwargs.setdefault("id", field.id)
        for name in self.validation_attrs:
            if name not in kwargs and getattr(field.flags, name, False):
                kwargs[name] = getattr(field.flags, name)
        index, plain, chosen = self._options(choices)
        options = plain
        selected = index.get(str(field.data)) if field.data is not None else None
        if selected is not None:
            options = [*plain[:selected], chosen[selected], *plain[selected + 1 :]]
        return Markup(f"<select {html_params(name=field.name, **kwargs)}>{''.join(options)}</select>")

    @classmethod
    def _options(cls, choices: tuple[SelectChoice, ...]) -> tuple[dict[str, int], list[str], list[str]]:
        entry = cls._rendered.get(id(choices))
        if entry is None or entry[0] is not choices:
            if len(cls._rendered) >= 256:  # lists are few (one per locale and zone)
                cls._rendered.clear()
            index = {str(c.value): i for i, c in enumerate(choices)}
            plain = [str(Select.render_option(Choice(c.value, c.label, False, c.render_kw))) for c in choices]
            chosen = [str(Select.render_option(Choice(c.value, c.label, True, c.render_kw))) for c in choices]
            entry = cls._rendered[id(choices)] = (choices, index, plain, chosen)
        return entry[1], entry[2], entry[3]


# The choice lists are built once per locale (and zone) and shared by every form; a
# submission never renders them.

# The time zones offered before "Other time zone": where most of Rollcall's audience
# lives (the ECO region, China, Russia and Turkey) and a few hubs elsewhere, west to
# east. With the program's zone and the reader's, they spare every page the other ~480
# options (about 20 KB, and a third of what a browser parses on the form page; see
# docs/performance.md). Every IANA zone is still accepted and reachable.
COMMON_TIMEZONES = (
    "America/Los_Angeles", "America/Chicago", "America/New_York", "UTC", "Europe/London",
    "Europe/Berlin", "Africa/Cairo", "Europe/Istanbul", "Europe/Moscow", "Asia/Riyadh",
    "Asia/Tehran", "Asia/Dubai", "Asia/Baku", "Asia/Kabul", "Asia/Karachi", "Asia/Tashkent",
    "Asia/Dushanbe", "Asia/Ashgabat", "Asia/Kolkata", "Asia/Almaty", "Asia/Bishkek",
    "Asia/Dhaka", "Asia/Bangkok", "Asia/Shanghai", "Asia/Tokyo", "Australia/Sydney",
)  # fmt: skip
# The option that stands for every other zone: with script it loads them in place; without,
# submitting it shows the form again with the full list (nothing typed is lost).
OTHER_TIMEZONE = "other"


@lru_cache(maxsize=256)
def _timezone_choices(
    locale: str, program_timezone: str, chosen: str | None, every_zone: bool, today: date
) -> tuple[SelectChoice, ...]:
    """Every zone (the program's named in full), or the short list: the program's zone,
    the chosen one (the reader's, or what was submitted), the common ones, then "Other".
    Cached per UTC day (`today`): a zone CLDR has no name for is labelled by today's
    offset, which changes with the season."""
    if every_zone:
        return tuple(SelectChoice(z, zone_label(z, locale) if z == program_timezone else z) for z in all_timezones())
    zones = dict.fromkeys(z for z in (program_timezone, chosen, *COMMON_TIMEZONES) if z in known_timezones())
    return (
        *(SelectChoice(z, z if z == "UTC" else zone_label(z, locale)) for z in zones),
        SelectChoice(OTHER_TIMEZONE, _l("Other time zone…")),
    )


@lru_cache(maxsize=32)
def _country_choices(locale: str) -> tuple[SelectChoice, ...]:
    return (SelectChoice("", _l("Choose your country")), *(SelectChoice(c, n) for c, n in country_choices(locale)))


@lru_cache(maxsize=32)
def _language_choices(locale: str) -> tuple[SelectChoice, ...]:
    return tuple(SelectChoice(c, n) for c, n in language_choices(locale))


class _TokenWhenShown:
    """A CSRF token that is signed the first time it is shown, not before."""

    __slots__ = ("_sign", "_token")

    def __init__(self, sign: Any) -> None:
        self._sign = sign
        self._token: str | None = None

    def __str__(self) -> str:
        if self._token is None:
            self._token = self._sign()
        return self._token

    def __html__(self) -> str:
        return str(escape(str(self)))


class _CSRFSignedWhenShown(CSRF):
    """Flask-WTF's CSRF check for forms, built on public APIs (WTForms' `CSRF` and
    Flask-WTF's `generate_csrf`/`validate_csrf`), except that the token is signed when
    the page shows it rather than whenever the form is built: a registration that goes
    through is never rendered, and that signature was a measurable part of every
    registration (`bench/rush.py`). Checking the submitted token is Flask-WTF's own."""

    def setup_form(self, form: Any) -> Any:
        self.meta = form.meta
        return super().setup_form(form)

    def generate_csrf_token(self, csrf_token_field: Any) -> Any:
        meta = self.meta
        return _TokenWhenShown(lambda: generate_csrf(secret_key=meta.csrf_secret, token_key=meta.csrf_field_name))

    def validate_csrf_token(self, form: Any, field: Any) -> None:
        validate_csrf(field.data, self.meta.csrf_secret, self.meta.csrf_time_limit, self.meta.csrf_field_name)


class RegistrationForm(FlaskForm):
    class Meta:
        csrf_class = _CSRFSignedWhenShown

    full_name = StringField(
        _l("Full name"),
        filters=[_one_line],
        validators=[
            DataRequired(_l("Please enter your name.")),
            MaxLength(200, _l("Please shorten your name to at most 200 characters.")),
        ],
    )
    email = EmailField(
        _l("Email address"),
        filters=[_email],
        validators=[
            DataRequired(_l("Please enter your email address.")),
            MaxLength(254, _l("That email address is too long.")),
            Email(
                message=_l("Please enter a valid email address, like name@example.com."),
                check_deliverability=False,
            ),
            deliverable_address,
        ],
    )
    country = SelectField(
        _l("Country"),
        validators=[InputRequired(_l("Please choose your country."))],
        validate_choice=False,
        widget=ListSelect(),
    )
    organisation = StringField(
        _l("Organisation"),
        filters=[_one_line],
        validators=[MaxLength(200, _l("Please shorten this to at most 200 characters."))],
    )
    job_title = StringField(
        _l("Job title"),
        filters=[_one_line],
        validators=[MaxLength(200, _l("Please shorten this to at most 200 characters."))],
    )
    language = SelectField(
        _l("Preferred language for emails"), default="en", validate_choice=False, widget=ListSelect()
    )
    timezone = SelectField(_l("Your time zone"), validate_choice=False, widget=ListSelect())
    consent = BooleanField(
        _l("I agree that my details are used to run this training program and to email me about it."),
        validators=[DataRequired(_l("Please agree to this so we can register you."))],
    )

    def __init__(
        self,
        *args: Any,
        locale: str = "en",
        program_timezone: str = "UTC",
        reader_timezone: str | None = None,
        every_zone: bool = False,
        **kwargs: Any,
    ) -> None:
        """`reader_timezone` is the zone the reader's browser told us (checked already):
        a new form starts there, else in the program's zone. `every_zone`: list every
        zone rather than the short list."""
        super().__init__(*args, **kwargs)
        self.program_timezone = program_timezone
        self.country.choices = _country_choices(locale)
        self.language.choices = _language_choices(locale)
        if not self.is_submitted():  # emails in the language this page is read in
            self.language.data = locale if locale in LANGUAGES else "en"
        if not self.timezone.data:
            self.timezone.data = reader_timezone or program_timezone
        chosen = self.timezone.data
        every_zone = every_zone or chosen == OTHER_TIMEZONE
        # Only a real zone joins the short list (and the cache key); anything else was
        # typed by hand and is refused by validate_timezone.
        listed = chosen if not every_zone and chosen in known_timezones() else None
        today = datetime.now(UTC).date()
        self.timezone.choices = _timezone_choices(locale, program_timezone, listed, every_zone, today)

    def question_fields(self) -> list[Field]:
        """The program's own questions, in order."""
        return [field for name, field in self._fields.items() if name.startswith(QUESTION_PREFIX)]

    def answers(self) -> dict[str, Any]:
        return {field.name[len(QUESTION_PREFIX) :]: field.data for field in self.question_fields()}

    def to_input(self, program_timezone: str, *, consent: bool | None = None) -> RegistrationInput:
        """What was typed, for the registration service."""
        return RegistrationInput(
            answers=self.answers(),
            full_name=self.full_name.data or "",
            email=self.email.data or "",
            country=self.country.data or "",
            organisation=self.organisation.data or "",
            job_title=self.job_title.data or "",
            language=self.language.data or "en",
            timezone=self.timezone.data or program_timezone,
            consent=bool(self.consent.data) if consent is None else consent,
        )

    def validate_country(self, field: SelectField) -> None:
        if field.data not in country_codes():
            raise ValidationError(_l("Please choose your country from the list."))

    def validate_language(self, field: SelectField) -> None:
        if field.data not in LANGUAGES:
            raise ValidationError(_l("Please choose a language from the list."))

    def validate_timezone(self, field: SelectField) -> None:
        if field.data == OTHER_TIMEZONE:
            field.data = self.program_timezone  # the full list opens on the program's zone, not its first
            raise ValidationError(_l("Please choose your time zone from the full list."))
        if field.data not in known_timezones():
            raise ValidationError(_l("Please choose a time zone from the list."))


class CancelForm(FlaskForm):
    """Only the CSRF token: cancelling is one button after a confirmation page."""


QUESTION_PREFIX = "q_"


def _question_field(question: dict[str, Any], locale: str) -> Any:
    label = question["label"]
    required = bool(question.get("required"))
    message = _l("Please answer this question.")
    kind = question.get("type", "short_text")
    if kind == "checkbox":
        return BooleanField(label, validators=[DataRequired(message)] if required else [])
    presence = [InputRequired(message)] if required else [Optional()]
    if kind == "long_text":
        return TextAreaField(
            label,
            filters=[_several_lines],
            validators=[*presence, MaxLength(5000, _l("Please shorten this to at most 5000 characters."))],
        )
    if kind == "single_choice":
        choices = [SelectChoice(o) for o in question.get("options", [])]
        return RadioField(label, choices=choices, validators=[InputRequired(message)] if required else [Optional()])
    if kind == "multiple_choice":
        choices = [SelectChoice(o) for o in question.get("options", [])]
        return SelectMultipleField(
            label,
            choices=choices,
            widget=ListWidget(prefix_label=False),
            option_widget=CheckboxInput(),
            validators=[DataRequired(message)] if required else [Optional()],
        )
    if kind == "country":
        choices = (SelectChoice("", _l("Choose a country")), *(SelectChoice(c, n) for c, n in country_choices(locale)))
        return SelectField(label, choices=choices, validators=presence, widget=ListSelect())
    return StringField(
        label,
        filters=[_one_line],
        validators=[*presence, MaxLength(500, _l("Please shorten this to at most 500 characters."))],
    )


def registration_form_for(questions: list[dict[str, Any]], locale: str) -> type[RegistrationForm]:
    """The registration form with a program's own questions added after the standard
    fields, in the organiser's order. One class per (questions, locale), built once."""
    if not questions:
        return RegistrationForm
    return _form_with_questions(json.dumps(questions, sort_keys=True), locale)


@lru_cache(maxsize=256)
def _form_with_questions(questions_json: str, locale: str) -> type[RegistrationForm]:
    questions = json.loads(questions_json)
    fields = {f"{QUESTION_PREFIX}{q['key']}": _question_field(q, locale) for q in questions}
    return type("ProgramRegistrationForm", (RegistrationForm,), fields)
