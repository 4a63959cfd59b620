"""`python -m bench`: run every benchmark and print its table (see bench/__init__.py)."""

from __future__ import annotations

from bench import rush


def main() -> int:
    """Run each scenario; the exit status is non-zero if any of them failed a check."""
    return rush.main()


if __name__ == "__main__":
    raise SystemExit(main())
