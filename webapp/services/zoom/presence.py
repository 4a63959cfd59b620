"""Who is in a running Zoom session now, from Zoom's ``participant_joined`` and
``participant_left`` events, and the count organisers read while it runs.

Each participant of a session has one row (`models.ZoomPresence`) holding the latest
time Zoom says they joined and the latest time they left; they are in when they joined
after they last left, and after the session's ended event if it came (a restarted
meeting counts again). Times only move forward, so a redelivered event changes nothing
and events read out of order give the same answer: a ``left`` read before its
``joined`` leaves nobody behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select

from webapp.database import insert_skipping_conflicts
from webapp.extensions import db
from webapp.models import Program, ProgramSession, ZoomPresence, utcnow

PARTICIPANT_EVENTS = {
    "webinar.participant_joined": ("webinar", "joined"),
    "webinar.participant_left": ("webinar", "left"),
    "meeting.participant_joined": ("meeting", "joined"),
    "meeting.participant_left": ("meeting", "left"),
}
# A session counts as running from this long before its start to this long after its
# end (Zoom sessions start early and overrun), unless Zoom said it ended.
EARLY, LATE = timedelta(minutes=30), timedelta(hours=3)
KEY_MAX = 300


def participant_key(participant: dict[str, Any]) -> str | None:
    """Who a participant is, the same in their joined and left events: Zoom's
    registrant id, else their participant UUID, else their address, else Zoom's user id
    for this meeting. None when the event names nobody."""
    for prefix, field in (("r", "registrant_id"), ("p", "participant_uuid"), ("e", "email"), ("u", "user_id")):
        value = participant.get(field)
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str) and value.strip() and "\x00" not in value:
            text = value.strip().casefold() if field == "email" else value.strip()
            return f"{prefix}:{text}"[:KEY_MAX]
    return None


def parse_time(value: Any) -> datetime | None:
    """Zoom's ``yyyy-MM-ddTHH:mm:ssZ`` as an aware UTC time, or None."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    if not 2000 <= parsed.year <= 2999:
        return None
    return parsed.astimezone(UTC)


def event_time(event: dict[str, Any]) -> datetime | None:
    """When Zoom sent the event (``event_ts``, milliseconds), or None."""
    value = event.get("event_ts")
    if not isinstance(value, int) or isinstance(value, bool) or not 946684800000 <= value <= 32503680000000:
        return None
    return datetime.fromtimestamp(value / 1000, UTC)


def session_at(zoom_type: str, object_id: str, when: datetime) -> int | None:
    """The session naming this Zoom object that runs at `when` (a recurring meeting may
    serve several sessions): the one whose start is nearest."""
    rows = db.session.execute(
        select(ProgramSession.id, ProgramSession.starts_at, ProgramSession.ends_at).where(
            ProgramSession.zoom_type == zoom_type,
            ProgramSession.zoom_meeting_id == object_id,
            ProgramSession.cancelled_at.is_(None),
        )
    ).all()
    if not rows:
        return None
    return min(rows, key=lambda row: abs((row.starts_at - when).total_seconds()))[0]


_NEW_ROW = insert_skipping_conflicts(
    ZoomPresence.__table__,
    ["session_id", "participant_key", "updated_at"],
    conflict=("session_id", "participant_key"),
)


def record_participant_event(event: dict[str, Any]) -> bool:
    """Apply one verified ``*.participant_joined``/``_left`` event, in the caller's
    `unit_of_work`. Events of unexpected shape, or of a Zoom object no session names,
    change nothing. Returns whether a row changed."""
    kind = PARTICIPANT_EVENTS.get(str(event.get("event")))
    payload = event.get("payload")
    zoom_object = payload.get("object") if isinstance(payload, dict) else None
    if kind is None or not isinstance(zoom_object, dict):
        return False
    zoom_type, action = kind
    object_id = zoom_object.get("id")
    participant = zoom_object.get("participant")
    if isinstance(object_id, bool) or not isinstance(object_id, str | int) or not isinstance(participant, dict):
        return False
    key = participant_key(participant)
    when = parse_time(participant.get("join_time" if action == "joined" else "leave_time")) or event_time(event)
    if key is None or when is None:
        return False
    session_id = session_at(zoom_type, str(object_id)[:64], when)
    if session_id is None:
        return False
    db.session.execute(_NEW_ROW, {"session_id": session_id, "participant_key": key, "updated_at": utcnow()})
    row = db.session.scalar(
        select(ZoomPresence)
        .where(ZoomPresence.session_id == session_id, ZoomPresence.participant_key == key)
        .with_for_update()
    )
    if row is None:
        return False
    if action == "joined" and (row.joined_at is None or when > row.joined_at):
        row.joined_at = when
        return True
    if action == "left" and (row.left_at is None or when > row.left_at):
        row.left_at = when
        return True
    return False


def record_ended(session_ids: list[int], when: datetime) -> None:
    """Zoom said these sessions ended at `when` (in the caller's `unit_of_work`): the
    live count stops (nobody who joined before is in any more)."""
    for session in db.session.scalars(select(ProgramSession).where(ProgramSession.id.in_(session_ids))):
        if session.zoom_ended_at is None or when > session.zoom_ended_at:
            session.zoom_ended_at = when


def _in_now() -> Any:
    """SQL: this presence row's participant is in the session now."""
    return and_(
        ZoomPresence.joined_at.is_not(None),
        or_(ZoomPresence.left_at.is_(None), ZoomPresence.left_at < ZoomPresence.joined_at),
        or_(ProgramSession.zoom_ended_at.is_(None), ZoomPresence.joined_at > ProgramSession.zoom_ended_at),
    )


@dataclass(frozen=True)
class LiveCount:
    session: ProgramSession  # its title is shown in the reader's language (session_title)
    count: int

    @property
    def session_id(self) -> int:
        return self.session.id


def live_counts(program: Program, now: datetime | None = None) -> list[LiveCount]:
    """The program's Zoom sessions running now (from a little before their start to a
    while after their end, until Zoom says they ended) with how many people are in each.
    One query; none for a program without Zoom sessions."""
    now = now or utcnow()
    candidates = [s for s in program.sessions if s.zoom_meeting_id and s.starts_at - EARLY <= now <= s.ends_at + LATE]
    if not candidates:
        return []
    counts = dict(
        db.session.execute(
            select(ZoomPresence.session_id, func.count())
            .join(ProgramSession, ProgramSession.id == ZoomPresence.session_id)
            .where(ZoomPresence.session_id.in_([s.id for s in candidates]), _in_now())
            .group_by(ZoomPresence.session_id)
        ).all()
    )
    return [
        LiveCount(s, int(counts.get(s.id, 0))) for s in candidates if s.zoom_ended_at is None or counts.get(s.id, 0)
    ]
