"""The program page and the form stay light (DESIGN.md, "Performance budgets"): under
50 KB on a cold load in every language, with nothing from another host. Sizes, not
times; `python -m bench weight` prints the same figures."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask

from bench.weight import BUDGET_BYTES, LANGUAGES, client_fetch, is_external, measure, page_paths


@pytest.mark.parametrize("language", LANGUAGES)
def test_program_page_and_form_are_under_50_kb_with_no_external_host(
    app: Flask, make_program: Callable[..., int], language: str
) -> None:
    # A long description with a link, and questions: what a real program carries.
    make_program(
        description="## Topics\n" + "\n".join(f"- topic {i}: cells, packs and safety" for i in range(30)),
        questions=[
            {"key": "experience", "label": "Your experience with batteries", "type": "long_text"},
            {"key": "country_of_work", "label": "Where do you work?", "type": "country"},
        ],
    )
    for path in page_paths("li-ion-basics"):
        client = app.test_client()  # a cold load: no cookies, nothing cached
        weight = measure(client_fetch(client), f"{path}?lang={language}")
        assert weight.external == [], f"{path} ({language}) names another host"
        assert any(url.endswith(".css") for url in weight.subresources), "the stylesheet is counted"
        assert any(url.endswith(".js") for url in weight.subresources), "the script is counted"
        assert weight.total < BUDGET_BYTES, (
            f"{path} in {language}: {weight.total:,} bytes ({weight.document:,} document, "
            f"{weight.subresources}) is over {BUDGET_BYTES:,}"
        )


def test_what_counts_as_another_host() -> None:
    for url in ("https://cdn.example/x.js", "//fonts.example/f.css", "ftp://example/x"):
        assert is_external(url), url
    for url in ("/static/app.css", "app.css", "?lang=fa", "#main", "data:,", "mailto:a@example.com"):
        assert not is_external(url), url
