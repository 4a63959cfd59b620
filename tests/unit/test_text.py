"""Cleaning what people type (`webapp.services.text`): no database, no server."""

from __future__ import annotations

import pytest

from webapp.services.text import normalize_email, single_line, slugify


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        (None, ""),
        ("  Ayesha   Khan ", "Ayesha Khan"),
        ("Ayesha\r\nBcc: x@example.com", "Ayesha Bcc: x@example.com"),  # no header injection
        ("A\x00y\x1besha\u2028Khan", "A y esha Khan"),
        ("Cafe\u0301", "Café"),  # NFC
    ],
)
def test_single_line(raw: str | None, clean: str) -> None:
    assert single_line(raw) == clean


def test_single_line_cuts_to_the_length_without_a_trailing_space() -> None:
    assert single_line("Lithium ion", max_length=8) == "Lithium"


def test_the_same_address_whatever_the_case_and_spaces() -> None:
    assert normalize_email("  Ayesha@Example.COM ") == normalize_email("ayesha@example.com")


def test_slugs_are_ascii_words_joined_by_hyphens() -> None:
    assert slugify("Énergie propre: 2030!") == "energie-propre-2030"
