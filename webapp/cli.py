"""`flask --app webapp ...` commands. Each parses its input and calls one service."""

from __future__ import annotations

import json
import secrets
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import EMAIL_STATUSES, Organiser
from webapp.services import organisers as organiser_service
from webapp.services import outbox
from webapp.services import programs as program_service
from webapp.services.audit import Actor
from webapp.services.errors import ProgramImportError

DEMO_ORGANISER_EMAIL = "organiser@example.org"


def register(app: Flask) -> None:
    app.cli.add_command(programs_group)
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(organisers_group)
    app.cli.add_command(emails_group)


programs_group = AppGroup("programs", help="Create and update training programs.")


@programs_group.command("import")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def import_command(path: Path) -> None:
    """Create or update (by slug) a program and its sessions from a JSON file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise click.ClickException(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise click.ClickException(f"{path}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise click.ClickException(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    try:
        program, created = program_service.import_program(data, actor=Actor.system())
    except ProgramImportError as exc:
        click.echo(f"{path}: {len(exc.problems)} problem(s), nothing was changed:", err=True)
        for problem in exc.problems:
            click.echo(f"  - {problem}", err=True)
        sys.exit(1)
    verb = "Created" if created else "Updated"
    click.echo(f"{verb} program {program.slug!r} ({program.title}) with {len(program.sessions)} session(s).")


@click.command("seed-demo", help="Create the demo program and, in the embedded default, a demo organiser.")
@with_appcontext
def seed_demo_command() -> None:
    program = program_service.seed_demo(actor=Actor.system())
    click.echo(f"Demo program: {program.title} (/programs/{program.slug})")
    if current_app.config["EMBEDDED"]:
        email, password = ensure_demo_organiser()
        click.echo(f"Demo organiser: {email} / {password}")


def ensure_demo_organiser() -> tuple[str, str]:
    """The embedded default's organiser login. Its password is random per checkout and
    kept in instance/demo-organiser.txt so it can be printed at every start."""
    path = Path(current_app.instance_path) / "demo-organiser.txt"
    existing = db.session.scalar(select(Organiser).where(Organiser.email == DEMO_ORGANISER_EMAIL))
    if existing is not None and path.exists():
        return DEMO_ORGANISER_EMAIL, path.read_text().strip()
    password = secrets.token_urlsafe(12)
    if existing is None:
        organiser_service.create_organiser(DEMO_ORGANISER_EMAIL, "Demo organiser", password, admin=True)
    else:
        organiser_service.set_password(existing, password)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(password)
    path.chmod(0o600)
    return DEMO_ORGANISER_EMAIL, password


organisers_group = AppGroup("organisers", help="Manage organiser accounts.")


@organisers_group.command("create")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--admin", is_flag=True, help="May manage everything, including organisers.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_organiser_command(email: str, name: str, admin: bool, password_stdin: bool) -> None:
    """Create an organiser account (the password is prompted for)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        organiser = organiser_service.create_organiser(email, name, password, admin=admin)
    except organiser_service.OrganiserExists:
        raise click.ClickException(f"an organiser with email {email} exists already") from None
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Created {organiser.role} {organiser.email}.")


emails_group = AppGroup("emails", help="See and retry the outbox.")


@emails_group.command("status")
def emails_status_command() -> None:
    """Counts by status and kind, and the age of the oldest waiting email."""
    counts = outbox.status_counts()
    statuses = [s for s in EMAIL_STATUSES if any(st == s for _, st in counts)]
    kinds = sorted({kind for kind, _ in counts})
    if not counts:
        click.echo("The outbox is empty.")
    else:
        width = max(len(k) for k in [*kinds, "kind", "total"])
        click.echo("kind".ljust(width) + "".join(s.rjust(10) for s in statuses))
        for kind in kinds:
            click.echo(kind.ljust(width) + "".join(str(counts.get((kind, s), 0)).rjust(10) for s in statuses))
        click.echo(
            "total".ljust(width)
            + "".join(str(sum(c for (_, st), c in counts.items() if st == s)).rjust(10) for s in statuses)
        )
    age = outbox.oldest_pending_age()
    click.echo("Oldest waiting email: " + ("none" if age is None else f"{int(age.total_seconds())} s old"))


@emails_group.command("retry")
@click.option("--id", "email_ids", type=int, multiple=True, help="Only this email (repeatable).")
def emails_retry_command(email_ids: tuple[int, ...]) -> None:
    """Return failed emails to pending and enqueue them."""
    ids = outbox.retry_failed(list(email_ids) or None)
    click.echo(f"Queued {len(ids)} failed email(s) for another round of attempts.")
