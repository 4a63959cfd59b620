"""Certificate codes: 80 random bits in Crockford's base32, printed in groups of four,
and read back however a person types them."""

from __future__ import annotations

import pytest

from webapp.services.certificates.codes import ALPHABET, format_code, new_code, normalize_code


def test_a_code_is_16_characters_of_the_unambiguous_alphabet() -> None:
    assert len(ALPHABET) == 32 and not set("ILOU") & set(ALPHABET)
    codes = {new_code() for _ in range(20_000)}
    assert len(codes) == 20_000  # 80 bits: no two alike
    for code in list(codes)[:2000]:
        assert len(code) == 16 and set(code) <= set(ALPHABET)
    # Every character turns up: the codes use the whole alphabet.
    assert set("".join(codes)) == set(ALPHABET)


def test_a_code_is_printed_in_groups_of_four() -> None:
    assert format_code("7KQ2M9XD4TWPHC3R") == "7KQ2-M9XD-4TWP-HC3R"


@pytest.mark.parametrize(
    "typed",
    [
        "7KQ2-M9XD-4TWP-HC3R",
        "7kq2-m9xd-4twp-hc3r",
        " 7KQ2 M9XD 4TWP HC3R ",
        "7KQ2M9XD4TWPHC3R",
        "7KQ2\u2013M9XD\u20144TWP HC3R",  # dashes a word processor makes
        "\uff17\uff2b\uff31\uff12-M9XD-4TWP-HC3R",  # full-width, as a Chinese keyboard types it
        "\u06f7KQ2-M9XD-\u06f4TWP-HC\u06f3R",  # Persian digits
        "7KQ2.M9XD_4TWP\u00a0HC3R",
    ],
)
def test_typed_variants_normalise_to_the_stored_code(typed: str) -> None:
    assert normalize_code(typed) == "7KQ2M9XD4TWPHC3R"


def test_look_alike_letters_read_as_the_digits() -> None:
    assert normalize_code("O0I1-L000-0000-0000") == "0011100000000000"
    assert normalize_code("oOiI-lL00-0000-0000") == "0011110000000000"


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "7KQ2-M9XD-4TWP",  # too short
        "7KQ2-M9XD-4TWP-HC3R-0",  # too long
        "7KQ2-M9XD-4TWP-HC3U",  # U is not in the alphabet
        "7KQ2\x00M9XD4TWPHC3R",
        "x" * 10_000,
        "\u202e7KQ2-M9XD-4TWP-HC3R",  # a bidi override
        "7KQ2-M9XD-4TWP-HC3\U0001f600",
        "'; DROP TABLE certificates; --",
    ],
)
def test_anything_else_is_not_a_code(typed: str) -> None:
    assert normalize_code(typed) is None
