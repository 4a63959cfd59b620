"""A program file's `language` and `translations`: what is accepted, cleaned as the
originals are, and every problem named by its field. Pure: no database, no server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import program_data
from webapp.services.errors import ProgramImportError
from webapp.services.locales import LANGUAGES
from webapp.services.programs import DEMO_PROGRAM, validate_program_data

TWO_SESSIONS = [
    {
        "title": "Day 2: packs",
        "starts_at": "2030-09-29T14:00:00+05:00",
        "ends_at": "2030-09-29T16:00:00+05:00",
        "join_url": "https://zoom.us/j/2",
    },
    {
        "title": "Day 1: cells",
        "starts_at": "2030-09-28T14:00:00+05:00",
        "ends_at": "2030-09-28T16:00:00+05:00",
        "join_url": "https://zoom.us/j/1",
    },
]


def _file(**overrides: object) -> dict[str, object]:
    return program_data(registration_deadline="2030-09-26T23:59:00+05:00", sessions=TWO_SESSIONS, **overrides)


def problems_in(data: object) -> list[str]:
    with pytest.raises(ProgramImportError) as excinfo:
        validate_program_data(data)
    return excinfo.value.problems


def test_translations_are_kept_cleaned_and_paired_with_sessions_in_start_order() -> None:
    spec = validate_program_data(
        _file(
            language="en",
            translations={
                "ru": {
                    "title": "  Литий-ионные\r\nаккумуляторы\x07 ",
                    "summary": "Коротко.",
                    "description": "## Темы\r\n- элементы\x00",
                    # Start order: the file lists day 2 first, the translations day 1 first.
                    "sessions": [{"title": "День 1: элементы"}, {"title": "День 2: батареи"}],
                },
                "fa": {"summary": "", "sessions": [{}, {"title": "روز ۲"}]},
                "zh": {"title": "", "sessions": []},
            },
        )
    )
    assert spec.language == "en"
    assert spec.translations == {
        "ru": {"title": "Литий-ионные аккумуляторы", "summary": "Коротко.", "description": "## Темы\n- элементы"},
    }
    assert [(s.title, s.translations) for s in spec.sessions] == [
        ("Day 1: cells", {"ru": {"title": "День 1: элементы"}}),
        ("Day 2: packs", {"ru": {"title": "День 2: батареи"}, "fa": {"title": "روز ۲"}}),
    ]


def test_a_file_without_them_is_english_with_no_translations() -> None:
    spec = validate_program_data(_file())
    assert spec.language == "en" and spec.translations == {}
    assert all(s.translations == {} for s in spec.sessions)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"language": "de"}, "language: must be one of en, zh, ru, tr, fa (the language the program is written in)"),
        ({"translations": ["ru"]}, 'translations: must be an object such as {"ru": {"title": "..."}}'),
        ({"translations": {"xx": {"title": "?"}}}, "translations.xx: not a language Rollcall offers (one of "),
        ({"translations": {"en": {"title": "Same"}}}, "translations.en: is the program's own language"),
        ({"language": "ru", "translations": {"ru": {"title": "?"}}}, "translations.ru: is the program's own language"),
        ({"translations": {"ru": "Заголовок"}}, "translations.ru: must be an object with any of title, summary"),
        ({"translations": {"ru": {"subtitle": "?"}}}, "translations.ru.subtitle: unknown field"),
        ({"translations": {"ru": {"title": 7}}}, "translations.ru.title: must be text"),
        ({"translations": {"ru": {"title": "Т" * 201}}}, "translations.ru.title: must be at most 200 characters"),
        ({"translations": {"tr": {"summary": "Ö" * 501}}}, "translations.tr.summary: must be at most 500 characters"),
        (
            {"translations": {"zh": {"description": "长" * 20001}}},
            "translations.zh.description: must be at most 20,000 characters (it has 20,001)",
        ),
        ({"translations": {"ru": {"sessions": "День 1"}}}, "translations.ru.sessions: must be a list such as"),
        (
            {"translations": {"ru": {"sessions": [{"title": "1"}, {"title": "2"}, {"title": "3"}]}}},
            "translations.ru.sessions: has 3 entries but the program has 2 session(s)",
        ),
        ({"translations": {"fa": {"sessions": ["روز"]}}}, "translations.fa.sessions[1]: must be an object such as"),
        (
            {"translations": {"fa": {"sessions": [{}, {"name": "?"}]}}},
            "translations.fa.sessions[2].name: unknown field",
        ),
        (
            {"translations": {"fa": {"sessions": [{"title": "ر" * 201}]}}},
            "translations.fa.sessions[1].title: must be at most 200 characters",
        ),
    ],
)
def test_each_problem_names_its_field(change: dict[str, object], message: str) -> None:
    problems = problems_in(_file(**change))
    assert any(p.startswith(message) for p in problems), problems


def test_every_problem_at_once() -> None:
    problems = problems_in(
        _file(translations={"xx": {}, "ru": {"title": 1, "colour": "red"}, "tr": {"sessions": [1, 2, 3]}})
    )
    assert [p.split(":")[0] for p in problems] == [
        "translations.xx",
        "translations.ru.colour",
        "translations.ru.title",
        "translations.tr.sessions",
    ]


@pytest.mark.parametrize(
    "path", [DEMO_PROGRAM, DEMO_PROGRAM.parents[2] / "examples" / "li-ion-training.json"], ids=lambda p: p.name
)
def test_the_demo_and_the_example_are_translated_into_every_language(path: Path) -> None:
    spec = validate_program_data(json.loads(path.read_text(encoding="utf-8")))
    others = [code for code in LANGUAGES if code != spec.language]
    assert sorted(spec.translations) == sorted(others)
    for code in others:
        texts = spec.translations[code]
        assert set(texts) == {"title", "summary", "description"}, code
        # The same Markdown shape as the original: headings, list items, paragraphs.
        for mark in ("## ", "\n- ", "\n\n"):
            assert texts["description"].count(mark) == spec.description.count(mark), (code, mark)
        assert all(code in s.translations for s in spec.sessions), code
