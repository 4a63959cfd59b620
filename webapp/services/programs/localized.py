"""Which text of a program a reader gets: the one home of that choice.

A program is written in one language (`Program.language`) and may carry translations of
its title, summary, description and session titles. A reader of `locale` gets each text
in their language where the organiser translated it, else the program's own text. Each
text comes with the language it is really in, so that a page or an email can mark a
fragment that is not in its own language (`lang`, `dir`) for screen readers and for the
bidirectional algorithm (Persian inside English, English inside Persian).
"""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup, escape

from webapp.models import Program, ProgramSession
from webapp.services.locales import text_direction


@dataclass(frozen=True)
class Localized:
    """A text and the language it is written in. Prints as the text."""

    text: str
    language: str

    def __str__(self) -> str:
        return self.text

    def __bool__(self) -> bool:
        return bool(self.text)

    def lang_attrs(self, locale: str) -> Markup:
        """` lang="en" dir="ltr"` for an element holding this text inside a page or an
        email in `locale`; nothing when the text is in that language already."""
        if self.language == locale:
            return Markup("")
        return Markup(' lang="{}" dir="{}"').format(self.language, text_direction(self.language))

    def inline(self, locale: str) -> Markup:
        """The text, escaped, for a sentence in `locale`: wrapped in a span with its own
        `lang` and `dir` when it is in another language (the span isolates it, so an
        English title keeps its order inside a Persian sentence)."""
        if self.language == locale:
            return escape(self.text)
        return Markup("<span{}>{}</span>").format(self.lang_attrs(locale), self.text)


@dataclass(frozen=True)
class ProgramText:
    """A program's title, summary and description for one reader, and the organiser's
    name (not translated: a name, in the program's own language)."""

    title: Localized
    summary: Localized
    description: Localized
    organiser: Localized


def _translated(program: Program, locale: str, field: str) -> Localized:
    own = getattr(program, field) or ""
    language = program.language or "en"
    if locale != language:
        translated = (program.translations or {}).get(locale, {}).get(field)
        if translated:
            return Localized(translated, locale)
    return Localized(own, language)


def program_text(program: Program, locale: str) -> ProgramText:
    """The program's text for a reader of `locale`, field by field: the translation
    into `locale` where there is one, else the program's own text. Reads only."""
    return ProgramText(
        title=_translated(program, locale, "title"),
        summary=_translated(program, locale, "summary"),
        description=_translated(program, locale, "description"),
        organiser=Localized(program.organiser_name or "", program.language or "en"),
    )


def session_title(session: ProgramSession, locale: str) -> Localized:
    """A session's title for a reader of `locale` (its translation, else its own)."""
    language = session.program.language or "en"
    if locale != language:
        translated = (session.translations or {}).get(locale, {}).get("title")
        if translated:
            return Localized(translated, locale)
    return Localized(session.title, language)
