"""Text normalisation shared by every place that accepts input from people."""

from __future__ import annotations

import re
import unicodedata

# C0/C1 controls, line and paragraph separators: none of them belongs in a one-line
# value, and CR/LF in a name or subject would be a header injection.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]+")
_SPACES = re.compile(r"\s+")
# In text of several lines, every line break becomes "\n"; tabs stay; every other
# control character goes (a vertical tab breaks XLSX exports, NUL breaks PostgreSQL, a
# lone surrogate breaks UTF-8 encoding).
_LINE_BREAK = re.compile(r"\r\n|[\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
_CONTROL_BUT_TAB_AND_NEWLINE = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f\ud800-\udfff]+")


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


def multi_line(value: str | None) -> str:
    """Text of several lines as stored: NFC-normalised, every line break a "\\n", tabs
    kept, every other control character removed, trimmed. Not cut: a length limit is
    the form's to enforce with a message."""
    if not value:
        return ""
    value = unicodedata.normalize("NFC", value)
    value = _LINE_BREAK.sub("\n", value)
    value = _CONTROL_BUT_TAB_AND_NEWLINE.sub("", value)
    return value.strip()


def has_control_characters(value: str) -> bool:
    """Whether a value holds a control character, a line break or a lone surrogate. A
    link with one is refused rather than cleaned: its meaning would change."""
    return bool(_CONTROL.search(value))


def normalize_email(email: str) -> str:
    """The identity "one person, one registration" compares: trimmed, NFC, lower-case."""
    return unicodedata.normalize("NFC", email.strip()).lower()


_SLUG_NONWORD = re.compile(r"[^a-z0-9]+")


def slugify(value: str) -> str:
    value = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode().lower()
    return _SLUG_NONWORD.sub("-", value).strip("-")[:120]
