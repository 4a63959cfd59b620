"""Text normalisation shared by every place that accepts input from people."""

from __future__ import annotations

import re
import unicodedata

# C0/C1 controls, line and paragraph separators: none of them belongs in a one-line
# value, and CR/LF in a name or subject would be a header injection.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_SPACES = re.compile(r"\s+")


def single_line(value: str | None, max_length: int | None = None) -> str:
    """NFC-normalise, replace control characters and line breaks by a space, collapse
    runs of white space, trim, and cut to `max_length` characters."""
    if not value:
        return ""
    value = unicodedata.normalize("NFC", value)
    value = _CONTROL.sub(" ", value)
    value = _SPACES.sub(" ", value).strip()
    if max_length is not None:
        value = value[:max_length].rstrip()
    return value


def normalize_email(email: str) -> str:
    """The identity "one person, one registration" compares: trimmed, NFC, lower-case."""
    return unicodedata.normalize("NFC", email.strip()).lower()


_SLUG_NONWORD = re.compile(r"[^a-z0-9]+")


def slugify(value: str) -> str:
    value = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode().lower()
    return _SLUG_NONWORD.sub("-", value).strip("-")[:120]
