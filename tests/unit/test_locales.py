"""Writing a language's own way: capitals."""

from __future__ import annotations

import pytest

from webapp.services.locales import capitalise, own_name


@pytest.mark.parametrize(
    ("text", "locale", "expected"),
    [
        ("izin verilen", "tr", "İzin verilen"),  # Turkish dotted i
        ("ısı", "tr", "Isı"),  # and dotless ı
        ("izin", "az", "İzin"),
        ("invalid date", "en", "Invalid date"),
        ("итог", "ru", "Итог"),
        ("时间", "zh", "时间"),
        ("تاریخ", "fa", "تاریخ"),
        ("", "tr", ""),
    ],
)
def test_capitalise_as_the_language_writes(text: str, locale: str, expected: str) -> None:
    assert capitalise(text, locale) == expected


def test_each_language_in_its_own_name() -> None:
    assert [own_name(code) for code in ("en", "zh", "ru", "tr", "fa")] == [
        "English",
        "中文",
        "Русский",
        "Türkçe",
        "فارسی",
    ]
