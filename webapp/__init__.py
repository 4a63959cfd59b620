"""Rollcall: registration and webinar management for training programs."""

from __future__ import annotations

from typing import Any

from flask import Flask

import config
from webapp import setup
from webapp.assets import register_static
from webapp.blueprints.guards import register_guards


def create_app(mode: str | None = None, **overrides: Any) -> Flask:
    """Build the web application. `mode` and `overrides` are for tests and tools;
    in production everything comes from the environment (see config.py)."""
    app = Flask(
        __name__,
        template_folder=str(config.ROOT / "templates"),
        static_folder=str(config.ROOT / "static"),
        instance_path=str(config.INSTANCE),
    )
    app.config.from_mapping(config.load(mode, **overrides))
    setup.register_proxy(app)
    setup.register_database(app)
    setup.register_extensions(app)
    setup.register_celery(app)
    register_guards(app)
    setup.register_blueprints(app)
    setup.register_template_helpers(app)
    register_static(app)
    setup.register_security_headers(app)
    setup.register_error_handlers(app)
    setup.register_logging(app)
    setup.register_cli(app)
    return app
