"""The Zoom access token shared through the database: every web and worker process,
on PostgreSQL or the embedded default's SQLite, uses the same token until it is due for
renewal."""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db
from webapp.models import ZoomToken
from webapp.services.transactions import unit_of_work
from webapp.services.zoom.client import CachedToken


class DatabaseTokenStore:
    """A `TokenStore` on the `zoom_tokens` table. `put` and `discard` commit."""

    def get(self, account_id: str) -> CachedToken | None:
        row = db.session.get(ZoomToken, account_id, populate_existing=True)
        return CachedToken(row.access_token, row.expires_at) if row is not None else None

    def put(self, account_id: str, token: CachedToken) -> None:
        with unit_of_work():
            try:
                # A savepoint: the caller's transaction (a registrant being added) survives
                # another process storing its token at the same moment; Zoom accepts both.
                with db.session.begin_nested():
                    db.session.merge(
                        ZoomToken(account_id=account_id, access_token=token.access_token, expires_at=token.expires_at)
                    )
            except IntegrityError:
                pass

    def discard(self, account_id: str, access_token: str) -> None:
        with unit_of_work():
            db.session.execute(
                delete(ZoomToken).where(ZoomToken.account_id == account_id, ZoomToken.access_token == access_token)
            )
