"""Typed models, one module per domain, re-exported here."""

from webapp.models.attendance import ATTENDANCE_SOURCES, Attendance
from webapp.models.audit import AuditEntry
from webapp.models.certificates import CERTIFICATE_CODE_LENGTH, Certificate
from webapp.models.emails import EMAIL_KINDS, EMAIL_STATUSES, Email
from webapp.models.messages import Message
from webapp.models.organisers import ORGANISER_ROLES, Organiser
from webapp.models.programs import DEFAULT_REMINDER_MINUTES, PROGRAM_STATUSES, Program, ProgramSession, ReminderRun
from webapp.models.registrations import REGISTRATION_STATUSES, Registration
from webapp.models.types import utcnow
from webapp.models.zoom import ZOOM_REGISTRANT_STATUSES, ZoomPresence, ZoomRegistrant, ZoomToken, ZoomWebhookEvent

__all__ = [
    "ATTENDANCE_SOURCES",
    "CERTIFICATE_CODE_LENGTH",
    "DEFAULT_REMINDER_MINUTES",
    "EMAIL_KINDS",
    "EMAIL_STATUSES",
    "ORGANISER_ROLES",
    "PROGRAM_STATUSES",
    "REGISTRATION_STATUSES",
    "ZOOM_REGISTRANT_STATUSES",
    "Attendance",
    "AuditEntry",
    "Certificate",
    "Email",
    "Message",
    "Organiser",
    "Program",
    "ProgramSession",
    "Registration",
    "ReminderRun",
    "ZoomPresence",
    "ZoomRegistrant",
    "ZoomToken",
    "ZoomWebhookEvent",
    "utcnow",
]
