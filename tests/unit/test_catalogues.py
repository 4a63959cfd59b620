"""Every language is complete: each catalogue translates every message of the current
source, keeps every placeholder, and compiles. No server needed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from webapp.services.locales import LANGUAGES

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|\{\w+\}")
TRANSLATED = [code for code in LANGUAGES if code != "en"]  # English is the source


def _read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=locale)


@pytest.fixture(scope="module")
def source_ids(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """The messages in the code and templates today, extracted afresh (so a string added
    without `make messages` fails here, not in front of a reader), with the keywords of
    the Makefile's `messages` target."""
    pot = tmp_path_factory.mktemp("pot") / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg",
         "--ignore-dirs", ".* .venv node_modules", "-k", "_l", "-k", "lazy_gettext", "-k", "plural:1,2",
         "-o", str(pot), "."],
        cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip
    return {m.id if isinstance(m.id, str) else m.id[0] for m in _read(pot) if m.id}


def test_the_template_is_current(source_ids: set[str]) -> None:
    committed = {m.id if isinstance(m.id, str) else m.id[0] for m in _read(ROOT / "translations/messages.pot") if m.id}
    assert committed == source_ids, "run `make messages`"


@pytest.mark.parametrize("code", TRANSLATED)
def test_every_message_is_translated_with_its_placeholders(code: str, source_ids: set[str]) -> None:
    catalog = _read(ROOT / f"translations/{code}/LC_MESSAGES/messages.po", locale=code)
    found: set[str] = set()
    problems = []
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        found.add(ids[0])
        if message.fuzzy or not all(strings) or len(strings) < (catalog.num_plurals if len(ids) > 1 else 1):
            problems.append(f"untranslated: {ids[0]!r}")
            continue
        wanted = [sorted(set(PLACEHOLDER.findall(i))) for i in ids]
        for string in strings:
            if sorted(set(PLACEHOLDER.findall(string))) not in wanted:
                problems.append(f"placeholders differ: {ids[0]!r} -> {string!r}")
    problems += [f"missing: {i!r}" for i in sorted(source_ids - found)]
    assert problems == []


@pytest.mark.parametrize("code", TRANSLATED)
def test_each_catalogue_compiles(code: str, tmp_path: Path) -> None:
    catalog = _read(ROOT / f"translations/{code}/LC_MESSAGES/messages.po", locale=code)
    assert not [error for _message, errors in catalog.check() for error in errors]
    with (tmp_path / "messages.mo").open("wb") as handle:
        write_mo(handle, catalog)
