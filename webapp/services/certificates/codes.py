"""Verification codes: made from `secrets`, printed in groups of four, and read back
however a person types them. Pure: no database.

16 characters of Crockford's base32 (digits and capitals without I, L, O and U) are
80 bits: guessing one of a million issued codes takes about 10^18 tries, and the verify
page is rate-limited besides. A code is stored normalised (no dashes, capitals) and
printed as ``7KQ2-M9XD-4TWP-HC3R``.
"""

from __future__ import annotations

import secrets
import unicodedata

from webapp.models import CERTIFICATE_CODE_LENGTH

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
GROUP = 4
# What a person may type for a letter the alphabet leaves out, as Crockford decodes it.
_LOOK_ALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
# Separators a person or a copy-paste may put between groups: spaces of any kind,
# hyphens and dashes of any kind, dots, underscores.
_SEPARATORS = frozenset(" ._-\u00a0\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u3000")
# A typed code longer than this (with separators) is not a code: refused unread.
MAX_TYPED_LENGTH = 64


def new_code() -> str:
    """A fresh code, normalised (16 characters, no dashes)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(CERTIFICATE_CODE_LENGTH))


def format_code(code: str) -> str:
    """A normalised code as printed: groups of four joined by dashes."""
    return "-".join(code[i : i + GROUP] for i in range(0, len(code), GROUP))


def normalize_code(typed: str) -> str | None:
    """The code a person typed, normalised, or None when it cannot be one.

    Accepts lower case, spaces and dashes anywhere, the look-alikes O (zero), I and L
    (one), full-width characters (NFKC) and digits of other scripts (Persian ۷ is 7).
    Anything else (another letter, a control character, the wrong length) is None."""
    if not isinstance(typed, str) or len(typed) > MAX_TYPED_LENGTH:
        return None
    characters: list[str] = []
    for char in unicodedata.normalize("NFKC", typed):
        if char in _SEPARATORS or char.isspace():
            continue
        if not char.isascii() and char.isdecimal():
            char = str(unicodedata.decimal(char))
        characters.append(char)
    code = "".join(characters).upper().translate(_LOOK_ALIKES)
    if len(code) != CERTIFICATE_CODE_LENGTH or any(c not in ALPHABET for c in code):
        return None
    return code
