"""Reading the certificate PDFs the tests receive, as a person would: their text, by
`pdftotext` (poppler)."""

from __future__ import annotations

import subprocess
import unicodedata
from pathlib import Path


def pdf_text(data: bytes, tmp_path: Path, name: str = "certificate.pdf") -> str:
    """The PDF's text, NFKC-normalised (Arabic presentation forms read as letters) and
    with runs of whitespace made one space."""
    path = tmp_path / name
    path.write_bytes(data)
    result = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], check=True, capture_output=True)
    return " ".join(unicodedata.normalize("NFKC", result.stdout.decode("utf-8")).split())


def shows_name(text: str, name: str) -> bool:
    """Whether `name` appears in the extracted text, in logical order or (for a
    right-to-left script, which some extractors write in visual order) reversed."""
    compact = text.replace(" ", "")
    wanted = unicodedata.normalize("NFKC", name).replace(" ", "")
    return wanted in compact or wanted[::-1] in compact
