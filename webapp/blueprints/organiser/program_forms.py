"""The program editor: every field of the program file, sessions inline, times typed in
the program's own time zone. Rules (deadline before the first session, a real zone, end
after start ...) are the import's, so the console and `programs import` agree."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import get_locale, gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice, SelectField
from wtforms.validators import NumberRange, Optional, ValidationError

from webapp.models.programs import DEFAULT_ATTENDANCE_THRESHOLD_PERCENT
from webapp.services.locales import LANGUAGES, capitalise, own_name
from webapp.services.programs.spec import FIRST_YEAR, LAST_YEAR, MAX_CAPACITY
from webapp.services.times import all_timezones, is_valid_timezone

LOCAL_FORMAT = "%Y-%m-%dT%H:%M"


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _saved_times(current: dict[str, Any] | None, zone_name: str) -> dict[tuple[str, datetime], str]:
    """Each saved time of a program file by (kind, the minute the editor shows for it),
    while the zone is the one the file is in (a changed zone re-reads every time)."""
    if not current or current.get("timezone") != zone_name:
        return {}
    zone = ZoneInfo(zone_name)
    pairs = [("opens", current.get("registration_opens_at")), ("deadline", current.get("registration_deadline"))]
    for session in current.get("sessions") or []:
        pairs += [("starts", session.get("starts_at")), ("ends", session.get("ends_at"))]
    saved: dict[tuple[str, datetime], str] = {}
    for kind, value in pairs:
        if value:
            shown = datetime.fromisoformat(value).astimezone(zone).replace(tzinfo=None, second=0, microsecond=0)
            saved[(kind, shown)] = value
    return saved


def _sentence(message: str) -> str:
    """A problem's message (in the reader's language already) as a sentence beside its
    field: capitalised, with the reader's full stop ("。" in Chinese)."""
    return gettext("%(message)s.", message=capitalise(message, str(get_locale())))


def _plausible_year(form: Any, field: Any) -> None:
    # Moving every date of a program by years past these would overflow.
    if field.data is not None and not FIRST_YEAR <= field.data.year <= LAST_YEAR:
        raise ValidationError(_l("Please enter a date in the years 2000 to 2999."))


class SessionForm(Form):
    title = StringField(_l("Session title"), filters=[_strip])
    starts_at = DateTimeLocalField(_l("Starts"), format=LOCAL_FORMAT, validators=[Optional()])
    ends_at = DateTimeLocalField(_l("Ends"), format=LOCAL_FORMAT, validators=[Optional()])
    join_url = StringField(_l("Zoom link"), filters=[_strip])
    passcode = StringField(_l("Passcode"), filters=[_strip])
    zoom_meeting_id = StringField(_l("Zoom webinar or meeting ID"), filters=[_strip])
    zoom_type = SelectField(
        _l("Type of Zoom session"),
        choices=[SelectChoice("webinar", _l("Webinar")), SelectChoice("meeting", _l("Meeting"))],
        default="webinar",
    )
    zoom_create = BooleanField(_l("Create this webinar or meeting in Zoom"))
    remove = BooleanField(_l("Remove this session"))


class SessionTranslationForm(Form):
    title = StringField(_l("Session title"), filters=[_strip])


class TranslationForm(Form):
    """The program's text in one other language; every field empty: no translation.
    Session titles are in the order of the editor's sessions."""

    title = StringField(_l("Title"), filters=[_strip])
    summary = StringField(_l("Summary"), filters=[_strip])
    description = TextAreaField(_l("Description (Markdown)"))
    sessions = FieldList(FormField(SessionTranslationForm), min_entries=0)

    def has_text(self) -> bool:
        return any((self.title.data, self.summary.data, self.description.data)) or any(
            e.title.data for e in self.sessions.entries
        )


def _start_order(entries: list[Any]) -> list[int]:
    """Indexes of the editor's session entries in start order (the order in which a
    program file pairs translated session titles with sessions); undated ones last."""
    starts = [entry.starts_at.data for entry in entries]
    return sorted(range(len(entries)), key=lambda i: (starts[i] is None, starts[i] or datetime.min))


QUESTION_TYPE_LABELS = {
    "short_text": _l("Short text"),
    "long_text": _l("Long text"),
    "single_choice": _l("One of several options"),
    "multiple_choice": _l("Any of several options"),
    "checkbox": _l("A box to tick"),
    "country": _l("A country"),
}


class QuestionForm(Form):
    # Not "label" and "type": a FormField entry has attributes of those names already.
    text = StringField(_l("Question"), filters=[_strip])
    kind = SelectField(_l("Answer"), choices=[SelectChoice(k, v) for k, v in QUESTION_TYPE_LABELS.items()])
    required = BooleanField(_l("An answer is required"))
    options = TextAreaField(_l("Options, one per line (for the option types)"))
    key = HiddenField()
    remove = BooleanField(_l("Remove this question"))


class ProgramForm(FlaskForm):
    title = StringField(_l("Title"), filters=[_strip])
    slug = StringField(_l("Web address"), filters=[_strip], description=_l("Lower-case letters, digits and hyphens."))
    summary = StringField(_l("Summary"), filters=[_strip])
    description = TextAreaField(_l("Description (Markdown)"))
    organiser = StringField(_l("Organiser"), filters=[_strip])
    timezone = SelectField(_l("Time zone"), validate_choice=False)
    registration_opens_at = DateTimeLocalField(_l("Registration opens"), format=LOCAL_FORMAT, validators=[Optional()])
    registration_deadline = DateTimeLocalField(
        _l("Registration deadline"), format=LOCAL_FORMAT, validators=[Optional()]
    )
    capacity = IntegerField(
        _l("Seats (empty for unlimited)"),
        validators=[
            Optional(),
            NumberRange(min=1, max=MAX_CAPACITY, message=_l("Please enter a number of seats from 1 to 1,000,000.")),
        ],
    )
    waitlist = BooleanField(_l("Waiting list when full"))
    approval_required = BooleanField(_l("Organisers approve each registration"))
    attendance_threshold_percent = IntegerField(
        _l("Attendance threshold (percent of the sessions' time)"),
        default=DEFAULT_ATTENDANCE_THRESHOLD_PERCENT,
        description=_l(
            "A registrant attended when their time in the sessions reaches this share of the sessions' total "
            "length. Each session counts for at most its own length."
        ),
        # Empty means the default: the field is new, and older forms never sent it.
        validators=[Optional(), NumberRange(min=1, max=100, message=_l("Please enter a percentage from 1 to 100."))],
    )
    certificates = BooleanField(
        _l("Certificates of attendance"),
        description=_l(
            "After the last session you preview a certificate, then send one by email to each confirmed "
            "registrant who attended."
        ),
    )
    reminders = StringField(_l("Reminders before each session"), description=_l('For example "24h, 1h" or "2d, 30m".'))
    sessions = FieldList(FormField(SessionForm), min_entries=1)
    questions = FieldList(FormField(QuestionForm), min_entries=0)
    language = SelectField(
        _l("Language the program is written in"),
        choices=[SelectChoice(code, own_name(code)) for code in LANGUAGES],
        default="en",
        description=_l(
            "The title, summary, description and session titles below are in this language. "
            "Translations into other languages are at the end of the page."
        ),
    )
    # translation_<code>: a TranslationForm per language (added below the class).

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.timezone.choices = [SelectChoice(z) for z in all_timezones()]
        # Problems about a whole translation (not one of its fields), by language.
        self.translation_problems: dict[str, list[str]] = {}
        self.align_translations()

    def translation_forms(self) -> list[tuple[str, TranslationForm]]:
        """(language code, its TranslationForm) for every language Rollcall offers."""
        return [(code, self[f"translation_{code}"].form) for code in LANGUAGES]

    def align_translations(self) -> None:
        """One translated-title entry per session entry in every language (a session
        added, or a form sent back by a browser, may leave them short)."""
        for _code, translation in self.translation_forms():
            while len(translation.sessions.entries) < len(self.sessions.entries):
                translation.sessions.append_entry()

    def add_session(self) -> None:
        self.sessions.append_entry()
        self.align_translations()

    def load(self, data: dict[str, Any]) -> None:
        """Fill the form from a program file (times shown in the program's zone)."""
        zone = ZoneInfo(data["timezone"])

        def local(value: str | None) -> datetime | None:
            return datetime.fromisoformat(value).astimezone(zone).replace(tzinfo=None) if value else None

        for key in ("title", "slug", "summary", "description", "organiser", "timezone", "capacity"):
            getattr(self, key).data = data.get(key)
        self.waitlist.data = data.get("waitlist", False)
        self.approval_required.data = data.get("approval_required", False)
        self.attendance_threshold_percent.data = data.get(
            "attendance_threshold_percent", DEFAULT_ATTENDANCE_THRESHOLD_PERCENT
        )
        self.certificates.data = data.get("certificates", False)
        self.registration_opens_at.data = local(data.get("registration_opens_at"))
        self.registration_deadline.data = local(data.get("registration_deadline"))
        self.reminders.data = ", ".join(data.get("reminders") or [])
        while self.sessions.entries:
            self.sessions.pop_entry()
        while self.questions.entries:
            self.questions.pop_entry()
        for question in data.get("questions") or []:
            entry = self.questions.append_entry()
            entry.text.data = question.get("label")
            entry.kind.data = question.get("type", "short_text")
            entry.required.data = bool(question.get("required"))
            entry.options.data = "\n".join(question.get("options") or [])
            entry.key.data = question.get("key")
        for session in data.get("sessions") or [{}]:
            entry = self.sessions.append_entry()
            entry.title.data = session.get("title")
            entry.starts_at.data = local(session.get("starts_at"))
            entry.ends_at.data = local(session.get("ends_at"))
            entry.join_url.data = session.get("join_url")
            entry.passcode.data = session.get("passcode")
            entry.zoom_meeting_id.data = session.get("zoom_meeting_id")
            entry.zoom_type.data = session.get("zoom_type", "webinar")
            entry.zoom_create.data = bool(session.get("zoom_create"))
        self.language.data = data.get("language") or "en"
        # The file's sessions are in start order, as its translated titles are.
        translations = data.get("translations") or {}
        for code, form in self.translation_forms():
            texts = translations.get(code) or {}
            for key in ("title", "summary", "description"):
                form[key].data = texts.get(key) or ""
            while form.sessions.entries:
                form.sessions.pop_entry()
            titles = texts.get("sessions") or []
            for index in range(len(self.sessions.entries)):
                entry = form.sessions.append_entry()
                entry.title.data = (titles[index] or {}).get("title", "") if index < len(titles) else ""

    def swap_questions(self, first: int, second: int) -> None:
        """Swap two questions. Their order is the order of the entries' field names, so
        the typed values move between entries, not the entries themselves."""
        a, b = self.questions.entries[first], self.questions.entries[second]
        for name in a._fields:
            a[name].data, b[name].data = b[name].data, a[name].data

    def to_file(self, status: str, current: dict[str, Any] | None = None) -> dict[str, Any]:
        """The program file these fields describe, for `import_program` to validate.

        `current` is the saved program's file (`programs.program_file`): a time shown
        and sent back unchanged keeps its saved value exactly. The editor shows minutes
        only, so re-reading what it shows would drop seconds, move the session and
        email every registrant about a change nobody made."""
        zone_name = self.timezone.data or "UTC"
        zone = ZoneInfo(zone_name) if is_valid_timezone(zone_name) else ZoneInfo("UTC")
        saved = _saved_times(current, zone_name)

        def iso(value: datetime | None, kind: str) -> str | None:
            if not value:
                return None
            return saved.get((kind, value)) or value.replace(tzinfo=zone).isoformat()

        reminders = [r.strip() for r in (self.reminders.data or "").split(",") if r.strip()]
        kept = [i for i, entry in enumerate(self.sessions.entries) if not entry.remove.data]
        order = [kept[i] for i in _start_order([self.sessions.entries[i] for i in kept])]
        translations: dict[str, Any] = {}
        for code, form in self.translation_forms():
            entries = form.sessions.entries
            titles = [(entries[i].title.data or "") if i < len(entries) else "" for i in order]
            while titles and not titles[-1]:
                titles.pop()
            texts = {
                "title": form.title.data or "",
                "summary": form.summary.data or "",
                "description": form.description.data or "",
                "sessions": [{"title": t} for t in titles],
            }
            texts = {k: v for k, v in texts.items() if v}
            if texts:
                translations[code] = texts
        return {
            "slug": self.slug.data or "",
            "title": self.title.data or "",
            "summary": self.summary.data or "",
            "description": self.description.data or "",
            "organiser": self.organiser.data or "",
            "timezone": zone_name,
            "registration_opens_at": iso(self.registration_opens_at.data, "opens"),
            "registration_deadline": iso(self.registration_deadline.data, "deadline"),
            "capacity": self.capacity.data,
            "waitlist": bool(self.waitlist.data),
            "approval_required": bool(self.approval_required.data),
            "attendance_threshold_percent": (
                DEFAULT_ATTENDANCE_THRESHOLD_PERCENT
                if self.attendance_threshold_percent.data is None
                else self.attendance_threshold_percent.data
            ),
            "certificates": bool(self.certificates.data),
            "status": status,
            "reminders": reminders,
            "language": self.language.data or "en",
            "translations": translations,
            "sessions": [
                {
                    "title": entry.title.data or "",
                    "starts_at": iso(entry.starts_at.data, "starts"),
                    "ends_at": iso(entry.ends_at.data, "ends"),
                    "join_url": entry.join_url.data or "",
                    "passcode": entry.passcode.data or "",
                    **(
                        {"zoom_meeting_id": entry.zoom_meeting_id.data, "zoom_type": entry.zoom_type.data or "webinar"}
                        if entry.zoom_meeting_id.data
                        else {"zoom_create": True, "zoom_type": entry.zoom_type.data or "webinar"}
                        if entry.zoom_create.data
                        else {}
                    ),
                }
                for entry in self.sessions.entries
                if not entry.remove.data
            ],
            "questions": [
                {
                    **({"key": entry.key.data} if entry.key.data else {}),
                    "label": entry.text.data or "",
                    "type": entry.kind.data or "short_text",
                    "required": bool(entry.required.data),
                    "options": [o.strip() for o in (entry.options.data or "").splitlines() if o.strip()],
                }
                for entry in self.questions.entries
                if not entry.remove.data
            ],
        }

    def show_problems(self, problems: list[str]) -> list[str]:
        """Put each of the import's problems next to its field; return those that
        belong to no single field (the caller shows them at the top)."""
        kept = {
            "sessions": [e for e in self.sessions.entries if not e.remove.data],
            "questions": [e for e in self.questions.entries if not e.remove.data],
        }
        general = []
        kept_indexes = [i for i, entry in enumerate(self.sessions.entries) if not entry.remove.data]
        order = [kept_indexes[i] for i in _start_order(kept["sessions"])]
        translation_forms = dict(self.translation_forms())
        for problem in problems:
            key, _, message = problem.partition(": ")
            field = None
            if key.startswith("translations."):
                code, _, rest = key.removeprefix("translations.").partition(".")
                form = translation_forms.get(code)
                if form is not None and rest in ("title", "summary", "description"):
                    field = form[rest]
                elif form is not None and rest.startswith("sessions[") and rest.endswith("].title"):
                    index = int(rest[len("sessions[") : -len("].title")]) - 1
                    if 0 <= index < len(order) and order[index] < len(form.sessions.entries):
                        field = form.sessions.entries[order[index]].title
                elif form is not None:
                    # About the language as a whole: shown at the top of its section.
                    self.translation_problems.setdefault(code, []).append(_sentence(message))
                    continue
            elif "[" in key and "]." in key:
                group, index_text = key.split("[", 1)
                index = int(index_text[: index_text.index("]")]) - 1
                name = key.split("].", 1)[1]
                name = {"label": "text", "type": "kind"}.get(name, name) if group == "questions" else name
                entries = kept.get(group, [])
                if 0 <= index < len(entries) and name in entries[index]._fields:
                    field = entries[index][name]
            elif key in self._fields and key not in kept:
                field = self[key]
            if field is not None:
                field.errors = [*field.errors, _sentence(message)]
            else:
                general.append(problem)
        return general


for _code in LANGUAGES:
    # One section per language; the editor shows the program's own language's only when
    # it holds text (a language just chosen as the program's, to be emptied).
    setattr(ProgramForm, f"translation_{_code}", FormField(TranslationForm, label=own_name(_code)))


class DuplicateForm(FlaskForm):
    slug = StringField(_l("Web address of the copy"), filters=[_strip])
    first_start = DateTimeLocalField(
        _l("First session of the copy starts"), format=LOCAL_FORMAT, validators=[_plausible_year]
    )
