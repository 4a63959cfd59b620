"""Sign-in form."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):
    email = EmailField(
        _l("Email address"),
        filters=[lambda v: v.strip() if isinstance(v, str) else v],
        validators=[DataRequired(_l("Please enter your email address.")), Length(max=254)],
    )
    password = PasswordField(
        _l("Password"), validators=[DataRequired(_l("Please enter your password.")), Length(max=1000)]
    )


class LogoutForm(FlaskForm):
    """Only the CSRF token: signing out is a POST."""
