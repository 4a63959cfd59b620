"""Unbound Flask extensions and the declarative base; `create_app()` binds them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_mail import Mail
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# A naming convention makes constraint names deterministic, so Alembic revisions are
# stable across databases and autogenerate can find (and drop) them by name.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def only_on(dialect: str) -> dict[str, str]:
    """The `info` of a schema item (an index) that exists only in `dialect`'s databases,
    such as a PostgreSQL trigram index: its migration creates it there alone."""
    return {"only_on": dialect}


def schema_filter(dialect: str) -> Callable[[Any, str | None, str, bool, Any], bool]:
    """Alembic's `include_object` hook for a database of `dialect`: it leaves out the
    items `only_on` another dialect, so that autogenerate (migrations/env.py) and the
    models-against-migrations test do not ask SQLite for a PostgreSQL index."""

    def include_object(item: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        wanted = getattr(item, "info", {}).get("only_on")
        return wanted is None or wanted == dialect

    return include_object


# Objects stay readable after a commit without a reload: a request (or task) commits once
# and then only reads what it has just written. Services that must see other
# transactions' changes load with populate_existing (see the program lock).
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()
mail = Mail()
csrf = CSRFProtect()
babel = Babel()
login_manager = LoginManager()
limiter = Limiter(key_func=get_remote_address)
