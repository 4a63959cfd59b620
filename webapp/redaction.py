"""Keeping personal data out of logs: self-service tokens in paths and email addresses.

A self-service URL (/r/<token>) is a password to one registration, and it travels in
request lines, Referer headers and error messages; an email address identifies a person.
`redact` masks both in any text; `RedactPersonalData` applies it to log records (the
web error log, werkzeug's and gunicorn's access logs: see setup.py and gunicorn.conf.py).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

# /r/<token> and everything under it (the token is the first segment after /r/).
_TOKEN_PATH = re.compile(r"(/r/)[^/?#\s\"']+")
# Anything shaped like an address, also percent-encoded in a query string: enough to keep
# people's addresses out, tolerant of what sits around it in a log line (quotes,
# brackets, "=(...)" in database errors, "&" between query parameters).
_PART = r"[^\s@\"'<>(),;:=\[\]&?/]+"
_EMAIL = re.compile(rf"{_PART}(?:@|%40){_PART}\.{_PART}", re.IGNORECASE)


def redact(text: str) -> str:
    """`text` with self-service tokens and email addresses masked."""
    return _EMAIL.sub("<email>", _TOKEN_PATH.sub(r"\1<token>", text))


class RedactPersonalData(logging.Filter):
    """Rewrites each record's message (and traceback) through `redact` before any
    handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def redact_loggers(names: Iterable[str]) -> None:
    """Install the filter on the named loggers (once each)."""
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactPersonalData) for f in logger.filters):
            logger.addFilter(RedactPersonalData())
