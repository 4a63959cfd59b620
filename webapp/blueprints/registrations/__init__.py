"""Registering for a program, and the registrant's self-service pages."""

from flask import Blueprint

bp = Blueprint("registrations", __name__)

from webapp.blueprints.registrations import views  # noqa: E402,F401
