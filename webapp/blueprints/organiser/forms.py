"""Forms of the attendee list: filters (GET), actions and adding a registrant (POST)."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    Field,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from webapp.blueprints.registrations.forms import RegistrationForm
from webapp.models import REGISTRATION_STATUSES
from webapp.services.attendees import SORTS, AttendeeQuery
from webapp.services.messages import SEGMENTS
from webapp.services.registrations import ORGANISER_ACTIONS
from webapp.services.text import multi_line, single_line

# Days a registration can have been made on. Outside them a date is a typo (0001-01-01),
# and turning it into an instant in the program's zone would overflow.
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(9998, 12, 31)


def _plausible_day(form: FlaskForm, field: Field) -> None:
    if field.data is not None and not FIRST_DAY <= field.data <= LAST_DAY:
        raise ValidationError(_l("Please enter a date between 1970 and 9998."))


class AttendeeFilterForm(FlaskForm):
    """Read from the query string; changes nothing, so no CSRF token."""

    class Meta:
        csrf = False

    q = StringField(_l("Search name, email or organisation"), filters=[lambda v: single_line(v, 200)])
    status = SelectField(
        _l("Status"), choices=[SelectChoice("", _l("Any"))] + [SelectChoice(s) for s in REGISTRATION_STATUSES]
    )
    country = StringField(_l("Country code"), filters=[lambda v: single_line(v, 2).upper()])
    registered_from = DateField(_l("Registered from"), validators=[Optional(), _plausible_day])
    registered_to = DateField(_l("to"), validators=[Optional(), _plausible_day])
    attended = SelectField(
        _l("Attended"),
        choices=[
            SelectChoice("", _l("Any")),
            SelectChoice("yes", _l("Attended")),
            SelectChoice("no", _l("Did not attend")),
        ],
    )
    sort = SelectField(choices=[SelectChoice(s) for s in SORTS], default="registered")
    dir = SelectField(choices=[SelectChoice("desc"), SelectChoice("asc")], default="desc")
    page = IntegerField(default=1, validators=[Optional()])

    def to_query(self) -> AttendeeQuery:
        """The filter as typed; anything malformed falls back to its default (a bad
        bookmark shows the whole list rather than an error)."""
        ok = {name: not field.errors for name, field in self._fields.items()}
        return AttendeeQuery(
            q=self.q.data or "",
            status=self.status.data or None if ok["status"] else None,
            country=self.country.data or None,
            registered_from=self.registered_from.data if ok["registered_from"] else None,
            registered_to=self.registered_to.data if ok["registered_to"] else None,
            attended={"yes": True, "no": False}.get(self.attended.data or "") if ok["attended"] else None,
            sort=self.sort.data if ok["sort"] and self.sort.data in SORTS else "registered",
            descending=self.dir.data != "asc",
            page=self.page.data if ok["page"] and self.page.data else 1,
        )


ACTION_LABELS = {
    "approve": _l("Approve"),
    "reject": _l("Reject"),
    "cancel": _l("Cancel registration"),
    "promote": _l("Move up from the waiting list"),
    "resend": _l("Resend their email"),
    "mark_attended": _l("Mark as attended"),
    "mark_not_attended": _l("Mark as not attended"),
}


class ActionForm(FlaskForm):
    action = SelectField(_l("Action"), choices=[SelectChoice(a, ACTION_LABELS[a]) for a in ORGANISER_ACTIONS])
    # "selected": the ticked rows; "matching": everyone the filter matches.
    scope = HiddenField(default="selected")
    filter = HiddenField()  # the list's query string, to act on "everyone matching"


class AddRegistrantForm(RegistrationForm):
    """The public form's fields, without the consent box (the organiser records it),
    plus the explicit choice to go beyond capacity."""

    consent = None  # type: ignore[assignment]
    beyond_capacity = BooleanField(_l("Confirm even if the program is full (exceeds the capacity)"))


class MessageForm(FlaskForm):
    segment = SelectField(_l("Send to"))
    subject = StringField(
        _l("Subject"),
        filters=[lambda v: single_line(v) if isinstance(v, str) else v],
        validators=[DataRequired(_l("Please write a subject.")), Length(max=200)],
    )
    body = TextAreaField(
        _l("Message"),
        filters=[lambda v: multi_line(v) if isinstance(v, str) else v],
        validators=[DataRequired(_l("Please write the message.")), Length(max=20000)],
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.segment.choices = [SelectChoice(key, label) for key, label in SEGMENTS.items()]


# What an unreadable participant report was, in words (`ParticipantReportError.reason`).
REPORT_PROBLEMS = {
    "too_large": _l("The file is larger than 1 MB. Zoom's participant report is much smaller: please upload that."),
    "empty": _l("The file is empty."),
    "not_text": _l("This is not a CSV file. Please upload the participant report as Zoom exports it (CSV)."),
    "no_columns": _l(
        'No "User email" and "Duration (minutes)" columns were found. '
        "Please upload Zoom's participant report, exported as CSV."
    ),
    "bad_minutes": _l('The "Duration (minutes)" column has something that is not a number of minutes.'),
    "too_many_rows": _l("The file has more rows than a participant report can have."),
}


class AttendanceUploadForm(FlaskForm):
    """Zoom's participant report for one session (CSV), uploaded by an organiser."""

    session = SelectField(_l("Session"), coerce=int, validate_choice=True)
    report = FileField(
        _l("Zoom participant report (CSV)"),
        validators=[FileRequired(message=_l("Please choose the participant report file."))],
    )

    def __init__(self, sessions: list[tuple[int, str]], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.session.choices = [SelectChoice(value, label) for value, label in sessions]
