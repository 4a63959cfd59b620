"""Organiser accounts: creation and password checks (argon2id)."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Organiser, utcnow
from webapp.services.text import normalize_email, single_line
from webapp.services.transactions import unit_of_work

# argon2id with the library's defaults (RFC 9106 "low memory" profile: t=3, m=64 MiB),
# above OWASP's minimum.
_hasher = PasswordHasher()
# Verifying against this when the email is unknown makes both failures take as long.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class OrganiserExists(Exception):
    pass


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def create_organiser(email: str, name: str, password: str, *, admin: bool = False) -> Organiser:
    """Create an organiser account. Commits. Raises OrganiserExists, ValueError."""
    if len(password) < 10:
        raise ValueError("the password must have at least 10 characters")
    normalized = normalize_email(email)
    with unit_of_work():
        if db.session.scalar(select(Organiser).where(Organiser.email == normalized)):
            raise OrganiserExists(normalized)
        organiser = Organiser(
            email=normalized,
            name=single_line(name, 200),
            password_hash=hash_password(password),
            role="admin" if admin else "organiser",
        )
        db.session.add(organiser)
    return organiser


def set_password(organiser: Organiser, password: str) -> None:
    """Change the password and sign out every existing session. Commits."""
    with unit_of_work():
        organiser.password_hash = hash_password(password)
        organiser.session_token = secrets.token_urlsafe(32)


def authenticate(email: str, password: str) -> Organiser | None:
    """The organiser these credentials belong to, or None. Unknown email and wrong
    password cost the same time and give the same answer. Commits last_login_at."""
    organiser = db.session.scalar(select(Organiser).where(Organiser.email == normalize_email(email)))
    try:
        _hasher.verify(organiser.password_hash if organiser else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if organiser is None or not organiser.active:
        return None
    with unit_of_work():
        if _hasher.check_needs_rehash(organiser.password_hash):
            organiser.password_hash = hash_password(password)
        organiser.last_login_at = utcnow()
    return organiser


def load_by_session_id(session_id: str) -> Organiser | None:
    """Flask-Login's user loader: "<id>:<session token>"."""
    organiser_id, _, token = session_id.partition(":")
    if not organiser_id.isdigit() or not token:
        return None
    organiser = db.session.get(Organiser, int(organiser_id))
    if organiser is None or not organiser.active or not secrets.compare_digest(organiser.session_token, token):
        return None
    return organiser


def sign_out_everywhere(organiser: Organiser) -> None:
    """Invalidate every login session of this organiser. Commits."""
    with unit_of_work():
        organiser.session_token = secrets.token_urlsafe(32)
